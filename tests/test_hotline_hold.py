"""Holding a queued caller without music on hold must not spin (issue 13 item 5)."""

from __future__ import annotations

import asyncio

from webhooks.agi_protocol import AGICommandError
from webhooks.fastagi import HotlineAGI


class InstantChannel:
    """MusicOnHold() returns at once, as Asterisk's does without a music class."""

    hungup = False

    def __init__(self, moh_error: bool = False) -> None:
        self.execs: list[tuple[str, tuple]] = []
        self.moh_error = moh_error

    async def exec(self, app: str, *args: object) -> None:
        self.execs.append((app, args))
        if app == "MusicOnHold" and self.moh_error:
            raise AGICommandError("application MusicOnHold not found", "EXEC MusicOnHold")


def test_a_hold_slice_that_returns_at_once_becomes_silence(settings, engine) -> None:  # noqa: ANN001
    agi = HotlineAGI(settings, engine)
    channel = InstantChannel()
    asyncio.run(agi.hold(channel, 10))
    asyncio.run(agi.hold(channel, 10))
    # The first slice finds out; from then on the slices are Wait(), which takes its time.
    assert channel.execs == [("MusicOnHold", ("", 10)), ("Wait", (10,)), ("Wait", (10,))]


def test_without_the_musiconhold_module_the_caller_still_holds(settings, engine) -> None:  # noqa: ANN001
    agi = HotlineAGI(settings, engine)
    channel = InstantChannel(moh_error=True)
    asyncio.run(agi.hold(channel, 5))
    assert channel.execs == [("MusicOnHold", ("", 5)), ("Wait", (5,))]
