"""The unit of work and after-commit domain events: a side effect never sinks the change that caused it,
is not lost by a crash between commit and dispatch, and happens once however many dispatchers run."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from hotline_helpers import HOTLINE_NUMBER, NIKOS, OUT_OF_HOURS, call_row, tickets
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callcenter import events
from callcenter import tickets as ticket_service
from callcenter import unit_of_work as uow
from callcenter.db import make_session_factory
from callcenter.mail import outbound
from callcenter.models import Alert, DomainEvent, OutboxMessage, Ticket, TicketEvent
from callcenter.scheduler import PERIODIC


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def auto_replies(session: Session) -> list[OutboxMessage]:
    session.expire_all()
    return list(session.scalars(select(OutboxMessage).where(OutboxMessage.idempotency_key.like("mail:auto-reply:%"))))


def rows(session: Session, handler: events.Handler) -> list[DomainEvent]:
    session.expire_all()
    return list(session.scalars(select(DomainEvent).where(DomainEvent.handler == events.handler_name(handler))
                                .order_by(DomainEvent.id)))


def run_worker_job(engine, settings, now: datetime) -> None:  # noqa: ANN001
    """The worker's periodic job, as the ticker runs it."""
    [job] = [j for j in PERIODIC if j.name == "domain-events"]
    job.run(make_session_factory(engine, settings), settings, now)


def test_a_failing_auto_reply_does_not_sink_a_critical_call(app, settings, engine, session, demo, fake,
                                                           monkeypatch):  # noqa: ANN001
    """Out of hours, a standby customer's critical fault: the ticket and the page are the turn; the
    auto-reply mail is not. Its handler raising must not send the caller to the emergency number."""
    clock = Clock(OUT_OF_HOURS)
    settings.twilio_auth_token = fake.auth_token
    fake.attach_app(app, settings.public_url)
    app.config["HOTLINE_CLOCK"] = clock

    def broken_mail(*args: object, **kwargs: object) -> None:
        raise RuntimeError("mail templates unavailable")

    monkeypatch.setattr(outbound, "queue_mail", broken_mail)
    call = fake.start_inbound_call(settings.public_url, NIKOS, HOTLINE_NUMBER,
                                   status_callback=settings.public_url + "/twilio/voice/status")
    call.press("1")
    assert call.state == "record"  # the standby path, not the emergency number
    assert settings.emergency_number not in call.transcript
    [ticket] = tickets(session)
    assert ticket.priority == "critical" and call_row(session, call.sid).ticket_id == ticket.id
    assert session.scalar(select(func.count(Alert.id)).where(Alert.ticket_id == ticket.id)) == 1  # paged in-turn
    [row] = rows(session, outbound.on_ticket_created)
    assert row.state == "failed" and row.attempts == 1 and "mail templates unavailable" in row.last_error
    assert auto_replies(session) == []

    # Mail works again: the worker's job sends the auto-reply once, however often it runs.
    monkeypatch.undo()
    run_worker_job(engine, settings, OUT_OF_HOURS + timedelta(minutes=5))
    run_worker_job(engine, settings, OUT_OF_HOURS + timedelta(minutes=10))
    [mail] = auto_replies(session)
    assert mail.destination == "pbx@athens-demo.example" and mail.source_id == ticket.id
    [row] = rows(session, outbound.on_ticket_created)
    assert row.state == "done" and row.attempts == 2 and row.last_error is None


def test_a_crash_between_commit_and_dispatch_is_recovered_by_the_worker(session, settings, engine, demo, now):
    ticket = ticket_service.create_ticket(session, ticket_service.NewTicket(
        subject="Printer jam", channel="email", category="user", company_id=demo.budapest.id,
        reporter_contact_id=demo.anna.id), actor=ticket_service.SYSTEM, now=now)
    session.info.pop(events.PENDING_KEY)  # the process dies right after its commit: nothing dispatched
    session.commit()
    assert auto_replies(session) == []
    [row] = rows(session, outbound.on_ticket_created)
    assert row.state == "pending"

    run_worker_job(engine, settings, now + timedelta(seconds=1))  # may still be on its way: left alone
    assert auto_replies(session) == []
    run_worker_job(engine, settings, now + timedelta(minutes=1))
    run_worker_job(engine, settings, now + timedelta(minutes=2))
    [mail] = auto_replies(session)
    assert mail.source_id == ticket.id and mail.destination == "anna@budapest-demo.example"
    assert rows(session, outbound.on_ticket_created)[0].state == "done"


@dataclass(frozen=True)
class Poked:
    ticket_id: int
    now: datetime


ran: list[int] = []
gate = threading.Event()


def note_once(session: Session, event: Poked) -> None:
    """An effect with no idempotency key of its own: only the dispatcher can keep it single."""
    ran.append(event.ticket_id)
    gate.wait(0.5)  # hold the row while the other dispatcher tries
    ticket = session.get(Ticket, event.ticket_id)
    ticket_service.add_note(session, ticket, "poked", actor=ticket_service.SYSTEM, now=event.now, public=False)


def fail_always(session: Session, event: Poked) -> None:
    raise ValueError(f"cannot poke {event.ticket_id}")


@pytest.fixture
def poke():  # noqa: ANN201
    ran.clear()
    gate.clear()
    yield
    events.unsubscribe(Poked, note_once)
    events.unsubscribe(Poked, fail_always)


def test_two_concurrent_dispatchers_run_an_event_once(session, settings, engine, demo, now, poke):  # noqa: ANN001
    events.subscribe(Poked, note_once, after_commit=True)
    ticket = ticket_service.create_ticket(session, ticket_service.NewTicket(
        subject="Poke me", channel="phone", category="user", company_id=demo.budapest.id),
        actor=ticket_service.SYSTEM, now=now)
    session.flush()
    events.publish(session, Poked(ticket.id, now))
    session.info.pop(events.PENDING_KEY)  # left for the dispatchers below
    session.commit()

    later = now + timedelta(minutes=1)
    start = threading.Barrier(2)
    results: list[object] = []

    def dispatcher() -> None:
        factory = make_session_factory(engine, settings)
        start.wait()
        try:
            results.append(uow.dispatch_due(factory, later))
        except Exception as exc:  # noqa: BLE001  (reported below)
            results.append(exc)

    threads = [threading.Thread(target=dispatcher) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    # One row (a ticket without a reporter's address wants no auto-reply), run by exactly one of them.
    assert sorted(results, key=str) == [0, 1], results
    assert ran == [ticket.id]
    session.expire_all()
    notes = session.scalar(select(func.count(TicketEvent.id)).where(TicketEvent.ticket_id == ticket.id,
                                                                     TicketEvent.body == "poked"))
    assert notes == 1
    [row] = rows(session, note_once)
    assert row.state == "done" and row.attempts == 1


def test_a_failing_handler_is_retried_a_bounded_number_of_times_and_keeps_its_reason(
        session, settings, engine, demo, now, poke):  # noqa: ANN001
    events.subscribe(Poked, fail_always, after_commit=True)
    ticket = ticket_service.create_ticket(session, ticket_service.NewTicket(
        subject="Poke me", channel="phone", category="user", company_id=demo.budapest.id),
        actor=ticket_service.SYSTEM, now=now)
    session.flush()
    events.publish(session, Poked(ticket.id, now))
    session.commit()  # dispatched at once: the first attempt fails, the ticket stays
    assert session.get(Ticket, ticket.id) is not None
    [row] = rows(session, fail_always)
    assert (row.state, row.attempts) == ("failed", 1)
    at = now
    for _ in range(10):
        at += timedelta(hours=2)
        run_worker_job(engine, settings, at)
    [row] = rows(session, fail_always)
    assert (row.state, row.attempts) == ("dead", row.max_attempts)
    assert row.last_error == f"ValueError: cannot poke {ticket.id}"
    from callcenter.metrics_db import read_figures

    assert read_figures(session, at)["domain_events"] == {"pending": 0, "failed": 0, "dead": 1}


def test_events_a_handler_does_not_want_leave_no_row_and_done_rows_go_after_a_week(
        session, settings, engine, demo, now):  # noqa: ANN001
    ticket = ticket_service.create_ticket(session, ticket_service.NewTicket(
        subject="No address", channel="phone", category="user", company_id=demo.budapest.id),
        actor=ticket_service.SYSTEM, now=now)
    ticket_service.assign(session, ticket, demo.staff["eng2"].id, actor=ticket_service.SYSTEM, now=now)
    session.commit()
    assert session.scalar(select(func.count(DomainEvent.id))) == 0  # nobody to mail, an internal change
    ticket_service.create_ticket(session, ticket_service.NewTicket(
        subject="Printer jam", channel="email", category="user", company_id=demo.budapest.id,
        reporter_contact_id=demo.anna.id), actor=ticket_service.SYSTEM, now=now)
    session.commit()
    [row] = rows(session, outbound.on_ticket_created)
    assert row.state == "done"
    run_worker_job(engine, settings, now + timedelta(days=6))
    assert len(rows(session, outbound.on_ticket_created)) == 1
    run_worker_job(engine, settings, now + timedelta(days=8))
    assert rows(session, outbound.on_ticket_created) == []


def test_nothing_is_dispatched_for_a_transaction_that_rolls_back(session, settings, engine, demo, now, poke):  # noqa: ANN001
    events.subscribe(Poked, note_once, after_commit=True)
    ticket = ticket_service.create_ticket(session, ticket_service.NewTicket(
        subject="Poke me", channel="phone", category="user", company_id=demo.budapest.id),
        actor=ticket_service.SYSTEM, now=now)
    session.commit()
    events.publish(session, Poked(ticket.id, now))
    session.rollback()
    session.commit()
    run_worker_job(engine, settings, now + timedelta(hours=1))
    assert ran == [] and rows(session, note_once) == []


def test_run_retries_a_conflict_and_gives_up_on_other_errors(session_factory) -> None:  # noqa: ANN001
    import sqlite3

    from sqlalchemy.exc import OperationalError

    calls = []

    def conflicted(session: Session) -> str:
        calls.append(1)
        if len(calls) < 3:
            raise OperationalError("UPDATE ...", {}, sqlite3.OperationalError("database is locked"))
        return "done"

    assert uow.run(session_factory, conflicted) == "done" and len(calls) == 3

    def broken(session: Session) -> None:
        calls.append(1)
        raise ValueError("a bug is not a conflict")

    calls.clear()
    with pytest.raises(ValueError):
        uow.run(session_factory, broken)
    assert len(calls) == 1


class _Deadlock(Exception):
    sqlstate = "40P01"  # what psycopg's DeadlockDetected carries


def test_an_sms_ack_that_loses_a_deadlock_is_run_again_not_answered_500(settings, engine, session_factory, demo,
                                                                         app, now, fake, monkeypatch):  # noqa: ANN001
    """Twilio does not retry a webhook that failed: the ack must survive losing a lock race."""
    from paging_harness import Pager
    from sqlalchemy.exc import OperationalError

    from callcenter.models import AlertStatus
    from callcenter.paging import commands

    fake.attach_app(app, settings.public_url)
    pager = Pager(settings, engine, session_factory, fake, now)
    app.config["PAGING_CLOCK"] = lambda: pager.t
    pager.put_on_call("eng2")
    alert_id, number = pager.raise_alert()
    pager.tick()
    fake.wait_for_message(to="+3615550182")

    real, tries = commands.sms_command, []

    def first_loses(session: Session, **kwargs: object) -> str | None:
        tries.append(1)
        result = real(session, **kwargs)
        if len(tries) == 1:
            session.flush()
            raise OperationalError("UPDATE alerts ...", {}, _Deadlock("deadlock detected"))
        return result

    monkeypatch.setattr(commands, "sms_command", first_loses)
    reply = pager.sms_reply("+3615550182", f"ACK {number}")
    assert reply.status_code == 200 and "acknowledged" in reply.text and len(tries) == 2
    with session_factory() as s:
        assert s.get(Alert, alert_id).status == AlertStatus.ACKNOWLEDGED
    pager.settle()
    fake.assert_nothing_unexpected()


def test_a_retried_view_is_called_again_after_a_conflict(session_factory) -> None:  # noqa: ANN001
    from sqlalchemy.exc import OperationalError

    from callcenter.models import Company

    calls: list[int] = []

    @uow.retried
    def view() -> str:
        with uow.unit_of_work(session_factory) as s:  # as the Twilio agent views open theirs
            calls.append(1)
            s.add(Company(name=f"Conflict {len(calls)}"))
            s.flush()
            if len(calls) == 1:
                raise OperationalError("UPDATE ...", {}, _Deadlock("deadlock detected"))
        return "answer"

    assert view() == "answer" and len(calls) == 2
    with session_factory() as s:  # the lost attempt left nothing behind
        names = set(s.scalars(select(Company.name).where(Company.name.like("Conflict %"))))
    assert names == {"Conflict 2"}


def test_a_session_closed_without_commit_dispatches_nothing_later(session_factory, demo, now, poke):  # noqa: ANN001
    events.subscribe(Poked, note_once, after_commit=True)
    s = session_factory()
    ticket = s.scalar(select(Ticket).limit(1)) or ticket_service.create_ticket(s, ticket_service.NewTicket(
        subject="Poke me", channel="phone", category="user", company_id=demo.budapest.id), now=now)
    s.flush()
    events.publish(s, Poked(ticket.id, now))
    s.flush()
    s.close()  # abandoned: rolled back
    assert events.PENDING_KEY not in s.info
    s.commit()  # the same session used again commits nothing of the abandoned work
    assert ran == []


def test_handlers_run_in_the_transaction_commit_with_it_and_a_failure_is_left_for_after_the_commit(
        session, settings, engine, demo, now, poke):  # noqa: ANN001
    """dispatch_in_transaction (mail ingestion): the handlers run before the commit, each in a savepoint;
    their rows are written done; one that fails undoes only its own work and is dispatched after the
    commit as usual; nothing of it survives a rollback of the change."""
    events.subscribe(Poked, note_once, after_commit=True)
    events.subscribe(Poked, fail_always, after_commit=True)
    gate.set()
    ticket = ticket_service.create_ticket(session, ticket_service.NewTicket(
        subject="Printer jam", channel="email", category="user", company_id=demo.budapest.id,
        reporter_contact_id=demo.anna.id), actor=ticket_service.SYSTEM, now=now)
    session.flush()
    events.publish(session, Poked(ticket.id, now))
    assert uow.dispatch_in_transaction(session) == 2  # the auto-reply and the note; not the failing one
    assert [m.destination for m in session.scalars(select(OutboxMessage))] == ["anna@budapest-demo.example"]
    session.commit()
    [row] = rows(session, outbound.on_ticket_created)
    assert (row.state, row.attempts) == ("done", 1)
    [row] = rows(session, note_once)
    assert (row.state, row.attempts) == ("done", 1) and ran == [ticket.id]
    [row] = rows(session, fail_always)  # tried after the commit, in its own transaction, and recorded
    assert (row.state, row.attempts) == ("failed", 1) and "cannot poke" in row.last_error

    other = ticket_service.create_ticket(session, ticket_service.NewTicket(
        subject="Scanner jam", channel="email", category="user", company_id=demo.budapest.id,
        reporter_contact_id=demo.anna.id), actor=ticket_service.SYSTEM, now=now)
    session.flush()
    events.publish(session, Poked(other.id, now))
    uow.dispatch_in_transaction(session)
    session.rollback()
    assert ran == [ticket.id, other.id]
    assert len(auto_replies(session)) == 1 and len(rows(session, note_once)) == 1
