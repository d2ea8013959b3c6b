"""The OpenAPI 3.1 document of /api/v1/, built from the pydantic schemas so it cannot drift."""

from __future__ import annotations

from pydantic import BaseModel

from . import schemas

MODELS: list[type[BaseModel]] = [
    schemas.TicketCreate, schemas.TicketUpdate, schemas.TicketOut, schemas.TicketPage, schemas.EventOut,
    schemas.NoteCreate, schemas.TimeCreate, schemas.LinkCreate, schemas.ApprovalCreate,
    schemas.ApprovalDecision, schemas.ErrorOut,
]
EXTRA_PATHS: dict[str, dict] = {}  # other API modules (alerts, calls) register their paths here


def _ref(model: type[BaseModel]) -> dict:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _json(model: type[BaseModel]) -> dict:
    return {"content": {"application/json": {"schema": _ref(model)}}}


def _errors(*codes: int) -> dict:
    return {str(code): {"description": "error", **_json(schemas.ErrorOut)} for code in codes}


def build_openapi() -> dict:
    components: dict = {}
    for model in MODELS:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, sub in schema.pop("$defs", {}).items():
            components[name] = sub
        components[model.__name__] = schema
    number = {"name": "number", "in": "path", "required": True, "schema": {"type": "integer"}}
    paths = {
        "/tickets": {
            "get": {"summary": "List tickets (filters, paging; order=queue for the work queue order)",
                    "parameters": [{"name": n, "in": "query", "schema": {"type": t}} for n, t in [
                        ("status", "string"), ("open", "boolean"), ("company", "string"), ("company_id", "integer"),
                        ("category", "string"), ("level", "string"), ("assignee_id", "integer"),
                        ("priority", "string"), ("asset_id", "integer"), ("q", "string"), ("order", "string"),
                        ("page", "integer"), ("per_page", "integer")]],
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
                                                    "schema": {"type": "integer"}}], "post": {
            "summary": "A manager decides a spare part; staff enter the authorised contact's written decision "
                       "on a permission change or device order (decided_by_contact_id), with its evidence",
            "requestBody": {"required": True, **_json(schemas.ApprovalDecision)},
            "responses": {"200": {"description": "decided"}, **_errors(400, 401, 403, 404, 409, 422)}}},
        "/companies": {"get": {"summary": "Companies with contracts and assets",
                               "responses": {"200": {"description": "companies"}, **_errors(401)}}},
        "/companies/{id}": {"parameters": [{"name": "id", "in": "path", "required": True,
                                            "schema": {"type": "integer"}}],
                            "get": {"summary": "A company with its contacts",
                                    "responses": {"200": {"description": "company"}, **_errors(401, 404)}}},
        "/contacts": {"get": {"summary": "Contacts (filter by email, company_id)",
                              "parameters": [{"name": "email", "in": "query", "schema": {"type": "string"}},
                                             {"name": "company_id", "in": "query", "schema": {"type": "integer"}}],
                              "responses": {"200": {"description": "contacts"}, **_errors(401)}}},
    }
    paths.update(EXTRA_PATHS)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Hotline API", "version": "1"},
        "servers": [{"url": "/api/v1"}],
        "components": {"schemas": components,
                       "securitySchemes": {"token": {"type": "http", "scheme": "bearer"}}},
        "security": [{"token": []}],
        "paths": paths,
    }
