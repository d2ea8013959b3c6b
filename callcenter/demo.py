"""Fictional demo data (`callcenter seed-demo`). Names and numbers here are part of the external
contract: README examples and outside tests use them, so keep them stable."""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from .models import Asset, ClockKind, Company, Contact, Contract, Package, Role, SlaTarget, StaffUser

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")

COMPANIES = [
    {
        "name": "Budapest Demo Kft.",
        "mail_domain": "budapest-demo.example",
        "address": "Demo utca 1., 1111 Budapest",
        "contract": {
            "name": "Business hours support",
            "package": Package.BUSINESS_HOURS,
            "timezone": "Europe/Budapest",
            "working_hours": {d: ["08:00-17:00"] for d in WEEKDAYS},
            "holiday_country": "HU",
            "no_answer_threshold_seconds": 600,
            "targets": [("user", 8 * 60, ClockKind.WORKING), ("system", 4 * 60, ClockKind.WORKING),
                        ("infrastructure", 2 * 60, ClockKind.WORKING), ("complaint", 4 * 60, ClockKind.WORKING)],
        },
        "contacts": [
            {"name": "Kovács Anna", "phone": "+3615550101", "email": "anna@budapest-demo.example", "language": "hu",
             "role": "IT manager", "level": "coordinator", "can_authorize": True, "location": "Budapest, HQ 2nd floor"},
        ],
        "assets": [],
    },
    {
        "name": "Athens Demo A.E.",
        "mail_domain": "athens-demo.example",
        "address": "Odos Demo 2, 10431 Athens",
        "contract": {
            "name": "24/7 standby PBX support",
            "package": Package.STANDBY_24_7,
            "timezone": "Europe/Athens",
            "working_hours": {d: ["09:00-16:00"] for d in WEEKDAYS},
            "holiday_country": "GR",
            "no_answer_threshold_seconds": 900,
            "page_critical_always": False,
            "targets": [("user", 8 * 60, ClockKind.WORKING), ("system", 4 * 60, ClockKind.CALENDAR),
                        ("infrastructure", 2 * 60, ClockKind.CALENDAR), ("complaint", 4 * 60, ClockKind.WORKING)],
        },
        "contacts": [
            {"name": "Nikos Papadopoulos", "phone": "+302105550102", "email": "pbx@athens-demo.example",
             "language": "el", "role": "Telecoms administrator", "level": "technical", "can_authorize": True,
             "location": "Athens, server room"},
        ],
        "assets": [
            {"identifier": "ATH-PBX-01", "kind": "pbx", "model": "DemoTel IPX-500",
             "location": "Athens, server room rack 2", "phone_numbers": ["+302105550100"],
             "composition": {"cards": ["8-port FXO", "24-port extension", "E1/PRI"], "firmware": "7.2.1",
                             "licences": {"sip_trunks": 30, "extensions": 120}},
             "installed_on": date(2022, 5, 16)},
        ],
    },
]

STAFF = [
    {"username": "admin", "name": "Admin User", "role": Role.ADMIN, "level": None, "phone": "+3615550180",
     "email": "admin@hotline.example", "language": "en"},
    {"username": "agent1", "name": "Szabó Péter", "role": Role.AGENT, "level": "L1", "phone": "+3615550181",
     "email": "agent1@hotline.example", "language": "hu"},
    {"username": "agent2", "name": "Eleni Georgiou", "role": Role.AGENT, "level": "L1", "phone": "+302105550181",
     "email": "agent2@hotline.example", "language": "el", "timezone": "Europe/Athens"},
    {"username": "eng2", "name": "Tóth Gábor", "role": Role.ENGINEER, "level": "L2", "phone": "+3615550182",
     "email": "eng2@hotline.example", "language": "hu"},
    {"username": "eng3", "name": "Dimitris Alexiou", "role": Role.ENGINEER, "level": "L3", "phone": "+302105550183",
     "email": "eng3@hotline.example", "language": "el", "timezone": "Europe/Athens"},
    {"username": "manager", "name": "Nagy Katalin", "role": Role.MANAGER, "level": None, "phone": "+3615550184",
     "email": "manager@hotline.example", "language": "hu"},
    {"username": "qa", "name": "Quality Reviewer", "role": Role.QA, "level": None, "phone": "+3615550185",
     "email": "qa@hotline.example", "language": "en"},
]

# Demo passwords only; real installations set their own with `callcenter user password`.
DEMO_PASSWORD = "demo"


@lru_cache(maxsize=1)
def _demo_password_hash() -> str:
    # Hashing is deliberately slow; the demo accounts can share one salted hash of the same password.
    return generate_password_hash(DEMO_PASSWORD)


def seed_demo(session: Session, now: datetime) -> dict[str, int]:
    """Insert the demo companies, contacts, assets and staff; running it again changes nothing."""
    created = {"companies": 0, "staff": 0}
    for spec in COMPANIES:
        if session.scalar(select(Company).where(Company.name == spec["name"])):
            continue
        company = Company(name=spec["name"], mail_domain=spec["mail_domain"], address=spec["address"], created_at=now)
        c = dict(spec["contract"])
        targets = c.pop("targets")
        contract = Contract(company=company, valid_from=date(2026, 1, 1), valid_to=None, **c)
        contract.sla_targets = [SlaTarget(category=cat, response_minutes=m, clock=clock) for cat, m, clock in targets]
        session.add(company)
        for contact in spec["contacts"]:
            person = Contact(company=company, **contact)
            person.password_hash = _demo_password_hash()  # customer portal login of the web console
            session.add(person)
        for asset in spec["assets"]:
            session.add(Asset(company=company, **asset))
        created["companies"] += 1
    for spec in STAFF:
        if session.scalar(select(StaffUser).where(StaffUser.username == spec["username"])):
            continue
        user = StaffUser(created_at=now, password_hash=_demo_password_hash(), **spec)
        session.add(user)
        created["staff"] += 1
    session.flush()
    seed_paging_demo(session, now)
    return created


def seed_paging_demo(session: Session, now: datetime) -> None:
    """The demo rotation, the "Default" escalation policy and notification rules (idempotent)."""
    from .models import EscalationPolicy, Rotation
    from .paging.policies import create_policy, set_rule
    from .paging.rotations import create_rotation

    staff = {u.username: u for u in session.scalars(select(StaffUser))}
    rotation = session.scalar(select(Rotation).where(Rotation.name == "Primary on-call"))
    if rotation is None and "eng2" in staff and "eng3" in staff:
        # Weekly hand-over on Mondays at 09:00 Budapest time; 2026-01-05 is a Monday.
        rotation = create_rotation(session, name="Primary on-call", members=[staff["eng2"], staff["eng3"]],
                                   timezone="Europe/Budapest", kind="weekly", handover_time="09:00",
                                   start_date=date(2026, 1, 5), now=now)
    if rotation is not None and session.scalar(
            select(EscalationPolicy).where(EscalationPolicy.name == "Default")) is None:
        create_policy(session, name="Default", repeat=1, now=now, steps=[
            {"delay_minutes": 5, "targets": [{"kind": "rotation", "id": rotation.id}]},
            {"delay_minutes": 5, "targets": [{"kind": "level", "level": "L3"}]},
            {"delay_minutes": 5, "targets": [{"kind": "managers"}]},
        ])
    for user in staff.values():
        if user.phone:
            set_rule(session, user, "sms", 0)
            set_rule(session, user, "voice", 2)
    session.flush()
