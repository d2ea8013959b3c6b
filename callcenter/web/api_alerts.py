"""Alerts and on-call JSON API under /api/v1/ (PagerDuty events-API style raise with a dedup key)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Literal

from flask import Blueprint, g, jsonify, request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from .. import outbox
from ..models import Alert, OutboxMessage, Page, Rotation, StaffUser
from ..paging import alerts as svc
from ..paging import notify
from ..paging.policies import find_policy
from ..paging.rotations import RotationError, find_rotation, schedule, who_is_on_call
from ..paging.sources import default_policy
from ..tickets import TicketNotFound, get_ticket
from ..validation import DbId
from .api import ApiError, json_errors, now_utc, parse_body, token_required
from .db import db_session
from .openapi import DB_ID, EXTRA_PATHS
from .params import int_arg

alerts_api = Blueprint("alerts_api", __name__, url_prefix="/api/v1")


class AlertCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    summary: str = Field(min_length=1, max_length=300)
    details: str = Field(default="", max_length=20_000)
    severity: Literal["critical", "high", "low", "info"] = "critical"
    dedup_key: str | None = Field(default=None, max_length=200,
                                  description="one open alert per key; omitted = a new alert every time")
    escalation_policy: DbId | Annotated[str, Field(max_length=200)] | None = Field(
        default=None, description="policy name or id; default 'Default'")
    ticket: DbId | None = Field(default=None, description="ticket number the alert is about")
    customer: str | None = Field(default=None, max_length=200)


class AlertAction(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: Literal["acknowledge", "escalate", "resolve"]
    note: str | None = Field(default=None, max_length=2000)


json_errors(alerts_api)


def _iso(value):  # noqa: ANN001, ANN202
    return value.isoformat() if value else None


def alert_json(alert: Alert, full: bool = False) -> dict:
    data = {"id": alert.id, "reference": alert.reference, "source": alert.source, "dedup_key": alert.dedup_key,
            "summary": alert.summary, "details": alert.details, "severity": alert.severity, "status": alert.status,
            "ticket": alert.ticket_number, "customer": alert.customer,
            "escalation_policy": (alert.policy_snapshot or {}).get("name"), "loop": alert.loop + 1,
            "step": alert.step + 1, "unreached": alert.unreached, "created_at": _iso(alert.created_at),
            "acknowledged_at": _iso(alert.acknowledged_at),
            "acknowledged_by": alert.acknowledged_by.name if alert.acknowledged_by else None,
            "ack_channel": alert.ack_channel, "resolved_at": _iso(alert.resolved_at)}
    if full:
        session = db_session()
        data["events"] = [{"at": _iso(e.at), "kind": e.kind, "staff_id": e.staff_id, "channel": e.channel,
                           "detail": e.detail} for e in alert.events]
        pages = list(session.scalars(select(Page).where(Page.alert_id == alert.id).order_by(Page.id)))
        msgs = list(session.scalars(select(OutboxMessage).where(
            OutboxMessage.source_kind == notify.SOURCE_KIND, OutboxMessage.source_id.in_([p.id for p in pages]))
            .order_by(OutboxMessage.id))) if pages else []
        by_page = {p.id: p for p in pages}
        trail = outbox.trail(session, [m.id for m in msgs])
        data["notifications"] = [
            {"id": m.id, "staff": by_page[m.source_id].staff.name, "step": by_page[m.source_id].step + 1,
             "loop": by_page[m.source_id].loop + 1, "channel": m.channel, "to": m.destination, "state": m.state,
             "provider_status": m.provider_status, "provider_ref": m.provider_ref, "error_code": m.error_code,
             "attempts": [{"at": _iso(a.at), "kind": a.kind, "outcome": a.outcome, "detail": a.detail}
                          for a in trail if a.message_id == m.id]}
            for m in msgs]
    return data


def _load(alert_id: int) -> Alert:
    try:
        return svc.get_alert(db_session(), alert_id)
    except svc.AlertNotFound as exc:
        raise ApiError(404, str(exc)) from None


@alerts_api.post("/alerts")
@token_required()
def raise_alert():  # noqa: ANN201
    body = parse_body(AlertCreate)
    session = db_session()
    policy = find_policy(session, body.escalation_policy) if body.escalation_policy is not None \
        else default_policy(session)
    if body.escalation_policy is not None and policy is None:
        raise ApiError(422, f"no escalation policy {body.escalation_policy!r}")
    ticket = None
    if body.ticket is not None:
        try:
            ticket = get_ticket(session, body.ticket)
        except TicketNotFound as exc:
            raise ApiError(422, str(exc)) from None
    dedup_key = body.dedup_key or f"api-{uuid.uuid4().hex}"
    try:
        alert, created = svc.raise_alert(session, source="api", dedup_key=dedup_key, summary=body.summary,
                                         details=body.details, severity=body.severity, policy=policy, ticket=ticket,
                                         customer=body.customer, now=now_utc())
        session.commit()
    except svc.AlertError as exc:
        raise ApiError(422, str(exc)) from None
    data = alert_json(alert)
    data["deduplicated"] = not created
    return jsonify(data), 201 if created else 200, {"Location": f"/api/v1/alerts/{alert.id}"}


@alerts_api.get("/alerts")
@token_required()
def list_alerts():  # noqa: ANN201
    try:
        rows = svc.list_alerts(db_session(), status=request.args.get("status") or None,
                               limit=int_arg("limit", 100, high=500))
    except svc.AlertError as exc:
        raise ApiError(400, str(exc)) from None
    return jsonify(items=[alert_json(a) for a in rows])


@alerts_api.get("/alerts/<int:alert_id>")
@token_required()
def show_alert(alert_id: int):  # noqa: ANN201
    return jsonify(alert_json(_load(alert_id), full=True))


@alerts_api.post("/alerts/<int:alert_id>")
@token_required()
def act_on_alert(alert_id: int):  # noqa: ANN201
    body = parse_body(AlertAction)
    session = db_session()
    alert = _load(alert_id)
    user: StaffUser = g.api_user
    now = now_utc()
    try:
        if body.action == "acknowledge":
            done = svc.acknowledge(session, alert, staff=user, channel="api", now=now)
        elif body.action == "escalate":
            done = svc.escalate_now(session, alert, staff=user, channel="api", now=now)
        else:
            done = svc.resolve(session, alert, staff=user, channel="api", now=now, note=body.note)
    except svc.AlertForbidden as exc:
        raise ApiError(403, str(exc)) from None
    session.commit()
    if not done:
        raise ApiError(409, f"cannot {body.action} alert {alert.id}: it is {alert.status}")
    return jsonify(alert_json(alert))


@alerts_api.get("/oncall")
@token_required()
def oncall_now():  # noqa: ANN201
    session, now = db_session(), now_utc()
    items = []
    for rotation in session.scalars(select(Rotation).order_by(Rotation.name)):
        person = who_is_on_call(session, rotation, now)
        items.append({"rotation": rotation.name, "id": rotation.id, "timezone": rotation.timezone,
                      "staff": {"id": person.id, "name": person.name, "username": person.username,
                                "phone": person.phone} if person else None})
    return jsonify(at=now.isoformat(), items=items)


@alerts_api.get("/rotations/<rotation>/schedule")
@token_required()
def rotation_schedule(rotation: str):  # noqa: ANN201
    session, now = db_session(), now_utc()
    weeks = int_arg("weeks", 2, high=52)
    try:
        rot = find_rotation(session, rotation)
    except RotationError as exc:
        raise ApiError(404, str(exc)) from None
    names = {u.id: u.name for u in session.scalars(select(StaffUser))}
    shifts = schedule(rot, now, now + timedelta(weeks=weeks))
    return jsonify(rotation=rot.name, items=[{"start": _iso(s.start), "end": _iso(s.end), "staff_id": s.staff_id,
                                              "staff": names.get(s.staff_id), "override": s.override}
                                             for s in shifts])


_alert_id = {"name": "id", "in": "path", "required": True, "schema": DB_ID}
EXTRA_PATHS.update({
    "/alerts": {
        "get": {"summary": "Alerts, newest first (status=open|triggered|acknowledged|resolved)",
                "parameters": [{"name": "status", "in": "query", "schema": {"type": "string"}},
                               {"name": "limit", "in": "query",
                                "schema": {"type": "integer", "minimum": 1, "maximum": 500}}],
                "responses": {"200": {"description": "alerts"}, "400": {"description": "bad filter"}}},
        "post": {"summary": "Raise an alert and page (one open alert per dedup_key: a repeat returns it, 200)",
                 "requestBody": {"required": True, "content": {"application/json": {
                     "schema": AlertCreate.model_json_schema()}}},
                 "responses": {"201": {"description": "raised"}, "200": {"description": "deduplicated"},
                               "401": {"description": "no token"}, "422": {"description": "invalid"}}},
    },
    "/alerts/{id}": {
        "parameters": [_alert_id],
        "get": {"summary": "An alert with its audit trail and notifications",
                "responses": {"200": {"description": "the alert"}, "404": {"description": "no such alert"}}},
        "post": {"summary": "Acknowledge, escalate now or resolve",
                 "requestBody": {"required": True, "content": {"application/json": {
                     "schema": AlertAction.model_json_schema()}}},
                 "responses": {"200": {"description": "done"}, "404": {"description": "no such alert"},
                               "403": {"description": "the caller may not act on this alert (not paged for it, "
                                                      "not on its policy, not an engineer or manager)"},
                               "409": {"description": "not possible in the alert's state"}}},
    },
    "/oncall": {"get": {"summary": "Who is on call now, per rotation",
                        "responses": {"200": {"description": "on call"}}}},
    "/rotations/{rotation}/schedule": {
        "parameters": [{"name": "rotation", "in": "path", "required": True, "schema": {"type": "string"}}],
        "get": {"summary": "Who is on call for the next N weeks (weeks=2), overrides included",
                "parameters": [{"name": "weeks", "in": "query",
                                "schema": {"type": "integer", "minimum": 1, "maximum": 52}}],
                "responses": {"200": {"description": "shifts"}, "404": {"description": "no such rotation"}}}},
})
