"""One lock order for paging (issue 11 item 3): the alert, then its timers, then its messages.

Before: ack/escalate/resolve locked the alert, then its timers; the step-timer worker locked the
timer, then the alert. On PostgreSQL the two deadlocked and the losing SMS webhook answered 500,
which Twilio does not retry: the acknowledgement was lost.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from conftest import is_postgres
from sqlalchemy import select

from callcenter import outbox, timers
from callcenter.models import Alert, AlertStatus, OutboxMessage, Timer
from callcenter.paging import engine as paging_engine

ENG2 = "+3615550182"
MEET = 3.0  # how long each side waits at its hook for the other to arrive there


def _race(pager, monkeypatch, action) -> tuple[object, list[BaseException]]:  # noqa: ANN001
    """Run the step timer's worker and `action` (a webhook) so that each holds its first lock when the
    other asks for its second, as they did in the field."""
    worker_holds, webhook_holds = threading.Event(), threading.Event()
    errors: list[BaseException] = []
    real_handler = timers._handlers[paging_engine.STEP_TIMER]
    real_batch = timers._batch_handlers[paging_engine.STEP_TIMER]
    real_cancel = timers.cancel_prefix

    def step_handler(session, timer, now):  # noqa: ANN001, ANN202
        worker_holds.set()  # the timer row is claimed (and locked) in this transaction
        webhook_holds.wait(MEET)
        return real_handler(session, timer, now)

    def step_batch(session, fired, now):  # noqa: ANN001, ANN202
        worker_holds.set()  # the timers and their alerts are claimed (and locked) in this transaction
        webhook_holds.wait(MEET)
        return real_batch(session, fired, now)

    def cancel_prefix(session, prefix, now):  # noqa: ANN001, ANN202
        webhook_holds.set()  # the alert row is locked in this transaction
        worker_holds.wait(MEET)
        return real_cancel(session, prefix, now)

    monkeypatch.setitem(timers._handlers, paging_engine.STEP_TIMER, step_handler)
    monkeypatch.setitem(timers._batch_handlers, paging_engine.STEP_TIMER, step_batch)
    monkeypatch.setattr(timers, "cancel_prefix", cancel_prefix)
    due = pager.t + timedelta(minutes=5)

    def work() -> None:
        try:
            timers.fire_due(pager.factory, due, "racing-worker")
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    worker = threading.Thread(target=work)
    pager.t = due
    worker.start()
    reply = action()
    worker.join(timeout=60)
    return reply, errors


@pytest.mark.parametrize("command", ["ACK", "RES"])
def test_ack_racing_the_step_timer_neither_deadlocks_nor_answers_500(pager, fake, monkeypatch, command):
    alert_id, number = pager.raise_alert()
    pager.tick()
    fake.wait_for_message(to=ENG2)
    reply, errors = _race(pager, monkeypatch, lambda: pager.sms_reply(ENG2, f"{command} {number}"))
    assert reply.status_code == 200, reply.text
    assert not errors, errors
    with pager.factory() as s:
        alert = s.get(Alert, alert_id)
        step_timer = s.scalar(select(Timer).where(Timer.key == f"alert:{alert_id}:step:0:0"))
        assert step_timer.error is None, step_timer.error  # the worker was not the deadlock's victim either
        want = AlertStatus.ACKNOWLEDGED if command == "ACK" else AlertStatus.RESOLVED
        assert alert.status == want
        assert ("acknowledged" if command == "ACK" else "resolved") in reply.text
        # Whoever went first, nothing is left to page: every timer of the alert fired or was cancelled.
        assert s.scalar(select(Timer).where(Timer.key.like(f"alert:{alert_id}:%"), Timer.fired_at.is_(None),
                                            Timer.cancelled_at.is_(None), Timer.kind != "paging.ack_timeout")) is None
    pager.tick()
    for m in list(fake.messages):  # step 2 may have paged before the acknowledgement won
        if m.sid not in fake._claimed:
            fake.wait_for_message(predicate=lambda x, sid=m.sid: x.sid == sid, timeout=0)
    pager.settle()
    fake.assert_nothing_unexpected()


def test_status_report_and_ack_take_the_alert_first(pager, fake, monkeypatch):
    """A delivery failure (outbox row, then the alert, before) against an ack (alert, then its messages)."""
    if not is_postgres():
        pytest.skip("row locks exist on PostgreSQL only; SQLite serialises writers")
    alert_id, number = pager.raise_alert()
    pager.tick()
    sms = fake.wait_for_message(to=ENG2)
    status_holds, ack_holds = threading.Event(), threading.Event()
    real_cancel = paging_engine.cancel_pending_notifications
    real_lock = outbox._owner_locks.get("notification")

    def owner_lock(session, payload):  # noqa: ANN001, ANN202
        real_lock(session, payload)
        status_holds.set()
        ack_holds.wait(MEET)

    def cancel(session, alert, now, why):  # noqa: ANN001, ANN202
        ack_holds.set()
        status_holds.wait(MEET)
        return real_cancel(session, alert, now, why)

    monkeypatch.setitem(outbox._owner_locks, "notification", owner_lock)
    monkeypatch.setattr(paging_engine, "cancel_pending_notifications", cancel)
    results = {}
    t = threading.Thread(target=lambda: results.setdefault("status", fake.message_status(sms.sid, "undelivered",
                                                                                          error_code=30003)))
    t.start()
    results["ack"] = pager.sms_reply(ENG2, f"ACK {number}")
    t.join(timeout=60)
    assert results["ack"].status_code == 200 and results["status"].status_code in (200, 204)
    with pager.factory() as s:
        assert s.get(Alert, alert_id).status == AlertStatus.ACKNOWLEDGED
        assert s.scalar(select(OutboxMessage.state).where(OutboxMessage.provider_ref == sms.sid)) == "failed"
    pager.tick()
    for c in list(fake.calls):  # the failover call may have been placed before the ack won
        if c.sid not in fake._claimed:
            fake.wait_for_call(predicate=lambda x, sid=c.sid: x.sid == sid, timeout=0)
    pager.settle()
    fake.assert_nothing_unexpected()
