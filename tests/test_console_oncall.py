"""The on-call page: who is on call, overrides, open alerts with their trail and the three buttons."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from test_console import csrf, login

from callcenter import tickets as svc
from callcenter.models import Alert, AlertStatus, EscalationPolicy, OutboxMessage, Rotation
from callcenter.paging import alerts
from callcenter.scheduler import Ticker


@pytest.fixture
def pinned(app, now):  # noqa: ANN001, ANN201
    app.config["CLOCK"] = lambda: now
    return app


@pytest.fixture
def alert_id(session, demo, now):  # noqa: ANN001, ANN201
    t = svc.create_ticket(session, svc.NewTicket(subject="PBX trunk down", channel="phone", category="infrastructure",
                                                 reporter_contact_id=demo.nikos.id), now=now)
    policy = session.scalar(select(EscalationPolicy).where(EscalationPolicy.name == "Default"))
    alert, _ = alerts.raise_alert(session, source="api", dedup_key="console-test", summary="PBX trunk down",
                                  policy=policy, ticket=t, now=now)
    session.commit()
    return alert.id


def test_oncall_page_shows_who_and_open_alerts(client, pinned, alert_id, session):  # noqa: ANN001
    login(client, "agent1")
    page = client.get("/console/oncall").get_data(as_text=True)
    rotation = session.scalar(select(Rotation))
    assert rotation.name in page and "PBX trunk down" in page
    assert f'id="acknowledge-{alert_id}"' in page
    assert "Add an override" not in page  # agents do not edit the rota
    data = client.get("/console/alerts.json").get_json()
    assert [a["id"] for a in data["items"]] == [alert_id] and data["items"][0]["status"] == "triggered"


def test_acknowledge_escalate_resolve_from_the_console(client, pinned, alert_id, session, settings, engine, now):  # noqa: ANN001
    Ticker(settings, engine, clock=lambda: now).tick()  # the first page goes out (console provider)
    login(client, "eng2")
    detail = client.get(f"/console/alerts/{alert_id}").get_data(as_text=True)
    assert 'id="deliveries"' in detail and "SMS" in detail and "Kézbesítések" in detail  # eng2 reads Hungarian
    token = csrf(client, f"/console/alerts/{alert_id}")
    assert client.post(f"/console/alerts/{alert_id}/acknowledge", data={}).status_code == 400  # CSRF
    r = client.post(f"/console/alerts/{alert_id}/acknowledge", data={"csrf_token": token})
    assert r.status_code == 302
    session.expire_all()
    alert = session.get(Alert, alert_id)
    assert alert.status == AlertStatus.ACKNOWLEDGED and alert.ack_channel == "web"
    assert alert.acknowledged_by.username == "eng2"
    client.post(f"/console/alerts/{alert_id}/escalate", data={"csrf_token": token})
    session.expire_all()
    assert session.get(Alert, alert_id).status == AlertStatus.TRIGGERED
    client.post(f"/console/alerts/{alert_id}/resolve", data={"csrf_token": token})
    session.expire_all()
    assert session.get(Alert, alert_id).status == AlertStatus.RESOLVED
    assert client.get("/console/alerts.json").get_json()["items"] == []
    kinds = [e.kind for e in session.get(Alert, alert_id).events]
    assert "acknowledged" in kinds and "resolved" in kinds
    assert session.scalar(select(OutboxMessage).where(OutboxMessage.channel == "sms")) is not None


def test_manager_adds_override_and_it_takes_effect(client, pinned, session, demo, now):  # noqa: ANN001
    login(client, "manager")
    rotation = session.scalar(select(Rotation))
    token = csrf(client, "/console/oncall")
    start = (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    end = (now + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    manager = demo.staff["manager"]
    r = client.post(f"/console/oncall/{rotation.id}/override", data={
        "csrf_token": token, "staff_id": manager.id, "start": start, "end": end, "reason": "covering"})
    assert r.status_code == 302
    page = client.get("/console/oncall").get_data(as_text=True)
    assert f'id="oncall-now-{rotation.id}">{manager.name}<' in page
    bad = client.post(f"/console/oncall/{rotation.id}/override", data={
        "csrf_token": token, "staff_id": manager.id, "start": end, "end": start}, follow_redirects=True)
    assert "A helyettesítés nem mentődött" in bad.get_data(as_text=True)  # the manager reads Hungarian


def test_customers_and_agents_limits(client, pinned, alert_id, session):  # noqa: ANN001
    login(client, "anna@budapest-demo.example")
    assert client.get("/console/oncall").status_code == 403
    assert client.get(f"/console/alerts/{alert_id}").status_code == 403
    assert client.get("/console/alerts.json").status_code == 403
    client.post("/logout", data={"csrf_token": csrf(client, "/portal/")})
    login(client, "agent1")
    rotation = session.scalar(select(Rotation))
    r = client.post(f"/console/oncall/{rotation.id}/override",
                    data={"csrf_token": csrf(client, "/console/oncall"), "staff_id": 1, "start": "x", "end": "y"})
    assert r.status_code == 403
