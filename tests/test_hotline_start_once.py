"""An incoming call is written once: a retried webhook or an earlier status callback finds the same row."""

from __future__ import annotations

from hotline_helpers import ANNA, IN_HOURS
from sqlalchemy import func, select

from callcenter import calls
from callcenter.db import session_scope
from callcenter.ivr.engine import FlowEngine
from callcenter.models import Call


def _start(session_factory, settings, sid: str):  # noqa: ANN001, ANN202
    with session_scope(session_factory) as session:
        turn = FlowEngine(settings).start(session, channel="twilio", provider_call_id=sid, caller=ANNA,
                                          called="+3615550100", now=IN_HOURS)
    return turn


def test_new_call_is_written_complete(session_factory, settings, demo) -> None:  # noqa: ANN001
    turn = _start(session_factory, settings, "CA-once")
    with session_scope(session_factory) as session:
        call = session.scalar(select(Call).where(Call.provider_call_id == "CA-once"))
        assert call.id == turn.call_id
        assert (call.contact_id, call.company_id, call.step) == (demo.anna.id, demo.budapest.id, "menu")
        assert call.contract_id is not None and call.language == "hu" and call.status_sequence == -1


def test_retried_webhook_finds_the_same_row(session_factory, settings, demo) -> None:  # noqa: ANN001
    first = _start(session_factory, settings, "CA-retry")
    again = _start(session_factory, settings, "CA-retry")
    assert again.call_id == first.call_id and again.said == first.said
    with session_scope(session_factory) as session:
        assert session.scalar(select(func.count()).select_from(Call)
                              .where(Call.provider_call_id == "CA-retry")) == 1


def test_status_callback_before_the_webhook_is_completed(session_factory, settings, demo) -> None:  # noqa: ANN001
    with session_scope(session_factory) as session:
        early = calls.status_callback(session, provider_call_id="CA-early", status="ringing", now=IN_HOURS,
                                      sequence=0, caller=ANNA)
        early_id = early.id
    turn = _start(session_factory, settings, "CA-early")
    assert turn.call_id == early_id
    with session_scope(session_factory) as session:
        call = session.get(Call, early_id)
        assert (call.contact_id, call.step) == (demo.anna.id, "menu")


def test_driver_level_insert_stores_what_the_orm_would(session_factory, settings, demo) -> None:  # noqa: ANN001
    # The first turn's INSERT goes to the driver directly: its row must match one the ORM writes,
    # column by column, including how a UTC timestamp is stored (SQLite keeps it as text).
    from sqlalchemy import text

    _start(session_factory, settings, "CA-raw")
    with session_scope(session_factory) as session:
        raw = session.scalar(select(Call).where(Call.provider_call_id == "CA-raw"))
        orm = Call(channel=raw.channel, provider_call_id="CA-orm", caller_number=raw.caller_number,
                   called_number=raw.called_number, arrived_at=IN_HOURS, menu_path="", status_sequence=-1,
                   menu_attempts=0, contact_id=raw.contact_id, company_id=raw.company_id,
                   contract_id=raw.contract_id, asset_id=raw.asset_id, language=raw.language,
                   out_of_hours=raw.out_of_hours, step=raw.step, turn_seq=1, last_seen_at=IN_HOURS)
        session.add(orm)
        session.flush()
        columns = [c.name for c in Call.__table__.c if c.name not in ("id", "provider_call_id")]
        rows = session.execute(text(f"SELECT {', '.join(columns)} FROM calls WHERE provider_call_id IN "
                                    "('CA-raw', 'CA-orm') ORDER BY provider_call_id")).all()
        assert dict(zip(columns, rows[1], strict=True)) == dict(zip(columns, rows[0], strict=True))
        assert raw.arrived_at == IN_HOURS and raw.legal_hold is False


def _start_cached(engine, settings, sid: str):  # noqa: ANN001, ANN202
    return FlowEngine(settings).start_cached(engine, channel="twilio", provider_call_id=sid, caller=ANNA,
                                             called="+3615550100", now=IN_HOURS)


def _count(session_factory, sid: str) -> int:  # noqa: ANN001
    with session_scope(session_factory) as session:
        return session.scalar(select(func.count()).select_from(Call).where(Call.provider_call_id == sid))


def test_cached_first_turn_writes_the_same_row_once(engine, session_factory, settings, demo) -> None:  # noqa: ANN001
    assert _start_cached(engine, settings, "CA-cold") is None  # nobody cached yet: the unit of work decides
    assert _count(session_factory, "CA-cold") == 0
    slow = _start(session_factory, settings, "CA-cold")  # identifies Anna and caches her
    fast = _start_cached(engine, settings, "CA-warm")
    assert fast is not None and fast.said == slow.said and fast.call_id != slow.call_id
    with session_scope(session_factory) as session:
        call = session.get(Call, fast.call_id)
        assert (call.provider_call_id, call.contact_id, call.company_id, call.step, call.turn_seq) == (
            "CA-warm", demo.anna.id, demo.budapest.id, "menu", 1)
        # Column by column what the unit of work wrote for the same caller (PostgreSQL's statement casts
        # each value to its column's type: timestamps, booleans and NULLs must come out the same).
        from sqlalchemy import text

        columns = [c.name for c in Call.__table__.c if c.name not in ("id", "provider_call_id")]
        rows = session.execute(text(f"SELECT {', '.join(columns)} FROM calls WHERE provider_call_id IN "
                                    "('CA-cold', 'CA-warm') ORDER BY provider_call_id")).all()
        assert dict(zip(columns, rows[1], strict=True)) == dict(zip(columns, rows[0], strict=True))
    # Twilio retries the webhook: nothing new is written, and the unit of work replays the same turn.
    assert _start_cached(engine, settings, "CA-warm") is None
    again = _start(session_factory, settings, "CA-warm")
    assert again.call_id == fast.call_id and again.said == fast.said
    assert _count(session_factory, "CA-warm") == 1


def test_cached_first_turn_steps_aside_when_the_directory_moved(engine, session_factory, settings,  # noqa: ANN001
                                                                demo) -> None:
    from callcenter.models import Contact

    _start(session_factory, settings, "CA-before")  # caches Anna as she was (Hungarian)
    with session_scope(session_factory) as session:
        session.get(Contact, demo.anna.id).language = "en"  # another process edits her
    assert _start_cached(engine, settings, "CA-after") is None  # the INSERT saw the newer directory
    assert _count(session_factory, "CA-after") == 0
    _start(session_factory, settings, "CA-after")
    with session_scope(session_factory) as session:
        assert session.scalar(select(Call.language).where(Call.provider_call_id == "CA-after")) == "en"
