"""The customer directory's version, and caller identification cached by it.

Every incoming call asks "who is this number?" before its first prompt. The answer changes only when
a company, contract, contact or asset changes, which is rare next to calls. So every such change bumps
one counter (`directory_version`) in its own transaction, and each process keeps the identities it
has looked up for the version it saw: a call then costs one primary-key read instead of two joined
queries. Processes on other machines see a change as soon as it commits, because they read the
counter on every call.

The cached objects are detached snapshots (every attribute and the relationships identification
needs are loaded): the flow reads them, it never writes them or adds them to a session.
"""

from __future__ import annotations

import random
import threading
import weakref
from collections import OrderedDict
from datetime import datetime

from sqlalchemy import Engine, event, inspect, text
from sqlalchemy.orm import Session, UOWTransaction

from .customers import Identity, contract_at, identify_caller, identify_sender, try_normalize_phone
from .models import Asset, Call, Company, Contact, Contract, SlaTarget

# SLA targets travel in the snapshots with their contracts: a change to one is a directory change too.
DIRECTORY_CLASSES = (Company, Contract, Contact, Asset, SlaTarget)
DIRECTORY_TABLES = frozenset(cls.__table__.name for cls in DIRECTORY_CLASSES)
CACHE_SIZE = 10_000

_READ = text("SELECT version FROM directory_version WHERE id = 1")
_BUMP = text("UPDATE directory_version SET version = version + 1 WHERE id = 1")
# A counter row lost to a TRUNCATE starts again at a random point, so that the versions cached
# before it cannot come back and match.
_CREATE = text("INSERT INTO directory_version (id, version) VALUES (1, :start) ON CONFLICT (id) DO NOTHING")


def read_version(session: Session) -> int | None:
    """The directory's version in this transaction; None when the counter row is missing."""
    return session.connection().execute(_READ).scalar()


def bump(session: Session) -> None:
    """Record that the directory changed, in the session's transaction."""
    connection = session.connection()
    if connection.execute(_BUMP).rowcount == 0:
        connection.execute(_CREATE, {"start": random.getrandbits(48)})


@event.listens_for(Session, "before_flush")
def _bump_on_directory_change(session: Session, _flush: UOWTransaction, _instances: object) -> None:
    for objects in (session.new, session.dirty, session.deleted):
        if any(isinstance(obj, DIRECTORY_CLASSES) for obj in objects):
            bump(session)
            return


@event.listens_for(Session, "do_orm_execute")
def _bump_on_bulk_change(state) -> None:  # noqa: ANN001
    # update(Contact)/delete(Asset) statements change rows without a flush.
    if (state.is_update or state.is_delete) and any(
            mapper.local_table.name in DIRECTORY_TABLES for mapper in state.all_mappers):
        bump(state.session)


class _Cache:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.version: int | None = None
        self.entries: OrderedDict[str | None, Identity] = OrderedDict()

    def get(self, version: int, key: str | None) -> Identity | None:
        with self.lock:
            if version != self.version:
                return None
            found = self.entries.get(key)
            if found is not None:
                self.entries.move_to_end(key)
            return found

    def latest(self, key: str | None) -> tuple[int, Identity] | None:
        """The entry under the version this cache last saw, without asking which version is current."""
        with self.lock:
            found = self.entries.get(key)
            return (self.version, found) if self.version is not None and found is not None else None

    def put(self, version: int, key: str | None, identity: Identity) -> None:
        with self.lock:
            if version != self.version:
                self.version = version
                self.entries.clear()
            self.entries[key] = identity
            if len(self.entries) > CACHE_SIZE:
                self.entries.popitem(last=False)


_caches: weakref.WeakKeyDictionary[Engine, _Cache] = weakref.WeakKeyDictionary()
_caches_guard = threading.Lock()


def _cache_for(engine: Engine) -> _Cache:
    with _caches_guard:
        cache = _caches.get(engine)
        if cache is None:
            cache = _caches[engine] = _Cache()
        return cache


def _snapshot(session: Session, e164: str | None, now: datetime) -> Identity:
    # A session of its own on the same connection and transaction: closing it detaches what it loaded.
    loader = Session(bind=session.connection())
    try:
        identity = identify_caller(loader, e164, now)
        company = identity.company
        if identity.asset is not None:
            _ = identity.asset.company
        if company is not None:
            # Everything a turn may read from a snapshot: a lazy load on a detached object would fail.
            _ = company.contracts, company.assets
            for contract in company.contracts:
                _ = contract.company, contract.sla_targets
            for asset in company.assets:
                _ = asset.company
        if identity.contact is not None:
            _ = identity.contact.company
        return Identity(identity.contact, company, None, identity.asset)
    finally:
        loader.close()


def _at(found: Identity, now: datetime) -> Identity:
    # Snapshots are cached without a contract: which one is valid depends on the call's date.
    return Identity(found.contact, found.company, contract_at(found.company, now), found.asset)


def identify_caller_cached(session: Session, caller_id: str | None, now: datetime) -> Identity:
    """`customers.identify_caller` for the first turn of a call, answered from the process cache when
    the directory has not changed since. The objects are detached: read them, do not modify them."""
    version = read_version(session)
    if version is None:
        return identify_caller(session, caller_id, now)
    key = try_normalize_phone(caller_id)
    cache = _cache_for(session.get_bind())
    found = cache.get(version, key)
    if found is None:
        found = _snapshot(session, key, now)
        cache.put(version, key, found)
    return _at(found, now)


def cached_identity(bind: Engine, caller_id: str | None, now: datetime) -> tuple[Identity, int] | None:
    """Who calls from this number as this process last saw it, and the directory version it saw, without
    asking the database; None when the number is not cached. The caller checks the version later in
    the same transaction (`call_insert.insert_call` returns it with the call's row)."""
    latest = _cache_for(bind).latest(try_normalize_phone(caller_id))
    if latest is None:
        return None
    version, found = latest
    return _at(found, now), version


def identity_of_call(session: Session, call: Call) -> Identity | None:
    """The contact, company, contract and asset a call was identified with, from the cache when the
    directory has not changed since the call's number was looked up; None when it has (or never was):
    the caller then loads them by id."""
    version = read_version(session)
    if version is None or not call.caller_number:
        return None
    found = _cache_for(session.get_bind()).get(version, try_normalize_phone(call.caller_number))
    if found is None:
        return None
    company = found.company
    contract = next((c for c in company.contracts if c.id == call.contract_id), None) if company else None
    if ((found.contact.id if found.contact else None) != call.contact_id
            or (company.id if company else None) != call.company_id
            or (contract.id if contract else None) != call.contract_id
            or (found.asset.id if found.asset else None) != call.asset_id):
        return None  # the call was identified differently (another version of the directory)
    return Identity(found.contact, company, contract, found.asset)


def identify_sender_cached(session: Session, address: str | None, now: datetime) -> Identity:
    """`customers.identify_sender` for mail intake, answered from the process cache when the directory
    has not changed since (one small read of its version instead of a joined query, two for a stranger).
    The cached contact, company, contracts and SLA targets are merged into the session without a query,
    so the new ticket and its SLA use them as if loaded here."""
    key = address.strip().lower() if address else ""
    version = read_version(session) if key else None
    if version is None:
        return identify_sender(session, address, now)
    cache = _cache_for(session.get_bind())
    found = cache.get(version, "mail:" + key)
    if found is None:
        found = _sender_snapshot(session, address, now)
        cache.put(version, "mail:" + key, found)
    contact = _attached(session, found.contact)
    company = contact.company if contact is not None else _attached(session, found.company)
    return Identity(contact, company, contract_at(company, now), None)


def _sender_snapshot(session: Session, address: str | None, now: datetime) -> Identity:
    loader = Session(bind=session.connection())
    try:
        identity = identify_sender(loader, address, now)  # contracts and SLA targets come with it
        return Identity(identity.contact, identity.company, None, None)
    finally:
        loader.close()


def _attached(session: Session, snapshot: object | None) -> object | None:
    """This session's copy of a cached object: the one it holds already, else the snapshot merged in."""
    if snapshot is None:
        return None
    held = session.identity_map.get(inspect(snapshot).key)
    return held if held is not None else session.merge(snapshot, load=False)
