"""Pages through crashes and races, with real `callcenter worker` and `web` processes and Twilio's side from the
fake REST server.

1. kill -9 of workers while they send: many alerts escalate at once; two workers are killed, each while it
   holds pages in 'sending' (Twilio has accepted some of them, the worker never heard), and restarted.
   Every page (SMS and voice call, both steps) is requested from Twilio exactly once, none is lost, and the
   alerts acknowledged before any worker ran page nobody.
2. Duplicate and concurrent SMS acknowledgements from many threads (Twilio retries, two engineers at once)
   while a worker escalates the same alerts: every webhook answers 200, each alert is acknowledged once,
   nothing escalates or queues a page after the acknowledgement, and eng3 (step 2) has pages only for the
   alerts that escalated before it.

Printed: pages, kills, rows in flight at each kill, how they were settled, and how long the whole took."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

from fake_twilio import FakeTwilio
from faults.procs import Service, hotline_config, wait_until
from sqlalchemy import delete, func, select

from callcenter.models import (
    Alert,
    AlertEvent,
    AlertStatus,
    EscalationPolicy,
    NotificationRule,
    OutboxAttempt,
    OutboxMessage,
    OutboxState,
    Page,
    Rotation,
    StaffUser,
)
from callcenter.paging import alerts
from callcenter.paging.policies import set_rule
from callcenter.paging.rotations import add_override

ENG2, ENG3 = "+3615550182", "+302105550183"
FROM = "+3615550100"
ALERTS = 40
ACKED = 5
WORKERS = 3


def escalating_alerts(session, count: int, *, raised_ago: timedelta, acked: int = 0) -> list[int]:  # noqa: ANN001
    """`count` alerts on the Default policy with eng2 on call; eng2 and eng3 are texted and called at once at
    each step. Raised `raised_ago`: past 5 minutes, step 1's timer is already due and every alert escalates to
    eng3 as soon as a worker runs. The last `acked` alerts are acknowledged at once (they must page nobody)."""
    now = datetime.now(UTC)
    staff = {u.username: u for u in session.scalars(select(StaffUser))}
    add_override(session, session.scalar(select(Rotation)), staff["eng2"], now - timedelta(hours=1),
                 now + timedelta(days=1), now=now, reason="fault test")
    for name in ("eng2", "eng3"):
        session.execute(delete(NotificationRule).where(NotificationRule.staff_id == staff[name].id))
        set_rule(session, staff[name], "sms", 0)
        set_rule(session, staff[name], "voice", 0)
    policy = session.scalar(select(EscalationPolicy).where(EscalationPolicy.name == "Default"))
    raised = now - raised_ago
    ids = []
    for i in range(count + acked):
        alert, _ = alerts.raise_alert(session, source="api", dedup_key=f"fault-{uuid.uuid4().hex[:8]}",
                                      summary=f"fault alert {i}", policy=policy, now=raised)
        ids.append(alert.id)
    session.flush()
    for alert_id in ids[count:]:
        alerts.acknowledge(session, session.get(Alert, alert_id), staff=None, channel="api",
                           now=raised + timedelta(seconds=1))
    session.commit()
    return ids


def pages_requested(fake: FakeTwilio) -> int:
    return len(fake.messages) + len(fake.calls)


def held_by(session, worker: Service) -> int:  # noqa: ANN001
    """Rows the worker process holds in 'sending' (its claimant id names its pid)."""
    session.expire_all()
    return session.scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.state == OutboxState.SENDING, OutboxMessage.claimed_by.like(f"%:{worker.proc.pid}:%")))


def unsettled(session) -> int:  # noqa: ANN001
    session.expire_all()
    return session.scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.state.in_([OutboxState.PENDING, OutboxState.SENDING])))


def notification_rows(session, alert_ids: list[int]) -> list[tuple[OutboxMessage, int]]:  # noqa: ANN001
    session.expire_all()
    return list(session.execute(select(OutboxMessage, Page.alert_id).join(Page, Page.id == OutboxMessage.source_id)
                                .where(OutboxMessage.source_kind == "notification", Page.alert_id.in_(alert_ids)))
                .tuples())


def test_kill_9_of_workers_while_they_send_pages(database_url, demo, session, tmp_path, fake):  # noqa: ANN001
    ids = escalating_alerts(session, ALERTS, raised_ago=timedelta(minutes=6), acked=ACKED)
    escalating, quiet = ids[:ALERTS], ids[ALERTS:]
    expected = 4 * ALERTS  # eng2 texted and called at step 1, eng3 at step 2
    fake.accept_delay = 0.1  # Twilio answers slowly: a kill lands between its accepting and our recording
    config = hotline_config(database_url, tmp_path, twilio=fake)
    workers = [Service("worker", config, tmp_path, name=f"worker{i}").start() for i in range(WORKERS)]
    began = time.monotonic()
    in_flight = []
    try:
        for w in workers:
            w.wait_ready()
        for victim, share in ((workers[0], 0.2), (workers[1], 0.5)):
            wait_until(lambda s=share: pages_requested(fake) >= s * expected, 60, interval=0.05,
                       what=f"{share:.0%} of the pages")
            wait_until(lambda v=victim: held_by(session, v) > 0, 30, interval=0.02,
                       what=f"{victim.name} holding pages in 'sending'")
            victim.kill()
            in_flight.append((victim.name, held_by(session, victim), pages_requested(fake)))
            victim.start()
        # The killed workers' rows wait out their lease (outbox.LEASE), then are settled with Twilio.
        wait_until(lambda: pages_requested(fake) >= expected and unsettled(session) == 0, 75, interval=0.5,
                   what="every page requested and every outbox row settled")
        took = time.monotonic() - began
        time.sleep(2)  # anything sent now would be a second page
        rows = notification_rows(session, ids)
        attempts = Counter(a.outcome for a in session.scalars(select(OutboxAttempt)))
    finally:
        for w in workers:
            w.stop()

    sms = Counter((m.to, m.body) for m in fake.messages)
    calls = Counter(c.url.rsplit("o=", 1)[-1].split(".")[0] for c in fake.calls)  # our claim ref names the row
    sent = {m.provider_ref: (m, alert_id) for m, alert_id in rows if m.provider_ref}
    per_alert = Counter(alert_id for m, alert_id in sent.values())
    print(f"\nkill -9 of 2 of {WORKERS} workers while sending {expected} pages of {ALERTS} escalating alerts "
          f"(+{ACKED} acknowledged): held in 'sending' at the kills {[(n, h) for n, h, _ in in_flight]}, "
          f"requested from Twilio {len(fake.messages)} SMS + {len(fake.calls)} calls, all settled after "
          f"{took:.1f} s; outcomes {dict(attempts)}")
    assert all(held for _, held, _ in in_flight)
    assert len(fake.messages) == len(fake.calls) == 2 * ALERTS
    assert set(sms.values()) == {1} and {to for to, _ in sms} == {ENG2, ENG3}
    assert set(calls.values()) == {1} and Counter(c.to for c in fake.calls) == {ENG2: ALERTS, ENG3: ALERTS}
    # Every Twilio message or call belongs to exactly one outbox row of an escalating alert: nothing doubled.
    assert set(sent) == {m.sid for m in fake.messages} | {c.sid for c in fake.calls}
    assert per_alert == {alert_id: 4 for alert_id in escalating}
    assert not set(per_alert) & set(quiet)
    assert {m.state for m, _ in rows if m.provider_ref} <= {OutboxState.SENT, OutboxState.DELIVERED}
    for w in workers:
        assert "Traceback" not in w.log_text().split("===== start 2")[-1], w.log_text()[-3000:]


def test_duplicate_and_concurrent_sms_acks_while_a_worker_escalates(database_url, demo, session, tmp_path,
                                                                    fake):  # noqa: ANN001
    # Raised just under 5 minutes ago: the acknowledgements arrive as the worker starts escalating.
    ids = escalating_alerts(session, 12, raised_ago=timedelta(minutes=5) - timedelta(seconds=8))
    refs = {a.id: a.reference for a in session.scalars(select(Alert).where(Alert.id.in_(ids)))}
    config = hotline_config(database_url, tmp_path, twilio=fake)
    web = Service("web", config, tmp_path).start()
    worker = Service("worker", config, tmp_path).start()
    try:
        web.wait_ready()
        worker.wait_ready()
        jobs = []
        for alert_id in ids:
            sid = "SM" + uuid.uuid4().hex
            # Twilio delivers eng2's reply three times (same MessageSid); eng3 acknowledges at the same moment.
            jobs += [(ENG2, f"ACK {refs[alert_id]}", sid)] * 3 + [(ENG3, f"ack {refs[alert_id]}", None)]
        wait_until(lambda: _step_fired(session), 30, interval=0.02, what="the worker escalating")
        barrier = threading.Barrier(len(jobs))
        answers: list[object] = [None] * len(jobs)

        def reply(i: int) -> None:
            frm, body, sid = jobs[i]
            barrier.wait()
            try:
                answers[i] = fake.inbound_sms(web.web_url, frm, FROM, body, message_sid=sid)
            except Exception as exc:  # surfaced below
                answers[i] = exc

        threads = [threading.Thread(target=reply, args=(i,)) for i in range(len(jobs))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        wait_until(lambda: unsettled(session) == 0, 60, interval=0.5, what="the worker to settle every page")
        time.sleep(2)
        session.expire_all()
        events = list(session.scalars(select(AlertEvent).where(AlertEvent.alert_id.in_(ids))
                                      .order_by(AlertEvent.id)))
        acked = {a.id: a for a in session.scalars(select(Alert).where(Alert.id.in_(ids)))}
        rows = notification_rows(session, ids)
    finally:
        web.stop()
        worker.stop()

    statuses = Counter(getattr(a, "status_code", type(a).__name__) for a in answers)
    acks = Counter(e.alert_id for e in events if e.kind == "acknowledged")
    escalated = {e.alert_id for e in events if e.kind == "escalate"}
    # Events are written under the alert's lock: their order is the order things happened to the alert.
    # (Timestamps are not: a webhook's clock is read before it waits for the lock.)
    first_ack = {}
    for e in events:
        if e.kind == "acknowledged":
            first_ack.setdefault(e.alert_id, e.id)
    late = [(e.alert_id, e.kind) for e in events
            if e.kind in ("escalate", "step", "notify") and e.id > first_ack.get(e.alert_id, e.id)]
    print(f"\n{len(jobs)} SMS acknowledgements for {len(ids)} alerts from {len(jobs)} threads while a worker "
          f"escalates: answers {dict(statuses)}, acknowledged {sum(acks.values())}x, escalated before the ack "
          f"{len(escalated)}, pages requested {pages_requested(fake)}, paging after an ack {len(late)}")
    assert statuses == {200: len(jobs)}
    assert acks == {alert_id: 1 for alert_id in ids}
    assert {a.status for a in acked.values()} == {AlertStatus.ACKNOWLEDGED}
    assert late == []
    assert len({m.sid for m in fake.messages}) == len(fake.messages)
    # Every page Twilio has belongs to one row; eng3 was paged only for alerts that escalated before the ack.
    assert {m.provider_ref for m, _ in rows if m.provider_ref} == {m.sid for m in fake.messages} | {
        c.sid for c in fake.calls}
    assert {alert_id for m, alert_id in rows if m.provider_ref and m.destination == ENG3} <= escalated


def _step_fired(session) -> bool:  # noqa: ANN001
    from callcenter.models import Timer

    session.expire_all()
    return session.scalar(select(Timer.id).where(Timer.key.like("alert:%:step:0:0"), Timer.fired_at.is_not(None))
                          .limit(1)) is not None
