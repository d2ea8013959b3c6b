"""Input checks shared by every edge (API bodies and queries, console forms, webhooks): done once, on the
way in, so a value the database cannot hold is a clear 4xx instead of a driver error and a 500.

What the fuzzer found getting through before: integers past the columns' range, Unicode digits that pass
`str.isdigit()` but not `int()`, NUL bytes (PostgreSQL text never holds them) and lone surrogates
(not encodable as UTF-8), text longer than its column, negative limits.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field
from sqlalchemy import BigInteger, Column, Integer, String, Table, inspect
from sqlalchemy.orm import Session

# INTEGER columns (ids, numbers, minutes) on PostgreSQL; SQLite stores more but must not accept more.
MAX_DB_INT = 2**31 - 1
_ASCII_INT = re.compile(r"-?[0-9]{1,18}")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


class InvalidInput(ValueError):
    """A value from outside that cannot be taken; the message names the field and what is allowed."""


def parse_int(raw: str | None, what: str, *, low: int = 1, high: int = MAX_DB_INT) -> int:
    """ASCII digits only (with an optional minus), within [low, high]."""
    text = (raw or "").strip()
    if not _ASCII_INT.fullmatch(text) or not low <= int(text) <= high:
        raise InvalidInput(f"{what} must be an integer between {low} and {high}")
    return int(text)


def optional_int(raw: str | None, what: str, *, low: int = 1, high: int = MAX_DB_INT) -> int | None:
    """None when absent or empty, else `parse_int`."""
    if raw is None or not raw.strip():
        return None
    return parse_int(raw, what, low=low, high=high)


def int_or_none(raw: str, *, low: int = 1, high: int = MAX_DB_INT) -> int | None:
    """`parse_int` for lenient places (a selection of ids, a search that may be a number): None instead
    of an error."""
    try:
        return parse_int(raw, "value", low=low, high=high)
    except InvalidInput:
        return None


def text_problem(value: str) -> str | None:
    """Why a string cannot be stored as text, or None."""
    if "\x00" in value:
        return "must not contain NUL bytes"
    if not value.isascii() and _SURROGATE.search(value):  # ASCII holds no surrogates: skip the regex
        return "must be valid Unicode (no lone surrogates)"
    return None


def clean_text(value: str | None, what: str, *, max_length: int | None = None, required: bool = False) -> str:
    """The text, refused when it holds what no column can store or is longer than its column."""
    value = value or ""
    problem = text_problem(value)
    if problem:
        raise InvalidInput(f"{what} {problem}")
    if required and not value.strip():
        raise InvalidInput(f"{what} must not be empty")
    if max_length is not None and len(value) > max_length:
        raise InvalidInput(f"{what} must be at most {max_length} characters")
    return value


def _storable(value: str) -> str:
    problem = text_problem(value)
    if problem:
        raise ValueError(f"text {problem}")
    return value


# pydantic field types for request bodies (the OpenAPI document shows their bounds).
StorableText = Annotated[str, AfterValidator(_storable)]
DbInt = Annotated[int, Field(ge=-MAX_DB_INT, le=MAX_DB_INT)]
DbId = Annotated[int, Field(ge=1, le=MAX_DB_INT)]


def refuse_unstorable(session: Session, _flush_context: object, _instances: object) -> None:
    """`before_flush`: the last line behind the edges' own checks, for every writer (views, webhooks,
    workers, CLI): a value its column cannot hold raises InvalidInput (a 400 in a request) instead of
    a driver error, and SQLite, which would store it, refuses it exactly as PostgreSQL does."""
    for obj in (*session.new, *session.dirty):
        state = inspect(obj)
        changed = state.dict.keys() if state.pending else state.committed_state.keys()
        for key in changed:
            value = state.dict.get(key)
            if not isinstance(value, (str, int)):  # nothing to check (None, datetimes, JSON): no call
                continue
            column_attr = state.mapper.column_attrs.get(key)
            if column_attr is not None:
                _check(column_attr.columns[0], value, state.mapper.local_table.name)


def refuse_unstorable_row(table: Table, values: dict) -> None:
    """The same checks for a row written without the unit of work (a Core INSERT of values that may
    come from outside)."""
    for name, value in values.items():
        _check(table.c[name], value, table.name)


def _check(column: Column, value: object, table_name: str) -> None:
    what = f"{table_name}.{column.name}"
    if isinstance(value, str):
        problem = text_problem(value)
        if problem:
            raise InvalidInput(f"{what} {problem}")
        length = getattr(column.type, "length", None)
        if isinstance(column.type, String) and length and len(value) > length:
            raise InvalidInput(f"{what} must be at most {length} characters")
    elif isinstance(value, int) and not isinstance(value, bool) and isinstance(column.type, Integer) \
            and not isinstance(column.type, BigInteger) and not -MAX_DB_INT - 1 <= value <= MAX_DB_INT:
        raise InvalidInput(f"{what} is out of range")
