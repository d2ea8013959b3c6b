"""Staff read access to the mail quarantine and the triage queue: /api/v1/mail/..."""

from __future__ import annotations

import base64

from flask import Blueprint, jsonify
from sqlalchemy import select

from ..models import InboundMail, InboundStatus, Ticket
from .api import ApiError, json_errors, token_required
from .db import db_session
from .openapi import DB_ID, EXTRA_PATHS
from .params import int_arg

mail_api = Blueprint("mail_api", __name__, url_prefix="/api/v1/mail")


json_errors(mail_api)


def inbound_json(row: InboundMail, raw: bool = False) -> dict:
    data = {"id": row.id, "mailbox": row.mailbox, "message_id": row.message_id, "source": row.source,
            "received_at": row.received_at.isoformat(), "status": row.status, "reason": row.reason,
            "from": row.from_address, "subject": row.subject, "size": row.size, "triage": row.triage,
            "auto_reply_suppressed": row.auto_reply_suppressed, "ticket": None}
    if row.ticket_id:
        ticket = db_session().get(Ticket, row.ticket_id)
        data["ticket"] = ticket.number if ticket else None
    if raw:
        data["raw_base64"] = base64.b64encode(row.raw).decode()
    return data


def _limit() -> int:
    return int_arg("limit", 100, high=1000)


@mail_api.get("/quarantine")
@token_required()
def list_quarantine():  # noqa: ANN201
    rows = db_session().scalars(select(InboundMail).where(InboundMail.status == InboundStatus.QUARANTINED)
                                .order_by(InboundMail.received_at.desc(), InboundMail.id.desc()).limit(_limit()))
    return jsonify(items=[inbound_json(r) for r in rows])


@mail_api.get("/quarantine/<int:inbound_id>")
@token_required()
def show_quarantine(inbound_id: int):  # noqa: ANN201
    row = db_session().get(InboundMail, inbound_id)
    if row is None or row.status != InboundStatus.QUARANTINED:
        raise ApiError(404, f"no quarantined mail {inbound_id}")
    return jsonify(inbound_json(row, raw=True))


@mail_api.get("/triage")
@token_required()
def list_triage():  # noqa: ANN201
    rows = db_session().scalars(select(InboundMail).where(InboundMail.triage.is_not(None))
                                .order_by(InboundMail.received_at.desc(), InboundMail.id.desc()).limit(_limit()))
    return jsonify(items=[inbound_json(r) for r in rows])


_LIST = {"parameters": [{"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}}],
         "responses": {"200": {"description": "items"}, "401": {"description": "no token"}}}
EXTRA_PATHS.update({
    "/mail/quarantine": {"get": {"summary": "Mail that could not be parsed, with the reason", **_LIST}},
    "/mail/quarantine/{inbound_id}": {"get": {
        "summary": "One quarantined mail with its raw bytes (base64)",
        "parameters": [{"name": "inbound_id", "in": "path", "required": True, "schema": DB_ID}],
        "responses": {"200": {"description": "the mail"}, "404": {"description": "not quarantined"}}}},
    "/mail/triage": {"get": {"summary": "Mail from unknown senders (triage) or non-contracted companies (sales)",
                             **_LIST}},
})
