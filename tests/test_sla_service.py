"""The SLA clock applied to tickets: contract targets, 24/7 clocks, pauses and breaches."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from callcenter import sla
from callcenter import tickets as svc
from callcenter.tickets import NewTicket

BUD = ZoneInfo("Europe/Budapest")
ATH = ZoneInfo("Europe/Athens")


def open_ticket(session, contact, category, at, **kw):
    return svc.create_ticket(session, NewTicket(subject="x", channel="phone", category=category,
                                                reporter_contact_id=contact.id, **kw), now=at)


def test_example_targets_8_4_2_working_hours(session, demo):
    at = datetime(2026, 10, 6, 9, 0, tzinfo=BUD)  # Tuesday
    for category, hours in [("user", 8), ("system", 4), ("infrastructure", 2)]:
        t = open_ticket(session, demo.anna, category, at)
        expected = {8: datetime(2026, 10, 6, 17, 0, tzinfo=BUD), 4: datetime(2026, 10, 6, 13, 0, tzinfo=BUD),
                    2: datetime(2026, 10, 6, 11, 0, tzinfo=BUD)}[hours]
        assert t.response_due_at == expected, category


def test_friday_afternoon_into_monday(session, demo):
    t = open_ticket(session, demo.anna, "system", datetime(2026, 10, 9, 15, 0, tzinfo=BUD))
    assert t.response_due_at == datetime(2026, 10, 12, 10, 0, tzinfo=BUD)


def test_hungarian_public_holiday_and_working_saturday(session, demo):
    # 23 October 2026 (Friday) is a national holiday.
    t = open_ticket(session, demo.anna, "infrastructure", datetime(2026, 10, 22, 16, 0, tzinfo=BUD))
    assert t.response_due_at == datetime(2026, 10, 26, 9, 0, tzinfo=BUD)


def test_standby_contract_counts_clock_hours_for_infrastructure(session, demo):
    # Saturday 23:00 Athens, the night of the autumn DST change: 2 real hours later.
    at = datetime(2026, 10, 24, 23, 0, tzinfo=ATH)
    t = open_ticket(session, demo.nikos, "infrastructure", at)
    assert t.response_due_at == at + timedelta(hours=2)
    assert t.sla_clock == "calendar"
    # User problems on the same contract still count 7-hour working days (Mon–Fri 09–16).
    u = open_ticket(session, demo.nikos, "user", at)
    assert u.response_due_at == datetime(2026, 10, 27, 10, 0, tzinfo=ATH)


def test_pause_while_waiting_for_customer_moves_deadline(session, demo):
    start = datetime(2026, 10, 6, 9, 0, tzinfo=BUD)
    t = open_ticket(session, demo.anna, "system", start)  # due 13:00
    svc.change_status(session, t, "waiting_customer", actor=svc.SYSTEM, now=start + timedelta(hours=1))
    assert t.sla_paused and t.response_due_at is None
    svc.change_status(session, t, "acknowledged", actor=svc.SYSTEM, now=start + timedelta(hours=3))
    assert not t.sla_paused
    assert t.response_due_at == datetime(2026, 10, 6, 15, 0, tzinfo=BUD)
    state = sla.sla_state(session, t, start + timedelta(hours=4))
    assert state.remaining == timedelta(hours=2)


def test_breach_flag_and_remaining_time(session, demo):
    start = datetime(2026, 10, 6, 9, 0, tzinfo=BUD)
    t = open_ticket(session, demo.anna, "infrastructure", start)
    session.commit()
    assert sla.mark_breaches(session, start + timedelta(hours=1)) == []
    assert sla.mark_breaches(session, start + timedelta(hours=3)) == [t.id]
    assert sla.mark_breaches(session, start + timedelta(hours=4)) == []  # idempotent
    session.refresh(t)
    assert t.response_breached
    state = sla.sla_state(session, t, start + timedelta(hours=3))
    assert state.breached and state.remaining == timedelta(hours=-1)


def test_response_time_in_working_minutes(session, demo):
    start = datetime(2026, 10, 9, 16, 0, tzinfo=BUD)  # Friday
    t = open_ticket(session, demo.anna, "user", start)
    svc.start_work(session, t, actor=svc.SYSTEM, now=datetime(2026, 10, 12, 9, 0, tzinfo=BUD))
    assert sla.working_minutes_to_respond(t, session) == 120


def test_due_for_without_contract_target(session, demo):
    contract = demo.budapest.contracts[0]
    assert sla.due_for(contract, "quote", datetime(2026, 10, 6, 8, 0, tzinfo=UTC)) is not None  # falls back to user
