"""A turn kept on the call's row, so that a webhook Twilio sends again gets the same answer.

Twilio retries a request whose answer it did not get, and the same step can legitimately come back
with the same input later in a call (three menu timeouts in a row), so a turn is known by the turn
number the previous answer carried in its URLs (`?turn=N`), its step and its input. The call keeps
the key and the instructions of its last turn; `FlowEngine.advance` answers a repeat from them and
writes nothing.
"""

from __future__ import annotations

from typing import Any

from .flow import Flow
from .instructions import (
    Dial,
    Enqueue,
    Gather,
    Hangup,
    Hold,
    Input,
    Instruction,
    Leave,
    Record,
    Say,
    StartRecording,
    Turn,
)


def turn_key(turn: int, step: str, inp: Input) -> str:
    """What identifies one request of a call: the turn it answers, the step, and the caller's input."""
    detail = {"digits": inp.digits, "recording": inp.recording_id or "", "queue": inp.queue_result or ""}
    return f"{turn}:{step}:{inp.kind}:{detail.get(inp.kind, '')}"[:120]


def _say(say: Say) -> dict[str, Any]:
    return {"prompt": say.prompt, "lang": say.lang, "values": {k: str(v) for k, v in say.values.items()}}


def encode(turn: Turn) -> dict[str, Any]:
    """The turn as JSON (its `Later` values are decided by now)."""
    out: list[list[Any]] = []
    for ins in turn.instructions:
        if isinstance(ins, Say):
            out.append(["say", _say(ins)])
        elif isinstance(ins, Gather):
            out.append(["gather", [_say(p) for p in ins.prompts], ins.step, ins.num_digits, ins.finish_on_key,
                        ins.timeout])
        elif isinstance(ins, Record):
            out.append(["record", ins.step, ins.max_seconds, ins.silence_seconds])
        elif isinstance(ins, Enqueue):
            out.append(["enqueue", ins.queue, ins.step, ins.timeout_seconds])
        elif isinstance(ins, Dial):
            out.append(["dial", ins.number, ins.timeout])
        elif isinstance(ins, Hold):
            out.append(["hold", ins.seconds])
        else:
            out.append([type(ins).__name__.lower()])
    return {"outcome": turn.outcome, "seq": turn.seq, "instructions": out}


def decode(data: dict[str, Any], flow: Flow, call_id: int | None) -> Turn:
    def say(d: dict[str, Any]) -> Say:
        return Say(d["prompt"], d["lang"], flow.segments(d["prompt"], d["lang"]), dict(d["values"]))

    simple: dict[str, type[Instruction]] = {"startrecording": StartRecording, "leave": Leave, "hangup": Hangup}
    instructions: list[Instruction] = []
    for kind, *args in data["instructions"]:
        if kind == "say":
            instructions.append(say(args[0]))
        elif kind == "gather":
            instructions.append(Gather([say(p) for p in args[0]], *args[1:]))
        elif kind == "record":
            instructions.append(Record(*args))
        elif kind == "enqueue":
            instructions.append(Enqueue(*args))
        elif kind == "dial":
            instructions.append(Dial(*args))
        elif kind == "hold":
            instructions.append(Hold(*args))
        else:
            instructions.append(simple[kind]())
    return Turn(call_id, instructions, data.get("outcome"), data.get("seq"))
