"""One AGI conversation: commands out, replies in, hangups noticed (FastAGI socket or stdin/stdout)."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from .agi_protocol import (
    AGICommandError,
    AGIEnvironment,
    AGIError,
    AGIHangup,
    AGIProtocolError,
    AGIResponse,
    AGITimeout,
    LineReader,
    LineWriter,
    Quoted,
    decode_line,
    format_agi_command,
    parse_agi_response,
)

log = logging.getLogger(__name__)

# How long Asterisk may take to answer a command that plays nothing and waits for nobody.
REPLY_SECONDS = 10.0
# Commands that play a prompt get this on top of what they wait for (no hotline prompt is this long).
PROMPT_SECONDS = 120.0
# A bridged call (Dial, Queue) may last long, but not for ever: a PBX that stopped answering must not
# hold a session (and its call row) indefinitely.
BRIDGE_SECONDS = 4 * 3600.0
BRIDGING_APPS = {"dial", "queue", "followme", "bridge", "bridgewait", "parkedcall", "confbridge"}


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
        self.reply_seconds = REPLY_SECONDS

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
        return decode_line(raw)

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

    def describe(self) -> str:
        """The call as the logs name it: unique id, channel and caller."""
        env = self.env
        return f"{env.uniqueid or '?'} ({env.channel or '?'}, caller {env.callerid or 'unknown'})"

    async def command(self, cmd: str, *args: object, timeout: float | None = None) -> AGIResponse:
        """Send one command and return its 2xx reply.

        `timeout`: seconds Asterisk has to reply (default `reply_seconds`, for commands that neither
        play nor wait); past it the connection is given up with AGITimeout.
        Raises AGIHangup on 511 or EOF, AGICommandError on 510/520 and other 5xx,
        AGIProtocolError on a line that is not AGI.
        """
        line = format_agi_command(cmd, *args)
        name = " ".join(cmd.split()).upper()
        limit = self.reply_seconds if timeout is None else timeout
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
            try:
                async with asyncio.timeout(limit):
                    resp = await self._read_response(line)
            except TimeoutError:
                # A reply arriving later would be taken for the next command's: the connection is done.
                self.eof = True
                self._mark_hungup("no reply")
                log.warning("AGI call %s: no reply to %r within %.0f s; giving the connection up",
                            self.describe(), line[:80], limit)
                raise AGITimeout(f"no reply within {limit:.0f} s", command=line) from None
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
        resp = await self.command("STREAM FILE", *args, timeout=PROMPT_SECONDS + self.reply_seconds)
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
        # Asterisk's timeout is per digit; the prompt plays first.
        waits = (timeout_ms / 1000 if timeout_ms else 10.0) * max(1, max_digits or 20)
        resp = await self.command("GET DATA", *args, timeout=PROMPT_SECONDS + waits + self.reply_seconds)
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
        limit = BRIDGE_SECONDS if timeout_ms < 0 else timeout_ms / 1000 + self.reply_seconds
        resp = await self.command("WAIT FOR DIGIT", int(timeout_ms), timeout=limit)
        if resp.result is not None and resp.result < 0:
            await self._fail_or_hangup("WAIT FOR DIGIT", resp)
        return self._digit(resp.result)

    async def say_digits(self, digits: str | int, escape_digits: str = "") -> str | None:
        resp = await self.command("SAY DIGITS", str(digits), escape_digits, timeout=PROMPT_SECONDS)
        if resp.result is not None and resp.result < 0:
            await self._fail_or_hangup("SAY DIGITS", resp)
        return self._digit(resp.result)

    async def say_number(
        self, number: int | str, escape_digits: str = "", gender: str | None = None
    ) -> str | None:
        args: list[object] = [str(number), escape_digits]
        if gender:
            args.append(gender)
        resp = await self.command("SAY NUMBER", *args, timeout=PROMPT_SECONDS)
        if resp.result is not None and resp.result < 0:
            await self._fail_or_hangup("SAY NUMBER", resp)
        return self._digit(resp.result)

    async def exec(self, app: str, *args: object, timeout: float | None = None) -> AGIResponse:
        """EXEC a dialplan application: ``exec("Queue", "support", "n", "", "", 45)``
        sends ``EXEC Queue "support,n,,,45"``.

        Arguments are joined with ``,`` (dialplan argument separator), so a comma
        inside one argument splits it: never pass caller-controlled text here.
        Returns the reply (result = the application's return value, -1 typically
        when the caller hung up); raises AGICommandError for -2 (no such application).
        `timeout`: how long the application may run; by default a bridge's limit for the applications
        that bridge, a prompt's for the others.
        """
        if not re.fullmatch(r"[A-Za-z0-9_]+", app):
            raise ValueError(f"invalid application name: {app!r}")
        joined = ",".join("" if a is None else str(a) for a in args)
        cmd_args: tuple[object, ...] = (Quoted(joined),) if args else ()
        if timeout is None:
            timeout = BRIDGE_SECONDS if app.lower() in BRIDGING_APPS else PROMPT_SECONDS + self.reply_seconds
        resp = await self.command("EXEC", app, *cmd_args, timeout=timeout)
        if resp.result == -2:
            raise AGICommandError(f"application {app} not found", f"EXEC {app}", resp)
        return resp

    async def set_variable(self, name: str, value: object) -> None:
        await self.command("SET VARIABLE", name, Quoted("" if value is None else value))

    async def get_variable(self, name: str) -> str | None:
        """Value of a channel variable or function (``CALLERID(num)``); None when unset."""
        resp = await self.command("GET VARIABLE", name)
        if resp.result == 1:
            return resp.data if resp.data is not None else ""
        return None

    async def get_full_variable(self, expr: str, channel: str | None = None) -> str | None:
        args: list[object] = [Quoted(expr)]
        if channel:
            args.append(channel)
        resp = await self.command("GET FULL VARIABLE", *args)
        return (resp.data or "") if resp.result == 1 else None

    async def verbose(self, message: str, level: int = 1) -> None:
        await self.command("VERBOSE", Quoted(message), int(level))

    async def noop(self, message: str | None = None) -> None:
        await self.command("NOOP", *((Quoted(message),) if message else ()))

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


async def run_handler(handler: Handler, session: AGISession, peer: str) -> None:
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
