"""What a flow turn is made of, channel-neutral: the instructions the engine returns (say, gather,
record, enqueue, dial, hold, leave, hang up), the caller's input, and the turn itself. The Twilio and
Asterisk adapters render these; `callcenter.ivr.engine` decides them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from .flow import Segment


@dataclass
class Later:
    """A value the turn's own writes decide (a new ticket's number). The engine announces some turns
    before writing (see `FlowEngine.advance`); an adapter that plays them early waits for the writes
    before it reads one of these."""

    value: str | None = None

    def __str__(self) -> str:
        if self.value is None:
            raise LookupError("read before the turn's writes decided it")
        return self.value


@dataclass
class Say:
    prompt: str
    lang: str
    segments: list[Segment]
    values: dict[str, str | Later] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """The words as one text (Twilio <Say>); digits are spaced so they are read one by one."""
        parts = []
        for seg in self.segments:
            if seg.kind == "text":
                parts.append(seg.text)
            elif seg.kind == "digits":
                parts.append(" ".join(str(self.values.get(seg.text, ""))))
            else:
                parts.append(str(self.values.get(seg.text, "")))
        return re.sub(r"\s+([.,!?])", r"\1", " ".join(p for p in parts if p))


@dataclass
class StartRecording:
    """Record the whole call for QA."""


@dataclass
class Gather:
    prompts: list[Say]
    step: str
    num_digits: int | None = 1
    finish_on_key: str = ""
    timeout: int = 6


@dataclass
class Record:
    step: str
    max_seconds: int = 180
    silence_seconds: int = 5


@dataclass
class Enqueue:
    queue: str
    step: str
    timeout_seconds: int  # what is left of the contract's no-answer threshold
    # When the threshold passes: a channel that starts waiting later (after the read-back prompts)
    # recomputes what is left from it.
    deadline: datetime | None = None


@dataclass
class Dial:
    number: str
    timeout: int = 30


@dataclass
class Hold:
    """Waiting music / silence inside the queue's wait loop (Twilio waitUrl)."""

    seconds: int


@dataclass
class Leave:
    """Take the caller out of the queue (Twilio <Leave/>); the queue step then continues."""


@dataclass
class Hangup:
    pass


Instruction = Say | StartRecording | Gather | Record | Enqueue | Dial | Hold | Leave | Hangup


@dataclass
class Input:
    kind: str  # digits | timeout | recording | queue | dial | hangup
    digits: str = ""
    recording_id: str | None = None
    recording_url: str | None = None
    local_path: str | None = None
    duration: int | None = None
    queue_result: str | None = None  # bridged | leave | timeout | hangup | error ...
    waited: int | None = None


@dataclass
class Turn:
    call_id: int | None
    instructions: list[Instruction]
    outcome: str | None = None
    # The call's turn count after this turn: channels that may repeat a request (Twilio) send it back
    # with the caller's next input (`advance(turn=...)`), so that a repeat is answered without acting twice.
    seq: int | None = None
    # Only the head of the turn is known (a preview, FlowEngine.menu_preview): the turn that is decided
    # and written starts with these instructions and goes on.
    head: bool = False

    def leads(self, written: Turn) -> bool:
        """Whether `written` is the turn this preview stands for (begins with it, for a head); if so the
        preview's `Later` values are filled in from it, so that a channel playing the preview reads them."""
        n = len(self.instructions)
        if len(written.instructions) < n or (not self.head and len(written.instructions) != n):
            return False
        later: list[tuple[Later, Later]] = []
        for mine, theirs in zip(self.instructions, written.instructions, strict=False):
            if not (isinstance(mine, Say) and isinstance(theirs, Say)):
                if mine != theirs:
                    return False
                continue
            if (mine.prompt, mine.lang, mine.segments, mine.values.keys()) != (
                    theirs.prompt, theirs.lang, theirs.segments, theirs.values.keys()):
                return False
            for key, value in mine.values.items():
                other = theirs.values[key]
                if isinstance(value, Later):
                    if not isinstance(other, Later) or other.value is None:
                        return False
                    later.append((value, other))
                elif value != other:
                    return False
        for value, other in later:
            value.value = other.value
        return True

    @property
    def lang(self) -> str | None:
        """The language the turn speaks (its first prompt's): the call's, for a channel that must speak
        to the caller without the call's row (the database is unavailable)."""
        for ins in self.instructions:
            if isinstance(ins, Say):
                return ins.lang
            if isinstance(ins, Gather) and ins.prompts:
                return ins.prompts[0].lang
        return None

    @property
    def said(self) -> list[str]:
        out = []
        for ins in self.instructions:
            if isinstance(ins, Say):
                out.append(ins.text)
            elif isinstance(ins, Gather):
                out.extend(p.text for p in ins.prompts)
        return out


# Called with a turn decided but not yet written (see FlowEngine.advance).
Announce = Callable[[Turn], None]
