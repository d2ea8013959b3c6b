"""Bounces of our own mail and out-of-office replies join the ticket they answer (issue 14), as a
record only: no new triage ticket, no automatic answer, no change of state."""

from __future__ import annotations

from datetime import timedelta

import pytest
from mailtools import make_mail
from sqlalchemy import func, select

from callcenter import tickets
from callcenter.mail.ingest import ingest
from callcenter.models import InboundMail, OutboxMessage, Status, Ticket
from callcenter.wiring import load_services

load_services()
ANNA = "anna@budapest-demo.example"


def run(session, settings, raw, now):  # noqa: ANN001, ANN201
    result = ingest(session, raw, settings=settings, now=now)
    session.commit()  # our mails are after-commit handlers (callcenter/handlers.py)
    session.expire_all()
    return result


def our_mail(session, address):  # noqa: ANN001, ANN201
    session.commit()  # a ticket change's mail is queued once the change commits
    return session.scalars(select(OutboxMessage).where(OutboxMessage.destination == address)
                           .order_by(OutboxMessage.id)).all()[-1].payload


def postfix_dsn(original: bytes, recipient: str, headers_only: bool = True) -> bytes:
    """A delivery status notification as Postfix's bounce daemon writes it."""
    returned = original.split(b"\n\n", 1)[0] if headers_only else original
    kind = "text/rfc822-headers" if headers_only else "message/rfc822"
    return (
        "From: MAILER-DAEMON@mx.hotline.example (Mail Delivery System)\n"
        "Subject: Undelivered Mail Returned to Sender\n"
        "To: helpdesk@hotline.example\n"
        "Auto-Submitted: auto-replied\n"
        "Message-Id: <20261006080000.AB12C3D4@mx.hotline.example>\n"
        "MIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B1"\n\n'
        "--B1\nContent-Description: Notification\nContent-Type: text/plain; charset=us-ascii\n\n"
        "This is the mail system at host mx.hotline.example.\n\nI'm sorry to have to inform you that your "
        "message could not be delivered to one or more recipients.\n\n"
        f"<{recipient}>: host mx.budapest-demo.example said: 550 5.1.1 user unknown\n\n"
        "--B1\nContent-Description: Delivery report\nContent-Type: message/delivery-status\n\n"
        "Reporting-MTA: dns; mx.hotline.example\nArrival-Date: Tue,  6 Oct 2026 08:00:00 +0000\n\n"
        f"Final-Recipient: rfc822; {recipient}\nOriginal-Recipient: rfc822;{recipient}\nAction: failed\n"
        "Status: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 user unknown\n\n"
        f"--B1\nContent-Description: Undelivered Message\nContent-Type: {kind}\n\n"
    ).encode() + returned + b"\n--B1--\n"


@pytest.mark.parametrize("headers_only", [True, False])
def test_a_bounce_of_our_mail_joins_its_ticket(session, settings, demo, now, headers_only):
    from callcenter.providers.smtp import build_message

    r = run(session, settings, make_mail(ANNA, "Printer jam"), now)
    outbox_row = session.scalars(select(OutboxMessage)).first()
    _, sent = build_message(outbox_row, settings.mail_from)  # what went out
    bounce = postfix_dsn(sent.replace(b"\r\n", b"\n"), ANNA, headers_only)
    r2 = run(session, settings, bounce, now + timedelta(minutes=1))
    assert (r2.outcome, r2.ticket_number) == ("threaded", r.ticket_number)
    t = session.scalar(select(Ticket))
    note = t.events[-1]
    assert note.kind == "email" and not note.public
    assert f"{ANNA}: failed 5.1.1 smtp; 550 5.1.1 user unknown" in note.body
    assert session.scalar(select(func.count()).select_from(Ticket)) == 1
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 1  # nobody is answered
    assert session.get(InboundMail, r2.inbound_id).triage is None


def test_a_bounce_found_only_by_the_marker_in_the_returned_text(session, settings, demo, now):
    r = run(session, settings, make_mail(ANNA, "Scanner offline"), now)
    text = our_mail(session, ANNA)["text"]
    bounce = make_mail("postmaster@mx.elsewhere.example", "Delivery failure", "could not deliver:\n\n" + text)
    r2 = run(session, settings, bounce, now)
    assert (r2.outcome, r2.ticket_number) == ("threaded", r.ticket_number)


def test_a_bounce_of_something_else_still_opens_a_triage_ticket(session, settings, demo, now):
    bounce = postfix_dsn(b"From: someone@else.example\nMessage-ID: <x@else.example>\nSubject: hi", ANNA)
    r = run(session, settings, bounce, now)
    assert r.outcome == "new_ticket"
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


def test_a_forged_id_in_a_bounce_is_not_ours(session, settings, demo, now):
    run(session, settings, make_mail(ANNA, "Printer jam"), now)
    number = session.scalar(select(Ticket.number))
    fake = f"From: x\nMessage-ID: <hl.{number}.abcdef0123.0123456789ab@hotline.example>\nSubject: s".encode()
    r = run(session, settings, postfix_dsn(fake, ANNA), now)
    assert r.outcome == "new_ticket" and r.ticket_number != number


def test_an_out_of_office_reply_joins_without_changing_anything(session, settings, demo, now):
    r = run(session, settings, make_mail(ANNA, "VPN down"), now)
    t = session.scalar(select(Ticket))
    session.info["settings"] = settings
    tickets.change_status(session, t, Status.WAITING_CUSTOMER, actor=tickets.SYSTEM, now=now)
    ours = our_mail(session, ANNA)
    before = session.scalar(select(func.count()).select_from(OutboxMessage))
    # Exchange style: no number kept in the subject, In-Reply-To our mail, X-Auto-Response-Suppress.
    ooo = make_mail(ANNA, "Automatikus válasz: Állapotváltozás", "Szabadságon vagyok október 12-ig.",
                    in_reply_to=ours["message_id"], headers={"Auto-Submitted": "auto-replied",
                                                             "X-Auto-Response-Suppress": "All"})
    r2 = run(session, settings, ooo, now + timedelta(minutes=5))
    assert (r2.outcome, r2.ticket_number) == ("threaded", r.ticket_number)
    assert t.status == Status.WAITING_CUSTOMER  # an automatic reply is no answer from the customer
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == before
    # Vacation responders that keep only the subject's number join too.
    r3 = run(session, settings, make_mail(ANNA, f"Out of office: [#{t.number}] VPN down", "away",
                                          headers={"X-Autoreply": "yes"}), now + timedelta(minutes=6))
    assert r3.ticket_number == t.number and t.status == Status.WAITING_CUSTOMER
