"""Scripted fake Asterisk for FastAGI tests (asyncio TCP client).

Connects to the server under test, sends the Asterisk 22.10.1 header block, then
for every command line checks it against the next ``Step`` and writes the
scripted reply. Faults: ``HANGUP`` before/after a reply, closing the socket
instead of replying, raw malformed replies, EOF inside the header.

Typical use from a sync pytest test::

    peer = AGIPeer([
        expect("ANSWER", "200 result=0"),
        expect(re.compile(r"^STREAM FILE welcome "), "200 result=0 endpos=8000"),
        hangup_on("GET DATA"),              # HANGUP + 511
    ], callerid="+3612345678")
    run_peers(host, port, [peer])
    peer.assert_ok()

After a HANGUP the peer acts like a dead channel for commands the script does not
cover: 511 for channel commands, 200 for the dead-safe ones (GET/SET VARIABLE ...).
"""

from __future__ import annotations

import asyncio
import inspect
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

DEAD_511 = "511 Command Not Permitted on a dead channel or intercept routine"
INVALID_510 = "510 Invalid or unknown command"
USAGE_520 = "520 Invalid command syntax.  Proper usage not available."
USAGE_520_MULTI = [
    "520-Invalid command syntax.  Proper usage follows:",
    " Usage: GET DATA <file to be streamed> [timeout] [max digits]",
    "520 End of proper usage.",
]

# Header exactly as recorded from Asterisk 22.10.1 (reference section 1), in order.
SAMPLE_HEADER: list[tuple[str, str]] = [
    ("agi_network", "yes"),
    ("agi_network_script", "ivr?lang=hu"),
    ("agi_request", "agi://127.0.0.1:4573/ivr?lang=hu"),
    ("agi_channel", "Local/s@withcid-00000000;2"),
    ("agi_language", "en"),
    ("agi_type", "Local"),
    ("agi_uniqueid", "1795303247.1"),
    ("agi_version", "22.10.1"),
    ("agi_callerid", "+36301234567"),
    ("agi_calleridname", "Teszt Elek"),
    ("agi_callingpres", "0"),
    ("agi_callingani2", "0"),
    ("agi_callington", "0"),
    ("agi_callingtns", "0"),
    ("agi_dnid", "unknown"),
    ("agi_rdnis", "unknown"),
    ("agi_context", "hotline"),
    ("agi_extension", "s"),
    ("agi_priority", "3"),
    ("agi_enhanced", "0.0"),
    ("agi_accountcode", ""),
    ("agi_threadid", "140349574547136"),
]

# Commands Asterisk still runs on a dead channel (res_agi.c commands[] with dead=1).
DEAD_SAFE = (
    "ASYNCAGI BREAK",
    "DATABASE DEL",
    "DATABASE DELTREE",
    "DATABASE GET",
    "DATABASE PUT",
    "EXEC",
    "GET FULL VARIABLE",
    "GET VARIABLE",
    "NOOP",
    "SET VARIABLE",
    "VERBOSE",
    "SPEECH DESTROY",
    "SPEECH UNLOAD GRAMMAR",
)

_UNSET = object()


def build_header(
    *,
    callerid: str | None | object = _UNSET,
    calleridname: str | None | object = _UNSET,
    uniqueid: str | None = None,
    script: str | None = None,
    query: str | None = None,
    args: Sequence[str] = (),
    overrides: dict[str, str] | None = None,
) -> bytes:
    """The sample header block; ``script``/``query`` rewrite agi_network_script and agi_request.

    ``callerid=None`` sends the literal ``unknown`` like Asterisk does.
    """
    fields = dict(SAMPLE_HEADER)
    if script is not None or query is not None:
        base_script = script if script is not None else "ivr"
        network_script = f"{base_script}?{query}" if query else base_script
        fields["agi_network_script"] = network_script
        fields["agi_request"] = f"agi://127.0.0.1:4573/{network_script}"
    if callerid is not _UNSET:
        fields["agi_callerid"] = "unknown" if callerid is None else str(callerid)
    if calleridname is not _UNSET:
        fields["agi_calleridname"] = "unknown" if calleridname is None else str(calleridname)
    if uniqueid is not None:
        fields["agi_uniqueid"] = uniqueid
    if overrides:
        fields.update(overrides)
    lines = [f"{key}: {value}" for key, value in fields.items()]
    lines += [f"agi_arg_{i}: {value}" for i, value in enumerate(args, 1)]
    return ("\n".join(lines) + "\n\n").encode("utf-8")


Expectation = str | re.Pattern[str] | Callable[[str], bool] | None
Reply = str | Sequence[str] | Callable[[str], "str | Sequence[str]"] | None


@dataclass
class Step:
    """One expected command and what the fake Asterisk does about it.

    expect: exact line, compiled regex (``search``), predicate, or None for "anything".
    reply: line(s) to write; a callable gets the command line (an async one may run other
        sessions before answering). Lines are written raw, so a malformed reply is just a string.
    hangup_before: write ``HANGUP`` before the reply (channel died while idle); the
        peer is dead from then on.
    hangup_after: write ``HANGUP`` right after the reply (observed order on 22.10.1 when
        the caller hangs up during GET DATA: ``200 result=-1`` then ``HANGUP``).
    close: close the socket instead of replying (caller gone, AGIEXITONHANGUP=yes).
    delay: seconds to wait before replying (prompt playback).
    """

    expect: Expectation
    reply: Reply = "200 result=0"
    hangup_before: bool = False
    hangup_after: bool = False
    close: bool = False
    delay: float = 0.0


def expect(pattern: Expectation, reply: Reply = "200 result=0", **kw: object) -> Step:
    return Step(pattern, reply, **kw)  # type: ignore[arg-type]


def hangup_on(pattern: Expectation, reply: Reply = DEAD_511) -> Step:
    """Caller hangs up: ``HANGUP`` then (by default) 511 for this command."""
    return Step(pattern, reply, hangup_before=True)


def close_on(pattern: Expectation) -> Step:
    """Caller gone and the connection dropped while this command runs."""
    return Step(pattern, None, close=True)


def _matches(exp: Expectation, line: str) -> bool:
    if exp is None:
        return True
    if isinstance(exp, str):
        return line == exp
    if isinstance(exp, re.Pattern):
        return exp.search(line) is not None
    return bool(exp(line))


def _command_words(line: str) -> str:
    return " ".join(line.split()[:3]).upper()


def dead_channel_reply(line: str) -> str:
    """What Asterisk answers after hangup to a command the script did not cover."""
    words = _command_words(line)
    if any(words.startswith(cmd) for cmd in DEAD_SAFE):
        if words.startswith("GET VARIABLE") or words.startswith("GET FULL VARIABLE"):
            return "200 result=0"
        return "200 result=1" if words.startswith(("SET VARIABLE", "VERBOSE")) else "200 result=0"
    return DEAD_511


@dataclass
class AGIPeer:
    """A single scripted call. Run with ``await peer.run(host, port)`` or ``run_peers``."""

    steps: list[Step]
    callerid: str | None | object = _UNSET
    calleridname: str | None | object = _UNSET
    uniqueid: str | None = None
    script: str | None = None
    query: str | None = None
    args: Sequence[str] = ()
    header_overrides: dict[str, str] | None = None
    header: bytes | None = None  # raw header bytes (e.g. truncated), overrides the fields above
    # When the script is exhausted, answer further commands with this instead of failing
    # (e.g. ``plausible_reply`` to drive a real IVR flow in a bench).
    auto_reply: Callable[[str], str | Sequence[str]] | None = None
    max_commands: int = 1000  # guard against a handler looping forever
    close_after_header: bool = False
    # How long to wait for the next command / for the server to close at the end.
    io_timeout: float = 30.0  # a ceiling for a loaded machine: a passing run never waits for it
    transcript: list[tuple[str, str | None]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    dead: bool = False
    server_closed: bool = False
    # Per command: (time the command line arrived, time our reply was written), perf_counter.
    times: list[tuple[float, float | None]] = field(default_factory=list)
    header_sent_at: float | None = None

    @property
    def commands(self) -> list[str]:
        return [cmd for cmd, _ in self.transcript]

    def gaps(self) -> list[float]:
        """Seconds between our previous reply (or the header) and the next command: server-added latency."""
        out: list[float] = []
        prev = self.header_sent_at
        for received, replied in self.times:
            if prev is not None:
                out.append(received - prev)
            prev = replied
        return out

    def assert_ok(self, *, server_closed: bool = True) -> None:
        assert not self.errors, f"peer errors: {self.errors}\ntranscript: {self.transcript}"
        if server_closed:
            assert self.server_closed, f"server did not close the connection; transcript: {self.transcript}"

    async def run(self, host: str, port: int) -> AGIPeer:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            await self._converse(reader, writer)
        except (ConnectionError, OSError) as exc:
            self.errors.append(f"connection error: {exc!r}")
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except (ConnectionError, OSError):
                pass
        return self

    async def _write_lines(self, writer: asyncio.StreamWriter, lines: Sequence[str]) -> None:
        writer.write("".join(f"{line}\n" for line in lines).encode("utf-8"))
        await writer.drain()

    async def _converse(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        header = self.header
        if header is None:
            header = build_header(
                callerid=self.callerid,
                calleridname=self.calleridname,
                uniqueid=self.uniqueid,
                script=self.script,
                query=self.query,
                args=self.args,
                overrides=self.header_overrides,
            )
        writer.write(header)
        await writer.drain()
        self.header_sent_at = time.perf_counter()
        if self.close_after_header:
            return
        steps = list(self.steps)
        while True:
            try:
                raw = await asyncio.wait_for(reader.readline(), timeout=self.io_timeout)
            except TimeoutError:
                self.errors.append(f"timeout waiting for a command (steps left: {len(steps)})")
                return
            received = time.perf_counter()
            if not raw:
                self.server_closed = True
                if steps:
                    self.errors.append(f"server closed with {len(steps)} step(s) left: {steps[0].expect!r}")
                return
            line = raw.decode("utf-8", errors="replace").rstrip("\n")
            if len(self.transcript) >= self.max_commands:
                self.errors.append(f"more than {self.max_commands} commands; last {line!r}")
                return
            if not steps:
                if self.dead or self.auto_reply is not None:
                    reply = dead_channel_reply(line) if self.dead else self.auto_reply(line)  # type: ignore[misc]
                    if inspect.isawaitable(reply):
                        reply = await reply  # the fake Asterisk acts meanwhile (e.g. rings an agent's phone)
                    if not isinstance(reply, str):
                        reply = "\n".join(reply)
                    if not self.dead and _command_words(line).startswith("HANGUP"):
                        reply += "\nHANGUP"  # Asterisk notices its own hangup before the next command
                        self.dead = True
                    await self._write_lines(writer, [reply])
                    self.transcript.append((line, reply))
                    self.times.append((received, time.perf_counter()))
                    continue
                self.errors.append(f"unexpected command after script end: {line!r}")
                self.transcript.append((line, None))
                return
            step = steps[0]
            if not _matches(step.expect, line):
                if self.dead and step.expect is not None:
                    # Dead-channel bookkeeping the script did not list: answer like Asterisk.
                    reply = dead_channel_reply(line)
                    await self._write_lines(writer, [reply])
                    self.transcript.append((line, reply))
                    self.times.append((received, time.perf_counter()))
                    continue
                self.errors.append(f"expected {step.expect!r}, got {line!r}")
                self.transcript.append((line, None))
                return
            steps.pop(0)
            if step.delay:
                await asyncio.sleep(step.delay)
            if step.close:
                self.transcript.append((line, None))
                self.times.append((received, None))
                return
            reply = step.reply(line) if callable(step.reply) else step.reply
            if inspect.isawaitable(reply):
                reply = await reply
            reply_lines = [] if reply is None else [reply] if isinstance(reply, str) else list(reply)
            out: list[str] = []
            if step.hangup_before:
                out.append("HANGUP")
                self.dead = True
            out.extend(reply_lines)
            if step.hangup_after:
                out.append("HANGUP")
                self.dead = True
            await self._write_lines(writer, out)
            self.transcript.append((line, "\n".join(reply_lines)))
            self.times.append((received, time.perf_counter()))


def plausible_reply(line: str) -> str:
    """A believable live-channel answer to any command (for unscripted/bench peers)."""
    words = _command_words(line)
    if words.startswith("STREAM FILE") or words.startswith("CONTROL STREAM"):
        return "200 result=0 endpos=8000"
    if words.startswith("GET DATA"):
        return "200 result=1"
    if words.startswith("WAIT FOR DIGIT"):
        return "200 result=49"
    if words.startswith(("GET VARIABLE", "GET FULL VARIABLE")):
        return "200 result=0"
    if words.startswith(("SET VARIABLE", "VERBOSE", "HANGUP")):
        return "200 result=1"
    if words.startswith("CHANNEL STATUS"):
        return "200 result=6"
    if words.startswith("RECORD FILE"):
        return "200 result=0 (timeout) endpos=16000"
    return "200 result=0"


async def run_peers_async(host: str, port: int, peers: Sequence[AGIPeer]) -> list[AGIPeer]:
    """Run all peers concurrently on the current loop."""
    await asyncio.gather(*(peer.run(host, port) for peer in peers))
    return list(peers)


def run_peers(host: str, port: int, peers: Sequence[AGIPeer]) -> list[AGIPeer]:
    """Sync helper for pytest: run the peers concurrently on a fresh event loop."""
    return asyncio.run(run_peers_async(host, port, peers))


class HeldWrites:
    """Wraps a database write of the server under test so that it waits until `peer` has been sent a command
    containing `text`, and notes what the peer had been sent once the write is done. A test of "the caller
    hears X while the turn is written" checks that order causally: timed gaps fail on a loaded machine. Were
    X queued behind the write, the wait gives up after `ceiling` (then `sent_first` is False)."""

    def __init__(self, text: str, ceiling: float = 20.0) -> None:
        self.text, self.ceiling = text, ceiling
        self.peer: AGIPeer | None = None
        self.sent_first: bool | None = None
        self.sent_by_write: list[str] = []

    def _sent(self) -> bool:
        return self.peer is not None and any(self.text in command for command in self.peer.commands)

    def wrap(self, real: Callable) -> Callable:
        def held(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            deadline = time.monotonic() + self.ceiling
            while not self._sent() and time.monotonic() < deadline:
                time.sleep(0.02)
            self.sent_first = self._sent()
            result = real(*args, **kwargs)
            self.sent_by_write = list(self.peer.commands) if self.peer is not None else []
            return result

        return held
