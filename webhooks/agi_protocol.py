"""Asterisk AGI / FastAGI protocol layer (asyncio, stdlib only).

Knows the wire protocol (header block, command lines, response lines, HANGUP
handling) and nothing about the Hotline IVR flow. See
/work/shared/reference/agi.md for the protocol facts this follows.

Main entry points:

* ``FastAGIServer(handler)``: TCP server for ``AGI(agi://HOST:4573/script?query,args)``.
* ``run_stdio(handler)``: the same async handler for classic AGI (stdin/stdout).
* ``AGISession``: one call; ``await session.command("STREAM FILE", "beep", "")``
  or the convenience methods (``answer``, ``get_data``, ``exec`` ...).
"""

from __future__ import annotations

import asyncio
import logging
import re
import signal
import sys
import threading
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

log = logging.getLogger(__name__)

AGI_PORT = 4573
# res_agi.c parse_args limits; a longer line is truncated/split by Asterisk, so refuse it here.
MAX_COMMAND_BYTES = 8192
MAX_ARGS = 128
DEAD_CHANNEL_TEXT = "511 Command Not Permitted on a dead channel or intercept routine"

__all__ = [
    "AGI_PORT",
    "AGICommandError",
    "AGIEnvironment",
    "AGIError",
    "AGIHangup",
    "AGIProtocolError",
    "AGIResponse",
    "AGISession",
    "FastAGIServer",
    "format_agi_command",
    "parse_agi_environment",
    "parse_agi_response",
    "quote_agi_arg",
    "read_agi_environment",
    "run_stdio",
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


def _decode(line: str | bytes) -> str:
    if isinstance(line, bytes):
        line = line.decode("utf-8", errors="replace")
    return line.rstrip("\r\n")


def parse_agi_environment(lines: Iterable[str | bytes]) -> AGIEnvironment:
    """Parse the ``agi_*`` header block; stops at the first empty line.

    Split on the first ``:`` and strip both sides (``agi_accountcode: `` is empty).
    """
    raw: dict[str, str] = {}
    for item in lines:
        line = _decode(item)
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


async def read_agi_environment(reader: LineReader) -> AGIEnvironment:
    """Read the header block from a stream. EOF before the blank line raises AGIHangup."""
    lines: list[bytes] = []
    while True:
        line = await reader.readline()
        if not line:
            raise AGIHangup("EOF in AGI header", eof=True)
        if not line.strip():
            return parse_agi_environment(lines)
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
        text = _decode(line)
        lines = text.split("\n") if "\n" in text else [text]
    else:
        lines = [_decode(x) for x in line]
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
        if isinstance(arg, _Quoted):
            parts.append(arg.text)
        else:
            parts.append(quote_agi_arg(arg))
    line = " ".join(parts)
    if len(cmd.split()) + len(args) > MAX_ARGS:
        raise ValueError(f"AGI command has more than {MAX_ARGS} words")
    if len(line.encode("utf-8")) + 1 > MAX_COMMAND_BYTES:
        raise ValueError(f"AGI command longer than {MAX_COMMAND_BYTES} bytes")
    return line


class _Quoted:
    """Marks an argument already rendered by quote_agi_arg so command() sends it as is."""

    __slots__ = ("text",)

    def __init__(self, value: object) -> None:
        self.text = quote_agi_arg(value, force=True)

    def __str__(self) -> str:  # only for messages
        return self.text


# --------------------------------------------------------------------------- session


@dataclass
class CommandTiming:
    command: str  # the command words, e.g. "STREAM FILE"
    latency: float  # seconds from writing the line to having the full reply
    gap: float | None  # seconds from the previous reply (or header) to writing this line


class AGISession:
    """One AGI conversation. Commands are serialised: one line out, one reply in."""

    def __init__(self, reader: LineReader, writer: LineWriter, env: AGIEnvironment | None = None) -> None:
        self.reader = reader
        self.writer = writer
        self.env = env or AGIEnvironment()
        # True once Asterisk said the channel is gone (HANGUP line, 511, EOF, SIGHUP).
        self.hungup = False
        self.hangup_reason: str | None = None
        self.eof = False
        self.timings: list[CommandTiming] = []
        self.last_response: AGIResponse | None = None
        self._lock = asyncio.Lock()
        self._last_reply_at: float | None = None

    # -- low level

    def _mark_hungup(self, reason: str) -> None:
        if not self.hungup:
            log.debug("AGI %s: channel hung up (%s)", self.env.uniqueid, reason)
        self.hungup = True
        self.hangup_reason = self.hangup_reason or reason

    async def _readline(self, command: str) -> str:
        try:
            raw = await self.reader.readline()
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            raw = b""
            log.debug("AGI %s: read error %r", self.env.uniqueid, exc)
        except ValueError as exc:  # StreamReader limit overrun
            raise AGIProtocolError("reply line too long", None) from exc
        if not raw:
            self.eof = True
            self._mark_hungup("EOF")
            raise AGIHangup("connection closed by Asterisk", eof=True, command=command)
        return _decode(raw)

    async def _read_response(self, command: str) -> AGIResponse:
        while True:
            line = await self._readline(command)
            stripped = line.strip()
            if stripped == "HANGUP":
                # Asynchronous notice written between commands; the real reply (if any) follows.
                self._mark_hungup("HANGUP line")
                continue
            if not stripped:
                continue
            resp = parse_agi_response(line)
            if resp.continues:
                block = [line]
                terminator = f"{resp.code} "
                while True:
                    more = await self._readline(command)
                    block.append(more)
                    if more.startswith(terminator):
                        break
                resp = parse_agi_response(block)
            if resp.code < 200:
                # 1xx progress lines ("100 result=0 Trying..." from GOSUB) precede the real reply.
                continue
            return resp

    async def command(self, cmd: str, *args: object) -> AGIResponse:
        """Send one command and return its 2xx reply.

        Raises AGIHangup on 511 or EOF, AGICommandError on 510/520 and other 5xx,
        AGIProtocolError on a line that is not AGI.
        """
        line = format_agi_command(cmd, *args)
        name = " ".join(cmd.split()).upper()
        async with self._lock:
            if self.eof:
                raise AGIHangup("connection already closed", eof=True, command=line)
            start = time.perf_counter()
            gap = start - self._last_reply_at if self._last_reply_at is not None else None
            try:
                self.writer.write(line.encode("utf-8") + b"\n")
                await self.writer.drain()
            except (ConnectionError, RuntimeError) as exc:
                self.eof = True
                self._mark_hungup("write failed")
                raise AGIHangup(f"write failed: {exc!r}", eof=True, command=line) from exc
            resp = await self._read_response(line)
            end = time.perf_counter()
            self._last_reply_at = end
            self.timings.append(CommandTiming(name, end - start, gap))
            self.last_response = resp
        if resp.code == 511:
            self._mark_hungup("511")
            raise AGIHangup("dead channel (511)", command=line)
        if resp.code == 510:
            raise AGICommandError("invalid or unknown command (510)", line, resp)
        if resp.code == 520:
            raise AGICommandError("invalid command syntax (520)", line, resp)
        if not resp.ok:
            raise AGICommandError(f"unexpected reply code {resp.code}", line, resp)
        return resp

    def mark_started(self) -> None:
        """Start the gap clock (the header has been read); used for the first command's gap."""
        self._last_reply_at = time.perf_counter()

    async def _fail_or_hangup(self, line: str, resp: AGIResponse) -> None:
        """result=-1 means either 'the caller hung up' or 'it failed' (missing file ...).

        Tell them apart with CHANNEL STATUS, which is not allowed on a dead channel:
        Asterisk answers it with HANGUP + 511 there (our AGIHangup). One extra round
        trip, only on the failure path.
        """
        if self.hungup:
            raise AGIHangup("channel hung up", eof=self.eof, command=line)
        await self.command("CHANNEL STATUS")
        raise AGICommandError("command failed (result=-1)", line, resp)

    @staticmethod
    def _digit(result: int | None) -> str | None:
        if not result or result <= 0:
            return None
        return chr(result)

    # -- convenience

    async def answer(self) -> None:
        resp = await self.command("ANSWER")
        if resp.result == -1:
            await self._fail_or_hangup("ANSWER", resp)

    async def hangup(self, channel: str | None = None) -> None:
        """Hang up; a second hangup (channel already gone) is not an error."""
        args = (channel,) if channel else ()
        try:
            await self.command("HANGUP", *args)
        except AGIHangup:
            pass
        self._mark_hungup("HANGUP command")

    async def stream_file(
        self, file: str, escape_digits: str = "", sample_offset: int | None = None
    ) -> str | None:
        """Play a prompt; return the escape digit pressed or None (``last_response.endpos``: offset)."""
        args: list[object] = [file, escape_digits]
        if sample_offset is not None:
            args.append(sample_offset)
        resp = await self.command("STREAM FILE", *args)
        if resp.result is None:
            raise AGIProtocolError("STREAM FILE result not numeric", resp.lines[0])
        if resp.result < 0:
            await self._fail_or_hangup(f"STREAM FILE {file}", resp)
        return self._digit(resp.result)

    async def get_data_full(
        self, file: str, timeout_ms: int | None = None, max_digits: int | None = None
    ) -> tuple[str, bool]:
        """GET DATA returning (digits, timed_out); digits may be partial when timed out."""
        args: list[object] = [file]
        if timeout_ms is not None:
            args.append(int(timeout_ms))
            if max_digits is not None:
                args.append(int(max_digits))
        elif max_digits is not None:
            # maxdigits is positional after timeout; 0 keeps Asterisk's default timeout.
            args.extend([0, int(max_digits)])
        resp = await self.command("GET DATA", *args)
        if resp.result_raw == "-1":
            await self._fail_or_hangup(f"GET DATA {file}", resp)
        return resp.result_raw or "", resp.timeout

    async def get_data(
        self, file: str, timeout_ms: int | None = None, max_digits: int | None = None
    ) -> str | None:
        """Play ``file`` and collect digits. None when nothing was entered before the timeout.

        Partial input that ended by timeout (``200 result=12 (timeout)``) is returned
        as ``"12"``; ``""`` means the caller pressed ``#`` straight away.
        """
        digits, timed_out = await self.get_data_full(file, timeout_ms, max_digits)
        if timed_out and not digits:
            return None
        return digits

    async def wait_for_digit(self, timeout_ms: int = -1) -> str | None:
        resp = await self.command("WAIT FOR DIGIT", int(timeout_ms))
        if resp.result is not None and resp.result < 0:
            await self._fail_or_hangup("WAIT FOR DIGIT", resp)
        return self._digit(resp.result)

    async def say_digits(self, digits: str | int, escape_digits: str = "") -> str | None:
        resp = await self.command("SAY DIGITS", str(digits), escape_digits)
        if resp.result is not None and resp.result < 0:
            await self._fail_or_hangup("SAY DIGITS", resp)
        return self._digit(resp.result)

    async def say_number(
        self, number: int | str, escape_digits: str = "", gender: str | None = None
    ) -> str | None:
        args: list[object] = [str(number), escape_digits]
        if gender:
            args.append(gender)
        resp = await self.command("SAY NUMBER", *args)
        if resp.result is not None and resp.result < 0:
            await self._fail_or_hangup("SAY NUMBER", resp)
        return self._digit(resp.result)

    async def exec(self, app: str, *args: object) -> AGIResponse:
        """EXEC a dialplan application: ``exec("Queue", "support", "n", "", "", 45)``
        sends ``EXEC Queue "support,n,,,45"``.

        Arguments are joined with ``,`` (dialplan argument separator), so a comma
        inside one argument splits it: never pass caller-controlled text here.
        Returns the reply (result = the application's return value, -1 typically
        when the caller hung up); raises AGICommandError for -2 (no such application).
        """
        if not re.fullmatch(r"[A-Za-z0-9_]+", app):
            raise ValueError(f"invalid application name: {app!r}")
        joined = ",".join("" if a is None else str(a) for a in args)
        cmd_args: tuple[object, ...] = (_Quoted(joined),) if args else ()
        resp = await self.command("EXEC", app, *cmd_args)
        if resp.result == -2:
            raise AGICommandError(f"application {app} not found", f"EXEC {app}", resp)
        return resp

    async def set_variable(self, name: str, value: object) -> None:
        await self.command("SET VARIABLE", name, _Quoted("" if value is None else value))

    async def get_variable(self, name: str) -> str | None:
        """Value of a channel variable or function (``CALLERID(num)``); None when unset."""
        resp = await self.command("GET VARIABLE", name)
        if resp.result == 1:
            return resp.data if resp.data is not None else ""
        return None

    async def get_full_variable(self, expr: str, channel: str | None = None) -> str | None:
        args: list[object] = [_Quoted(expr)]
        if channel:
            args.append(channel)
        resp = await self.command("GET FULL VARIABLE", *args)
        return (resp.data or "") if resp.result == 1 else None

    async def verbose(self, message: str, level: int = 1) -> None:
        await self.command("VERBOSE", _Quoted(message), int(level))

    async def noop(self, message: str | None = None) -> None:
        await self.command("NOOP", *((_Quoted(message),) if message else ()))

    async def close(self) -> None:
        """Close the connection: with a dead channel the dialplan continues only after this."""
        self.eof = True
        try:
            self.writer.close()
            wait_closed = getattr(self.writer, "wait_closed", None)
            if wait_closed is not None:
                await asyncio.wait_for(wait_closed(), timeout=2.0)
        except (TimeoutError, ConnectionError, RuntimeError, OSError):
            pass


Handler = Callable[[AGISession], Awaitable[None]]


async def _run_handler(handler: Handler, session: AGISession, peer: str) -> None:
    """Run one call's handler; never lets an exception escape (one call must not hurt others)."""
    uid = session.env.uniqueid or "?"
    try:
        await handler(session)
    except AGIHangup as exc:
        log.info("AGI call %s (%s) ended by hangup: %s", uid, peer, exc.reason)
    except AGIError as exc:
        log.error("AGI call %s (%s) failed: %s", uid, peer, exc)
    except asyncio.CancelledError:
        log.warning("AGI call %s (%s) cancelled", uid, peer)
        raise
    except Exception:
        log.exception("AGI handler crashed for call %s (%s)", uid, peer)


# --------------------------------------------------------------------------- FastAGI server


class FastAGIServer:
    """asyncio FastAGI server; ``handler(session)`` is called once per connection.

    Routing is the handler's business (``session.env.script``, ``.query``, ``.args``).
    """

    def __init__(
        self,
        handler: Handler,
        host: str = "127.0.0.1",
        port: int = AGI_PORT,
        *,
        header_timeout: float = 10.0,
        stop_grace: float = 5.0,
    ) -> None:
        self.handler = handler
        self.host = host
        self.port = port
        self.header_timeout = header_timeout
        self.stop_grace = stop_grace
        self.calls_started = 0
        self.calls_finished = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def address(self) -> tuple[str, int]:
        if self._server is None or not self._server.sockets:
            return self.host, self.port
        sockname = self._server.sockets[0].getsockname()
        return sockname[0], sockname[1]

    async def start(self) -> tuple[str, int]:
        """Bind and start accepting; returns the bound (host, port) (port 0 picks one)."""
        self._loop = asyncio.get_running_loop()
        self._server = await asyncio.start_server(self._on_connect, self.host, self.port, backlog=512)
        host, port = self.address
        log.info("FastAGI server listening on %s:%s", host, port)
        return host, port

    async def serve_forever(self) -> None:
        if self._server is None:
            await self.start()
        assert self._server is not None
        try:
            await self._server.serve_forever()
        except asyncio.CancelledError:
            await self.stop()
            raise

    def run(self) -> None:
        """Blocking entry point for a dedicated process: serve until SIGINT/SIGTERM."""

        async def main() -> None:
            await self.start()
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                try:
                    loop.add_signal_handler(sig, stop.set)
                except (NotImplementedError, RuntimeError):
                    pass
            await stop.wait()
            await self.stop()

        asyncio.run(main())

    async def stop(self) -> None:
        """Stop accepting, give running calls ``stop_grace`` seconds, then cancel them."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        tasks = [t for t in self._tasks if not t.done()]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=self.stop_grace)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
        self._server = None

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        peername = writer.get_extra_info("peername")
        peer = f"{peername[0]}:{peername[1]}" if isinstance(peername, tuple) else str(peername)
        session: AGISession | None = None
        try:
            try:
                env = await asyncio.wait_for(read_agi_environment(reader), timeout=self.header_timeout)
            except AGIHangup:
                log.debug("AGI connection from %s closed during the header", peer)
                return
            except TimeoutError:
                log.warning("AGI connection from %s: no complete header in %.0fs", peer, self.header_timeout)
                return
            except AGIProtocolError as exc:
                log.warning("AGI connection from %s: bad header: %s", peer, exc)
                return
            session = AGISession(reader, writer, env)
            session.mark_started()
            self.calls_started += 1
            await _run_handler(self.handler, session, peer)
        finally:
            if session is not None:
                self.calls_finished += 1
                await session.close()
            else:
                writer.close()
                try:
                    await asyncio.wait_for(writer.wait_closed(), timeout=2.0)
                except (TimeoutError, ConnectionError, OSError):
                    pass

    # -- background thread (tests, benches, embedding next to a sync app)

    def start_in_thread(self) -> tuple[str, int]:
        """Run the server on its own event loop in a daemon thread; returns (host, port)."""
        if self._thread is not None:
            raise RuntimeError("server thread already running")
        ready = threading.Event()
        result: dict[str, Any] = {}
        loop = asyncio.new_event_loop()

        def runner() -> None:
            asyncio.set_event_loop(loop)
            try:
                result["address"] = loop.run_until_complete(self.start())
            except BaseException as exc:  # report bind errors to the caller thread
                result["error"] = exc
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

        self._thread = threading.Thread(target=runner, name="fastagi-server", daemon=True)
        self._thread.start()
        ready.wait()
        if "error" in result:
            self._thread = None
            raise result["error"]
        self._loop = loop
        return result["address"]

    def stop_thread(self, timeout: float = 10.0) -> None:
        if self._thread is None or self._loop is None:
            return
        loop = self._loop
        fut = asyncio.run_coroutine_threadsafe(self.stop(), loop)
        try:
            fut.result(timeout=timeout)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            self._thread.join(timeout=timeout)
            self._thread = None


# --------------------------------------------------------------------------- classic AGI (stdin/stdout)


class _ThreadedLineReader:
    """Async readline over a blocking binary file (works for pipes, ttys and regular files)."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    async def readline(self) -> bytes:
        return await asyncio.to_thread(self._stream.readline)


class _FileLineWriter:
    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, data: bytes) -> None:
        self._stream.write(data)

    async def drain(self) -> None:
        self._stream.flush()

    def close(self) -> None:
        try:
            self._stream.flush()
        except (OSError, ValueError):
            pass


def run_stdio(handler: Handler, stdin: Any = None, stdout: Any = None) -> AGISession | None:
    """Run ``handler`` once as a classic AGI script (Asterisk forks us, talks over stdin/stdout).

    Logging must not go to stdout (that is the AGI channel); use stderr or a file.
    Asterisk signals hangup with SIGHUP here (no HANGUP line); the default action
    would kill the process mid-bookkeeping, so it only marks the session.
    Returns the session (for its timings) or None if the header never arrived.
    """
    in_stream = stdin if stdin is not None else sys.stdin.buffer
    out_stream = stdout if stdout is not None else sys.stdout.buffer

    async def main() -> AGISession | None:
        reader = _ThreadedLineReader(in_stream)
        writer = _FileLineWriter(out_stream)
        try:
            env = await read_agi_environment(reader)
        except AGIError as exc:
            log.warning("classic AGI: no usable header: %s", exc)
            return None
        session = AGISession(reader, writer, env)
        session.mark_started()
        loop = asyncio.get_running_loop()
        installed = False
        if threading.current_thread() is threading.main_thread() and hasattr(signal, "SIGHUP"):
            try:
                loop.add_signal_handler(signal.SIGHUP, session._mark_hungup, "SIGHUP")
                installed = True
            except (NotImplementedError, RuntimeError, ValueError):
                pass
        try:
            await _run_handler(handler, session, "stdio")
        finally:
            if installed:
                loop.remove_signal_handler(signal.SIGHUP)
            writer.close()
        return session

    return asyncio.run(main())
