"""The people around a real Asterisk in the tests: callers and agents, scripted over FastAGI.

Each call is a Local channel `Local/s@hotline`: its `;2` leg runs the hotline dialplan (our FastAGI
server), its `;1` leg runs `[test-caller]`, an AGI to the actors' server below, which follows the
caller's script: press keys while the hotline's GET DATA plays, talk during RECORD FILE, hang up in
the middle of a prompt ... The script steps wait for what the hotline leg is doing (the command it
has sent and Asterisk has not answered yet), so keys land inside GET DATA whatever the machine's load.
Agents are Local channels too (`Local/<username>@test-agent/n`), scripted the same way against the
hotline's `agent-offer` session on the other half of their channel.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from webhooks.agi_protocol import AGIError
from webhooks.agi_session import AGISession, Handler

TEST_CONTEXTS = """
[test-caller]
exten => s,1,AGI(${{TEST_AGI}}/caller,${{TEST_CALL}})
 same => n,Hangup()

[test-agent]
exten => _[a-z].,1,AGI(${{TEST_AGI}}/agent?user=${{EXTEN}})
 same => n,Hangup()

[test-phone-caller]
; A caller by the clock alone (the classic script's session is not observed): 5 during the menu.
exten => s,1,Wait(12)
 same => n,SendDTMF(5)
 same => n,Wait(30)
 same => n,Hangup()

[test-phone]
; Sales, the emergency number: a phone that answers, listens a little and hangs up.
exten => _X.,1,Answer()
 same => n,Verbose(1,TEST PHONE ${{EXTEN}} answered)
 same => n,Wait(2)
 same => n,Hangup()
exten => _+X.,1,Goto(test-phone,${{EXTEN:1}},1)

[test-fallback]
exten => s,1,Answer()
 same => n,Verbose(1,TEST FALLBACK reached by ${{CHANNEL}})
 same => n,Wait(1)
 same => n,Hangup()
"""


def local_base(channel: str) -> str:
    """`Local/s@hotline-0000002a;2` -> `Local/s@hotline-0000002a` (both halves of one Local channel)."""
    return channel.rsplit(";", 1)[0]


@dataclass
class Leg:
    """A hotline-side AGI session as the actors see it."""

    session: AGISession
    pending: str | None = None
    commands: list[str] = field(default_factory=list)
    done: bool = False

    def count(self, prefix: str) -> int:
        return sum(1 for c in self.commands if c.startswith(prefix))


# Scripts that only note something on a channel whose call another session runs (Queue()'s AGI as an
# agent answers, the callback's answer): their short sessions must not stand for the call's leg.
NOTE_SCRIPTS = {"queue-connected", "callback-answered", "callback-failed"}


class Observed:
    """Wraps the hotline's FastAGI handler to note each session's commands by Local channel."""

    def __init__(self) -> None:
        self.legs: dict[str, Leg] = {}
        self.lock = threading.Lock()

    def wrap(self, handler: Handler) -> Handler:
        async def observed(session: AGISession) -> None:
            leg = Leg(session)
            original = session.command

            async def command(cmd: str, *args: object, **kwargs: object):  # noqa: ANN202
                line = " ".join([cmd, *(str(a) for a in args)])
                leg.commands.append(line)
                leg.pending = line
                try:
                    return await original(cmd, *args, **kwargs)
                finally:
                    leg.pending = None

            session.command = command  # type: ignore[method-assign]
            if session.env.script.strip("/") not in NOTE_SCRIPTS:
                with self.lock:
                    self.legs[local_base(session.env.channel)] = leg
            try:
                await handler(session)
            finally:
                leg.done = True

        return observed

    def leg(self, base: str) -> Leg | None:
        with self.lock:
            return self.legs.get(base)


# ---------------------------------------------------------------------------- script steps


@dataclass
class Press:
    """Send `digits` once the other leg's `on` command (its `nth`) is waiting for Asterisk."""

    digits: str
    on: str = "GET DATA"
    nth: int = 1
    after: float = 0.6


@dataclass
class HangUp:
    """Hang up `after` seconds into the other leg's `on` command (None: at once)."""

    on: str | None = None
    nth: int = 1
    after: float = 1.0


@dataclass
class Talk:
    """Speak (play an Asterisk sound into the call) during the other leg's `on` command."""

    on: str = "RECORD FILE"
    sound: str = "demo-congrats"
    nth: int = 1
    after: float = 0.5


@dataclass
class Stay:
    """Keep the line for `seconds` (an agent talking), then go on with the script."""

    seconds: float


Step = Press | HangUp | Talk | Stay


@dataclass
class Placed:
    """One call as the test follows it."""

    name: str
    steps: list[Step]
    base: str | None = None
    caller_done: bool = False
    error: str | None = None


class Actors:
    """The actors' FastAGI handler: scripts `caller` and `agent` (see TEST_CONTEXTS)."""

    def __init__(self, observed: Observed) -> None:
        self.observed = observed
        self.calls: dict[str, Placed] = {}
        self.agent_scripts: dict[str, list[Step]] = {}
        self.agent_calls: list[tuple[str, str]] = []  # (username, Local base) of each answered agent leg
        self._ids = itertools.count(1)

    def new_call(self, steps: list[Step]) -> Placed:
        placed = Placed(f"call{next(self._ids)}", steps)
        self.calls[placed.name] = placed
        return placed

    async def __call__(self, session: AGISession) -> None:
        script = session.env.script.strip("/")
        base = local_base(session.env.channel)
        if script == "caller":
            placed = self.calls[session.env.args[0]]
            placed.base = base
            try:
                await self._run(session, base, placed.steps)
            except AGIError as exc:
                placed.error = str(exc)
            finally:
                placed.caller_done = True
        elif script == "agent":
            user = session.env.query_value("user") or ""
            self.agent_calls.append((user, base))
            await session.answer()
            steps = self.agent_scripts.get(user, [Press("1"), Stay(3), HangUp()])
            try:
                await self._run(session, base, steps)
            except AGIError:
                pass

    async def _wait(self, base: str, check: Callable[[Leg], bool], timeout: float = 60.0) -> Leg | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            leg = self.observed.leg(base)
            if leg is not None and check(leg):
                return leg
            if leg is not None and leg.done:
                return None
            await asyncio.sleep(0.02)
        raise TimeoutError(f"{base}: the hotline leg never got there")

    async def _when(self, base: str, on: str | None, nth: int) -> bool:
        if on is None:
            return True
        leg = await self._wait(base, lambda leg: bool(leg.pending and leg.pending.startswith(on))
                               and leg.count(on) >= nth)
        return leg is not None

    async def _run(self, session: AGISession, base: str, steps: list[Step]) -> None:
        for step in steps:
            if isinstance(step, Stay):
                await session.exec("Wait", step.seconds)
                continue
            if not await self._when(base, step.on, step.nth):
                return  # the hotline leg ended first
            await asyncio.sleep(step.after)
            if isinstance(step, Press):
                await session.exec("SendDTMF", step.digits)
            elif isinstance(step, Talk):
                await session.stream_file(step.sound)
            elif isinstance(step, HangUp):
                await session.hangup()
                return
        # Script done: stay on the line until the hotline side ends the call.
        await self._wait(base, lambda leg: leg.done, timeout=600)
