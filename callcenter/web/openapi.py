"""The OpenAPI 3.1 document of /api/v1/, built from the pydantic schemas so it cannot drift."""

from __future__ import annotations

import copy
import re

from pydantic import BaseModel

from ..validation import MAX_DB_INT
from . import schemas

MODELS: list[type[BaseModel]] = [
    schemas.TicketCreate, schemas.TicketUpdate, schemas.TicketOut, schemas.TicketPage, schemas.EventOut,
    schemas.NoteCreate, schemas.TimeCreate, schemas.LinkCreate, schemas.ApprovalCreate,
    schemas.ApprovalDecision, schemas.ErrorOut,
]
DB_ID = {"type": "integer", "minimum": 1, "maximum": MAX_DB_INT}
EXTRA_PATHS: dict[str, dict] = {}  # other API modules (alerts, calls) register their paths here


def _ref(model: type[BaseModel]) -> dict:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _json(model: type[BaseModel]) -> dict:
    return {"content": {"application/json": {"schema": _ref(model)}}}


def _errors(*codes: int) -> dict:
    return {str(code): {"description": "error", **_json(schemas.ErrorOut)} for code in codes}


HTTP_METHODS = ("get", "put", "post", "delete", "patch")


def _required_roles() -> dict[tuple[str, str], tuple[str, ...]]:
    """(path with `{}` for each parameter, method) -> roles the view's token must hold, from the app's rules."""
    from flask import current_app

    found = {}
    for rule in current_app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        roles = getattr(current_app.view_functions[rule.endpoint], "required_roles", None)
        if roles:
            path = re.sub(r"<[^>]+>", "{}", rule.rule[len("/api/v1"):])
            for method in rule.methods or ():
                found[(path, method.lower())] = roles
    return found


# Stateful links: what a created resource's answer lets a client (and the fuzzer) do next.
OPERATION_IDS = {
    ("/tickets/{number}", "get"): "getTicket", ("/tickets/{number}", "patch"): "updateTicket",
    ("/tickets/{number}/notes", "post"): "addNote", ("/tickets/{number}/time", "post"): "logTime",
    ("/tickets/{number}/links", "post"): "linkTicket", ("/tickets/{number}/approvals", "post"): "requestApproval",
    ("/approvals/{id}/decision", "post"): "decideApproval", ("/alerts/{id}", "get"): "getAlert",
    ("/alerts/{id}", "post"): "actOnAlert",
}
_TICKET = {"number": "$response.body#/number"}
_BY_ID = {"id": "$response.body#/id"}
LINKS = {
    ("/tickets", "post", "201"): {name: {"operationId": op, "parameters": _TICKET} for name, op in [
        ("GetTicket", "getTicket"), ("UpdateTicket", "updateTicket"), ("AddNote", "addNote"), ("LogTime", "logTime"),
        ("LinkTicket", "linkTicket"), ("RequestApproval", "requestApproval")]},
    ("/tickets/{number}/approvals", "post", "201"): {"DecideApproval": {"operationId": "decideApproval",
                                                                        "parameters": _BY_ID}},
    ("/alerts", "post", "201"): {"GetAlert": {"operationId": "getAlert", "parameters": _BY_ID},
                                 "ActOnAlert": {"operationId": "actOnAlert", "parameters": _BY_ID}},
}


def _link(paths: dict) -> None:
    for (path, method), operation_id in OPERATION_IDS.items():
        if method in paths.get(path, {}):
            paths[path][method]["operationId"] = operation_id
    for (path, method, status), links in LINKS.items():
        response = paths.get(path, {}).get(method, {}).get("responses", {}).get(status)
        if response is not None:
            response["links"] = links


def _complete(paths: dict) -> None:
    """Every status code an operation can answer besides its own: the edge's checks answer for all of them.

    400 a malformed query or body (any operation: text with NUL is refused even in unknown parameters),
    401 no valid token, 403 a role the view does not allow, 404 a path id out of range or unknown,
    413 a body over the size limit, 422 a body that does not validate.
    """
    roles = _required_roles()
    for path, item in paths.items():
        for method in HTTP_METHODS:
            op = item.get(method)
            if op is None:
                continue
            codes = [400, 401]
            if "{" in path:
                codes.append(404)
            if "requestBody" in op:
                codes += [413, 422]
            if roles.get((re.sub(r"{[^}]+}", "{}", path), method)):
                codes.append(403)
            responses = op.setdefault("responses", {})
            for code in codes:
                responses.setdefault(str(code), {"description": "error", **_json(schemas.ErrorOut)})


def build_openapi() -> dict:
    components: dict = {}
    for model in MODELS:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, sub in schema.pop("$defs", {}).items():
            components[name] = sub
        components[model.__name__] = schema
    number = {"name": "number", "in": "path", "required": True, "schema": DB_ID}
    per_page = {"type": "integer", "minimum": 1, "maximum": 500}
    paths = {
        "/tickets": {
            "get": {"summary": "List tickets (filters, paging; order=queue for the work queue order)",
                    "parameters": [{"name": n, "in": "query", "schema": t} for n, t in [
                        ("status", {"type": "string"}), ("open", {"type": "boolean"}), ("company", {"type": "string"}),
                        ("company_id", DB_ID), ("category", {"type": "string"}), ("level", {"type": "string"}),
                        ("assignee_id", DB_ID), ("priority", {"type": "string"}), ("asset_id", DB_ID),
                        ("q", {"type": "string"}), ("order", {"type": "string"}), ("page", DB_ID),
                        ("per_page", per_page)]],
                    "responses": {"200": {"description": "a page of tickets", **_json(schemas.TicketPage)},
                                  **_errors(400, 401, 404)}},
            "post": {"summary": "Open a ticket", "requestBody": {"required": True, **_json(schemas.TicketCreate)},
                     "responses": {"201": {"description": "created", **_json(schemas.TicketOut)},
                                   **_errors(400, 401, 403, 422)}},
        },
        "/tickets/{number}": {
            "parameters": [number],
            "get": {"summary": "A ticket with its events, links, approvals and time entries",
                    "responses": {"200": {"description": "the ticket", **_json(schemas.TicketOut)},
                                  **_errors(401, 404)}},
            "patch": {"summary": "Change status, assignee, level (escalation), priority, category or text",
                      "requestBody": {"required": True, **_json(schemas.TicketUpdate)},
                      "responses": {"200": {"description": "the ticket", **_json(schemas.TicketOut)},
                                    **_errors(400, 401, 403, 404, 422)}},
        },
        "/tickets/{number}/notes": {"parameters": [number], "post": {
            "summary": "Add a note", "requestBody": {"required": True, **_json(schemas.NoteCreate)},
            "responses": {"201": {"description": "the event", **_json(schemas.EventOut)}, **_errors(401, 404, 422)}}},
        "/tickets/{number}/time": {"parameters": [number], "post": {
            "summary": "Log time (0.25 h units, rounded up)",
            "requestBody": {"required": True, **_json(schemas.TimeCreate)},
            "responses": {"201": {"description": "logged"}, **_errors(401, 404, 422)}}},
        "/tickets/{number}/links": {"parameters": [number], "post": {
            "summary": "Link to another ticket", "requestBody": {"required": True, **_json(schemas.LinkCreate)},
            "responses": {"201": {"description": "linked"}, **_errors(401, 404, 422)}}},
        "/tickets/{number}/approvals": {"parameters": [number], "post": {
            "summary": "Request an approval for a special request",
            "requestBody": {"required": True, **_json(schemas.ApprovalCreate)},
            "responses": {"201": {"description": "requested"}, **_errors(401, 404, 422)}}},
        "/approvals/{id}/decision": {"parameters": [{"name": "id", "in": "path", "required": True,
                                                    "schema": DB_ID}], "post": {
            "summary": "A manager decides a spare part; staff enter the authorised contact's written decision "
                       "on a permission change or device order (decided_by_contact_id), with its evidence",
            "requestBody": {"required": True, **_json(schemas.ApprovalDecision)},
            "responses": {"200": {"description": "decided"}, **_errors(400, 401, 403, 404, 409, 422)}}},
        "/companies": {"get": {"summary": "Companies with contracts and assets",
                               "responses": {"200": {"description": "companies"}, **_errors(401)}}},
        "/companies/{id}": {"parameters": [{"name": "id", "in": "path", "required": True, "schema": DB_ID}],
                            "get": {"summary": "A company with its contacts",
                                    "responses": {"200": {"description": "company"}, **_errors(401, 404)}}},
        "/contacts": {"get": {"summary": "Contacts (filter by email, company_id)",
                              "parameters": [{"name": "email", "in": "query", "schema": {"type": "string"}},
                                             {"name": "company_id", "in": "query", "schema": DB_ID}],
                              "responses": {"200": {"description": "contacts"}, **_errors(401)}}},
    }
    paths.update(copy.deepcopy(EXTRA_PATHS))
    _complete(paths)
    _link(paths)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Hotline API", "version": "1"},
        "servers": [{"url": "/api/v1"}],
        "components": {"schemas": components,
                       "securitySchemes": {"token": {"type": "http", "scheme": "bearer"}}},
        "security": [{"token": []}],
        "paths": paths,
    }
