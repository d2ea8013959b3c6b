"""The escalation engine: step timers, per-notification-rule timers, advancing, and failover.

Every decision is a timer row fired exactly once (timers.fire_due claims it with a conditional
UPDATE); every send is an outbox row with an idempotency key. A delivery failure schedules a
"failover" timer keyed by the failed message, so duplicate or reordered status callbacks move a
person on to their next contact method once, not twice.

Lock order (the same on every path, after GoAlert's engine/processinglock): **the alert row first,
then its timers, then its pages and outbox rows.** Acknowledge, escalate and resolve lock the alert
and then cancel timers and queued messages; the outbox locks the alert before it writes a status
report, a failure or a batch of sends of its messages (`outbox.lock_owner_first`,
`lock_owners_first`: a batch's alerts in id order). The worker firing timers takes the due timers
and then their alerts, both with SKIP LOCKED (`timers.fire_due`, `lock_owner_first`,
`register_batch`): it never waits for a lock while holding one, so it cannot close a cycle with the
paths above; an alert held elsewhere leaves its timer for the next pass. On PostgreSQL a
lock wait is bounded by `lock_timeout` (db.LOCK_TIMEOUT_MS); SQLite serialises writers anyway.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from .. import bulk, outbox, timers
from ..db import begin_write
from ..models import Alert, AlertEvent, AlertStatus, OutboxMessage, OutboxState, Page, StaffUser, Timer
from .notify import SOURCE_KIND, enqueue_notification, notification_values, voice_url
from .policies import DEFAULT_STEP_MINUTES, resolve_targets, rules_for

log = logging.getLogger(__name__)

STEP_TIMER = "paging.step"
RULE_TIMER = "paging.rule"
FAILOVER_TIMER = "paging.failover"
ACK_TIMEOUT_TIMER = "paging.ack_timeout"


def record(session: Session, alert: Alert, kind: str, now: datetime, *, staff_id: int | None = None,
           channel: str | None = None, detail: str | None = None) -> AlertEvent:
    event = AlertEvent(alert_id=alert.id, at=now, kind=kind, staff_id=staff_id, channel=channel, detail=detail)
    session.add(event)
    alert.updated_at = now
    return event


def lock_alert(session: Session, alert_id: int) -> Alert | None:
    """The alert row, locked and read afresh inside the lock, so an ack and a step advance never interleave.

    PostgreSQL: SELECT ... FOR UPDATE. SQLite: the database's write lock, taken before reading; without it
    two acknowledgements could both read 'triggered' before either wrote (seen: one alert acknowledged four
    times by duplicate SMS replies)."""
    stmt = select(Alert).where(Alert.id == alert_id).execution_options(populate_existing=True)
    if session.get_bind().dialect.name == "sqlite":
        begin_write(session)
    else:
        stmt = stmt.with_for_update()
    return session.scalar(stmt)


def _lock_alert_of_timer(session: Session, payload: dict) -> bool:
    # Skip (not wait for) an alert another worker or an acknowledgement holds: the timer stays due
    # and the next pass takes it, or finds it cancelled.
    alert_id = payload.get("alert_id")
    if alert_id is None:
        return True
    return session.scalar(select(Alert.id).where(Alert.id == alert_id)
                          .with_for_update(skip_locked=True)) is not None


def _lock_alerts_of_timers(session: Session, payloads: list[dict]) -> list[bool]:
    """`_lock_alert_of_timer` for a batch, in one statement: which timers' alerts this worker now holds."""
    wanted = sorted({p["alert_id"] for p in payloads if p.get("alert_id") is not None})
    held = set(session.scalars(select(Alert.id).where(Alert.id.in_(wanted)).order_by(Alert.id)
                               .with_for_update(skip_locked=True))) if wanted else set()
    return [p.get("alert_id") is None or p["alert_id"] in held for p in payloads]


def _lock_alert_of_message(session: Session, payload: dict) -> None:
    if payload.get("alert_id") is None:
        return
    if session.get_bind().dialect.name == "sqlite":
        begin_write(session)
    else:
        session.execute(select(Alert.id).where(Alert.id == payload["alert_id"]).with_for_update())


def _lock_alerts_of_messages(session: Session, payloads: list[dict]) -> None:
    """`_lock_alert_of_message` for a batch of sends being recorded: the alerts in id order, one statement."""
    if session.get_bind().dialect.name == "sqlite":
        begin_write(session)
        return
    wanted = sorted({p["alert_id"] for p in payloads if p.get("alert_id") is not None})
    if wanted:
        session.execute(select(Alert.id).where(Alert.id.in_(wanted)).order_by(Alert.id).with_for_update())


def step_key(alert: Alert, loop: int, step: int) -> str:
    # After an acknowledgement timed out, paging resumes at a step that already had its timer.
    again = f":again{alert.ack_timeouts}" if alert.ack_timeouts else ""
    return f"alert:{alert.id}:step:{loop}:{step}{again}"


def rule_key(alert_id: int, page_id: int, rule_index: int) -> str:
    return f"alert:{alert_id}:page:{page_id}:rule:{rule_index}"


def _steps(alert: Alert) -> list[dict]:
    return list((alert.policy_snapshot or {}).get("steps") or [])


def has_steps(alert: Alert) -> bool:
    return bool(_steps(alert))


def start_escalation(session: Session, alert: Alert, now: datetime) -> None:
    if not _steps(alert):
        record(session, alert, "unreached", now, detail="no escalation policy: nobody is paged")
        alert.unreached = True
        return
    start_step(session, alert, 0, 0, now)


def start_step(session: Session, alert: Alert, loop: int, step: int, now: datetime) -> None:
    """Page everyone the step targets and arm the step's timer (each exactly once per alert/loop/step)."""
    start_steps(session, [(alert, loop, step)], now)


def start_steps(session: Session, starts: list[tuple[Alert, int, int]], now: datetime) -> None:
    """`start_step` for many alerts at once (a burst of escalations): each step's people and their
    rules are looked up once per batch, and the pages, messages, audit events and timers of all the
    steps are written with one statement each (callcenter/bulk.py) instead of one ORM flush per row."""
    if not starts:
        return
    session.flush()  # what the caller recorded before (an "escalate" event) keeps its place in the trail
    people_of: dict[str, list[StaffUser]] = {}
    rules_of: dict[int, list[dict]] = {}
    plans = []  # (alert, loop, step, delay, people)
    moved = []  # the alerts' new loop and step, written with one executemany
    step_events, page_rows = [], []
    for alert, loop, step in starts:
        spec = _steps(alert)[step]
        _set_quietly(alert, loop=loop, step=step, updated_at=now)
        moved.append({"alert_id": alert.id, "loop": loop, "step": step, "now": now})
        delay = timedelta(minutes=int(spec.get("delay_minutes") or DEFAULT_STEP_MINUTES))
        cache_key = json.dumps(spec["targets"], sort_keys=True)
        if cache_key not in people_of:
            people_of[cache_key] = resolve_targets(session, spec["targets"], now)
        people = people_of[cache_key]
        step_events.append(_event_row(alert, "step", now, detail=f"loop {loop + 1}, step {step + 1}: "
                                      + (", ".join(p.name for p in people) or "nobody to page")))
        for person in people:
            if person.phone and person.id not in rules_of:
                rules_of[person.id] = rules_for(session, person)
        page_rows += [dict(alert_id=alert.id, round=alert.ack_timeouts, loop=loop, step=step, staff_id=p.id,
                           destination=p.phone, rules=rules_of[p.id], exhausted=False, created_at=now)
                      for p in people if p.phone]
        plans.append((alert, loop, step, delay, people))
    session.execute(_MOVE_ALERT, moved)
    bulk.insert_rows(session, AlertEvent, step_events)
    page_ids = iter(page_id for (page_id,) in bulk.insert_rows(session, Page, page_rows, Page.__table__.c.id))
    messages, timer_rows, sends = [], [], []  # sends: (alert, person, page id, rule index, channel, message key)
    paged_at: dict[int, list] = {}  # id(alert) -> [(person, page id | None)]
    for alert, loop, step, delay, people in plans:
        done = paged_at.setdefault(id(alert), [])
        for person in people:
            if not person.phone:
                done.append((person, None))
                continue
            page_id = next(page_ids)
            done.append((person, page_id))
            for index, rule in enumerate(rules_of[person.id]):
                minutes = int(rule.get("delay_minutes") or 0)
                if minutes <= 0:
                    row = notification_values(alert, page_id, person.phone, person.language, index, rule["channel"],
                                              now, int(delay.total_seconds()))
                    messages.append(row)
                    sends.append((alert, person, page_id, index, rule["channel"], row["idempotency_key"]))
                else:
                    timer_rows.append(timers.new_row(
                        key=rule_key(alert.id, page_id, index), kind=RULE_TIMER,
                        due_at=now + timedelta(minutes=minutes), now=now,
                        payload={"alert_id": alert.id, "page_id": page_id, "rule": index}))
        paged = any(page_id is not None for _, page_id in done)
        # Nobody reachable at this step: move on at the next tick instead of waiting out the delay.
        timer_rows.append(timers.new_row(key=step_key(alert, loop, step), kind=STEP_TIMER,
                                         due_at=now + delay if paged else now, now=now,
                                         payload={"alert_id": alert.id, "loop": loop, "step": step}))
    message_ids = bulk.insert_new(session, OutboxMessage, messages, "idempotency_key")
    for message_id, row in ((message_ids[r["idempotency_key"]], r) for r in messages if r["channel"] == "voice"):
        # The TwiML URL names the outbox row, which only has an id once inserted.
        payload = row["payload"]
        session.execute(update(OutboxMessage).where(OutboxMessage.id == message_id)
                        .values(payload={**payload, "url": voice_url(message_id, payload.get("language"))})
                        .execution_options(synchronize_session=False))
    sent = {(page_id, index): (channel, message_ids[key]) for _, _, page_id, index, channel, key in sends}
    trail = []
    for alert, _loop, _step, _delay, _people in plans:
        for person, page_id in paged_at[id(alert)]:
            if page_id is None:
                trail.append(_event_row(alert, "unreachable", now, staff_id=person.id,
                                        detail=f"{person.name} has no phone number"))
                continue
            for index in range(len(rules_of[person.id])):
                if (page_id, index) in sent:
                    channel, message_id = sent[page_id, index]
                    detail = f"{channel} to {person.phone} (rule {index + 1}, outbox {message_id})"
                    trail.append(_event_row(alert, "notify", now, staff_id=person.id, channel=channel, detail=detail))
    bulk.insert_rows(session, AlertEvent, trail)
    bulk.insert_new(session, Timer, timer_rows, "key")


def _set_quietly(alert: Alert, **values: object) -> None:
    # What the database holds after _MOVE_ALERT: set as the loaded state, so the ORM does not flush the
    # alerts again one UPDATE each (that flush was a third of a batch's CPU).
    for name, value in values.items():
        set_committed_value(alert, name, value)


_alerts = Alert.__table__
_MOVE_ALERT = (_alerts.update().where(_alerts.c.id == bindparam("alert_id"))
               .values(loop=bindparam("loop"), step=bindparam("step"), updated_at=bindparam("now")))


def _event_row(alert: Alert, kind: str, now: datetime, *, staff_id: int | None = None, channel: str | None = None,
               detail: str | None = None) -> dict:
    """An audit event for a bulk insert (the caller writes the alert's updated_at)."""
    return dict(alert_id=alert.id, at=now, kind=kind, staff_id=staff_id, channel=channel, detail=detail)


def _arm_step(session: Session, alert: Alert, loop: int, step: int, delay: timedelta, paged: bool,
              now: datetime) -> None:
    # Nobody reachable at this step: move on at the next tick instead of waiting out the delay.
    timers.schedule(session, key=step_key(alert, loop, step), kind=STEP_TIMER,
                    due_at=now + delay if paged else now, now=now,
                    payload={"alert_id": alert.id, "loop": loop, "step": step})


def page_person(session: Session, alert: Alert, person: StaffUser, loop: int, step: int, delay: timedelta,
                now: datetime) -> bool:
    """One person's page at a step, by their notification rules; False when they have no phone."""
    if not person.phone:
        record(session, alert, "unreachable", now, staff_id=person.id, detail=f"{person.name} has no phone number")
        return False
    page = Page(alert_id=alert.id, round=alert.ack_timeouts, loop=loop, step=step, staff_id=person.id,
                destination=person.phone, rules=rules_for(session, person), created_at=now)
    session.add(page)
    session.flush()
    for index, rule in enumerate(page.rules):
        minutes = int(rule.get("delay_minutes") or 0)
        if minutes <= 0:
            send_rule(session, alert, page, person, index, now, validity=delay)
        else:
            timers.schedule(session, key=rule_key(alert.id, page.id, index), kind=RULE_TIMER,
                            due_at=now + timedelta(minutes=minutes), now=now,
                            payload={"alert_id": alert.id, "page_id": page.id, "rule": index})
    return True


def send_rule(session: Session, alert: Alert, page: Page, person: StaffUser, index: int, now: datetime,
              validity: timedelta = timedelta(minutes=DEFAULT_STEP_MINUTES)) -> OutboxMessage:
    channel = page.rules[index]["channel"]
    msg = enqueue_notification(session, alert, page, person, index, channel, now, int(validity.total_seconds()))
    record(session, alert, "notify", now, staff_id=person.id, channel=channel,
           detail=f"{channel} to {page.destination} (rule {index + 1}, outbox {msg.id})")
    return msg


def _next_step(alert: Alert) -> tuple[int, int] | None:
    """(loop, step) after the alert's current step; None when every step and repeat was paged."""
    if alert.step + 1 < len(_steps(alert)):
        return alert.loop, alert.step + 1
    if alert.loop < int((alert.policy_snapshot or {}).get("repeat") or 0):
        return alert.loop + 1, 0
    return None


def advance(session: Session, alert: Alert, now: datetime, reason: str) -> None:
    record(session, alert, "escalate", now, detail=reason)
    following = _next_step(alert)
    if following is not None:
        start_step(session, alert, *following, now)
    else:
        alert.unreached = True
        record(session, alert, "unreached", now, detail="every step and repeat paged; nobody acknowledged")


def fire_now(session: Session, key: str, now: datetime, worker: str = "inline") -> Timer | None:
    """Claim a pending timer in this transaction, as fire_due would; None if it already fired or was cancelled."""
    claimed = session.execute(update(Timer).where(Timer.key == key, Timer.fired_at.is_(None),
                                                  Timer.cancelled_at.is_(None))
                              .values(fired_at=now, fired_by=worker)).rowcount
    if claimed != 1:
        return None
    return session.scalar(select(Timer).where(Timer.key == key))


# ------------------------------------------------------------------ timer handlers


def on_step_timer(session: Session, timer: Timer, now: datetime) -> None:
    p = timer.payload
    alert = lock_alert(session, p["alert_id"])
    if alert is None or alert.status != AlertStatus.TRIGGERED or (alert.loop, alert.step) != (p["loop"], p["step"]):
        return
    advance(session, alert, now, f"no acknowledgement after step {p['step'] + 1}")


def on_step_timers(session: Session, fired: list[tuple[int, dict]], now: datetime) -> None:
    """A batch of step timers (timers.fire_due claimed them, their alerts locked): `on_step_timer` for
    each, with the escalations' writes made set-based by `start_steps`."""
    ids = sorted({p["alert_id"] for _, p in fired})
    alerts = {a.id: a for a in session.scalars(select(Alert).where(Alert.id.in_(ids))
                                               .execution_options(populate_existing=True))}
    starts, escalations = [], []
    for _, p in fired:
        alert = alerts.get(p["alert_id"])
        if alert is None or alert.status != AlertStatus.TRIGGERED or (alert.loop, alert.step) != (p["loop"], p["step"]):
            continue
        reason = f"no acknowledgement after step {p['step'] + 1}"
        following = _next_step(alert)
        if following is None:
            advance(session, alert, now, reason)
            continue
        escalations.append(_event_row(alert, "escalate", now, detail=reason))
        starts.append((alert, *following))
        # A second timer of this alert in the batch no longer matches (start_steps writes it).
        _set_quietly(alert, loop=following[0], step=following[1])
    session.flush()
    bulk.insert_rows(session, AlertEvent, escalations)
    start_steps(session, starts, now)


def on_rule_timer(session: Session, timer: Timer, now: datetime) -> None:
    p = timer.payload
    alert = lock_alert(session, p["alert_id"])
    page = session.get(Page, p["page_id"])
    if alert is None or page is None or alert.status != AlertStatus.TRIGGERED:
        return
    step = _steps(alert)[page.step]
    send_rule(session, alert, page, page.staff, p["rule"], now,
              validity=timedelta(minutes=int(step.get("delay_minutes") or DEFAULT_STEP_MINUTES)))


def on_failover_timer(session: Session, timer: Timer, now: datetime) -> None:
    """A notification did not reach its person: their next contact method now, else the next step now."""
    p = timer.payload
    alert = lock_alert(session, p["alert_id"])
    page = session.get(Page, p["page_id"])
    if alert is None or page is None or alert.status != AlertStatus.TRIGGERED:
        return
    pending = session.scalar(select(Timer).where(
        Timer.key.like(f"alert:{alert.id}:page:{page.id}:rule:%"), Timer.fired_at.is_(None),
        Timer.cancelled_at.is_(None)).order_by(Timer.due_at, Timer.id).limit(1))
    if pending is not None and fire_now(session, pending.key, now) is not None:
        record(session, alert, "failover", now, staff_id=page.staff_id,
               detail=f"{p.get('reason')}: next contact method now instead of at {pending.due_at.isoformat()}")
        on_rule_timer(session, pending, now)
        return
    if _still_trying(session, page, p.get("message_id")):
        return
    page.exhausted = True
    record(session, alert, "unreached", now, staff_id=page.staff_id,
           detail=f"{p.get('reason')}: no more contact methods for this person")
    if (page.loop, page.step) != (alert.loop, alert.step):
        return
    others = session.scalars(select(Page).where(Page.alert_id == alert.id, Page.loop == page.loop,
                                                Page.step == page.step))
    if all(o.exhausted for o in others) and fire_now(session, step_key(alert, page.loop, page.step), now):
        advance(session, alert, now, f"nobody reachable at step {page.step + 1}")


def _still_trying(session: Session, page: Page, failed_message_id: int | None) -> bool:
    """Another notification of this page may still reach the person (call ringing, SMS delivered)."""
    for msg in session.scalars(select(OutboxMessage).where(OutboxMessage.source_kind == SOURCE_KIND,
                                                           OutboxMessage.source_id == page.id)):
        if msg.id == failed_message_id:
            continue
        if msg.channel == "sms" and msg.state in (OutboxState.PENDING, OutboxState.SENDING, OutboxState.SENT,
                                                  OutboxState.DELIVERED):
            return True
        if msg.channel == "voice" and msg.state in (OutboxState.PENDING, OutboxState.SENDING, OutboxState.SENT):
            return True
    return False


def not_reached(session: Session, msg: OutboxMessage, now: datetime, reason: str) -> None:
    """Schedule (once per message) and run at once the failover for a notification that did not reach."""
    page = session.get(Page, msg.source_id) if msg.source_id else None
    if page is None:
        return
    key = f"alert:{page.alert_id}:failover:{msg.id}"
    timers.schedule(session, key=key, kind=FAILOVER_TIMER, due_at=now, now=now,
                    payload={"alert_id": page.alert_id, "page_id": page.id, "message_id": msg.id, "reason": reason})
    timer = fire_now(session, key, now)
    if timer is not None:
        on_failover_timer(session, timer, now)


def on_notification_status(session: Session, msg: OutboxMessage, now: datetime) -> None:
    """Outbox hook: a notification ended (delivered, failed, busy, no-answer, completed call)."""
    page = session.get(Page, msg.source_id) if msg.source_id else None
    if page is None:
        return
    alert = session.get(Alert, page.alert_id)
    status = msg.provider_status or msg.state
    if msg.channel == "sms" and msg.state == OutboxState.DELIVERED:
        record(session, alert, "delivered", now, staff_id=page.staff_id, channel="sms", detail=f"outbox {msg.id}")
        return
    if alert.status != AlertStatus.TRIGGERED:
        record(session, alert, "ended", now, staff_id=page.staff_id, channel=msg.channel,
               detail=f"{msg.channel} {status} after the alert was {alert.status}, outbox {msg.id}")
        return
    reason = f"{msg.channel} {status}" + (f" (error {msg.error_code})" if msg.error_code else "")
    if msg.channel == "voice" and msg.state == OutboxState.DELIVERED:
        reason = "call ended without an acknowledgement key"
    record(session, alert, "not_reached", now, staff_id=page.staff_id, channel=msg.channel,
           detail=f"{reason}, outbox {msg.id}")
    not_reached(session, msg, now, reason)


def cancel_pending_notifications(session: Session, alert: Alert, now: datetime, why: str) -> int:
    page_ids = select(Page.id).where(Page.alert_id == alert.id).scalar_subquery()
    return session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.source_kind == SOURCE_KIND, OutboxMessage.source_id.in_(page_ids),
               OutboxMessage.state == OutboxState.PENDING)
        .values(state=OutboxState.FAILED, last_error=f"not sent: {why}", updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount


# ------------------------------------------------------------------ acknowledgement timeout


def ack_timeout_key(alert: Alert, since: datetime) -> str:
    return f"alert:{alert.id}:ack-timeout:{alert.ack_timeouts}:{int(since.timestamp())}"


def arm_ack_timeout(session: Session, alert: Alert, now: datetime, since: datetime | None = None) -> Timer | None:
    """After an acknowledgement: page again if the ticket shows no progress within the contract's
    ack timeout (reference: paging-engine, "Ack timeout"). None when the contract sets none."""
    ticket = alert.ticket
    minutes = ticket.contract.ack_timeout_minutes if ticket is not None and ticket.contract else None
    if not minutes:
        return None
    since = since or now
    return timers.schedule(session, key=ack_timeout_key(alert, since), kind=ACK_TIMEOUT_TIMER,
                           due_at=since + timedelta(minutes=minutes), now=now,
                           payload={"alert_id": alert.id, "minutes": minutes, "since": since.isoformat()})


def on_ack_timeout(session: Session, timer: Timer, now: datetime) -> None:
    alert = lock_alert(session, timer.payload["alert_id"])
    if alert is None or alert.status != AlertStatus.ACKNOWLEDGED:
        return  # resolved, or paging already resumed
    minutes = int(timer.payload["minutes"])
    since = datetime.fromisoformat(timer.payload["since"])
    progress = alert.ticket.updated_at if alert.ticket is not None else None
    if progress is not None and progress > since:
        # Someone worked on the ticket: the timeout counts again from that change.
        arm_ack_timeout(session, alert, now, since=progress)
        return
    acker = alert.acknowledged_by
    alert.status = AlertStatus.TRIGGERED
    alert.ack_timeouts += 1
    record(session, alert, "ack_timeout", now, staff_id=acker.id if acker else None,
           detail=f"acknowledged by {acker.name if acker else 'someone'} {minutes} min ago and the ticket has not "
                  "moved since: paging again")
    spec = _steps(alert)[alert.step] if has_steps(alert) else None
    if spec is None:
        alert.unreached = True
        record(session, alert, "unreached", now, detail="no escalation policy: nobody is paged")
        return
    delay = timedelta(minutes=int(spec.get("delay_minutes") or DEFAULT_STEP_MINUTES))
    # The one who acknowledged first; if they cannot be paged, everyone at the step again.
    if acker is not None and page_person(session, alert, acker, alert.loop, alert.step, delay, now):
        _arm_step(session, alert, alert.loop, alert.step, delay, True, now)
    else:
        start_step(session, alert, alert.loop, alert.step, now)


def register() -> None:
    for kind, handler in ((ACK_TIMEOUT_TIMER, on_ack_timeout), (STEP_TIMER, on_step_timer),
                          (RULE_TIMER, on_rule_timer), (FAILOVER_TIMER, on_failover_timer)):
        timers.register(kind, handler)
        timers.lock_owner_first(kind, _lock_alert_of_timer)
    timers.register_batch(STEP_TIMER, on_step_timers, _lock_alerts_of_timers)
    outbox.on_status(SOURCE_KIND, on_notification_status)
    outbox.lock_owner_first(SOURCE_KIND, _lock_alert_of_message)
    outbox.lock_owners_first(SOURCE_KIND, _lock_alerts_of_messages)
