"""Paging at the service layer: rotations (DST, overrides), policies, alert dedup, alert sources."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from callcenter import events
from callcenter.models import Alert, AlertStatus, OutboxMessage, Rotation, Timer
from callcenter.paging import alerts
from callcenter.paging.policies import PolicyError, create_policy, resolve_targets
from callcenter.paging.rotations import (
    RotationError,
    add_override,
    create_rotation,
    handovers_between,
    schedule,
    who_is_on_call,
)
from callcenter.paging.sources import check_sla_thresholds, default_policy
from callcenter.tickets import NewTicket, create_ticket


def utc(*args):
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def weekly(session, demo, now):
    return session.scalar(select(Rotation).where(Rotation.name == "Primary on-call"))


def test_demo_rotation_hands_over_monday_0900_budapest_across_dst(session, demo, weekly):
    eng2, eng3 = demo.staff["eng2"], demo.staff["eng3"]
    # 2026-03-29 is the spring-forward Sunday; Monday 30 March 09:00 CEST is 07:00 UTC.
    spring = handovers_between(weekly, utc(2026, 3, 22), utc(2026, 4, 1))
    assert spring == [utc(2026, 3, 23, 8, 0), utc(2026, 3, 30, 7, 0)]
    # 2026-10-25 falls back; Monday 26 October 09:00 CET is 08:00 UTC.
    autumn = handovers_between(weekly, utc(2026, 10, 18), utc(2026, 10, 28))
    assert autumn == [utc(2026, 10, 19, 7, 0), utc(2026, 10, 26, 8, 0)]
    before = who_is_on_call(session, weekly, utc(2026, 3, 30, 6, 59, 59))
    after = who_is_on_call(session, weekly, utc(2026, 3, 30, 7, 0))
    assert {before.id, after.id} == {eng2.id, eng3.id}
    # The first week of the rotation (from Monday 5 January 09:00) is eng2's.
    assert who_is_on_call(session, weekly, utc(2026, 1, 5, 8, 0)).id == eng2.id
    assert who_is_on_call(session, weekly, utc(2026, 1, 5, 7, 59)) is None  # not started yet


def test_daily_rotation_in_athens_keeps_local_time_over_the_dst_weekend(session, demo, now):
    staff = [demo.staff["eng2"], demo.staff["eng3"], demo.staff["manager"]]
    rot = create_rotation(session, name="daily", members=staff, timezone="Europe/Athens", kind="daily",
                          handover_time="08:00", start_date=date(2026, 10, 23), now=now)
    times = handovers_between(rot, utc(2026, 10, 23), utc(2026, 10, 27))
    # 08:00 EEST = 05:00 UTC until Sunday 25 October, then 08:00 EET = 06:00 UTC.
    assert times == [utc(2026, 10, 23, 5), utc(2026, 10, 24, 5), utc(2026, 10, 25, 6), utc(2026, 10, 26, 6)]
    assert [who_is_on_call(session, rot, t).username for t in times] == ["eng2", "eng3", "manager", "eng2"]


def test_overrides_cut_into_the_schedule_and_the_newest_wins(session, demo, weekly, now):
    manager, agent = demo.staff["manager"], demo.staff["agent1"]
    start = utc(2026, 10, 12, 6, 0)  # Monday 08:00 Budapest, an hour before the hand-over
    add_override(session, weekly, manager, start, start + timedelta(hours=4), now=now)
    add_override(session, weekly, agent, start + timedelta(hours=1), start + timedelta(hours=2),
                 now=now + timedelta(seconds=1))
    shifts = schedule(weekly, start - timedelta(hours=1), start + timedelta(hours=5))
    got = [(s.start, s.end, s.staff_id, s.override) for s in shifts]
    regular_before = who_is_on_call(session, weekly, start - timedelta(minutes=1)).id
    regular_after = who_is_on_call(session, weekly, start + timedelta(hours=4)).id
    assert regular_before != regular_after  # the 09:00 hand-over happened inside the override
    assert got == [
        (start - timedelta(hours=1), start, regular_before, False),
        (start, start + timedelta(hours=1), manager.id, True),
        (start + timedelta(hours=1), start + timedelta(hours=2), agent.id, True),
        (start + timedelta(hours=2), start + timedelta(hours=4), manager.id, True),
        (start + timedelta(hours=4), start + timedelta(hours=5), regular_after, False),
    ]
    with pytest.raises(RotationError):
        add_override(session, weekly, agent, start, start, now=now)


def test_schedule_for_four_weeks_alternates(session, demo, weekly):
    shifts = schedule(weekly, utc(2026, 10, 5, 7), utc(2026, 11, 2, 8))
    assert [s.start for s in shifts] == [utc(2026, 10, 5, 7), utc(2026, 10, 12, 7), utc(2026, 10, 19, 7),
                                         utc(2026, 10, 26, 8)]
    ids = [s.staff_id for s in shifts]
    assert ids[0] == ids[2] != ids[1] == ids[3]


def test_policy_targets_and_validation(session, demo, now, weekly):
    policy = default_policy(session)
    assert policy.name == "Default" and policy.repeat == 1 and len(policy.steps) == 3
    l3 = resolve_targets(session, policy.steps[1]["targets"], now)
    managers = resolve_targets(session, policy.steps[2]["targets"], now)
    assert [p.username for p in l3] == ["eng3"] and [p.username for p in managers] == ["manager"]
    with pytest.raises(PolicyError):
        create_policy(session, name="bad", steps=[{"delay_minutes": 5, "targets": [{"kind": "moon"}]}], now=now)
    with pytest.raises(PolicyError):
        create_policy(session, name="bad", steps=[], now=now)


def test_seed_demo_twice_adds_nothing(session, demo, now):
    from callcenter.demo import seed_demo
    from callcenter.models import EscalationPolicy, NotificationRule

    counts = [session.scalar(select(func.count()).select_from(m)) for m in (Rotation, EscalationPolicy,
                                                                            NotificationRule)]
    seed_demo(session, now)
    session.commit()
    assert counts == [session.scalar(select(func.count()).select_from(m)) for m in (Rotation, EscalationPolicy,
                                                                                   NotificationRule)]
    assert counts[0] == 1 and counts[1] == 1 and counts[2] == 14  # 7 staff with phones x (SMS, voice)


def test_one_open_alert_per_source_and_key(session, demo, now):
    policy = default_policy(session)
    a, created = alerts.raise_alert(session, source="api", dedup_key="pbx-7", summary="PBX down", policy=policy,
                                    now=now)
    b, again = alerts.raise_alert(session, source="api", dedup_key="pbx-7", summary="PBX still down",
                                  policy=policy, now=now + timedelta(minutes=1))
    other, _ = alerts.raise_alert(session, source="hotline", dedup_key="pbx-7", summary="x", policy=policy, now=now)
    session.commit()
    assert created and not again and a.id == b.id and other.id != a.id
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 2  # one SMS per alert
    assert alerts.acknowledge(session, a, staff=demo.staff["eng2"], channel="api", now=now)
    assert not alerts.acknowledge(session, a, staff=demo.staff["eng2"], channel="api", now=now)
    # Acknowledged is still open: the key still joins it.
    assert alerts.raise_alert(session, source="api", dedup_key="pbx-7", summary="x", now=now)[0].id == a.id
    assert alerts.resolve(session, a, staff=None, channel="api", now=now)
    c, fresh = alerts.raise_alert(session, source="api", dedup_key="pbx-7", summary="back again", now=now)
    assert fresh and c.id != a.id
    pending = session.scalars(select(Timer).where(Timer.key.like(f"alert:{a.id}:%"), Timer.fired_at.is_(None),
                                                  Timer.cancelled_at.is_(None))).all()
    assert pending == []
    with pytest.raises(alerts.AlertError):
        alerts.raise_alert(session, source="api", dedup_key="k", summary="x", severity="apocalyptic", now=now)


def _ticket(session, demo, now, company, category="system", subject="PBX trunk down"):
    return create_ticket(session, NewTicket(subject=subject, channel="phone", category=category,
                                            company_id=company.id, priority="critical"), now=now)


def test_critical_fault_pages_standby_customers_out_of_hours_only(session, demo, now):
    athens = _ticket(session, demo, now, demo.athens)
    budapest = _ticket(session, demo, now, demo.budapest)
    events.publish(session, events.CriticalFaultReported(athens.id, demo.athens.id, None, False, now))
    assert session.scalar(select(func.count()).select_from(Alert)) == 0  # in hours, not "always"
    events.publish(session, events.CriticalFaultReported(budapest.id, demo.budapest.id, None, True, now))
    assert session.scalar(select(func.count()).select_from(Alert)) == 0  # no standby contract
    events.publish(session, events.CriticalFaultReported(athens.id, demo.athens.id, None, True, now))
    events.publish(session, events.CriticalFaultReported(athens.id, demo.athens.id, None, True, now))
    alert = session.scalar(select(Alert))
    assert session.scalar(select(func.count()).select_from(Alert)) == 1
    assert alert.source == "standby" and alert.ticket_number == athens.number and alert.customer == "Athens Demo A.E."
    demo.athens.contracts[0].page_critical_always = True
    other = _ticket(session, demo, now, demo.athens, subject="Second fault")
    events.publish(session, events.CriticalFaultReported(other.id, demo.athens.id, None, False, now))
    assert session.scalar(select(func.count()).select_from(Alert)) == 2


def test_hotline_unanswered_always_pages_once_per_call(session, demo, now):
    for _ in range(2):
        events.publish(session, events.HotlineUnanswered(call_id=77, ticket_id=None, company_id=demo.budapest.id,
                                                         waited_seconds=600, now=now))
    alert = session.scalar(select(Alert))
    assert session.scalar(select(func.count()).select_from(Alert)) == 1
    assert alert.source == "hotline" and "10 min" in alert.summary and alert.customer == "Budapest Demo Kft."
    assert alert.status == AlertStatus.TRIGGERED and alert.policy_snapshot["name"] == "Default"


def test_sla_warning_at_warn_percent_then_breach_once_each(session, demo, now):
    # Budapest infrastructure: 2 working hours; Tuesday 10:00 local -> due 12:00, warning at 75% (11:30).
    ticket = _ticket(session, demo, now, demo.budapest, category="infrastructure")
    session.commit()
    assert ticket.response_due_at == now + timedelta(hours=2)
    assert check_sla_thresholds(session, now + timedelta(minutes=89)) == []
    warn = check_sla_thresholds(session, now + timedelta(minutes=90))
    assert [a.dedup_key for a in warn] == [f"{ticket.number}:response:warn75"]
    alerts.resolve(session, warn[0], staff=None, channel="api", now=now + timedelta(minutes=91))
    assert check_sla_thresholds(session, now + timedelta(minutes=100)) == []  # once, even after resolution
    breach = check_sla_thresholds(session, now + timedelta(minutes=120))
    assert [a.dedup_key for a in breach] == [f"{ticket.number}:response:breach"]
    assert check_sla_thresholds(session, now + timedelta(minutes=130)) == []
