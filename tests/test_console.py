"""The web console through Flask's test client: login, roles, CSRF, customer isolation, ticket work."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from callcenter import tickets as svc
from callcenter.models import LoginAttempt, Ticket

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf(client, path: str = "/login") -> str:  # noqa: ANN001
    return TOKEN.search(client.get(path).get_data(as_text=True)).group(1)


def login(client, name: str, password: str = "demo"):  # noqa: ANN001, ANN201
    return client.post("/login", data={"login": name, "password": password, "csrf_token": csrf(client)})


@pytest.fixture
def pinned(app, now):  # noqa: ANN001, ANN201
    app.config["CLOCK"] = lambda: now
    return app


@pytest.fixture
def tickets(session, demo, now):  # noqa: ANN001, ANN201
    bud = svc.create_ticket(session, svc.NewTicket(subject="Printer queue stuck", channel="phone", category="user",
                                                   reporter_contact_id=demo.anna.id), now=now)
    ath = svc.create_ticket(session, svc.NewTicket(subject="PBX trunk down", channel="phone",
                                                   category="infrastructure", reporter_contact_id=demo.nikos.id,
                                                   asset_id=demo.pbx.id), now=now)
    complaint = svc.create_ticket(session, svc.NewTicket(subject="Nobody called back", channel="email",
                                                         category="complaint", reporter_contact_id=demo.anna.id),
                                  now=now + timedelta(minutes=5))
    session.commit()
    return {"bud": bud.number, "ath": ath.number, "complaint": complaint.number}


def test_pages_need_login(client, demo) -> None:  # noqa: ANN001
    r = client.get("/console/queue")
    assert r.status_code == 302 and "/login" in r.location


def test_staff_login_and_wrong_password(client, demo) -> None:  # noqa: ANN001
    assert login(client, "agent1", "nope").status_code == 401
    r = login(client, "agent1")
    assert r.status_code == 302
    assert client.get("/console/queue").status_code == 200


def test_post_without_csrf_token_is_refused(client, demo) -> None:  # noqa: ANN001
    r = client.post("/login", data={"login": "agent1", "password": "demo"})
    assert r.status_code == 400
    login(client, "agent1")
    assert client.post("/logout").status_code == 400


def test_lockout_after_repeated_failures(client, demo, session) -> None:  # noqa: ANN001
    for _ in range(5):
        assert login(client, "agent2", "wrong").status_code == 401
    r = login(client, "agent2")  # the right password no longer helps
    assert r.status_code == 429
    assert session.query(LoginAttempt).filter_by(login="agent2", success=True).count() == 0


def test_session_lifetime_setting(app) -> None:  # noqa: ANN001
    assert app.config["PERMANENT_SESSION_LIFETIME"] == timedelta(hours=8)


def test_queue_puts_complaints_first_and_serves_json(client, pinned, tickets) -> None:  # noqa: ANN001
    login(client, "agent1")
    rows = client.get("/console/queue.json").get_json()["rows"]
    assert rows[0]["number"] == tickets["complaint"]
    # Infrastructure (2 h) is due before the user problem (8 h).
    assert [r["number"] for r in rows[1:]] == [tickets["ath"], tickets["bud"]]
    assert rows[1]["remaining_seconds"] == 2 * 3600 and rows[1]["clock_running"] is True
    only_athens = client.get("/console/queue.json?company=2&level=L1").get_json()["rows"]
    assert [r["number"] for r in only_athens] == [tickets["ath"]]
    assert client.get("/console/queue.json?mine=1").get_json()["rows"] == []


def test_customer_sees_only_their_company(client, pinned, tickets) -> None:  # noqa: ANN001
    assert login(client, "anna@budapest-demo.example").status_code == 302
    assert client.get(f"/console/tickets/{tickets['bud']}", follow_redirects=True).status_code == 200
    assert client.get(f"/console/tickets/{tickets['ath']}", follow_redirects=True).status_code == 404
    listing = client.get("/console/tickets?company=2", follow_redirects=True).get_data(as_text=True)
    assert "Printer queue stuck" in listing and "PBX trunk down" not in listing
    assert client.get("/console/queue").status_code == 403
    assert client.get("/console/companies/2").status_code == 403
    token = csrf(client, f"/portal/tickets/{tickets['bud']}")
    r = client.post(f"/portal/tickets/{tickets['ath']}/reply", data={"body": "hi", "csrf_token": token})
    assert r.status_code == 404
    # Customers write through the portal; the staff console's actions are not theirs.
    r = client.post(f"/console/tickets/{tickets['bud']}/note", data={"body": "hi", "csrf_token": token})
    assert r.status_code == 403
    r = client.post(f"/console/tickets/{tickets['bud']}/status", data={"status": "closed", "csrf_token": token})
    assert r.status_code == 403
    # Reports: a customer gets their own company whatever the URL asks for.
    page = client.get("/console/reports/quarterly?company=2&quarter=2026Q4").get_data(as_text=True)
    assert "Budapest Demo Kft." in page and "Athens Demo A.E." not in page


def test_work_a_ticket_from_new_to_closed(client, pinned, tickets, session) -> None:  # noqa: ANN001
    login(client, "agent1")
    n = tickets["bud"]
    url = f"/console/tickets/{n}"
    token = csrf(client, url)
    for status in ("acknowledged", "in_progress"):
        assert client.post(f"{url}/status", data={"status": status, "csrf_token": token}).status_code == 302
    client.post(f"{url}/time", data={"minutes": "20", "csrf_token": token})
    client.post(f"{url}/escalate", data={"level": "L2", "reason": "needs an engineer", "csrf_token": token})
    client.post(f"{url}/status", data={"status": "resolved", "note": "Queue cleared, printer reset.",
                                       "resolution": "solved", "csrf_token": token})
    client.post(f"{url}/status", data={"status": "closed", "csrf_token": token})
    session.expire_all()
    t = session.query(Ticket).filter_by(number=n).one()
    assert t.status == "closed" and t.level == "L2" and t.responded_at is not None
    assert [str(e.billable_hours) for e in t.time_entries] == ["0.50"]
    resolved = [e for e in t.events if e.kind == "status" and e.changes["status"][1] == "resolved"][0]
    assert resolved.body == "Queue cleared, printer reset." and resolved.public
    page = client.get(url).get_data(as_text=True)
    assert "Queue cleared, printer reset." in page


def test_refused_transition_is_reported(client, pinned, tickets) -> None:  # noqa: ANN001
    login(client, "agent1")
    url = f"/console/tickets/{tickets['bud']}"
    r = client.post(f"{url}/status", data={"status": "closed", "csrf_token": csrf(client, url)},
                    follow_redirects=True)
    assert "cannot go from new to closed" in r.get_data(as_text=True)


def test_spare_part_approval_needs_a_manager(client, pinned, tickets, demo, session) -> None:  # noqa: ANN001
    login(client, "eng2")
    url = f"/console/tickets/{tickets['ath']}"
    token = csrf(client, url)
    client.post(f"{url}/approvals", data={"kind": "spare_part", "summary": "E1 card",
                                          "approver_staff_id": demo.staff["manager"].id, "csrf_token": token})
    session.expire_all()
    approval = session.query(Ticket).filter_by(number=tickets["ath"]).one().approvals[0]
    decide = f"{url}/approvals/{approval.id}"
    assert client.post(decide, data={"decision": "approve", "evidence": "ok", "csrf_token": token}).status_code == 403
    client.post("/logout", data={"csrf_token": token})
    login(client, "manager")
    token = csrf(client, url)
    r = client.post(decide, data={"decision": "approve", "evidence": "Budget ok.", "csrf_token": token})
    assert r.status_code == 302
    session.expire_all()
    assert session.get(type(approval), approval.id).status == "approved"


def test_qa_reads_but_does_not_change_tickets(client, pinned, tickets) -> None:  # noqa: ANN001
    login(client, "qa")
    url = f"/console/tickets/{tickets['bud']}"
    assert client.get(url).status_code == 200
    r = client.post(f"{url}/status", data={"status": "acknowledged", "csrf_token": csrf(client, url)})
    assert r.status_code == 403
    assert client.get("/console/reports/helpdesk?quarter=2026Q4").status_code == 200


def test_agent_cannot_open_reports(client, demo) -> None:  # noqa: ANN001
    login(client, "agent1")
    assert client.get("/console/reports/").status_code == 403


def test_new_ticket_form(client, pinned, demo) -> None:  # noqa: ANN001
    login(client, "agent2")
    token = csrf(client, "/console/tickets/new")
    r = client.post("/console/tickets/new", data={"subject": "Fax line noisy", "category": "system",
                                                   "channel": "phone", "company_id": demo.athens.id,
                                                   "reporter_contact_id": demo.nikos.id, "asset_id": demo.pbx.id,
                                                   "csrf_token": token})
    assert r.status_code == 302
    page = client.get(r.location).get_data(as_text=True)
    assert "Fax line noisy" in page and "ATH-PBX-01" in page and "Nikos Papadopoulos" in page
    bad = client.post("/console/tickets/new", data={"subject": "", "category": "system", "channel": "phone",
                                                     "csrf_token": token})
    assert bad.status_code == 400 and "subject is required" in bad.get_data(as_text=True)


def test_language_switch_is_remembered_per_user(client, demo, session) -> None:  # noqa: ANN001
    login(client, "admin")
    assert "Log out" in client.get("/console/queue").get_data(as_text=True)
    token = csrf(client, "/console/queue")
    client.post("/language", data={"lang": "hu", "next": "/console/queue", "csrf_token": token})
    assert "Kijelentkezés" in client.get("/console/queue").get_data(as_text=True)
    client.post("/language", data={"lang": "el", "next": "/console/queue", "csrf_token": token})
    assert "Αποσύνδεση" in client.get("/console/queue").get_data(as_text=True)
    session.expire_all()
    assert demo.staff["admin"].language == "el"


def test_company_and_asset_pages(client, pinned, tickets, demo) -> None:  # noqa: ANN001
    login(client, "eng3")
    page = client.get(f"/console/companies/{demo.athens.id}").get_data(as_text=True)
    assert "24/7 standby PBX support" in page and "Nikos Papadopoulos" in page
    asset = client.get(f"/console/assets/{demo.pbx.id}").get_data(as_text=True)
    assert "DemoTel IPX-500" in asset and "E1/PRI" in asset and "PBX trunk down" in asset


def test_report_downloads(client, pinned, tickets) -> None:  # noqa: ANN001
    login(client, "manager")
    pdf = client.get("/console/reports/quarterly.pdf?company=1&quarter=2026Q4")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert b"Budapest Demo" in client.get("/console/reports/quarterly.csv?company=1&quarter=2026Q4").data
    html = client.get("/console/reports/quarterly?company=1&quarter=2026Q4").get_data(as_text=True)
    assert "<svg" in html
    assert client.get("/console/reports/quarterly?company=1&quarter=2026Q9").status_code == 400
