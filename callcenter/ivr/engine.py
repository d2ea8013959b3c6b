"""The hotline flow engine: one engine, channel-neutral.

It takes a call's state (from the database) and an input (digits, timeout, recording, queue
result, hangup) and returns the next turn as neutral instructions (say, gather, record,
enqueue, dial, hangup). Domain actions go through `callcenter.calls` and `callcenter.tickets`;
the Twilio and Asterisk adapters only render the instructions.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from .. import agents, calls, recordings
from ..calls import CallContext
from ..config import Settings
from ..models import Call, CallOutcome, Status, Ticket
from .flow import Flow, load_flow
from .instructions import (
    Announce,
    Dial,
    Enqueue,
    Gather,
    Hangup,
    Hold,
    Input,
    Instruction,
    Later,
    Leave,
    Record,
    Say,
    StartRecording,
    Turn,
)

__all__ = ["Announce", "Dial", "Enqueue", "FlowEngine", "Gather", "Hangup", "Hold", "Input", "Instruction", "Later",
           "Leave", "Record", "Say", "StartRecording", "Turn", "UnknownStep"]

log = logging.getLogger(__name__)


@dataclass
class MenuChoice:
    """The menu's answer to one input, from the flow alone (FlowEngine._menu_choice)."""

    token: str                      # what menu_path notes: the key, or "?"
    step: str | None                # the step the call waits in next (None: the call ends)
    instructions: list[Instruction]
    outcome: str | None = None
    head: bool = False              # only the turn's first instructions (the critical fault's)


# Voice-message steps: step name -> the flow's ticket spec (None: attach to the call's ticket).
MESSAGE_STEPS = {
    "msg_leave_message": ("leave_message", CallOutcome.MESSAGE),
    "msg_complaint": ("complaint", CallOutcome.COMPLAINT),
    "msg_after_hours": ("after_hours_message", CallOutcome.MESSAGE),
    "msg_standby": (None, CallOutcome.CRITICAL_STANDBY),
    "msg_unanswered": (None, CallOutcome.UNANSWERED_MESSAGE),
}
STATUS_PROMPTS = {
    Status.NEW: "ticket_status_open", Status.ACKNOWLEDGED: "ticket_status_open",
    Status.IN_PROGRESS: "ticket_status_open", Status.WAITING_CUSTOMER: "ticket_status_waiting",
    Status.WAITING_APPROVAL: "ticket_status_waiting", Status.RESOLVED: "ticket_status_resolved",
    Status.CLOSED: "ticket_status_closed",
}


class UnknownStep(ValueError):
    pass


class FlowEngine:
    def __init__(self, settings: Settings, flow: Flow | None = None) -> None:
        self.settings = settings
        self.flow = flow or load_flow("hotline")
        self.cfg = self.flow.settings

    # -- helpers

    def say(self, prompt: str, lang: str, **values: object) -> Say:
        return Say(prompt, lang, self.flow.segments(prompt, lang),
                   {k: v if isinstance(v, Later) else str(v) for k, v in values.items()})

    @staticmethod
    def _announce(announce: Announce | None, call: Call, instructions: list[Instruction]) -> None:
        if announce is not None:
            announce(Turn(call.id, instructions, None))

    def _menu(self, lang: str, *before: Say) -> Gather:
        return Gather([*before, self.say("menu", lang)], "menu", 1, "", self.cfg["menu_timeout_seconds"])

    def _turn(self, call: Call, step: str | None, instructions: list[Instruction]) -> Turn:
        call.step = step or "end"
        return Turn(call.id, instructions, call.outcome, call.turn_seq)

    def _lang(self, call: Call) -> str:
        return self.flow.language(call.language, self.settings.default_language)

    def emergency(self, lang: str | None = None) -> Turn:
        """The database is unavailable: no state, straight to the emergency number."""
        lang = self.flow.language(lang, self.settings.default_language)
        return Turn(None, [self.say("emergency", lang), Dial(self.settings.emergency_number,
                                                             self.cfg["dial_timeout_seconds"]), Hangup()],
                    CallOutcome.EMERGENCY_ROUTE)

    def _call(self, session: Session, provider_call_id: str, now: datetime) -> CallContext:
        """The call, locked for this turn (see callcenter.calls) and read inside the lock."""
        call = calls.lock_call(session, provider_call_id)
        if call is None:
            raise calls.CallNotFound(provider_call_id)
        call.last_seen_at = now
        return calls.context(session, call)

    # -- entry points

    def start(self, session: Session, *, channel: str, provider_call_id: str, caller: str | None,
              called: str | None = None, now: datetime, announce: Announce | None = None,
              trust_cache: bool = True, owner: str | None = None) -> Turn:
        """A call's first turn. `announce` gets it before the call's row is written (see `advance`);
        its call_id is then still None. `owner`: the AGI process serving the call (callcenter.call_presence).
        A repeated first webhook of a call that already started gets the same first turn, and nothing changes."""
        kwargs = dict(channel=channel, provider_call_id=provider_call_id, caller=caller, called=called, now=now,
                      default_language=self.settings.default_language, languages=tuple(self.flow.languages),
                      owner=owner)
        # The common case, a new call: decide its first turn, then write its row complete in one INSERT.
        # A turn that is announced must not be taken back, so only an unannounced one trusts the cache
        # before the INSERT has confirmed the directory's version.
        ctx = calls.new_call(session, **kwargs, trust_cache=trust_cache and announce is None)
        turn = self._first_turn(session, ctx, caller)
        if announce is not None:
            announce(turn)
        written = calls.insert_call(session, ctx.call)
        if written.inserted:
            if ctx.assumed_directory_version not in (None, written.directory_version):
                # The directory changed since this process cached the caller: identify them afresh.
                calls.forget_call(session, ctx.call)
                return self.start(session, channel=channel, provider_call_id=provider_call_id, caller=caller,
                                  called=called, now=now, trust_cache=False, owner=owner)
            return Turn(ctx.call.id, turn.instructions, turn.outcome, turn.seq)
        # The call is already known (a retried webhook, an earlier status callback): decide on its row.
        ctx = calls.start_call(session, **kwargs)
        return self._first_turn(session, ctx, caller, replay=ctx.call.turn_seq > 0)

    def start_cached(self, bind: Engine, *, channel: str, provider_call_id: str, caller: str | None,
                     called: str | None = None, now: datetime) -> Turn | None:
        """A new call's first turn, committed without a unit of work: the caller is in this process's
        directory cache and the turn needs nothing else from the database, so deciding it and writing
        the call's row is one INSERT in a transaction of its own (see `call_insert.write_new_call`). None, with
        nothing written, when that does not hold (an uncached number, a possible agent's phone, a CallSid
        already known, a directory that moved): the caller then runs `start` in a unit of work."""
        ctx = calls.new_cached_call(bind, channel=channel, provider_call_id=provider_call_id, caller=caller,
                                    called=called, now=now, default_language=self.settings.default_language,
                                    languages=tuple(self.flow.languages))
        if ctx is None or (self.flow.agent_menu and ctx.contact is None):
            return None  # an unknown number may be an agent's registered phone: that takes a query
        turn = self._first_turn(None, ctx, caller)
        if not calls.write_new_call(bind, ctx):
            return None
        return Turn(ctx.call.id, turn.instructions, turn.outcome, turn.seq)

    def _first_turn(self, session: Session | None, ctx: CallContext, caller: str | None, *,
                    replay: bool = False) -> Turn:
        """`replay`: the call already took its first turn; the same instructions again, nothing written.
        `session` may be None when the caller is a known contact or the flow has no agent menu."""
        call = ctx.call

        def first(step: str | None, out: list[Instruction]) -> Turn:
            if replay:
                return Turn(call.id, out, call.outcome, 1)
            call.turn_seq = 1
            return self._turn(call, step, out)

        lang = self._lang(call)
        staff = agents.staff_by_phone(session, caller) if self.flow.agent_menu and ctx.contact is None else None
        if staff is not None:
            # An agent on their registered phone: log in or out, no recording, no customer menu.
            lang = self.flow.language(staff.language, self.settings.default_language)
            if not replay:
                call.language = lang
                calls.log_menu(call, "agent")
            return first("agent_menu", [self._agent_menu(lang)])
        out: list[Instruction] = [StartRecording(), self.say("recording_notice", lang)]
        if not ctx.is_contracted:
            if not replay:
                calls.set_outcome(call, CallOutcome.SALES)
            out += [self.say("unknown_caller", lang), Dial(self.settings.sales_number,
                                                           self.cfg["dial_timeout_seconds"]), Hangup()]
            return first(None, out)
        if call.out_of_hours and not ctx.is_standby:
            opens, closes = _opening_hours(ctx)
            out += [self.say("closed_hours", lang, open=opens, close=closes),
                    Record("msg_after_hours", self.cfg["message_max_seconds"], self.cfg["message_silence_seconds"])]
            return first("msg_after_hours", out)
        out.append(self._menu(lang, self.say("welcome", lang)))
        return first("menu", out)

    def advance(self, session: Session, provider_call_id: str, step: str, inp: Input, now: datetime,
                *, turn: int | None = None, number_start: int | None = None,
                announce: Announce | None = None) -> Turn:
        """The caller's input for `step` -> the next turn.

        The turn runs under the call's lock and reads the call inside it. `turn`: the `seq` of the turn
        whose instructions the caller answers (Twilio sends it back in the URL); a request for a turn the
        call already took is a repeat and gets that turn's answer again, with nothing written twice.

        Turns that write a lot (a critical ticket, an unanswered-queue alert, a voice message) are
        decided before they write: `announce` then gets the turn at once, so a channel that plays as it
        goes (Asterisk) can start the first prompt while the writes run. Values the writes decide are
        `Later`s until then; the returned turn is the same, with them filled in.
        """
        ctx = self._call(session, provider_call_id, now)
        call = ctx.call
        if inp.kind == "hangup":
            calls.end_call(session, call, now, inp.duration)
            return Turn(call.id, [], call.outcome)
        if turn is not None and turn < call.turn_seq and call.turn_replay:
            return self._replay(call, turn, step, inp)
        start = number_start if number_start is not None else self.settings.ticket_number_start
        call.turn_seq += 1
        if step == "menu":
            result = self._on_menu(session, ctx, inp, now, start, announce)
        elif step == "ticket_number":
            result = self._on_ticket_number(session, ctx, inp)
        elif step in MESSAGE_STEPS:
            result = self._on_message(session, ctx, step, inp, now, start, announce)
        elif step == "queue_done":
            result = self._on_queue_done(session, ctx, inp, now, announce)
        elif step == "agent_menu":
            result = self._on_agent_menu(session, ctx, inp, now)
        else:
            raise UnknownStep(step)
        result.seq = call.turn_seq
        if turn is not None:
            from .replay import encode, turn_key

            call.turn_key, call.turn_replay = turn_key(turn, step, inp), encode(result)
        return result

    def _replay(self, call: Call, turn: int, step: str, inp: Input) -> Turn:
        from .replay import decode, turn_key

        if call.turn_key != turn_key(turn, step, inp):
            # Not a plain repeat of the last turn (an older one, or other input): the call has moved on,
            # and acting on it now would act twice; the last answer is the best one to give again.
            log.warning("call %s: request for turn %s (%s) after turn %s; answering as before",
                        call.provider_call_id, turn, step, call.turn_seq)
        return decode(call.turn_replay, self.flow, call.id)

    def queue_poll(self, session: Session, provider_call_id: str, queue_time: int, now: datetime) -> Turn:
        """One turn of the queue's wait loop (Twilio waitUrl)."""
        ctx = self._call(session, provider_call_id, now)
        call = ctx.call
        if call.answered_at is not None:
            return Turn(call.id, [Hold(self.cfg["queue_hold_pause_seconds"])], call.outcome)
        if call.unanswered_alerted_at is not None or queue_time >= ctx.no_answer_threshold:
            # The timer fires in the worker; if the worker lags, the threshold still holds here.
            calls.raise_unanswered(session, call, now, queue_time)
            return Turn(call.id, [Leave()], call.outcome)
        lang = self._lang(call)
        return Turn(call.id, [self.say("queue_hold", lang), Hold(self.cfg["queue_hold_pause_seconds"])],
                    call.outcome)

    def hangup(self, session: Session, provider_call_id: str, now: datetime, duration: int | None = None,
               *, emergency: bool = False) -> Call | None:
        """The call is over; `emergency`: it ended on the emergency route (a turn failed or ran out of time).
        Returns the call, locked (None if it is unknown), for the rest of the caller's hang-up turn."""
        call = calls.lock_call(session, provider_call_id)
        if call is not None:
            if emergency:
                calls.set_outcome(call, CallOutcome.EMERGENCY_ROUTE)
            calls.end_call(session, call, now, duration)
        return call

    # -- steps

    def menu_preview(self, lang: str, attempts: int, inp: Input) -> Turn:
        """The menu turn for `inp` when the flow alone decides it: what the caller hears next, known
        before the call's row is locked, so an AGI session can play it while the turn is written
        (`advance` then decides the same turn inside the lock, from the same function). `attempts`: the
        call's menu_attempts before this input. For the critical fault only the head of the turn: its
        first prompt, whose ticket number is a `Later` the writes decide; what follows depends on the call
        (its hours, the contract's threshold). Turn.leads checks a written turn against a preview."""
        choice = self._menu_choice(lang, attempts, inp)
        return Turn(None, choice.instructions, choice.outcome, head=choice.head)

    def _menu_choice(self, lang: str, attempts: int, inp: Input) -> MenuChoice:
        action = self.flow.menu.get(inp.digits[:1]) if inp.kind == "digits" and inp.digits else None
        if action is None:
            if attempts + 1 >= self.cfg["menu_attempts"]:
                return MenuChoice("?", None, [self.say("no_input_goodbye", lang), Hangup()], CallOutcome.NO_INPUT)
            before = [self.say("invalid_choice", lang)] if inp.kind == "digits" else []
            return MenuChoice("?", "menu", [self._menu(lang, *before)])
        token = inp.digits[:1]
        record = (self.cfg["message_max_seconds"], self.cfg["message_silence_seconds"])
        if action == "critical_fault":
            return MenuChoice(token, None, [self.say("critical_ticket_opened", lang, number=Later())], head=True)
        if action == "leave_message":
            return MenuChoice(token, "msg_leave_message", [self.say("leave_message", lang),
                                                           Record("msg_leave_message", *record)])
        if action == "complaint":
            return MenuChoice(token, "msg_complaint", [self.say("complaint_message", lang),
                                                       Record("msg_complaint", *record)])
        if action == "ticket_status":
            return MenuChoice(token, "ticket_number", [Gather(
                [self.say("ticket_number_prompt", lang)], "ticket_number", self.cfg["ticket_number_max_digits"],
                "#", self.cfg["ticket_number_timeout_seconds"])])
        if action == "permission_change":
            # Only in writing (DESIGN feature 8): refused with the reason, and no ticket is opened.
            return MenuChoice(token, None, [self.say("permission_refused", lang), Hangup()],
                              CallOutcome.PERMISSION_REFUSED)
        return MenuChoice(token, None, [self.say("sales_transfer", lang),
                                        Dial(self.settings.sales_number, self.cfg["dial_timeout_seconds"]), Hangup()],
                          CallOutcome.SALES)

    def _on_menu(self, session: Session, ctx: CallContext, inp: Input, now: datetime, number_start: int,
                 announce: Announce | None = None) -> Turn:
        call = ctx.call
        lang = self._lang(call)
        choice = self._menu_choice(lang, call.menu_attempts, inp)
        calls.log_menu(call, choice.token)
        if not choice.head:
            if choice.token == "?":
                call.menu_attempts += 1
            if choice.outcome is not None:
                calls.set_outcome(call, choice.outcome)
            return self._turn(call, choice.step, choice.instructions)
        record = (self.cfg["message_max_seconds"], self.cfg["message_silence_seconds"])
        # The critical fault: the only choice that depends on the call (its hours) and writes first.
        spec = self.flow.tickets["critical_fault"]
        opened = choice.instructions[0]
        number = opened.values["number"]
        if call.out_of_hours:
            out = [opened, self.say("standby_alerted", lang), Record("msg_standby", *record)]
        else:
            deadline = calls.queue_deadline(ctx, entering_at=now)
            remaining = max(1, int((deadline - now).total_seconds()))
            out = [opened, self.say("queue_connecting", lang),
                   Enqueue(self.settings.hotline_queue, "queue_done", remaining, deadline)]
        self._announce(announce, call, out)
        ticket = calls.open_critical_ticket(session, ctx, category=spec.category, priority=spec.priority,
                                            subject=spec.subject_in(lang), now=now,
                                            number_start=number_start)
        number.value = str(ticket.number)
        if call.out_of_hours:
            calls.set_outcome(call, CallOutcome.CRITICAL_STANDBY)
            return self._turn(call, "msg_standby", out)
        calls.set_outcome(call, CallOutcome.CRITICAL_QUEUED)
        calls.enter_queue(session, ctx, now)  # not for a call that ended meanwhile
        return self._turn(call, "queue_done", out)

    def _agent_menu(self, lang: str) -> Gather:
        return Gather([self.say("agent_menu", lang)], "agent_menu", 1, "", self.cfg["menu_timeout_seconds"])

    def _on_agent_menu(self, session: Session, ctx: CallContext, inp: Input, now: datetime) -> Turn:
        call = ctx.call
        lang = self._lang(call)
        staff = agents.staff_by_phone(session, call.caller_number)
        action = self.flow.agent_menu.get(inp.digits[:1]) if inp.kind == "digits" and inp.digits else None
        if staff is None or action is None:
            calls.log_menu(call, "?")
            call.menu_attempts += 1
            if staff is None or call.menu_attempts >= self.cfg["menu_attempts"]:
                calls.set_outcome(call, CallOutcome.NO_INPUT)
                return self._turn(call, None, [self.say("goodbye", lang), Hangup()])
            return self._turn(call, "agent_menu", [self._agent_menu(lang)])
        calls.log_menu(call, inp.digits[:1])
        agent = agents.phone_action(session, staff, action, now)
        calls.set_outcome(call, action)
        said = "agent_logged_in" if agent.state == "available" else "agent_logged_out"
        return self._turn(call, None, [self.say(said, lang), Hangup()])

    def _on_ticket_number(self, session: Session, ctx: CallContext, inp: Input) -> Turn:
        call = ctx.call
        lang = self._lang(call)
        digits = re.sub(r"\D", "", inp.digits or "")
        calls.log_menu(call, f"#{digits}" if digits else "#?")
        calls.set_outcome(call, CallOutcome.TICKET_STATUS)
        ticket = None
        if digits and len(digits) <= 9:
            # Callers learn only about their own company's tickets.
            ticket = session.scalar(select(Ticket).where(Ticket.number == int(digits),
                                                         Ticket.company_id == call.company_id))
        if ticket is None:
            said = self.say("ticket_not_found", lang)
        else:
            said = self.say(STATUS_PROMPTS.get(ticket.status, "ticket_status_open"), lang, number=ticket.number)
        return self._turn(call, None, [said, self.say("goodbye", lang), Hangup()])

    def _on_message(self, session: Session, ctx: CallContext, step: str, inp: Input, now: datetime,
                    number_start: int, announce: Announce | None = None) -> Turn:
        call = ctx.call
        lang = self._lang(call)
        spec_name, outcome = MESSAGE_STEPS[step]
        if inp.kind != "recording" or not inp.recording_id or not (inp.duration or 0) > 0:
            if step == "msg_unanswered":
                calls.set_outcome(call, CallOutcome.UNANSWERED)
            elif spec_name is not None:
                calls.set_outcome(call, CallOutcome.NO_INPUT)
            return self._turn(call, None, [self.say("no_message", lang), Hangup()])
        spec = self.flow.tickets[spec_name] if spec_name else None
        had_ticket = call.ticket_id is not None
        number = Later()
        said = self.say("message_added", lang) if had_ticket else self.say("message_thanks", lang, number=number)
        out: list[Instruction] = [said, Hangup()]
        self._announce(announce, call, out)
        ticket = recordings.voice_message(
            session, ctx, provider_recording_id=inp.recording_id, duration=inp.duration, now=now,
            url=inp.recording_url, local_path=inp.local_path,
            ticket_spec=(spec.category, spec.priority, spec.subject_in(lang)) if spec else None,
            number_start=number_start)
        number.value = str(ticket.number) if ticket is not None else ""
        calls.set_outcome(call, outcome)
        return self._turn(call, None, out)

    def _on_queue_done(self, session: Session, ctx: CallContext, inp: Input, now: datetime,
                       announce: Announce | None = None) -> Turn:
        call = ctx.call
        lang = self._lang(call)
        result = (inp.queue_result or "").lower()
        if result in ("bridged", "bridging-in-process", "redirected-from-bridged", "answered"):
            waited = inp.waited
            if call.answered_at is not None and call.queue_entered_at is not None:
                # Asterisk said when the agent answered (queue-connected): the wait ends there.
                waited = max(0, int((call.answered_at - call.queue_entered_at).total_seconds()))
            calls.mark_answered(session, call, now, waited)
            return self._turn(call, None, [Hangup()])
        if result == "hangup":
            calls.end_call(session, call, now)
            return Turn(call.id, [], call.outcome)
        # leave (wait loop saw the threshold), timeout (Asterisk Queue), error, queue-full ...:
        # nobody took the call, so the on-call engineer is alerted and the caller may leave a message.
        out: list[Instruction] = [
            self.say("oncall_alerted", lang),
            Record("msg_unanswered", self.cfg["message_max_seconds"], self.cfg["message_silence_seconds"])]
        self._announce(announce, call, out)
        calls.raise_unanswered(session, call, now, inp.waited)
        calls.leave_queue(session, call, now, inp.waited)
        calls.set_outcome(call, CallOutcome.UNANSWERED)
        return self._turn(call, "msg_unanswered", out)


def _opening_hours(ctx: CallContext) -> tuple[int, int]:
    hours = (ctx.contract.working_hours or {}) if ctx.contract else {}
    for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"):
        spans = hours.get(day) or []
        if spans:
            first, last = spans[0].split("-")[0], spans[-1].split("-")[-1]
            return int(first.split(":")[0]), int(last.split(":")[0])
    return 8, 17
