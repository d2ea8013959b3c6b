"""Asterisk AGI wire format (stdlib only): the header block, command lines, reply lines.

Knows how AGI text looks and nothing about conversations or sockets: `agi_session` holds one
call's conversation, `agi_server` the FastAGI TCP server and the classic stdin/stdout runner.
See ../shared/reference/agi.md for the protocol facts this follows.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

AGI_PORT = 4573
# res_agi.c parse_args limits; a longer line is truncated/split by Asterisk, so refuse it here.
MAX_COMMAND_BYTES = 8192
MAX_ARGS = 128
DEAD_CHANNEL_TEXT = "511 Command Not Permitted on a dead channel or intercept routine"
# A real header is about 25 lines and 700 bytes, plus one line per AGI() argument (at most 128):
# anything far beyond is not Asterisk, and must not grow the server's memory.
MAX_HEADER_LINES = 256
MAX_HEADER_BYTES = 32 * 1024

__all__ = [
    "AGI_PORT",
    "AGICommandError",
    "AGIEnvironment",
    "AGIError",
    "AGIHangup",
    "AGIHeaderTooLarge",
    "AGITimeout",
    "AGIProtocolError",
    "AGIResponse",
    "Quoted",
    "decode_line",
    "format_agi_command",
    "parse_agi_environment",
    "parse_agi_response",
    "quote_agi_arg",
    "read_agi_environment",
]


# --------------------------------------------------------------------------- exceptions


class AGIError(Exception):
    """Base class for everything this module raises about the AGI conversation."""


class AGIHangup(AGIError):
    """The channel is gone: a ``HANGUP`` line, a 511 reply, or EOF on the connection.

    Dead-channel-safe commands (GET/SET VARIABLE, VERBOSE, EXEC ...) may still be
    sent after this unless ``eof`` is true.
    """

    def __init__(self, reason: str, *, eof: bool = False, command: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.eof = eof
        self.command = command


class AGITimeout(AGIHangup):
    """Asterisk did not reply to a command in time: the connection is given up (a late reply would
    answer the next command), and the call is treated as gone."""

    def __init__(self, reason: str, *, command: str | None = None) -> None:
        super().__init__(reason, eof=True, command=command)


class AGIProtocolError(AGIError):
    """A line that is not valid AGI. ``line`` keeps the offending text for the logs."""

    def __init__(self, message: str, line: str | None = None) -> None:
        super().__init__(f"{message}: {line!r}" if line is not None else message)
        self.line = line


class AGICommandError(AGIError):
    """Asterisk refused or failed the command (510, 520, result=-1 on a live channel, EXEC -2)."""

    def __init__(self, message: str, command: str, response: AGIResponse | None = None) -> None:
        super().__init__(f"{message} (command {command!r})")
        self.command = command
        self.response = response


# --------------------------------------------------------------------------- environment


@dataclass
class AGIEnvironment:
    request: str = ""
    network: bool = False
    network_script: str | None = None
    script: str = ""
    query: dict[str, list[str]] = field(default_factory=dict)
    channel: str = ""
    channel_type: str = ""
    language: str = ""
    uniqueid: str = ""
    version: str = ""
    callerid: str | None = None
    calleridname: str | None = None
    dnid: str | None = None
    rdnis: str | None = None
    context: str = ""
    extension: str = ""
    priority: str = ""
    accountcode: str = ""
    args: list[str] = field(default_factory=list)
    raw: dict[str, str] = field(default_factory=dict)

    def query_value(self, name: str, default: str | None = None) -> str | None:
        """First value of a query parameter (``?lang=hu`` -> ``query_value("lang") == "hu"``)."""
        values = self.query.get(name)
        return values[0] if values else default


def _unknown_to_none(value: str | None) -> str | None:
    # Asterisk writes the literal "unknown" for absent caller id / dnid / rdnis.
    if value is None or value == "" or value == "unknown":
        return None
    return value


def decode_line(line: str | bytes) -> str:
    if isinstance(line, bytes):
        line = line.decode("utf-8", errors="replace")
    return line.rstrip("\r\n")


def parse_agi_environment(lines: Iterable[str | bytes]) -> AGIEnvironment:
    """Parse the ``agi_*`` header block; stops at the first empty line.

    Split on the first ``:`` and strip both sides (``agi_accountcode: `` is empty).
    """
    raw: dict[str, str] = {}
    for item in lines:
        line = decode_line(item)
        if not line.strip():
            break
        key, sep, value = line.partition(":")
        if not sep:
            raise AGIProtocolError("header line without ':'", line)
        raw[key.strip()] = value.strip()

    env = AGIEnvironment(raw=raw)
    env.request = raw.get("agi_request", "")
    env.network = raw.get("agi_network", "").lower() == "yes"
    env.network_script = raw.get("agi_network_script")
    if env.network_script is not None:
        script_part = env.network_script
    else:
        # Classic AGI: agi_request is the script path given to AGI().
        script_part = env.request.rsplit("/", 1)[-1]
    script, _, query = script_part.partition("?")
    env.script = script
    env.query = urllib.parse.parse_qs(query, keep_blank_values=True) if query else {}
    env.channel = raw.get("agi_channel", "")
    env.channel_type = raw.get("agi_type", "")
    env.language = raw.get("agi_language", "")
    env.uniqueid = raw.get("agi_uniqueid", "")
    env.version = raw.get("agi_version", "")
    env.callerid = _unknown_to_none(raw.get("agi_callerid"))
    env.calleridname = _unknown_to_none(raw.get("agi_calleridname"))
    env.dnid = _unknown_to_none(raw.get("agi_dnid"))
    env.rdnis = _unknown_to_none(raw.get("agi_rdnis"))
    env.context = raw.get("agi_context", "")
    env.extension = raw.get("agi_extension", "")
    env.priority = raw.get("agi_priority", "")
    env.accountcode = raw.get("agi_accountcode", "")
    numbered: list[tuple[int, str]] = []
    for key, value in raw.items():
        if key.startswith("agi_arg_"):
            try:
                numbered.append((int(key[len("agi_arg_") :]), value))
            except ValueError:
                continue
    env.args = [value for _, value in sorted(numbered)]
    return env


class LineReader(Protocol):
    async def readline(self) -> bytes: ...


class LineWriter(Protocol):
    def write(self, data: bytes) -> None: ...

    async def drain(self) -> None: ...

    def close(self) -> None: ...


class AGIHeaderTooLarge(AGIProtocolError):
    """The header block went past MAX_HEADER_LINES / MAX_HEADER_BYTES (or one line past the reader's limit)."""


async def read_agi_environment(reader: LineReader, *, max_lines: int = MAX_HEADER_LINES,
                               max_bytes: int = MAX_HEADER_BYTES) -> AGIEnvironment:
    """Read the header block from a stream. EOF before the blank line raises AGIHangup; a header
    larger than `max_lines` lines or `max_bytes` bytes raises AGIHeaderTooLarge as soon as it is."""
    lines: list[bytes] = []
    size = 0
    while True:
        try:
            line = await reader.readline()
        except ValueError as exc:  # asyncio's StreamReader: one line longer than its limit
            raise AGIHeaderTooLarge(f"header line longer than the reader's limit after {len(lines)} lines") from exc
        if not line:
            raise AGIHangup("EOF in AGI header", eof=True)
        if not line.strip():
            return parse_agi_environment(lines)
        size += len(line)
        if size > max_bytes:
            raise AGIHeaderTooLarge(f"header larger than {max_bytes} bytes (at line {len(lines) + 1})")
        if len(lines) >= max_lines:
            raise AGIHeaderTooLarge(f"header longer than {max_lines} lines")
        lines.append(line)


# --------------------------------------------------------------------------- responses


@dataclass
class AGIResponse:
    """One parsed reply.

    ``result`` is the integer after ``result=`` when it is one; ``result_raw`` keeps
    the text (GET DATA digits such as ``0123`` or ``*1#``). ``data`` is the
    parenthesised part (``timeout``, a variable value ...), ``endpos`` the sample
    offset; other ``key=value`` tokens land in ``fields`` and any remaining words in
    ``extra`` (``Gosub complete``). For 5xx lines ``text`` is the message and
    ``usage`` the body of a multi-line 520.
    """

    code: int
    result: int | None = None
    result_raw: str | None = None
    data: str | None = None
    endpos: int | None = None
    fields: dict[str, str] = field(default_factory=dict)
    extra: str = ""
    text: str = ""
    usage: list[str] = field(default_factory=list)
    continues: bool = False
    lines: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return 200 <= self.code < 300

    @property
    def timeout(self) -> bool:
        return self.data == "timeout"

    @property
    def dead_channel(self) -> bool:
        return self.code == 511


_CODE_RE = re.compile(r"^(\d{3})(?:([ -])(.*))?$")
_RESULT_RE = re.compile(r"^result=(\S*)\s*(.*)$")
_INT_RE = re.compile(r"^-?\d+$")


def _parse_payload(resp: AGIResponse, payload: str, line: str) -> None:
    m = _RESULT_RE.match(payload)
    if not m:
        raise AGIProtocolError(f"{resp.code} reply without result=", line)
    resp.result_raw = m.group(1)
    resp.result = int(resp.result_raw) if _INT_RE.match(resp.result_raw) else None
    rest = m.group(2).strip()
    if rest.startswith("("):
        # The value may itself contain parentheses: take everything up to the last ')'.
        end = rest.rfind(")")
        if end < 0:
            raise AGIProtocolError("unbalanced '(' in reply", line)
        resp.data = rest[1:end]
        rest = rest[end + 1 :].strip()
    words: list[str] = []
    for token in rest.split():
        key, eq, value = token.partition("=")
        if eq and key.isidentifier():
            resp.fields[key] = value
        else:
            words.append(token)
    resp.extra = " ".join(words)
    if "endpos" in resp.fields:
        try:
            resp.endpos = int(resp.fields["endpos"])
        except ValueError as exc:
            raise AGIProtocolError("non-numeric endpos", line) from exc


def parse_agi_response(line: str | bytes | Sequence[str | bytes]) -> AGIResponse:
    """Parse a reply line, or a whole multi-line 520 block (list of lines or text with newlines).

    Given only the first ``520-`` line, returns a response with ``continues=True``:
    the caller must keep reading until a line starting ``520 `` and parse the block.
    """
    if isinstance(line, (str, bytes)):
        text = decode_line(line)
        lines = text.split("\n") if "\n" in text else [text]
    else:
        lines = [decode_line(x) for x in line]
    lines = [x.rstrip("\r") for x in lines]
    if not lines or not lines[0]:
        raise AGIProtocolError("empty reply line", lines[0] if lines else "")
    first = lines[0]
    m = _CODE_RE.match(first)
    if not m:
        raise AGIProtocolError("malformed reply line", first)
    resp = AGIResponse(code=int(m.group(1)), lines=list(lines))
    sep, payload = m.group(2) or " ", (m.group(3) or "").strip()
    resp.text = payload

    if sep == "-":
        # Multi-line (520 usage): the block ends with "<code> <text>".
        terminator = f"{resp.code} "
        end_index = next((i for i, x in enumerate(lines[1:], 1) if x.startswith(terminator)), None)
        if end_index is None:
            resp.continues = True
            resp.usage = lines[1:]
            return resp
        resp.usage = lines[1:end_index]
        resp.lines = lines[: end_index + 1]
        return resp

    if len(lines) > 1 and any(lines[1:]):
        raise AGIProtocolError("several lines given for a single-line reply", "\n".join(lines))
    if payload.startswith("result="):
        _parse_payload(resp, payload, first)
    elif 200 <= resp.code < 300:
        raise AGIProtocolError("200 reply without result=", first)
    return resp


# --------------------------------------------------------------------------- quoting

_BARE_RE = re.compile(r'^[^\s"\\]+$')


def quote_agi_arg(value: object, *, force: bool = False) -> str:
    """Render one argument for an AGI command line.

    Asterisk's parse_args splits on blanks, groups ``"..."`` and honours ``\\``
    escapes, but has no escape for a newline: the line ends there. So CR, LF and NUL
    become spaces (a call must not die because a caller ID name had a newline), ``"``
    and ``\\`` are backslash-escaped, and anything with blanks or empty is quoted.
    A plain token is left bare unless ``force`` (values, messages, EXEC args).
    """
    if value is None:
        raise TypeError("AGI argument must not be None")
    if isinstance(value, bool):
        raise TypeError("AGI argument must not be bool (ambiguous)")
    text = str(value)
    text = text.replace("\r\n", " ").replace("\r", " ").replace("\n", " ").replace("\x00", " ")
    if not force and _BARE_RE.match(text):
        return text
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def format_agi_command(cmd: str, *args: object) -> str:
    """Build one command line (no trailing newline); ValueError if Asterisk would mangle it."""
    if any(c in cmd for c in "\r\n\x00") or not cmd.strip():
        raise ValueError(f"invalid AGI command word: {cmd!r}")
    parts = [cmd.strip()]
    for arg in args:
        # Pre-quoted arguments (e.g. from quote_agi_arg(force=True)) pass through.
        if isinstance(arg, Quoted):
            parts.append(arg.text)
        else:
            parts.append(quote_agi_arg(arg))
    line = " ".join(parts)
    if len(cmd.split()) + len(args) > MAX_ARGS:
        raise ValueError(f"AGI command has more than {MAX_ARGS} words")
    if len(line.encode("utf-8")) + 1 > MAX_COMMAND_BYTES:
        raise ValueError(f"AGI command longer than {MAX_COMMAND_BYTES} bytes")
    return line


class Quoted:
    """Marks an argument already rendered by quote_agi_arg so command() sends it as is."""

    __slots__ = ("text",)

    def __init__(self, value: object) -> None:
        self.text = quote_agi_arg(value, force=True)

    def __str__(self) -> str:  # only for messages
        return self.text
