"""The alerts JSON API: raise with dedup, list, read with the audit trail, acknowledge/escalate/resolve."""

from __future__ import annotations


def test_alert_api_round_trip(client, api_token, demo):
    headers = api_token("eng2")
    body = {"summary": "ATH-PBX-01 unreachable", "details": "ping loss 100%", "severity": "critical",
            "dedup_key": "pbx:ATH-PBX-01", "escalation_policy": "Default", "customer": "Athens Demo A.E."}
    first = client.post("/api/v1/alerts", json=body, headers=headers)
    assert first.status_code == 201, first.json
    alert = first.json
    assert alert["status"] == "triggered" and alert["deduplicated"] is False and alert["escalation_policy"] == "Default"
    again = client.post("/api/v1/alerts", json=body, headers=headers)
    assert again.status_code == 200 and again.json["id"] == alert["id"] and again.json["deduplicated"] is True

    listed = client.get("/api/v1/alerts?status=open", headers=headers).json["items"]
    assert [a["id"] for a in listed] == [alert["id"]]
    full = client.get(f"/api/v1/alerts/{alert['id']}", headers=headers).json
    assert [e["kind"] for e in full["events"]][:3] == ["raised", "step", "notify"]
    assert "deduplicated" in [e["kind"] for e in full["events"]]
    assert full["notifications"][0]["channel"] == "sms" and full["notifications"][0]["state"] == "pending"

    ack = client.post(f"/api/v1/alerts/{alert['id']}", json={"action": "acknowledge"}, headers=headers)
    assert ack.status_code == 200 and ack.json["acknowledged_by"] == "Tóth Gábor" and ack.json["ack_channel"] == "api"
    assert client.post(f"/api/v1/alerts/{alert['id']}", json={"action": "acknowledge"},
                       headers=headers).status_code == 409
    esc = client.post(f"/api/v1/alerts/{alert['id']}", json={"action": "escalate"}, headers=headers)
    assert esc.status_code == 200 and esc.json["status"] == "triggered" and esc.json["step"] == 2
    res = client.post(f"/api/v1/alerts/{alert['id']}", json={"action": "resolve", "note": "fixed"}, headers=headers)
    assert res.status_code == 200 and res.json["status"] == "resolved"
    assert client.get("/api/v1/alerts?status=open", headers=headers).json["items"] == []


def test_alert_api_rejects_bad_input(client, api_token, demo):
    headers = api_token()
    assert client.post("/api/v1/alerts", json={"summary": "x"}).status_code == 401
    bad = client.post("/api/v1/alerts", json={"summary": "", "severity": "doom"}, headers=headers)
    assert bad.status_code == 422 and {d["field"] for d in bad.json["details"]} >= {"summary", "severity"}
    nopolicy = client.post("/api/v1/alerts", json={"summary": "x", "escalation_policy": "Nope"}, headers=headers)
    assert nopolicy.status_code == 422 and "Nope" in nopolicy.json["error"]
    assert client.get("/api/v1/alerts/999", headers=headers).status_code == 404
    assert client.get("/api/v1/alerts?status=weird", headers=headers).status_code == 400
    assert client.post("/api/v1/alerts/1", json={"action": "dance"}, headers=headers).status_code in (404, 422)


def test_oncall_endpoints_and_openapi(client, api_token, demo):
    headers = api_token()
    now = client.get("/api/v1/oncall", headers=headers).json
    assert now["items"][0]["rotation"] == "Primary on-call" and now["items"][0]["staff"]["username"] in {"eng2", "eng3"}
    sched = client.get("/api/v1/rotations/Primary%20on-call/schedule?weeks=3", headers=headers).json
    assert 3 <= len(sched["items"]) <= 4
    assert client.get("/api/v1/rotations/nope/schedule", headers=headers).status_code == 404
    paths = client.get("/api/v1/openapi.json").json["paths"]
    assert {"/alerts", "/alerts/{id}", "/oncall", "/rotations/{rotation}/schedule"} <= set(paths)
