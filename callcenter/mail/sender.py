"""The one sender of a mail, or a refusal when its From header can be read two ways.

Python 3.11's `parseaddr` (CVE-2023-27043) and the header registry both take the first address-like
word of `anna@customer.example <mallory@elsewhere.example>`, while the MTA's DMARC check and the reader's
mail client take the angle address. Mallory then passes DMARC for her own domain and would be taken
for Anna when Hotline identifies the sender and threads the mail. A From that is not exactly one
well-formed mailbox, or a mail with several From headers, is therefore not read at all: the caller
(parse_message) quarantines it with the reason (nothing is dropped; an operator can look and retry).
"""

from __future__ import annotations

import re
from email.headerregistry import HeaderRegistry
from email.utils import parseaddr


class AmbiguousSender(ValueError):
    """The From header is not exactly one mailbox that every reader reads alike."""


_ATOM = r'[^<>@\s",;:()\\\[\]]+'
# The forms nearly every mail uses, checked without the (slow) header registry: a bare address, or a
# display name (quoted, or without the characters that could hide a second address) and <address>.
_PLAIN = re.compile(rf'\s*(?:(?:"[^"\\\r\n]*"|[^"<>@,;:()\\\r\n]*)<{_ATOM}@{_ATOM}>|{_ATOM}@{_ATOM})\s*')
# `anna@x <anna@x>`: the address written as its own display name (phones, some webmail).
_SELF_NAMED = re.compile(rf'\s*({_ATOM}@{_ATOM})\s*<({_ATOM}@{_ATOM})>\s*')
_registry = HeaderRegistry()


def single_sender(values: list[str]) -> tuple[str, str]:
    """(display name undecoded, address) of the one mailbox in the one From header."""
    if len(values) > 1:
        raise AmbiguousSender(f"{len(values)} From headers: the sender is ambiguous")
    value = values[0] if values else ""
    name, address = parseaddr(value)
    if _PLAIN.fullmatch(value):
        return name, address
    named = _SELF_NAMED.fullmatch(value)
    if named and named[1].lower() == named[2].lower():
        return "", named[2]
    try:
        header = _registry("from", value)
        mailboxes = [a.addr_spec.lower() for a in header.addresses]
        broken = [d for d in header.defects if "Invalid" in type(d).__name__]
    except Exception as exc:  # the registry's parser raises on some malformed values
        raise AmbiguousSender(f"unreadable sender in From {value[:200]!r}: {type(exc).__name__}") from exc
    if len(mailboxes) > 1 or broken or mailboxes != [address.lower()]:
        raise AmbiguousSender(f"ambiguous sender: From {value[:200]!r} can be read as another address than "
                             f"{address[:200]!r}")
    return name, address
