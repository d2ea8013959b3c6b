"""Asterisk adapter, the agents' half: queued callers offered to agents (CALLCENTER_ASTERISK_AGENT_DIAL),
the agent's whisper and "press 1" (`agent-offer`), Queue()'s `queue-connected` note, hold slices.

A mixin of `webhooks.fastagi.HotlineAGI`: it uses the hotline's database threads (`_db`), flow engine,
settings and clock. Decisions are `callcenter.distribution`'s; this only speaks AGI.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from callcenter import calls, distribution
from callcenter.config import Settings
from callcenter.ivr.engine import Enqueue, FlowEngine, Gather, Input
from callcenter.ivr.prompts import company_prompt_key
from callcenter.models import CallOffer, OfferStatus

from .agi_performer import Channel, Performer
from .agi_protocol import AGICommandError, AGIHangup

log = logging.getLogger(__name__)


class AgentsAGI:
    """Agents' side of the hotline FastAGI server (mixed into HotlineAGI)."""

    settings: Settings
    engine: FlowEngine
    clock: Callable[[], datetime]
    moh_missing: bool
    _db: Callable[..., Awaitable[Any]]  # HotlineAGI._db: `work` in a transaction on a database thread

    async def queue_agents(self, performer: Performer, uniqueid: str, ins: Enqueue) -> Input:
        """Hold the caller until distribution gives them an agent who takes the call, or the threshold passes."""
        channel, settings = performer.channel, self.settings
        hold_seconds = max(1, settings.asterisk_hold_seconds)
        announce_every = max(1, 60 // hold_seconds)  # "all our engineers are busy" about once a minute
        holds = 0

        def look(s: Session) -> tuple[str, int | None, str, int, str]:
            call = calls.get_call(s, uniqueid)
            if call is None:
                return "gone", None, "", 0, settings.default_language
            got = distribution.claim_for_caller(s, call, self.clock(), settings)
            lang = self.engine.flow.language(call.language, settings.default_language)
            return got.action, got.offer.id if got.offer else None, got.target, got.remaining, lang

        while True:
            action, offer_id, target, remaining, lang = await self._db(look)
            if action == "dial":
                args: list[object] = [target, settings.agent_offer_seconds]
                if settings.asterisk_agent_confirm:
                    args.append(f"U({settings.asterisk_agent_confirm}^{offer_id})")
                dial_started = time.monotonic()
                await channel.exec("Dial", *args)
                dial_seconds = int(time.monotonic() - dial_started)
                status = await channel.get_variable("DIALSTATUS") or ""
                reported = await channel.get_variable("ANSWEREDTIME") or ""
                # Asterisk 22 counts ANSWEREDTIME from the caller's answer, not the agent's: never more
                # than this Dial lasted (the confirmed path does not use it at all).
                answered = min(int(reported), dial_seconds) if reported.isdigit() else None
                took = await self._db(lambda s, o=offer_id, st=status, a=answered: distribution.dial_finished(
                    s, s.get(CallOffer, o), st, a, self.clock()))
                if took:
                    return Input("queue", queue_result="bridged")
                if channel.hungup:
                    return Input("queue", queue_result="hangup")
                continue
            if action in ("answered", "gone"):
                return Input("queue", queue_result="bridged" if action == "answered" else "hangup")
            if action == "timeout":
                # The engine raises the no-answer alert (once, shared with the worker's queue timer).
                return Input("queue", queue_result="timeout")
            if channel.hungup:
                return Input("queue", queue_result="hangup")
            if holds % announce_every == 0:
                await performer.say(self.engine.say("queue_hold", lang))
            holds += 1
            await self.hold(channel, max(1, min(hold_seconds, remaining)))
            if channel.hungup:
                return Input("queue", queue_result="hangup")

    async def queue_connected(self, uniqueid: str) -> None:
        """Queue()'s AGI on the caller's channel as an agent answers: the call is answered now."""
        def answered(s: Session) -> None:
            call = calls.get_call(s, uniqueid)
            if call is not None and call.answered_at is None:
                calls.mark_answered(s, call, self.clock())
        try:
            await self._db(answered)
        except Exception:
            log.exception("hotline AGI %s: could not note the queue's answer", uniqueid)

    async def hold(self, channel: Channel, seconds: int) -> None:
        """One hold slice: music on hold, or silence when Asterisk has no music to play. MusicOnHold()
        returns at once without a music class (or fails without res_musiconhold): looking again at once
        would spin, replaying the "all busy" prompt back to back."""
        if not self.moh_missing:
            started = time.monotonic()
            try:
                await channel.exec("MusicOnHold", "", seconds)
            except AGICommandError:
                pass
            if channel.hungup or time.monotonic() - started >= seconds / 2:
                return
            self.moh_missing = True
            log.warning("Asterisk played no music on hold (no [default] class in musiconhold.conf, or no "
                        "res_musiconhold): callers hold in silence")
        await channel.exec("Wait", seconds)

    async def agent_offer(self, channel: Channel, uniqueid: str, offer_id: int) -> None:
        """On the agent's channel (Dial `U()` subroutine): whisper, press 1 to take the caller.

        Leaving GOSUB_RESULT empty lets Dial bridge the two; BUSY hangs up on the agent and returns
        the caller's Dial() with DIALSTATUS=BUSY, so the caller's session offers the next agent.
        """
        performer = Performer(self.settings, channel, uniqueid)

        def details(s: Session) -> tuple[str, str, int, int | None] | None:
            found = distribution.confirmation(s, offer_id, self.clock())
            if found is None:
                return None
            _, call, lang, reason, minutes = found
            return self.engine.flow.language(lang, self.settings.default_language), reason, minutes, call.company_id

        def decided(s: Session, took: bool) -> bool:
            offer = s.get(CallOffer, offer_id)
            if offer is None:
                return False
            if took:
                return distribution.offer_accepted(s, offer, self.clock()) is not None
            distribution.offer_failed(s, offer, self.clock(), OfferStatus.DECLINED)
            return False

        try:
            found = await self._db(details)
            lang = found[0] if found else self.settings.default_language
            if found is not None:
                _, reason, minutes, company_id = found
                if company_id is not None and performer.has_prompt(lang, company_prompt_key(company_id)):
                    # The customer's name, from `callcenter prompts build` (no synthesis mid-call).
                    await performer.say(self.engine.say("agent_offer_company", lang))
                    await channel.play(performer.prompt_file(lang, company_prompt_key(company_id)))
                inp = await performer.gather(Gather([self.engine.say(f"agent_offer_{reason}", lang, minutes=minutes)],
                                                    "agent_offer", 1, "", 8))
                if await self._db(lambda s: decided(s, inp.kind == "digits" and inp.digits[:1] == "1")):
                    return
                if inp.kind == "digits" and inp.digits[:1] == "1":
                    await performer.say(self.engine.say("agent_caller_gone", lang))
            else:
                await performer.say(self.engine.say("agent_caller_gone", lang))
            await channel.set_variable("GOSUB_RESULT", "BUSY")
        except AGIHangup:
            await self._db(lambda s: decided(s, False))
