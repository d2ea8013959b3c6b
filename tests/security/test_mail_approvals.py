"""Issue 15 item 1: an approval by mail counts only when its author proves they received the request.

Every attack goes through the real ingestion path (`callcenter mail-ingest`), as an outsider would
send it; each is refused, the approval stays pending, and the ticket records why.
"""

from __future__ import annotations

import pytest
from mailpipe import ANNA, approval_of, mails_to, pipe, ticket
from mailtools import make_mail
from sqlalchemy import select

from callcenter.models import Contact, Status, TicketEvent
from callcenter.wiring import load_services

load_services()


@pytest.fixture
def pending(demo, session, database_url):  # noqa: ANN001, ANN201
    """Anna asks in writing for a permission change; she is also the company's authorised contact,
    so the approval request goes to her. Returns (ticket number, the request mail's payload)."""
    raw = make_mail(f"Kovács Anna <{ANNA}>", "Jogosultság: Kiss Péter kapjon hozzáférést a CRM-hez")
    assert pipe(database_url, raw) == 0
    session.expire_all()
    [request] = [m for m in mails_to(session, ANNA) if "Jóváhagyása szükséges" in m.payload["subject"]]
    number = int(request.payload["subject"].split("]")[0].lstrip("[#"))
    assert ticket(session, number).status == Status.WAITING_APPROVAL
    return number, request.payload


def assert_not_counted(session, number: int, why: str) -> None:  # noqa: ANN001
    t = ticket(session, number)
    approval = t.approvals[0]
    assert approval.status == "pending" and approval.decided_at is None and approval.decided_by_name is None
    assert t.status == Status.WAITING_APPROVAL
    notes = [e.body for e in t.events if e.kind == "note" and not e.public and "was not counted" in (e.body or "")]
    assert notes and why in notes[-1], notes


def test_forged_from_with_subject_number_does_not_approve(pending, session, database_url):
    number, _ = pending
    # The exact attack of the report: a forged From, the ticket number, a made-up Message-ID.
    raw = (f"From: {ANNA}\r\nSubject: Re: [#{number}]\r\nMessage-ID: <x1@evil>\r\n\r\nAPPROVE\r\n").encode()
    assert pipe(database_url, raw) == 0  # recorded (never dropped), but not counted
    assert_not_counted(session, number, "does not answer this approval's request mail")


def test_reply_to_another_mail_of_the_ticket_does_not_approve(pending, session, database_url):
    """The auto-reply's genuine Message-ID and marker prove receipt of the auto-reply, not of the request."""
    number, _ = pending
    [auto_reply] = [m for m in mails_to(session, ANNA) if "rögzítve" in m.payload["subject"]]
    quoted = "Jóváhagyom\n\n> " + "\n> ".join(auto_reply.payload["text"].splitlines())
    pipe(database_url, make_mail(ANNA, f"Vá: [#{number}]", quoted, in_reply_to=auto_reply.payload["message_id"]))
    assert_not_counted(session, number, "does not answer this approval's request mail")


def test_the_request_token_from_another_address_does_not_approve(pending, session, database_url):
    """A colleague who saw the forwarded request (same company, same token) is not the approver."""
    number, request = pending
    session.add(Contact(company_id=ticket(session, number).company_id, name="Kiss Péter",
                        email="peter@budapest-demo.example", can_authorize=False))
    session.commit()
    pipe(database_url, make_mail("peter@budapest-demo.example", f"Vá: [#{number}]", "APPROVE",
                                 in_reply_to=request["message_id"]))
    assert_not_counted(session, number, f"the request went to {ANNA}")


@pytest.mark.parametrize("results, why", [
    ("mx.hotline.example; spf=pass smtp.mailfrom=budapest-demo.example; dkim=none; "
     "dmarc=fail (p=reject) header.from=budapest-demo.example", "dmarc=fail"),
    ("mx.hotline.example; spf=fail smtp.mailfrom=budapest-demo.example; dkim=none", "spf=fail without dkim=pass"),
])
def test_mta_reporting_a_forged_sender_makes_the_approval_not_count(pending, session, database_url, results, why):
    number, request = pending
    reply = make_mail(ANNA, f"Vá: [#{number}] Jóváhagyás", "Jóváhagyom", in_reply_to=request["message_id"],
                      headers={"Authentication-Results": results})
    assert pipe(database_url, reply) == 0
    assert_not_counted(session, number, why)


def test_a_pass_added_by_the_sender_does_not_hide_the_mtas_failure(pending, session, database_url):
    number, request = pending
    raw = make_mail(ANNA, f"Vá: [#{number}]", "APPROVE", in_reply_to=request["message_id"])
    # The receiving MTA prepends its header; the sender's own (forged) one sits below it.
    raw = (b"Authentication-Results: mx.hotline.example; spf=fail smtp.mailfrom=budapest-demo.example\r\n"
           b"Authentication-Results: mx.hotline.example; dkim=pass header.d=budapest-demo.example; dmarc=pass\r\n"
           + raw)
    pipe(database_url, raw)
    assert_not_counted(session, number, "spf=fail without dkim=pass")


def test_made_up_token_does_not_approve(pending, session, database_url):
    number, request = pending
    genuine = request["message_id"]
    token = genuine.split(".")[2]
    forged_id = genuine.replace(token, "a" + "b" * 26)
    marker = [ln for ln in request["text"].splitlines() if ln.startswith("[ref:hl-")][0]
    forged_marker = marker.replace(token, "a" + "c" * 26)
    pipe(database_url, make_mail(ANNA, f"Vá: [#{number}]", f"APPROVE\n> {forged_marker}", in_reply_to=forged_id))
    assert_not_counted(session, number, "does not answer this approval's request mail")


def test_the_genuine_reply_approves_with_its_evidence(pending, session, database_url):
    number, request = pending
    reply = make_mail(ANNA, f"Vá: [#{number}] Jóváhagyás", "Jóváhagyom.", in_reply_to=request["message_id"],
                      message_id="<anna-ok@budapest-demo.example>",
                      headers={"Authentication-Results": "mx.hotline.example; spf=fail smtp.mailfrom=x; "
                                                         "dkim=pass header.d=budapest-demo.example; dmarc=pass"})
    assert pipe(database_url, reply) == 0
    approval = approval_of(session, number)
    assert approval.status == "approved" and approval.decision_channel == "email"
    assert "<anna-ok@budapest-demo.example>" in approval.evidence and "token brought back" in approval.evidence
    assert ticket(session, number).status == Status.ACKNOWLEDGED


def test_a_reply_that_lost_its_headers_approves_by_the_quoted_marker(pending, session, database_url):
    number, request = pending
    quoted = "ELUTASÍTOM\n\n> " + "\n> ".join(request["text"].splitlines())
    assert pipe(database_url, make_mail(ANNA, "válasz", quoted)) == 0
    assert approval_of(session, number).status == "denied"


def test_only_the_approval_whose_request_is_answered_is_decided(pending, session, database_url):
    from callcenter import tickets

    number, request = pending
    t = ticket(session, number)
    tickets.request_approval(session, t, kind="device_order", summary="two phones", actor=tickets.SYSTEM,
                             now=t.created_at, approver_contact_id=t.approvals[0].approver_contact_id)
    session.commit()
    pipe(database_url, make_mail(ANNA, f"Vá: [#{number}]", "APPROVE", in_reply_to=request["message_id"]))
    statuses = sorted((a.kind, a.status) for a in ticket(session, number).approvals)
    assert statuses == [("device_order", "pending"), ("permission_change", "approved")]
    assert not session.scalars(select(TicketEvent).where(TicketEvent.body.contains("was not counted"))).all()
