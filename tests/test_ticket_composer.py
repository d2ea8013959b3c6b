"""The ticket page's one composer and in-place sidebar (issue 12, items 1 and 2): one Update does the
work of seven forms, and text an agent marks internal never reaches the customer's mail or portal."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from hotline_helpers import without_tokens
from sqlalchemy import select

from callcenter import tickets as svc
from callcenter.models import OutboundMail, OutboxMessage, Ticket, TicketEvent, TimeEntry

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
SECRET = "customer is difficult, do not offer a discount"


def csrf(client, path: str = "/login") -> str:  # noqa: ANN001
    return TOKEN.search(client.get(path).get_data(as_text=True)).group(1)


def login(client, name: str, password: str = "demo"):  # noqa: ANN001, ANN201
    return client.post("/login", data={"login": name, "password": password, "csrf_token": csrf(client)})


@pytest.fixture
def pinned(app, now):  # noqa: ANN001, ANN201
    app.config["CLOCK"] = lambda: now + timedelta(minutes=10)
    return app


@pytest.fixture
def ticket(session, demo, now):  # noqa: ANN001, ANN201
    t = svc.create_ticket(session, svc.NewTicket(subject="Printer queue stuck", channel="phone", category="user",
                                                 reporter_contact_id=demo.anna.id), now=now)
    session.commit()
    return t.number


def update(client, number: int, **form):  # noqa: ANN001, ANN201
    form.setdefault("csrf_token", csrf(client, f"/console/tickets/{number}"))
    return client.post(f"/console/tickets/{number}/update", data=form)


def mails(session, ticket_id: int) -> list[dict]:  # noqa: ANN001
    rows = session.execute(select(OutboundMail, OutboxMessage)
                           .join(OutboxMessage, OutboxMessage.id == OutboundMail.outbox_id)
                           .where(OutboundMail.ticket_id == ticket_id)).all()
    return [{"kind": m.kind, **o.payload} for m, o in rows]


def test_the_page_offers_one_composer_with_nothing_preselected(client, pinned, ticket) -> None:  # noqa: ANN001
    login(client, "agent1")
    page = client.get(f"/console/tickets/{ticket}").get_data(as_text=True)
    assert 'id="composer-form"' in page and 'id="status-form"' not in page
    status_select = page[page.index('id="composer-status"'):page.index("</select>", page.index('id="composer-status"'))]
    assert status_select.count("selected") == 1 and '<option value="" selected>' in status_select
    assert 'value="internal" id="vis-internal" checked' in page  # the safe default: an internal note
    assert 'step="0.25"' in page


def test_one_update_escalates_changes_status_logs_time_and_keeps_the_note_internal(
        client, pinned, session, demo, ticket) -> None:  # noqa: ANN001
    login(client, "agent1")
    eng = demo.staff["eng2"]
    r = update(client, ticket, visibility="internal", body=SECRET, status="acknowledged", level="L2",
               assignee=str(eng.id), hours="0.75")
    assert r.status_code == 302 and r.location.endswith("#composer")
    session.expire_all()
    t = session.scalar(select(Ticket).where(Ticket.number == ticket))
    assert (t.status, t.level) == ("acknowledged", "L2")
    assert t.assignee_id == eng.id
    entry = session.scalar(select(TimeEntry).where(TimeEntry.ticket_id == t.id))
    assert (entry.minutes_worked, entry.billable_hours) == (45, Decimal("0.75"))
    holding = session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == t.id,
                                                        TicketEvent.body == SECRET)).all()
    assert len(holding) == 1 and holding[0].public is False and holding[0].kind == "escalated"
    # The customer hears of the status change, without the note.
    sent = mails(session, t.id)
    assert any(m["kind"] == "phase" for m in sent)
    assert all(SECRET not in (m["text"] + m["subject"]) for m in sent)
    client.post("/logout", data={"csrf_token": csrf(client, "/console/queue")})
    login(client, "anna@budapest-demo.example")
    portal = without_tokens(client.get(f"/portal/tickets/{ticket}").get_data(as_text=True))
    assert SECRET not in portal and "L2" not in portal


def test_an_internal_note_without_escalation_is_its_own_internal_event(client, pinned, session, ticket) -> None:  # noqa: ANN001
    login(client, "agent1")
    assert update(client, ticket, visibility="internal", body=SECRET, status="in_progress").status_code == 302
    session.expire_all()
    t = session.scalar(select(Ticket).where(Ticket.number == ticket))
    status_event = session.scalar(select(TicketEvent).where(TicketEvent.ticket_id == t.id, TicketEvent.kind == "status")
                                  .order_by(TicketEvent.id.desc()))
    assert status_event.body is None
    note = session.scalar(select(TicketEvent).where(TicketEvent.ticket_id == t.id, TicketEvent.body == SECRET))
    assert note.kind == "note" and note.public is False
    assert all(SECRET not in m["text"] for m in mails(session, t.id))


def test_a_reply_with_a_status_change_is_one_mail_and_shows_in_the_portal(client, pinned, session, ticket) -> None:  # noqa: ANN001
    login(client, "agent1")
    reply = "Driver reinstalled, the queue is empty again."
    r = update(client, ticket, visibility="public", body=reply, status="resolved", resolution="solved")
    assert r.status_code == 302
    session.expire_all()
    t = session.scalar(select(Ticket).where(Ticket.number == ticket))
    assert t.status == "resolved"
    phase = [m for m in mails(session, t.id) if m["kind"] == "phase"]
    assert len(phase) == 1 and reply in phase[0]["text"]
    page = client.get(f"/console/tickets/{ticket}").get_data(as_text=True)
    assert "✉" in page and 'data-state="pending"' in page  # the mail and its outbox status, in the timeline
    client.post("/logout", data={"csrf_token": csrf(client, "/console/queue")})
    login(client, "anna@budapest-demo.example")
    assert reply in client.get(f"/portal/tickets/{ticket}").get_data(as_text=True)


@pytest.mark.parametrize("hours", ["0.3", "-1", "25", "abc"])
def test_time_is_in_quarter_hours_and_a_refusal_keeps_what_was_typed(client, pinned, session, ticket, hours) -> None:  # noqa: ANN001
    login(client, "agent1")
    r = update(client, ticket, visibility="internal", body="half typed thought", status="acknowledged", hours=hours)
    assert r.status_code == 400
    assert "half typed thought" in r.get_data(as_text=True)
    session.expire_all()
    t = session.scalar(select(Ticket).where(Ticket.number == ticket))
    assert t.status == "new" and not t.time_entries  # all or nothing


def test_an_empty_update_is_refused(client, pinned, ticket) -> None:  # noqa: ANN001
    login(client, "agent1")
    assert update(client, ticket, visibility="internal", body="  ", assignee="keep").status_code == 400


def test_qa_has_no_composer_and_may_not_post(client, pinned, ticket) -> None:  # noqa: ANN001
    login(client, "qa")
    assert 'id="composer-form"' not in client.get(f"/console/tickets/{ticket}").get_data(as_text=True)
    assert update(client, ticket, body="x", visibility="internal").status_code == 403


def test_sidebar_fields_save_in_place(client, pinned, session, demo, ticket) -> None:  # noqa: ANN001
    login(client, "agent1")
    token = csrf(client, f"/console/tickets/{ticket}")

    def edit(field: str, value: str):  # noqa: ANN202
        return client.post(f"/console/tickets/{ticket}/field", data={"field": field, "value": value,
                                                                     "csrf_token": token},
                           headers={"Accept": "application/json"})

    r = edit("priority", "high")
    assert r.status_code == 200 and r.get_json()["ok"] is True
    r = edit("priority", "bogus")
    assert r.status_code == 422 and r.get_json()["ok"] is False
    assert edit("company_id", str(demo.athens.id)).get_json()["reload"] is True
    r = edit("status", "closed")
    assert r.status_code == 422
    session.expire_all()
    t = session.scalar(select(Ticket).where(Ticket.number == ticket))
    assert t.priority == "high" and t.company_id == demo.athens.id and t.status == "new"
    moved = session.scalar(select(TicketEvent).where(TicketEvent.ticket_id == t.id, TicketEvent.kind == "updated")
                           .order_by(TicketEvent.id.desc()))
    assert "company" in moved.changes and moved.public is False


def test_api_escalation_with_a_status_change_does_not_mail_the_reason(client, api_token, session, ticket) -> None:  # noqa: ANN001
    h = api_token("agent1")
    r = client.patch(f"/api/v1/tickets/{ticket}", headers=h, json={"level": "L2", "status": "acknowledged",
                                                                   "note": SECRET})
    assert r.status_code == 200
    session.expire_all()
    t = session.scalar(select(Ticket).where(Ticket.number == ticket))
    assert t.status == "acknowledged" and t.level == "L2"
    assert [e.public for e in session.scalars(select(TicketEvent).where(TicketEvent.body == SECRET))] == [False]
    assert all(SECRET not in m["text"] for m in mails(session, t.id))


def test_a_spare_part_decision_is_not_mailed_to_the_customer(session, demo, now, ticket) -> None:  # noqa: ANN001
    from callcenter import approvals

    t = session.scalar(select(Ticket).where(Ticket.number == ticket))
    manager = demo.staff["manager"] if "manager" in demo.staff else next(
        u for u in demo.staff.values() if u.role == "manager")
    approval = svc.request_approval(session, t, kind="spare_part", summary="new fuser unit", actor=svc.SYSTEM,
                                    now=now, approver_staff_id=manager.id)
    approvals.decide_approval(session, approval, approvals.Decision(True, approvals.Proof.LOGIN, "web", "ok",
                                                                    staff=manager),
                              actor=svc.Actor.staff(manager), now=now)
    session.commit()
    assert [m["kind"] for m in mails(session, t.id) if m["kind"].startswith("approval")] == []


def test_the_portal_list_does_not_reveal_internal_activity(client, session, demo, now, ticket) -> None:  # noqa: ANN001
    from callcenter.customer_portal import last_public_change

    t = session.scalar(select(Ticket).where(Ticket.number == ticket))
    svc.add_note(session, t, SECRET, actor=svc.SYSTEM, now=now + timedelta(days=3), public=False)
    svc.assign(session, t, demo.staff["eng2"].id, actor=svc.SYSTEM, now=now + timedelta(days=3))
    session.commit()
    assert last_public_change(session, [t]) == {t.id: now}
    login(client, "anna@budapest-demo.example")
    page = client.get("/portal/").get_data(as_text=True)
    assert f"#{ticket}" in page and SECRET not in page
