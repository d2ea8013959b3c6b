"""Mail through the real ingestion path, as the MTA delivers it: the `callcenter mail-ingest` pipe,
then a worker's pass over the mail spool."""

from __future__ import annotations

from datetime import UTC, datetime

from click.testing import CliRunner
from sqlalchemy import select

from callcenter.cli import cli
from callcenter.models import Approval, OutboxMessage, Ticket

ANNA = "anna@budapest-demo.example"


def pipe(database_url: str, raw: bytes, *, drain: bool = True) -> int:
    """Deliver one message with `callcenter mail-ingest` (the exit code the MTA would see), then let a
    worker ingest the spool."""
    result = CliRunner().invoke(cli, ["mail-ingest"], input=raw, env={"CALLCENTER_DATABASE_URL": database_url})
    assert result.stdout == "", "the pipe keeps stdout quiet (Postfix would read a status from it)"
    if drain and result.exit_code == 0:
        drain_spool(database_url)
    return result.exit_code


def drain_spool(database_url: str):  # noqa: ANN201
    from callcenter.config import load_settings
    from callcenter.db import make_engine, make_session_factory
    from callcenter.mail.spool import drain_spool as drain

    settings = load_settings(env={"CALLCENTER_DATABASE_URL": database_url})
    engine = make_engine(settings.database_url)
    try:
        return drain(make_session_factory(engine, settings), settings, datetime.now(UTC))
    finally:
        engine.dispose()


def mails_to(session, address: str) -> list[OutboxMessage]:  # noqa: ANN001
    return list(session.scalars(select(OutboxMessage).where(OutboxMessage.channel == "email",
                                                            OutboxMessage.destination == address)
                                .order_by(OutboxMessage.id)))


def ticket(session, number: int) -> Ticket:  # noqa: ANN001
    session.expire_all()
    return session.scalar(select(Ticket).where(Ticket.number == number))


def approval_of(session, number: int) -> Approval:  # noqa: ANN001
    return ticket(session, number).approvals[0]
