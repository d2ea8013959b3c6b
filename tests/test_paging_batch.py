"""Step timers fired in batches (timers.register_batch, engine.on_step_timers, engine.start_steps) do
exactly what firing them one by one does, once, through races and crashes (issue 14's burst)."""

from __future__ import annotations

import re
import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from callcenter import timers
from callcenter.models import (
    Alert,
    AlertEvent,
    AlertStatus,
    EscalationPolicy,
    OutboxMessage,
    Page,
    Role,
    Rotation,
    StaffUser,
    Timer,
)
from callcenter.paging import alerts
from callcenter.paging import engine as paging_engine
from callcenter.paging.policies import create_policy, set_rule

STEPS = 4  # the Batch policy's 2 steps, repeated once: its step timers fire 4 times


@pytest.fixture
def policy(pager) -> int:  # noqa: ANN001
    """Steps that cover every branch: a rotation; then the L3 team, someone without a phone, and
    someone texted and called at once (agent1's extra rule), repeated once, then unreached."""
    with pager.factory() as s:
        rotation = s.scalar(select(Rotation))
        nobody = StaffUser(username="nophone", name="Phoneless Pál", role=Role.ENGINEER, level="L3", phone=None)
        agent1 = s.scalar(select(StaffUser).where(StaffUser.username == "agent1"))
        s.add(nobody)
        s.flush()
        set_rule(s, agent1, "voice", 0)
        p = create_policy(s, name="Batch", repeat=1, now=pager.t, steps=[
            {"delay_minutes": 5, "targets": [{"kind": "rotation", "id": rotation.id}]},
            {"delay_minutes": 5, "targets": [{"kind": "level", "level": "L3"}, {"kind": "staff", "id": nobody.id},
                                             {"kind": "staff", "id": agent1.id}]},
        ])
        s.commit()
        return p.id


def _raise(pager, policy_id: int, count: int, tag: str) -> list[int]:  # noqa: ANN001
    with pager.factory() as s:
        policy = s.get(EscalationPolicy, policy_id)
        ids = [alerts.raise_alert(s, source="api", dedup_key=f"{tag}-{i}", summary=f"batch alert {i}",
                                  policy=policy, now=pager.t)[0].id for i in range(count)]
        s.commit()
    return ids


def _trail(pager, alert_id: int, base) -> dict:  # noqa: ANN001
    """Everything paging wrote for one alert, with its ids and times made relative, comparable across alerts."""
    def clean(text: str | None) -> str | None:
        text = re.sub(rf"\balert:{alert_id}:", "alert:A:", text or "")
        text = re.sub(r"^api \S+;", "api KEY;", text)  # the raise's dedup key
        text = re.sub(r"\b(alert|ACK|ESC|RES) \d+", r"\1 A", text)  # the SMS names the alert
        return re.sub(r"(outbox |page:|\?n=)\d+", r"\1N", text)

    def ids_out(payload: dict) -> dict:
        return {k: ("N" if k.endswith("_id") else clean(v) if isinstance(v, str) else v) for k, v in payload.items()}

    with pager.factory() as s:
        alert = s.get(Alert, alert_id)
        pages = list(s.scalars(select(Page).where(Page.alert_id == alert_id).order_by(Page.id)))
        page_ids = [p.id for p in pages]
        return {
            "alert": (alert.status, alert.loop, alert.step, alert.unreached),
            "events": [(e.kind, e.staff_id, e.channel, clean(e.detail), e.at - base) for e in s.scalars(
                select(AlertEvent).where(AlertEvent.alert_id == alert_id).order_by(AlertEvent.id))],
            "pages": [(p.round, p.loop, p.step, p.staff_id, p.destination, p.rules, p.exhausted, p.created_at - base)
                      for p in pages],
            "messages": [(clean(m.idempotency_key), m.channel, m.destination, ids_out(m.payload), m.state,
                          m.max_attempts, m.next_attempt_at - base, m.source_kind, page_ids.index(m.source_id))
                         for m in s.scalars(select(OutboxMessage).where(OutboxMessage.source_id.in_(page_ids))
                                            .order_by(OutboxMessage.id))],
            "timers": sorted((clean(t.key), t.kind, t.due_at - base, t.fired_at - base if t.fired_at else None,
                              t.cancelled_at, t.error, str(sorted(ids_out(t.payload).items())))
                             for t in s.scalars(select(Timer).where(Timer.key.like(f"alert:{alert_id}:%")))),
        }


def _escalate_all(pager, base) -> None:  # noqa: ANN001
    for step in range(1, STEPS + 1):
        while timers.fire_due(pager.factory, base + timedelta(minutes=5 * step), "w"):
            pass


def test_a_batch_writes_what_firing_one_by_one_writes(pager, policy, monkeypatch):
    # One by one (the batch handler out of the way) ...
    base_one = pager.t
    one = _raise(pager, policy, 1, "one")[0]
    with monkeypatch.context() as m:
        m.delitem(timers._batch_handlers, paging_engine.STEP_TIMER)
        _escalate_all(pager, base_one)
    # ... and the same escalation for 30 alerts in batches, a day later.
    pager.t = base_one + timedelta(days=1)
    pager.put_on_call("eng2")
    batched = _raise(pager, policy, 30, "many")
    fired = Counter()
    real = timers._batch_handlers[paging_engine.STEP_TIMER]
    monkeypatch.setitem(timers._batch_handlers, paging_engine.STEP_TIMER,
                        lambda s, rows, now: (fired.update([len(rows)]), real(s, rows, now)))
    _escalate_all(pager, pager.t)
    assert sum(n * k for n, k in fired.items()) == 30 * STEPS and max(fired) >= 10  # in batches
    expected = _trail(pager, one, base_one)
    assert expected["alert"] == (AlertStatus.TRIGGERED, 1, 1, True)
    kinds = Counter(e[0] for e in expected["events"])
    assert kinds["escalate"] == STEPS and kinds["step"] == STEPS and kinds["unreachable"] == 2, kinds
    for alert_id in batched:
        got = _trail(pager, alert_id, pager.t)
        for part, rows in expected.items():
            assert got[part] == rows, (alert_id, part)


def test_two_workers_racing_on_one_batch_escalate_each_alert_once(pager, policy):
    ids = _raise(pager, policy, 40, "race")
    due = pager.t + timedelta(minutes=5)
    barrier = threading.Barrier(2)
    errors, fired = [], []

    def work(name: str) -> None:
        try:
            barrier.wait()
            while n := timers.fire_due(pager.factory, due, name, limit=25):
                fired.append(n)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
    assert not errors, errors
    with pager.factory() as s:
        escalations = Counter(s.scalars(select(AlertEvent.alert_id).where(AlertEvent.kind == "escalate",
                                                                          AlertEvent.alert_id.in_(ids))))
        pages = Counter(s.execute(select(Page.alert_id, Page.staff_id).where(Page.step == 1, Page.alert_id.in_(ids))))
        sms = s.scalar(select(func.count()).select_from(OutboxMessage).join(Page, Page.id == OutboxMessage.source_id)
                       .where(Page.step == 1, Page.alert_id.in_(ids), OutboxMessage.channel == "sms"))
        left = s.scalar(select(func.count()).select_from(Timer).where(Timer.kind == paging_engine.STEP_TIMER,
                                                                      Timer.fired_at.is_(None), Timer.due_at <= due))
    assert escalations == Counter({i: 1 for i in ids})
    assert set(pages.values()) == {1} and len(pages) == 40 * 2  # eng3 and agent1 (the phoneless: no page)
    assert sms == 40 * 2 and left == 0


def test_a_crash_mid_batch_commits_nothing_and_the_next_pass_fires_every_timer_once(pager, policy, monkeypatch):
    ids = _raise(pager, policy, 20, "crash")
    due = pager.t + timedelta(minutes=5)
    real = paging_engine.start_steps

    def killed_after_writing(session, starts, now):  # noqa: ANN001
        real(session, starts, now)
        raise SystemExit("kill -9")  # not an Exception: nothing in the worker catches it

    monkeypatch.setattr(paging_engine, "start_steps", killed_after_writing)
    with pytest.raises(SystemExit):
        timers.fire_due(pager.factory, due, "doomed")
    monkeypatch.setattr(paging_engine, "start_steps", real)
    with pager.factory() as s:
        assert not s.scalar(select(func.count()).select_from(AlertEvent).where(AlertEvent.kind == "escalate"))
        assert not s.scalar(select(func.count()).select_from(Timer).where(Timer.fired_by == "doomed"))
    while timers.fire_due(pager.factory, due, "survivor"):
        pass
    with pager.factory() as s:
        escalations = Counter(s.scalars(select(AlertEvent.alert_id).where(AlertEvent.kind == "escalate")))
        steps = Counter(s.execute(select(Alert.loop, Alert.step).where(Alert.id.in_(ids))))
    assert escalations == Counter({i: 1 for i in ids}) and steps == Counter({(0, 1): 20})


def test_a_failing_timer_in_a_batch_undoes_only_itself(pager, policy):
    ids = _raise(pager, policy, 10, "one-bad")
    with pager.factory() as s:
        bad = s.get(Alert, ids[3])
        bad.policy_snapshot = {**bad.policy_snapshot, "steps": bad.policy_snapshot["steps"][:1] + [{"targets": None}]}
        s.commit()
    due = pager.t + timedelta(minutes=5)
    timers.fire_due(pager.factory, due, "w")
    with pager.factory() as s:
        steps = {a.id: (a.loop, a.step) for a in s.scalars(select(Alert).where(Alert.id.in_(ids)))}
        broken = s.scalar(select(Timer).where(Timer.key == f"alert:{ids[3]}:step:0:0"))
    assert steps.pop(ids[3]) == (0, 0) and set(steps.values()) == {(0, 1)}
    assert broken.fired_at is None and broken.error and broken.due_at > due  # retried later, like any failure
