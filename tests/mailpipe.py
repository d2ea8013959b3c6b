"""Mail through the real ingestion path, as the MTA delivers it: the `callcenter mail-ingest` pipe."""

from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import select

from callcenter.cli import cli
from callcenter.models import Approval, OutboxMessage, Ticket

ANNA = "anna@budapest-demo.example"


def pipe(database_url: str, raw: bytes) -> int:
    """Deliver one message with `callcenter mail-ingest`; the exit code the MTA would see."""
    result = CliRunner().invoke(cli, ["mail-ingest"], input=raw, env={"CALLCENTER_DATABASE_URL": database_url})
    assert result.stdout == "", "the pipe keeps stdout quiet (Postfix would read a status from it)"
    return result.exit_code


def mails_to(session, address: str) -> list[OutboxMessage]:  # noqa: ANN001
    return list(session.scalars(select(OutboxMessage).where(OutboxMessage.channel == "email",
                                                            OutboxMessage.destination == address)
                                .order_by(OutboxMessage.id)))


def ticket(session, number: int) -> Ticket:  # noqa: ANN001
    session.expire_all()
    return session.scalar(select(Ticket).where(Ticket.number == number))


def approval_of(session, number: int) -> Approval:  # noqa: ANN001
    return ticket(session, number).approvals[0]
