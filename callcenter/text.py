"""Text that crosses a trust boundary: what may be stored, put in a mail header, or mailed to.

Shared by every intake (mail, API, console, webhooks), so each edge cleans text the same way:
- PostgreSQL refuses NUL in text columns ("A string literal cannot contain NUL"), SQLite keeps it
  and breaks the next program that reads the row: stored text never carries NUL.
- A mail header built from stored text (a ticket subject, an inbound Message-ID) must not carry CR or
  LF: Python's email package raises on it, and a raw header would let the text add headers.
- A recipient is exactly one address: "anna@a.example, victim@b.example" must not mail both.
"""

from __future__ import annotations

import re

_NUL = "\x00"
# C0 and C1 controls other than TAB, and the Unicode line and paragraph separators that
# str.splitlines() also treats as line ends.
_HEADER_BREAKS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]+")


def strip_nul(value: str) -> str:
    """The text without NUL characters (the only code point PostgreSQL text cannot store)."""
    return value.replace(_NUL, "") if _NUL in value else value


def strip_nul_or_none(value: str | None) -> str | None:
    return None if value is None else strip_nul(value)


def header_value(value: str) -> str:
    """Text made safe for one mail header line: each run of line breaks and other control characters
    becomes one space (other spaces are kept as they are)."""
    return _HEADER_BREAKS.sub(" ", value).strip()


# One addr-spec: a dot-atom local part (RFC 5322, with RFC 6531 non-ASCII letters) and a domain of
# at least two labels. No display names, comments, quotes, lists or group syntax.
_ATOM = r"[^\s@<>()\[\],;:\"\\.]+"
_ADDRESS = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@{_ATOM}(?:\.{_ATOM})+")
_DOMAIN_LABEL = re.compile(r"^(?!-)[^\s@<>()\[\],;:\"\\.!#$%&'*+/=?^`{|}~]+(?<!-)$")


class InvalidAddress(ValueError):
    """Not exactly one e-mail address; the text says why."""


def email_address(value: str) -> str:
    """The one e-mail address in `value` (trimmed, domain in lower case), or InvalidAddress."""
    text = (value or "").strip()
    if not text:
        raise InvalidAddress("an e-mail address is required")
    if len(text) > 254:
        raise InvalidAddress("an e-mail address has at most 254 characters")
    if not _ADDRESS.fullmatch(text):
        raise InvalidAddress(f"{text!r} is not exactly one e-mail address (name@example.com)")
    local, domain = text.rsplit("@", 1)
    if len(local) > 64:
        raise InvalidAddress("the part before @ has at most 64 characters")
    if not all(_DOMAIN_LABEL.match(label) and len(label) <= 63 for label in domain.split(".")):
        raise InvalidAddress(f"{domain!r} is not a mail domain")
    return f"{local}@{domain.lower()}"


def is_email_address(value: str | None) -> bool:
    try:
        email_address(value or "")
    except InvalidAddress:
        return False
    return True
