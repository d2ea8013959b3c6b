"""RFC 822 parsing: RFC 2047 headers, charsets, MIME defects, attachments (size limit and
content-type allow list).

The standard library's compat32 policy does the parsing: the modern policy re-parses a header through
its registry on every access (the parser itself asks for each part's Content-Type several times),
which cost more than half of the parse. Only what people read is decoded: the subject, the sender's
name, attachment names and the text parts.

A message we cannot read reliably raises MailParseError with the reason; the caller quarantines
it with its raw bytes instead of guessing.
"""

from __future__ import annotations

import codecs
import hashlib
import re
from dataclasses import dataclass, field
from email import errors, policy
from email.header import decode_header, make_header
from email.message import Message
from email.parser import BytesParser, HeaderParser
from email.utils import getaddresses, parseaddr

from ..text import strip_nul
from .sender import AmbiguousSender, single_sender

# What customers send us: screenshots, documents, logs, archives, forwarded mails.
ALLOWED_TYPES = {
    "image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp", "image/tiff",
    "application/pdf", "text/plain", "text/csv", "text/html", "message/rfc822",
    "application/zip", "application/x-zip-compressed", "application/gzip", "application/x-7z-compressed",
    "application/msword", "application/vnd.ms-excel", "application/vnd.ms-outlook",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.oasis.opendocument.text", "application/vnd.oasis.opendocument.spreadsheet",
    "application/vnd.tcpdump.pcap",
}

# Defects that mean the MIME structure itself is broken (parts lost or glued together).
BROKEN_MIME = (
    errors.StartBoundaryNotFoundDefect,
    errors.MultipartInvariantViolationDefect,
    errors.NoBoundaryInMultipartDefect,
    errors.CloseBoundaryNotFoundDefect,
)

# Parts in one mail (the text, its alternatives, attachments, containers). Real mail has a few dozen
# at most; each kept part is a row written while the MTA waits, so a few megabytes of empty parts
# could otherwise hold an LMTP delivery (and every retry of it) for minutes.
MAX_PARTS = 250

_MSGID = re.compile(r"<([^<>\s]+)>")
# RFC 5322 msg-id without its brackets: printable ASCII, no white space or brackets, one "@".
_VALID_MSGID = re.compile(r"[!-;=?-~]{1,200}@[!-;=?-~]{1,120}")


class MailParseError(ValueError):
    """The message cannot be read reliably; the text is the quarantine reason."""


@dataclass
class Attachment:
    filename: str
    content_type: str
    data: bytes
    rejected: str | None = None

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass
class ParsedMail:
    message_id: str | None
    from_address: str
    from_name: str
    subject: str
    to: list[str]
    cc: list[str]
    in_reply_to: list[str]
    references: list[str]
    text: str
    html: str | None
    attachments: list[Attachment] = field(default_factory=list)
    headers: dict[str, list[str]] = field(default_factory=dict)
    return_path: str | None = None
    # A bounce or other report: the Message-IDs of the mail it returns (from an attached
    # message/rfc822 or text/rfc822-headers part), and the delivery status lines it gives.
    attached_ids: list[str] = field(default_factory=list)
    delivery_status: list[str] = field(default_factory=list)
    # The Message-ID header was there but not a valid id (ignored; the raw-bytes key is used).
    invalid_message_id: str | None = None

    def header(self, name: str) -> str:
        return " ".join(self.headers.get(name.lower(), []))


def valid_message_id(value: str | None) -> bool:
    """An id we may store and repeat in our own headers (In-Reply-To, References)."""
    return bool(value) and _VALID_MSGID.fullmatch(value) is not None


def trim_message_id(value: str | None) -> str | None:
    """The Message-ID without brackets, or None when absent or not a valid id."""
    if not value:
        return None
    found = _MSGID.search(value)
    raw = found.group(1) if found else value.strip().strip("<>").strip()
    return raw if valid_message_id(raw) else None


def message_ids(value: str | None) -> list[str]:
    return [mid for mid in _MSGID.findall(value or "") if valid_message_id(mid)]


def content_hash(raw: bytes) -> str:
    """What makes two deliveries of one Message-ID the same mail: sender, subject, date and body,
    with line ends and trailing blanks normalised (a relay rewrapping CRLF is the same mail; another
    mail that reuses the id is not). Trace headers differ between paths and are left out."""
    data = raw.replace(b"\r\n", b"\n")
    head, sep, body = data.partition(b"\n\n")
    if not sep:
        head, body = data, b""
    fields: dict[bytes, bytes] = {}
    for line in re.sub(rb"\n[ \t]+", b" ", head).split(b"\n"):
        name, colon, value = line.partition(b":")
        key = name.strip().lower()
        if colon and key in (b"from", b"subject", b"date") and key not in fields:
            fields[key] = b" ".join(value.split())
    digest = hashlib.sha256()
    for key in (b"from", b"subject", b"date"):
        digest.update(fields.get(key, b"") + b"\0")
    digest.update(b"\n".join(line.rstrip() for line in body.split(b"\n")).strip())
    return digest.hexdigest()


# Header fields MTAs and filters add on the way (trace fields, delivery agents' own, verdicts): two
# deliveries of one mail by different routes differ in them. Prefixes of lower-case names.
TRANSIT_FIELDS = (b"received", b"return-path", b"delivered-to", b"x-original-to", b"authentication-results",
                  b"arc-", b"x-spam-", b"x-virus-")


def raw_key(raw: bytes) -> str:
    """A Message-ID stand-in for mail without one: a hash of the raw bytes, whitespace-normalised and
    without the header fields added in transit, so that the sender's MTA sending it again (by the backup
    MX, say) is a duplicate and not a second ticket."""
    lines = [line.rstrip() for line in raw.replace(b"\r\n", b"\n").split(b"\n")]
    if b"" in lines:  # a header block: its transit fields (with their continuation lines) are left out
        end, kept, skipping = lines.index(b""), [], False
        for line in lines[:end]:
            if not line[:1].isspace():
                skipping = line.partition(b":")[0].strip().lower().startswith(TRANSIT_FIELDS)
            if not skipping:
                kept.append(line)
        lines = kept + lines[end:]
    return "raw-sha256:" + hashlib.sha256(b"\n".join(lines).strip()).hexdigest()


def sniff_message_id(raw: bytes) -> str | None:
    """The Message-ID of a message too broken to parse fully, so a redelivery is still a duplicate."""
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    found = re.search(rb"^message-id:[ \t]*(.*(?:\r?\n[ \t].*)*)", head, re.IGNORECASE | re.MULTILINE)
    if not found:
        return None
    return trim_message_id(found.group(1).decode("ascii", "replace"))


def parse_message(raw: bytes, *, max_message_bytes: int, max_attachment_bytes: int) -> ParsedMail:
    if len(raw) > max_message_bytes:
        raise MailParseError(f"message of {len(raw)} bytes is larger than the limit of {max_message_bytes}")
    if not raw.strip():
        raise MailParseError("empty message")
    try:
        msg = BytesParser(policy=policy.compat32).parsebytes(raw)
    except Exception as exc:  # the parser is lenient; anything it raises is a broken message
        raise MailParseError(f"unparseable message: {type(exc).__name__}: {exc}") from exc
    for count, part in enumerate(msg.walk(), 1):
        if count > MAX_PARTS:
            raise MailParseError(f"more than {MAX_PARTS} MIME parts")
        for defect in part.defects:
            if isinstance(defect, BROKEN_MIME):
                raise MailParseError(f"broken MIME structure: {type(defect).__name__}")
    try:
        # Header values as they came (unfolded): only the few shown to people are decoded below.
        # Decoding all of them through the header registry cost a quarter of an ingestion.
        headers: dict[str, list[str]] = {}
        for name, value in msg.raw_items():
            headers.setdefault(name.lower(), []).append(_raw_value(value))
        from_name, from_address = single_sender(headers.get("from", []))
        from_name = _decoded(from_name)
        subject = _decoded(_first(headers, "subject"))
    except AmbiguousSender as exc:  # a From that can be read as more than one sender
        raise MailParseError(str(exc)) from exc
    except Exception as exc:  # malformed header values surface here
        raise MailParseError(f"unreadable header: {type(exc).__name__}: {exc}") from exc
    if not from_address or "@" not in from_address:
        raise MailParseError("no sender address in From")
    # One mail, one identity: duplicates are recognised, and bounces matched, by the Message-ID, and two
    # different ones let whoever reads the other (an MTA, a mail client) take the mail for another one.
    # The same id repeated (a relay that added it again) is harmless.
    ids = {trim_message_id(v) or v.strip() for v in headers.get("message-id", [])}
    if len(ids) > 1:
        raise MailParseError(f"{len(headers['message-id'])} different Message-ID headers: the mail's identity is "
                             "ambiguous")
    sender = parseaddr(_first(headers, "sender"))[1]
    return_path = _first(headers, "return-path", None)

    text_parts: list[str] = []
    html: str | None = None
    attachments: list[Attachment] = []
    attached_ids: list[str] = []
    delivery_status: list[str] = []
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype == "message/rfc822" and part.is_multipart():
            _collect_ids(part.get_payload(0), attached_ids)
        elif ctype == "message/delivery-status" and part.is_multipart():
            delivery_status.extend(_status_lines(part))
            continue
        if part.is_multipart():
            continue
        disposition = part.get_content_disposition()
        filename = part.get_filename()
        filename = _decoded(_raw_value(filename)) if filename else filename
        if disposition == "attachment" or filename or ctype not in {"text/plain", "text/html"}:
            attachment = _attachment(part, filename, ctype, max_attachment_bytes)
            attachments.append(attachment)
            if ctype == "text/rfc822-headers":
                _collect_ids(HeaderParser().parsestr(attachment.data.decode("utf-8", "replace")), attached_ids)
            continue
        content = strip_nul(_text(part))
        if ctype == "text/plain":
            text_parts.append(content)
        elif html is None:
            html = content
    text = "\n".join(text_parts).strip() or (_html_to_text(html) if html else "")
    header_id = _first(headers, "message-id") or None
    message_id = trim_message_id(header_id)
    return ParsedMail(
        message_id=message_id,
        from_address=from_address.strip().lower(),
        from_name=from_name.strip() or (sender or ""),
        subject=" ".join(subject.split()),
        to=[a for _, a in getaddresses(headers.get("to", [])) if a],
        cc=[a for _, a in getaddresses(headers.get("cc", [])) if a],
        in_reply_to=message_ids(_first(headers, "in-reply-to")),
        references=message_ids(" ".join(headers.get("references", []))),
        text=text,
        html=html,
        attachments=attachments,
        headers=headers,
        return_path=return_path,
        attached_ids=attached_ids,
        delivery_status=delivery_status,
        invalid_message_id=header_id[:200] if header_id and message_id is None else None,
    )


def _collect_ids(inner: Message, found: list[str]) -> None:
    """The ids of a returned message: its own Message-ID first, then what it replied to."""
    for name in ("message-id", "in-reply-to", "references"):
        for mid in message_ids(" ".join(str(v) for v in inner.get_all(name, []))):
            if mid not in found:
                found.append(mid)


def _status_lines(part: Message) -> list[str]:
    """One line per recipient of a delivery status notification (RFC 3464)."""
    lines = []
    for block in part.get_payload():
        recipient = block.get("Final-Recipient") or block.get("Original-Recipient")
        if not recipient:
            continue
        bits = [str(block.get(h, "")).strip() for h in ("Action", "Status", "Diagnostic-Code")]
        lines.append(strip_nul(" ".join(f"{str(recipient).split(';')[-1].strip()}: {' '.join(b for b in bits if b)}"
                                        .split()))[:500])
    return lines


_FOLD = re.compile(r"\r?\n(?=[ \t])")


def _raw_value(value: str) -> str:
    """An undecoded header value, unfolded, without NUL; 8-bit bytes read as UTF-8."""
    value = strip_nul(_FOLD.sub("", value))
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # raw 8-bit bytes arrive as surrogate escapes
        value = value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return value


def _decoded(value: str) -> str:
    """RFC 2047 encoded words decoded (a display name)."""
    if "=?" not in value:
        return value
    try:
        return strip_nul(str(make_header(decode_header(value))))
    except Exception:  # a broken encoded word: keep it as it came
        return value


def _first(headers: dict[str, list[str]], name: str, default: str | None = "") -> str | None:
    values = headers.get(name)
    return values[0] if values else default


def _text(part: Message) -> str:
    """A text part decoded from its transfer encoding and charset (unlabelled 8-bit text as UTF-8)."""
    try:
        payload = part.get_payload(decode=True) or b""
    except Exception as exc:
        raise MailParseError(f"undecodable text part: {type(exc).__name__}: {exc}") from exc
    charset = (part.get_content_charset() or "us-ascii").strip()
    try:
        name = codecs.lookup(charset).name
    except LookupError as exc:
        raise MailParseError(f"unknown charset {charset!r}") from exc
    if name == "ascii":
        name = "utf-8"  # a superset: 8-bit text sent without a charset is most likely UTF-8
    return payload.decode(name, errors="replace")


def _attachment(part: Message, filename: str | None, ctype: str, limit: int) -> Attachment:
    data = part.get_payload(decode=True) or b""
    name = strip_nul(filename or f"part.{ctype.split('/')[-1]}")[:255] or "part"
    att = Attachment(filename=name, content_type=ctype[:100], data=data)
    if len(data) > limit:
        att.rejected = f"larger than {limit} bytes"
    elif ctype not in ALLOWED_TYPES and not ctype.startswith("image/"):
        att.rejected = f"content type {ctype} is not accepted"
    return att


_TAGS = re.compile(r"<(script|style)[^>]*>.*?</\1>|<[^>]+>", re.IGNORECASE | re.DOTALL)


def _html_to_text(html: str) -> str:
    import html as htmllib

    text = re.sub(r"<br\s*/?>|</p>|</div>", "\n", html, flags=re.IGNORECASE)
    return htmllib.unescape(_TAGS.sub("", text)).strip()
