"""`callcenter call simulate`: drive the hotline flow through the engine, no Twilio or Asterisk needed."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from ..db import session_scope
from ..models import CallChannel
from .engine import FlowEngine
from .instructions import Dial, Enqueue, Gather, Hangup, Input, Record, Say, Turn


@dataclass
class SimulatedCall:
    call_id: str
    lines: list[str] = field(default_factory=list)
    outcome: str | None = None


def simulate_call(factory: sessionmaker[Session], engine: FlowEngine, *, caller: str, digits: str, now: datetime,
                  queue_result: str = "timeout", message_seconds: int = 10,
                  echo: Callable[[str], None] | None = None) -> SimulatedCall:
    """Digits are consumed one gather at a time; ``#`` ends a multi-digit entry (``3`` then ``15001#``)."""
    sim = SimulatedCall(f"SIM{uuid.uuid4().hex[:16]}")
    pending = list(digits)

    def out(line: str) -> None:
        sim.lines.append(line)
        if echo:
            echo(line)

    def show(turn: Turn) -> tuple[str, Input] | None:
        for ins in turn.instructions:
            if isinstance(ins, Say):
                out(f"  say[{ins.lang}]: {ins.text}")
            elif isinstance(ins, Gather):
                for say in ins.prompts:
                    out(f"  say[{say.lang}]: {say.text}")
                entered = ""
                while pending:
                    ch = pending.pop(0)
                    if ch == "#":
                        break
                    entered += ch
                    if ins.num_digits == 1:
                        break
                out(f"  caller presses: {entered or '(nothing)'}")
                return ins.step, Input("digits", digits=entered) if entered else Input("timeout")
            elif isinstance(ins, Record):
                out(f"  record message: {message_seconds} s")
                if message_seconds <= 0:
                    return ins.step, Input("timeout")
                # No audio exists, so the recording row stays without a file.
                return ins.step, Input("recording", recording_id=f"{sim.call_id}-{ins.step}",
                                       duration=message_seconds)
            elif isinstance(ins, Enqueue):
                out(f"  queue {ins.queue} (threshold {ins.timeout_seconds} s) -> {queue_result}")
                return ins.step, Input("queue", queue_result=queue_result, waited=ins.timeout_seconds)
            elif isinstance(ins, Dial):
                out(f"  dial {ins.number}")
            elif isinstance(ins, Hangup):
                out("  hang up")
                return None
        return None

    with session_scope(factory) as session:
        turn = engine.start(session, channel=CallChannel.SIMULATED, provider_call_id=sim.call_id, caller=caller,
                            now=now)
    while True:
        waiting = show(turn)
        if waiting is None:
            break
        step, inp = waiting
        with session_scope(factory) as session:
            turn = engine.advance(session, sim.call_id, step, inp, now)
    with session_scope(factory) as session:
        engine.hangup(session, sim.call_id, now)
        from .. import calls

        sim.outcome = calls.get_call(session, sim.call_id).outcome
    out(f"outcome: {sim.outcome}")
    return sim
