"""Asterisk adapter for the console's *Call back* (`callcenter.callbacks`): the agent's channel.

The worker originates the agent's phone into `[hotline-callback]` (AMI, from the outbox). When the
agent answers, the `callback` script names the customer's company (from `callcenter prompts build`),
records the call with MixMonitor and dials the customer; `U(hotline-callback-answered^id)` runs
`callback-answered` on the customer's channel as they answer (talk time starts there: Asterisk 22's
ANSWEREDTIME counts from the agent's answer). `callback-failed` is the dialplan's `failed` extension:
the agent's phone was not answered. A mixin of `webhooks.fastagi.HotlineAGI`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from callcenter import callbacks
from callcenter.config import Settings
from callcenter.ivr.prompts import company_prompt_key

from .agi_performer import Channel, Performer
from .agi_protocol import AGIHangup

log = logging.getLogger(__name__)

CUSTOMER_RING_SECONDS = 30  # as long as Twilio's callback <Dial> rings the customer
ANSWERED_CONTEXT = "hotline-callback-answered"


class CallbackAGI:
    """The callback's scripts (mixed into HotlineAGI)."""

    settings: Settings
    clock: Callable[[], datetime]
    _db: Callable[..., Awaitable[Any]]  # HotlineAGI._db: `work` in a transaction on a database thread

    async def callback(self, channel: Channel, uniqueid: str, back_id: int) -> None:
        performer = Performer(self.settings, channel, uniqueid)
        leg = await self._db(lambda s: callbacks.agent_answered(s, back_id, self.clock()))
        if leg is None:
            await channel.hangup()
            return
        try:
            prompt = company_prompt_key(leg.company_id) if leg.company_id is not None else None
            if prompt and performer.has_prompt(leg.agent_language, prompt):
                await channel.play(performer.prompt_file(leg.agent_language, prompt))
            relative = await performer.start_recording()
            await self._db(lambda s: callbacks.recording_started(s, back_id, relative, self.clock()))
            await channel.exec("Dial", self.settings.asterisk_dial.format(number=leg.number), CUSTOMER_RING_SECONDS,
                               f"U({ANSWERED_CONTEXT}^{back_id})")
        except AGIHangup:
            pass  # the agent hung up: the callback ends here
        finally:
            try:
                await self._db(lambda s: callbacks.dial_done(s, back_id, self.clock(), self.settings.recordings_path),
                               background=True)
            except Exception:
                log.exception("callback %s on %s: could not record its end", back_id, uniqueid)

    async def callback_answered(self, back_id: int) -> None:
        await self._db(lambda s: callbacks.customer_answered(s, back_id, self.clock()))

    async def callback_failed(self, back_id: int) -> None:
        await self._db(lambda s: callbacks.agent_unreachable(s, back_id, self.clock()))
