"""The critical fault's turn (menu key 1) writes the call's row once and its queue watch in one statement:
on SQLite the whole turn holds the database's only write lock, so every statement in it delays every
other caller's turn."""

from __future__ import annotations

from datetime import timedelta

from hotline_helpers import ANNA, IN_HOURS
from sqlalchemy import event, select

from callcenter import timers
from callcenter.db import session_scope
from callcenter.ivr.engine import FlowEngine, Input
from callcenter.models import Call, Timer


def _statements(engine) -> list[str]:  # noqa: ANN001
    seen: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def record(conn, cursor, statement, *args) -> None:  # noqa: ANN001
        seen.append(" ".join(statement.split()))

    return seen


def test_key_1_writes_the_call_row_once(engine, session_factory, settings, demo) -> None:  # noqa: ANN001
    flow = FlowEngine(settings)
    with session_scope(session_factory) as s:
        flow.start(s, channel="asterisk", provider_call_id="key1", caller=ANNA, now=IN_HOURS)
    seen = _statements(engine)
    with session_scope(session_factory) as s:
        turn = flow.advance(s, "key1", "menu", Input("digits", digits="1"), IN_HOURS + timedelta(seconds=3))
    assert turn.outcome == "critical_queued"
    assert len([st for st in seen if st.startswith("UPDATE calls ")]) == 1
    # The queue watch: one INSERT .. ON CONFLICT, no read first and no savepoint around it.
    watch_statements = [st for st in seen if " timers" in st]
    assert len(watch_statements) == 1 and watch_statements[0].startswith("INSERT INTO timers")
    with session_scope(session_factory) as s:
        call = s.scalar(select(Call).where(Call.provider_call_id == "key1"))
        assert (call.step, call.menu_path, call.turn_seq) == ("queue_done", "1", 2)
        assert call.ticket_id is not None and call.queue_entered_at == IN_HOURS + timedelta(seconds=3)
        assert call.last_seen_at == IN_HOURS + timedelta(seconds=3)
        watch = s.scalar(select(Timer).where(Timer.key == f"hotline-queue:{call.id}"))
        assert watch.payload == {"call_id": call.id} and watch.kind == "hotline.queue_watch"


def test_schedule_once_writes_the_row_schedule_writes_and_keeps_the_first(session_factory, now) -> None:  # noqa: ANN001
    columns = ("kind", "due_at", "payload", "created_at", "fired_at", "fired_by", "cancelled_at", "error")
    with session_scope(session_factory) as s:
        timers.schedule(s, key="orm", kind="test-kind", due_at=now + timedelta(minutes=5), now=now,
                        payload={"call_id": 7, "name": "Kovács"})
        assert timers.schedule_once(s, key="text", kind="test-kind", due_at=now + timedelta(minutes=5), now=now,
                                    payload={"call_id": 7, "name": "Kovács"})
        assert not timers.schedule_once(s, key="text", kind="other", due_at=now, now=now + timedelta(hours=1))
    with session_scope(session_factory) as s:
        orm, once = (s.scalar(select(Timer).where(Timer.key == key)) for key in ("orm", "text"))
        assert [getattr(once, c) for c in columns] == [getattr(orm, c) for c in columns]
