"""Who may act on an alert: one rule (paging.permissions.may_act) in the service, so the API, the
console, the CLI and the phone all refuse the same people (issue 15 item 8)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from test_console import csrf, login

from callcenter.models import Alert, AlertStatus, EscalationPolicy, Rotation, StaffUser
from callcenter.paging import alerts
from callcenter.paging.permissions import may_act
from callcenter.paging.policies import create_policy
from callcenter.paging.rotations import add_override


def _staff(session, username: str) -> StaffUser:  # noqa: ANN001
    return session.scalar(select(StaffUser).where(StaffUser.username == username))


@pytest.fixture
def alert_id(session, demo, now):  # noqa: ANN001, ANN201
    policy = session.scalar(select(EscalationPolicy).where(EscalationPolicy.name == "Default"))
    rotation = session.scalar(select(Rotation))
    add_override(session, rotation, _staff(session, "eng2"), now - timedelta(hours=1), now + timedelta(days=1),
                 now=now, reason="test")
    alert, _ = alerts.raise_alert(session, source="api", dedup_key="perm", summary="PBX trunk down", policy=policy,
                                  now=now)
    session.commit()
    return alert.id


def test_the_rule(session, demo, alert_id, now):  # noqa: ANN001
    alert = session.get(Alert, alert_id)
    allowed = {u: may_act(session, alert, _staff(session, u), now)
               for u in ("admin", "agent1", "agent2", "eng2", "eng3", "manager", "qa")}
    assert allowed == {"admin": True, "agent1": False, "agent2": False, "eng2": True, "eng3": True,
                       "manager": True, "qa": False}
    assert may_act(session, alert, None, now)  # the system (timers, a caller who hung up)


def test_an_agent_on_the_policy_or_paged_may_act_qa_never(session, demo, now):  # noqa: ANN001
    agent, qa = _staff(session, "agent1"), _staff(session, "qa")
    policy = create_policy(session, name="Help desk first", now=now, steps=[
        {"delay_minutes": 5, "targets": [{"kind": "level", "level": "L1"}]},
        {"delay_minutes": 5, "targets": [{"kind": "staff", "id": qa.id}]},
    ])
    alert, _ = alerts.raise_alert(session, source="api", dedup_key="l1", summary="Queue full", policy=policy, now=now)
    session.flush()
    assert may_act(session, alert, agent, now)  # paged at step 1 (the L1 level)
    assert not may_act(session, alert, qa, now)  # named on the policy, yet a quality reviewer only reads
    with pytest.raises(alerts.AlertForbidden):
        alerts.resolve(session, alert, staff=qa, channel="api", now=now)
    assert alert.status == AlertStatus.TRIGGERED
    agent.active = False
    assert not may_act(session, alert, agent, now)


def test_api_refuses_an_agent_with_403_and_changes_nothing(client, api_token, session, alert_id):  # noqa: ANN001
    for user, action in (("agent1", "acknowledge"), ("qa", "resolve"), ("agent2", "escalate")):
        r = client.post(f"/api/v1/alerts/{alert_id}", json={"action": action}, headers=api_token(user))
        assert r.status_code == 403 and "may not act" in r.json["error"]
    session.expire_all()
    alert = session.get(Alert, alert_id)
    assert (alert.status, [e.kind for e in alert.events]) == (AlertStatus.TRIGGERED, ["raised", "step", "notify"])
    r = client.post(f"/api/v1/alerts/{alert_id}", json={"action": "acknowledge"}, headers=api_token("eng3"))
    assert r.status_code == 200 and r.json["status"] == "acknowledged"


def test_console_refuses_qa_with_403_and_changes_nothing(client, app, session, alert_id, now):  # noqa: ANN001
    app.config["CLOCK"] = lambda: now
    login(client, "qa")
    token = csrf(client, f"/console/alerts/{alert_id}")
    assert client.post(f"/console/alerts/{alert_id}/resolve", data={"csrf_token": token}).status_code == 403
    session.expire_all()
    assert session.get(Alert, alert_id).status == AlertStatus.TRIGGERED
