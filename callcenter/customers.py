"""Customers and contracts: who is calling or writing, and what their contract promises."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

import phonenumbers
from sqlalchemy import Text, cast, func, or_, select
from sqlalchemy.orm import Session, joinedload

from .models import Asset, Company, Contact, Contract
from .sla_clock import WorkingCalendar


class UnknownCompany(LookupError):
    pass


def normalize_phone(raw: str, default_region: str = "HU") -> str:
    """E.164 form of a phone number; ValueError when it is not a possible number."""
    try:
        parsed = phonenumbers.parse(raw, None if raw.strip().startswith("+") else default_region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"not a phone number: {raw!r} ({exc})") from exc
    if not phonenumbers.is_possible_number(parsed):
        raise ValueError(f"not a possible phone number: {raw!r}")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


@lru_cache(maxsize=4096)
def try_normalize_phone(raw: str | None, default_region: str = "HU") -> str | None:
    if not raw or raw.strip().lower() in {"unknown", "anonymous", "restricted", "private"}:
        return None
    try:
        return normalize_phone(raw, default_region)
    except ValueError:
        return None


def find_company(session: Session, name_or_id: str | int) -> Company:
    if isinstance(name_or_id, int) or str(name_or_id).isdigit():
        company = session.get(Company, int(name_or_id))
    else:
        company = session.scalar(select(Company).where(func.lower(Company.name) == str(name_or_id).lower()))
    if company is None:
        raise UnknownCompany(f"unknown company: {name_or_id}")
    return company


def find_contact_by_phone(session: Session, phone: str | None) -> Contact | None:
    return _contact_by_e164(session, try_normalize_phone(phone))


def _contact_by_e164(session: Session, e164: str | None, *, with_company: bool = False) -> Contact | None:
    if e164 is None:
        return None
    # The LIMIT is in a subquery so that eager-loaded collection rows are not cut off by it.
    first = (select(Contact.id)
             .where(Contact.active.is_(True), or_(Contact.phone == e164, Contact.mobile == e164))
             .order_by(Contact.id).limit(1).scalar_subquery())
    stmt = select(Contact).where(Contact.id == first)
    if with_company:
        # Caller identification needs the company with its contracts and assets: one statement
        # instead of four lazy loads on the webhook's hot path.
        stmt = stmt.options(joinedload(Contact.company).options(joinedload(Company.contracts),
                                                                joinedload(Company.assets)))
    return session.scalars(stmt).unique().first()


def find_contact_by_email(session: Session, address: str | None, options: object | None = None) -> Contact | None:
    if not address:
        return None
    first = (select(Contact.id)
             .where(Contact.active.is_(True), func.lower(Contact.email) == address.strip().lower())
             .order_by(Contact.id).limit(1).scalar_subquery())
    stmt = select(Contact).where(Contact.id == first)
    if options is not None:
        stmt = stmt.options(options)
    return session.scalars(stmt).unique().first()


def find_asset_by_phone(session: Session, phone: str | None) -> Asset | None:
    return _asset_by_e164(session, try_normalize_phone(phone))


def _asset_by_e164(session: Session, e164: str | None) -> Asset | None:
    if e164 is None:
        return None
    # JSON containment differs per dialect: the database narrows the rows by the number's text
    # (E.164 is only "+" and digits, nothing LIKE treats specially), Python confirms the exact element.
    candidates = session.scalars(select(Asset).where(Asset.phone_numbers.is_not(None),
                                                     cast(Asset.phone_numbers, Text).contains(e164))
                                 .order_by(Asset.id))
    for asset in candidates:
        if e164 in (asset.phone_numbers or []):
            return asset
    return None


def contract_at(company: Company | None, now: datetime) -> Contract | None:
    """The company's contract valid on `now`'s local date: like active_contract(local_date(...)),
    but from the company's already loaded contracts, one query instead of two on hot paths."""
    if company is None:
        return None
    contracts = company.contracts
    zone = contracts[-1].timezone if contracts else "Europe/Budapest"
    on = now.astimezone(ZoneInfo(zone)).date()
    newest_first = sorted(contracts, key=lambda c: c.valid_from, reverse=True)
    return next((c for c in newest_first if c.is_valid_on(on)), None)


def active_contract(session: Session, company_id: int | None, on: date) -> Contract | None:
    if company_id is None:
        return None
    contracts = session.scalars(
        select(Contract).where(Contract.company_id == company_id).order_by(Contract.valid_from.desc())
    )
    return next((c for c in contracts if c.is_valid_on(on)), None)


@dataclass
class Identity:
    """Who is on the line or in the mailbox, as far as we can tell."""

    contact: Contact | None
    company: Company | None
    contract: Contract | None
    asset: Asset | None

    @property
    def is_contracted(self) -> bool:
        return self.contract is not None


def identify_caller(session: Session, caller_id: str | None, now: datetime) -> Identity:
    e164 = try_normalize_phone(caller_id)
    contact = _contact_by_e164(session, e164, with_company=True)
    asset = _asset_by_e164(session, e164)
    company = contact.company if contact else (asset.company if asset else None)
    if asset is None and company is not None and len(company.assets) == 1:
        asset = company.assets[0]
    return Identity(contact, company, contract_at(company, now), asset)


def identify_sender(session: Session, address: str | None, now: datetime) -> Identity:
    # The company, its contracts and their SLA targets come with the contact in one statement: the
    # new ticket needs them all, and lazy loads would cost three more round trips per mail.
    with_company = joinedload(Contact.company).options(
        joinedload(Company.contracts).joinedload(Contract.sla_targets))
    contact = find_contact_by_email(session, address, options=with_company)
    company = contact.company if contact else None
    if company is None and address and "@" in address:
        domain = address.rsplit("@", 1)[1].lower()
        company = session.scalars(select(Company).where(func.lower(Company.mail_domain) == domain).options(
            joinedload(Company.contracts).joinedload(Contract.sla_targets))).unique().first()
    return Identity(contact, company, contract_at(company, now), None)


def local_date(now: datetime, company: Company | None, session: Session) -> date:
    zone = "Europe/Budapest"
    if company is not None and company.contracts:
        zone = company.contracts[-1].timezone
    return now.astimezone(ZoneInfo(zone)).date()


def calendar_for(contract: Contract) -> WorkingCalendar:
    """The contract's working calendar; cached by content, so edits are seen at once."""
    return _calendar(
        contract.timezone,
        tuple(sorted((day, tuple(spans)) for day, spans in (contract.working_hours or {}).items())),
        contract.holiday_country,
        tuple(sorted(contract.extra_working_days or [])),
        tuple(sorted(contract.days_off or [])),
    )


def around_the_clock(contract: Contract) -> WorkingCalendar:
    return WorkingCalendar.around_the_clock(contract.timezone)


@lru_cache(maxsize=256)
def _calendar(zone: str, weekly: tuple, country: str | None, extra: tuple, off: tuple) -> WorkingCalendar:
    return WorkingCalendar.from_spec(
        zone, {day: list(spans) for day, spans in weekly}, country, extra, off
    )


def is_office_hours(contract: Contract, now: datetime) -> bool:
    return calendar_for(contract).is_open_at(now)
