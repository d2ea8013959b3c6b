"""Request values checked at the edge, once, for the console, the API and the webhooks alike.

A path `<int:...>` only matches ASCII digits within the database's integer range (404 otherwise);
query and form integers go through `int_arg`; any NUL byte or lone surrogate in the query, a form or
a JSON body is refused before a view runs. `callcenter.validation.InvalidInput` raised anywhere below
a view answers 400 with its message (JSON under /api/). A database that is unreachable, stalled or
not yet upgraded answers 503 with Retry-After.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import HTTPException, ServiceUnavailable
from werkzeug.routing import IntegerConverter

from ..db_unavailable import DATABASE_UNAVAILABLE, RETRY_AFTER_SECONDS
from ..validation import MAX_DB_INT, InvalidInput, optional_int, text_problem
from .errors import error_page

log = logging.getLogger(__name__)


def digits_up_to(limit: int) -> str:
    """A regex of the ASCII digit strings whose value is at most `limit` (leading zeros allowed below its length).

    The range has to be in the regex itself: Werkzeug compares a request's method with a rule whose pattern
    matched before the converter's own check runs, so `PATCH /tickets/99999999999` would answer 405.
    """
    top = str(limit)
    alternatives = [f"[0-9]{{1,{len(top) - 1}}}"] if len(top) > 1 else []
    for i, digit in enumerate(top):
        if digit != "0":
            rest = len(top) - i - 1
            alternatives.append(top[:i] + f"[0-{int(digit) - 1}]" + (f"[0-9]{{{rest}}}" if rest else ""))
    alternatives.append(top)
    return "(?:" + "|".join(alternatives) + ")"


class DbIntConverter(IntegerConverter):
    """`<int:x>`: ASCII digits only (Werkzeug's `\\d` takes any Unicode digit), at most the column's range."""

    regex = digits_up_to(MAX_DB_INT)

    def __init__(self, map, fixed_digits: int = 0, min: int | None = None,  # noqa: A002, ANN001
                 max: int | None = MAX_DB_INT, signed: bool = False) -> None:  # noqa: A002
        bound = MAX_DB_INT if max is None or max > MAX_DB_INT else max
        super().__init__(map, fixed_digits, min, bound, signed)


def int_arg(name: str, default: int | None = None, *, low: int = 1, high: int = MAX_DB_INT) -> int | None:
    """An integer query (or form) parameter, `default` when absent or empty; 400 when malformed."""
    value = optional_int(request.values.get(name), f"parameter {name}", low=low, high=high)
    return default if value is None else value


def _walk_strings(value: object):  # noqa: ANN202
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _walk_strings(k)
            yield from _walk_strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _walk_strings(v)


def _refuse_unstorable_text() -> None:
    sources = [request.args.items(multi=True)]
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        sources.append(request.form.items(multi=True))
    for items in sources:
        for key, value in items:
            problem = text_problem(key) or text_problem(value)
            if problem:
                raise InvalidInput(f"parameter {key[:40]!r}: text {problem}")
    if request.is_json:
        for text in _walk_strings(request.get_json(silent=True)):
            problem = text_problem(text)
            if problem:
                raise InvalidInput(f"the body's text {problem}")


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def _plain() -> bool:
    """The voice webhooks answer machines, not people: they keep Werkzeug's plain error answers."""
    return request.path.startswith("/twilio/")


class BoundedJSONProvider(DefaultJSONProvider):
    """Flask's JSON, where a body nested deeper than the decoder can follow is malformed JSON like any
    other (a ValueError: 400, or None for get_json(silent=True)) instead of a RecursionError that
    escapes every handler as a 500. The limit is the interpreter's own: no legitimate body comes near."""

    def loads(self, s: str | bytes, **kwargs: object) -> object:
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("the JSON is nested too deeply") from None


def init_params(app: Flask) -> None:
    """Call before any blueprint is registered: the `int` converter is looked up when rules are added."""
    app.json = BoundedJSONProvider(app)
    app.url_map.converters["int"] = DbIntConverter
    app.before_request(_refuse_unstorable_text)

    @app.errorhandler(InvalidInput)
    def _invalid_input(exc: InvalidInput) -> tuple[Response, int] | tuple[str, int, dict]:
        if _wants_json():
            return jsonify(error=str(exc), details=None), 400
        if _plain():
            return str(exc), 400, {"Content-Type": "text/plain; charset=utf-8"}
        return error_page(400, str(exc))

    def _database_unavailable(exc: Exception):  # noqa: ANN202
        """The database did not answer in time, refused the connection or is being upgraded: the request
        changed nothing (its unit of work rolls back), and trying again shortly is the right thing to do,
        so the answer says so (503 and Retry-After) rather than "something went wrong on our side"."""
        log.warning("%s %s: the database is unavailable (%s: %s)", request.method, request.path,
                    type(exc).__name__, str(exc).splitlines()[0][:300] if str(exc) else "")
        return _http_error(ServiceUnavailable("The database is unavailable; try again in a moment.",
                                              retry_after=RETRY_AFTER_SECONDS))

    for unavailable in DATABASE_UNAVAILABLE:  # one definition for every adapter
        app.register_error_handler(unavailable, _database_unavailable)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):  # noqa: ANN202
        """JSON under /api/ (routing errors too: 404, and 405 with its `Allow` header); HTML elsewhere."""
        if not _wants_json():
            if _plain() or (exc.code or 500) < 400:
                return exc
            # The console's own page (menu, language, a way back); a description given to abort() is shown.
            custom = exc.description if exc.description != type(exc).description else None
            body, code = error_page(exc.code or 500, custom)
            response = Response(body, status=code, mimetype="text/html")
            for name, value in exc.get_headers():
                if name.lower() != "content-type":
                    response.headers[name] = value
            return response
        response = jsonify(error=exc.description or exc.name, details=None)
        response.status_code = exc.code or 500
        for name, value in exc.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response
