"""Internal stays internal: the customer portal and customer mail show only what a customer may read
(issue: an escalation reason typed by an agent was mailed to the customer and shown in her portal)."""

from __future__ import annotations

import io

import pytest
from hotline_helpers import without_tokens
from sqlalchemy import select
from test_console import csrf, login

from callcenter import customer_portal as portal
from callcenter import tickets as svc
from callcenter.attachments import Upload
from callcenter.models import Approval, OutboxMessage, Ticket, TicketAttachment

SECRET_REASON = "customer is difficult, escalate to calm her down"
INTERNAL_NOTE = "internal: their contract lapses next month"


@pytest.fixture
def pinned(app, now):  # noqa: ANN001, ANN201
    app.config["CLOCK"] = lambda: now
    return app


@pytest.fixture
def worked(session, demo, now, settings):  # noqa: ANN001, ANN201
    """A ticket an agent worked with internal and public steps, as the issue reproduced it."""
    from callcenter.wiring import load_services

    load_services()  # the mail subscribers
    session.info["settings"] = settings
    t = svc.create_ticket(session, svc.NewTicket(subject="VPN drops every hour", channel="email", category="system",
                                                 reporter_contact_id=demo.anna.id,
                                                 description="Since Monday the VPN drops."), now=now)
    agent = svc.Actor.staff(demo.staff["agent1"])
    svc.assign(session, t, demo.staff["eng2"].id, actor=agent, now=now)
    svc.escalate(session, t, "L2", actor=agent, now=now, reason=SECRET_REASON)
    svc.add_note(session, t, INTERNAL_NOTE, actor=agent, now=now)
    svc.log_time(session, t, 20, actor=agent, now=now)
    svc.update_fields(session, t, {"location": "server room"}, actor=agent, now=now)
    svc.change_status(session, t, "in_progress", actor=agent, now=now, note="We are looking at the VPN gateway.")
    session.commit()
    return t


def customer_mail_text(session, address: str) -> str:  # noqa: ANN001
    rows = session.scalars(select(OutboxMessage).where(OutboxMessage.destination == address)
                           .order_by(OutboxMessage.id)).all()
    return "\n".join(m.payload["subject"] + "\n" + m.payload["text"] for m in rows)


def test_customer_mail_never_carries_internal_work(session, worked) -> None:  # noqa: ANN001
    text = customer_mail_text(session, "anna@budapest-demo.example")
    assert "We are looking at the VPN gateway." in text
    for secret in (SECRET_REASON, INTERNAL_NOTE, "Tóth Gábor", "L2", "server room", "20 min"):
        assert secret not in text


def test_conversation_holds_public_messages_and_customer_fields_only(session, worked) -> None:  # noqa: ANN001
    entries = portal.conversation(session, worked)
    assert [e.kind for e in entries] == ["created", "status"]
    assert entries[0].body == "Since Monday the VPN drops."
    assert entries[1].changes == {"status": ["new", "in_progress"]}
    for e in entries:
        assert set(e.changes) <= set(portal.CUSTOMER_FIELDS)


def test_portal_pages_show_no_internal_work(client, pinned, worked) -> None:  # noqa: ANN001
    login(client, "anna@budapest-demo.example")
    home = client.get("/", follow_redirects=True).get_data(as_text=True)
    assert "VPN drops every hour" in home
    page = client.get(f"/portal/tickets/{worked.number}").get_data(as_text=True)
    assert "We are looking at the VPN gateway." in page and "Since Monday the VPN drops." in page
    page = without_tokens(page)
    for secret in (SECRET_REASON, INTERNAL_NOTE, "Tóth Gábor", "L2", "server room", "Business hours support",
                   "business_hours", "0.50"):
        assert secret not in page, secret


def test_customer_replies_with_a_file_and_staff_see_it(client, pinned, worked, session, demo) -> None:  # noqa: ANN001
    login(client, "anna@budapest-demo.example")
    url = f"/portal/tickets/{worked.number}"
    r = client.post(f"{url}/reply", data={"csrf_token": csrf(client, url), "body": "Log attached.",
                                          "files": (io.BytesIO(b"vpn log line\n"), "vpn ügy.log")},
                    content_type="multipart/form-data")
    assert r.status_code == 302
    att = session.scalar(select(TicketAttachment))
    assert att.filename == "vpn ügy.log" and att.size == 13 and att.uploader_kind == "contact"
    page = client.get(url).get_data(as_text=True)
    assert "Log attached." in page and "vpn ügy.log" in page
    got = client.get(f"/portal/files/{att.id}")
    assert got.status_code == 200 and got.data == b"vpn log line\n"
    assert got.headers["Content-Type"] == "application/octet-stream"
    assert got.headers["Content-Disposition"].startswith("attachment")
    # Another company's customer cannot fetch it.
    demo.nikos.password_hash = demo.anna.password_hash
    session.commit()
    login(client, "pbx@athens-demo.example")
    assert client.get(f"/portal/files/{att.id}").status_code == 404
    assert client.get(url).status_code == 404


def test_oversized_file_refuses_the_message_with_a_reason(client, pinned, worked, session, settings) -> None:  # noqa: ANN001
    settings.mail_max_attachment_bytes = 10
    login(client, "anna@budapest-demo.example")
    url = f"/portal/tickets/{worked.number}"
    r = client.post(f"{url}/reply", data={"csrf_token": csrf(client, url), "body": "big",
                                          "files": (io.BytesIO(b"x" * 11), "big.bin")},
                    content_type="multipart/form-data", follow_redirects=True)
    assert "big.bin is larger than" in r.get_data(as_text=True)
    session.expire_all()
    assert session.scalar(select(TicketAttachment)) is None
    assert "big" not in [e.body for e in session.get(Ticket, worked.id).events]


def test_reply_brings_a_waiting_ticket_back(session, worked, demo, now) -> None:  # noqa: ANN001
    svc.change_status(session, worked, "waiting_customer", actor=svc.SYSTEM, now=now)
    portal.reply(session, worked, demo.anna, "Here is the info.", [], now=now, max_bytes=1000)
    assert worked.status == "in_progress"
    with pytest.raises(svc.TicketError):
        portal.reply(session, worked, demo.nikos, "not mine", [], now=now, max_bytes=1000)
    with pytest.raises(svc.TicketError, match="at most 5 files"):
        portal.reply(session, worked, demo.anna, "many", [Upload("a", "text/plain", b"1")] * 6, now=now,
                     max_bytes=1000)


def test_pending_approval_on_top_and_decided_in_the_portal(client, pinned, session, demo, now) -> None:  # noqa: ANN001
    t = svc.create_ticket(session, svc.NewTicket(subject="CRM access for Kiss Péter", channel="email",
                                                 category="permission_change", reporter_contact_id=demo.anna.id),
                          now=now)
    session.commit()
    login(client, "anna@budapest-demo.example")
    home = client.get("/portal/").get_data(as_text=True)
    assert home.index('id="pending-approvals"') < home.index('id="tickets"')
    approval = session.scalar(select(Approval).where(Approval.ticket_id == t.id))
    r = client.post(f"/portal/approvals/{approval.id}", data={"csrf_token": csrf(client, "/portal/"),
                                                               "decision": "approve", "comment": "OK from me"})
    assert r.status_code == 302
    session.expire_all()
    approval = session.get(Approval, approval.id)
    assert approval.status == "approved" and approval.decision_channel == "web"
    assert approval.decided_by_name == "Kovács Anna" and "OK from me" in approval.evidence
    assert session.get(Ticket, t.id).status == "acknowledged"
    assert 'id="pending-approvals"' not in client.get("/portal/").get_data(as_text=True)


def test_spare_part_approvals_are_not_the_customers(session, demo, now) -> None:  # noqa: ANN001
    t = svc.create_ticket(session, svc.NewTicket(subject="Trunk card", channel="phone", category="infrastructure",
                                                 reporter_contact_id=demo.nikos.id), now=now)
    approval = svc.request_approval(session, t, kind="spare_part", summary="E1 card, 900 EUR", actor=svc.SYSTEM,
                                    now=now, approver_staff_id=demo.staff["manager"].id)
    assert portal.pending_approvals(session, demo.nikos) == []
    assert "900 EUR" not in [e.body for e in portal.conversation(session, t)]
    with pytest.raises(svc.TicketError):
        portal.decide(session, approval, demo.nikos, True, now=now)


def test_customer_calls_page(client, pinned, session, demo, now) -> None:  # noqa: ANN001
    from call_data import make_call

    own = make_call(session, now, company=demo.budapest, contact=demo.anna, wait=30, answered=True)
    other = make_call(session, now, company=demo.athens, contact=demo.nikos, wait=10, answered=True)
    session.commit()
    login(client, "anna@budapest-demo.example")
    page = client.get("/portal/calls").get_data(as_text=True)
    assert f'data-call="{own.id}"' in page and f'data-call="{other.id}"' not in page
    assert "0:30" in page
