"""The directory cache: a call's first turn identifies its caller from the process cache, and any change
to companies, contracts, contacts or assets, in this process or another, is seen by the next call."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, text, update
from sqlalchemy.orm import Session

from callcenter import directory
from callcenter.db import make_engine, make_session_factory, session_scope
from callcenter.directory import identify_caller_cached, read_version
from callcenter.models import Asset, Contact, Contract

NOW = datetime(2026, 10, 6, 8, tzinfo=UTC)
ANNA = "+3615550101"


def _identify(factory, number: str = ANNA):  # noqa: ANN001, ANN202
    with session_scope(factory) as session:
        return identify_caller_cached(session, number, NOW)


def _count_selects(engine) -> list[str]:  # noqa: ANN001
    from sqlalchemy import event

    seen: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def record(conn, cursor, statement, *args) -> None:  # noqa: ANN001
        seen.append(statement)

    return seen


def test_second_call_is_answered_from_the_cache(engine, session_factory, demo) -> None:
    first = _identify(session_factory)
    assert first.contact.name == "Kovács Anna" and first.contract is not None
    statements = _count_selects(engine)
    second = _identify(session_factory)
    assert second.contact is first.contact  # the cached snapshot
    assert [s for s in statements if s.lstrip().upper().startswith("SELECT")] == [
        "SELECT version FROM directory_version WHERE id = 1"]
    # The contract is chosen per call from the cached company, not cached itself.
    assert second.contract.id == first.contract.id


def test_cached_objects_are_detached_snapshots(session_factory, demo) -> None:
    identity = _identify(session_factory)
    for obj in (identity.contact, identity.company, identity.contract):
        assert Session.object_session(obj) is None
    # Everything the flow reads is loaded: no lazy load on a detached object.
    assert identity.contact.company.name == "Budapest Demo Kft."
    assert [c.name for c in identity.company.contracts]
    assert identity.company.assets is not None
    assert identity.contract.company is identity.company and identity.contract.sla_targets


def test_an_orm_change_invalidates_the_cache(session_factory, demo) -> None:
    assert _identify(session_factory).contact.name == "Kovács Anna"
    with session_scope(session_factory) as session:
        before = read_version(session)
        anna = session.get(Contact, demo.anna.id)
        anna.phone = "+3615550199"
    with session_scope(session_factory) as session:
        assert read_version(session) == before + 1
    assert _identify(session_factory).contact is None
    assert _identify(session_factory, "+3615550199").contact.name == "Kovács Anna"


def test_a_contract_change_is_seen_by_the_next_call(session_factory, demo) -> None:
    assert _identify(session_factory).contract.no_answer_threshold_seconds != 42
    with session_scope(session_factory) as session:
        contract = session.get(Contract, _identify(session_factory).contract.id)
        contract.no_answer_threshold_seconds = 42
    assert _identify(session_factory).contract.no_answer_threshold_seconds == 42


def test_bulk_statements_invalidate_too(session_factory, demo) -> None:
    assert _identify(session_factory).contact is not None
    with session_scope(session_factory) as session:
        session.execute(update(Contact).where(Contact.id == demo.anna.id).values(active=False))
    assert _identify(session_factory).contact is None
    pbx_line = "+302105550100"
    assert _identify(session_factory, pbx_line).asset is not None
    with session_scope(session_factory) as session:
        session.execute(delete(Asset).where(Asset.id == demo.pbx.id))
    assert _identify(session_factory, pbx_line).asset is None


def test_another_process_sees_the_change(settings, session_factory, demo) -> None:
    # A second engine stands for a web or AGI process on another machine: its own cache.
    other_engine = make_engine(settings.database_url)
    try:
        other = make_session_factory(other_engine)
        assert _identify(other).contact.name == "Kovács Anna"
        with session_scope(session_factory) as session:
            session.get(Contact, demo.anna.id).name = "Kovács Anna Mária"
        assert _identify(other).contact.name == "Kovács Anna Mária"
    finally:
        other_engine.dispose()


def test_a_lost_counter_row_falls_back_and_is_recreated(session_factory, demo) -> None:
    with session_scope(session_factory) as session:
        session.execute(text("DELETE FROM directory_version"))
    assert _identify(session_factory).contact.name == "Kovács Anna"  # uncached, but right
    with session_scope(session_factory) as session:
        session.get(Contact, demo.anna.id).language = "en"
    with session_scope(session_factory) as session:
        recreated = read_version(session)
    assert recreated is not None
    assert _identify(session_factory).contact.language == "en"


def test_unknown_numbers_are_cached_as_unknown(engine, session_factory, demo) -> None:
    assert _identify(session_factory, "+3619999999").contact is None
    statements = _count_selects(engine)
    assert _identify(session_factory, "+3619999999").company is None
    assert len(statements) == 1
    assert directory.CACHE_SIZE >= 1000


def test_a_calls_context_comes_from_the_cache_until_the_directory_changes(session_factory, settings, demo) -> None:  # noqa: ANN001
    from callcenter import calls
    from callcenter.ivr.engine import FlowEngine

    with session_scope(session_factory) as session:
        FlowEngine(settings).start(session, channel="asterisk", provider_call_id="u.ctx", caller=ANNA, now=NOW)
    with session_scope(session_factory) as session:
        ctx = calls.context(session, calls.get_call(session, "u.ctx"))
        assert Session.object_session(ctx.contact) is None  # the cached snapshot
        assert ctx.contract is not None and ctx.contract.id == ctx.call.contract_id
    with session_scope(session_factory) as session:
        session.get(Contact, demo.anna.id).role = "CIO"
    with session_scope(session_factory) as session:
        ctx = calls.context(session, calls.get_call(session, "u.ctx"))
        assert Session.object_session(ctx.contact) is session  # loaded by id again
        assert ctx.contact.role == "CIO"


def test_a_call_identified_differently_is_not_given_the_cached_identity(session_factory, settings, demo) -> None:  # noqa: ANN001
    from callcenter import calls
    from callcenter.ivr.engine import FlowEngine

    with session_scope(session_factory) as session:
        FlowEngine(settings).start(session, channel="asterisk", provider_call_id="u.other", caller=ANNA, now=NOW)
    with session_scope(session_factory) as session:
        call = calls.get_call(session, "u.other")
        call.contact_id = None  # as if identified before Anna's number was on file
    with session_scope(session_factory) as session:
        ctx = calls.context(session, calls.get_call(session, "u.other"))
        assert ctx.contact is None and Session.object_session(ctx.company) is session


def test_first_turn_trusts_the_cache_until_the_insert_says_the_directory_moved(settings, session_factory,
                                                                               demo) -> None:  # noqa: ANN001
    from sqlalchemy import func, select

    from callcenter.ivr.engine import FlowEngine
    from callcenter.models import Call

    flow = FlowEngine(settings)

    def start(sid: str):  # noqa: ANN202
        with session_scope(session_factory) as session:
            return flow.start(session, channel="twilio", provider_call_id=sid, caller=ANNA, now=NOW)

    start("CA-warm")  # this process now has Anna cached
    other_engine = make_engine(settings.database_url)  # another process changes her language
    try:
        with session_scope(make_session_factory(other_engine)) as session:
            session.get(Contact, demo.anna.id).language = "en"
    finally:
        other_engine.dispose()
    turn = start("CA-moved")
    with session_scope(session_factory) as session:
        rows = list(session.scalars(select(Call).where(Call.provider_call_id == "CA-moved")))
        assert len(rows) == 1 and rows[0].id == turn.call_id
        assert rows[0].language == "en"  # identified afresh, not from the stale cache
        assert turn.instructions[1].lang == "en"
        assert session.scalar(select(func.count()).select_from(Call)) == 2
