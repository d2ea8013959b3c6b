"""`callcenter events list` and `callcenter events requeue`: after-commit handlers that gave up (`dead`, e.g.
the customer mail while the SMTP relay was down for hours) are shown with their reason and can be run
again once the cause is fixed, by the worker's next domain-events pass."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from click.testing import CliRunner
from sqlalchemy import select

from callcenter import events
from callcenter import tickets as ticket_service
from callcenter.cli import cli
from callcenter.db import make_session_factory
from callcenter.mail import outbound
from callcenter.models import DomainEvent, OutboxMessage
from callcenter.scheduler import PERIODIC
from callcenter.wiring import load_services

load_services()


def invoke(args, database_url):  # noqa: ANN001, ANN201
    return CliRunner().invoke(cli, ["events", *args], env={"CALLCENTER_DATABASE_URL": database_url})


def dead_auto_reply(session, demo, now) -> tuple[int, int]:  # noqa: ANN001
    """A ticket whose auto-reply handler gave up (its row as six failed attempts leave it)."""
    ticket = ticket_service.create_ticket(session, ticket_service.NewTicket(
        subject="Printer jams", channel="email", category="user", company_id=demo.budapest.id,
        reporter_email="anna@budapest-demo.example"), actor=ticket_service.SYSTEM, now=now)
    session.flush()
    session.info.pop(events.PENDING_KEY, None)  # as if every dispatch had failed
    [row] = session.scalars(select(DomainEvent).where(DomainEvent.payload["ticket_id"].as_integer() == ticket.id))
    row.state, row.attempts, row.last_error = "dead", row.max_attempts, "SMTPServerDisconnected: relay down"
    session.commit()
    return row.id, ticket.id


def test_dead_events_are_listed_with_their_reason(session, demo, now, database_url):
    row_id, _ = dead_auto_reply(session, demo, now)
    out = invoke(["list"], database_url)
    assert out.exit_code == 0, out.output
    [line] = [ln for ln in out.output.splitlines() if ln.startswith(f"{row_id}\t")]
    assert "dead" in line and "TicketCreated" in line and events.handler_name(outbound.on_ticket_created) in line
    assert "relay down" in line
    assert invoke(["list", "--state", "done"], database_url).output.strip() == ""


def test_a_requeued_event_runs_on_the_workers_next_pass(session, settings, engine, demo, now, database_url):
    row_id, ticket_id = dead_auto_reply(session, demo, now)
    out = invoke(["requeue", str(row_id)], database_url)
    assert out.exit_code == 0, out.output
    assert f"{row_id}" in out.output
    session.expire_all()
    row = session.get(DomainEvent, row_id)
    assert (row.state, row.attempts) == ("failed", 0) and row.last_error == "SMTPServerDisconnected: relay down"
    [job] = [j for j in PERIODIC if j.name == "domain-events"]
    # Due at once on the wall clock the worker runs on.
    job.run(make_session_factory(engine, settings), settings, datetime.now(UTC) + timedelta(seconds=1))
    session.expire_all()
    assert session.get(DomainEvent, row_id).state == "done"
    key = f"mail:auto-reply:{ticket_id}"
    assert len(list(session.scalars(select(OutboxMessage).where(OutboxMessage.idempotency_key == key)))) == 1


def test_requeue_refuses_what_is_not_dead_and_takes_all_dead_at_once(session, demo, now, database_url):
    first, _ = dead_auto_reply(session, demo, now)
    second, _ = dead_auto_reply(session, demo, now)
    session.get(DomainEvent, second).state = "done"
    session.commit()
    refused = invoke(["requeue", str(second)], database_url)
    assert refused.exit_code != 0 and "not dead" in refused.output
    assert invoke(["requeue", "999999"], database_url).exit_code != 0
    out = invoke(["requeue", "--all-dead"], database_url)
    assert out.exit_code == 0 and "1 event" in out.output
    session.expire_all()
    assert [session.get(DomainEvent, i).state for i in (first, second)] == ["failed", "done"]
