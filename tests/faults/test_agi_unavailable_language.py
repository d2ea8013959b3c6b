"""A FastAGI caller whose turn the database cannot take in the middle of the call hears "we are connecting
you to the on-call line" in the language the call was in. The dialplan passes no language: the call's
own, heard in its first turn, is the one to keep, not the installation's default."""

from __future__ import annotations

import time

from agi_peer import AGIPeer, plausible_reply, run_peers
from hotline_helpers import NIKOS, unavailable
from sqlalchemy import select

from callcenter.models import Call

UID = "1795303247.91"


def _row_exists(engine) -> bool:  # noqa: ANN001
    with engine.connect() as conn:
        return conn.scalar(select(Call.id).where(Call.provider_call_id == UID)) is not None


def test_the_emergency_route_mid_call_speaks_the_callers_language(settings, engine, demo) -> None:  # noqa: ANN001
    from webhooks.agi_server import FastAGIServer
    from webhooks.fastagi import HotlineAGI

    settings.asterisk_agent_dial = ""
    server = FastAGIServer(HotlineAGI(settings, engine), port=0)
    host, port = server.start_in_thread()
    refusing = unavailable(engine)

    def script(line: str) -> str:
        if line.startswith("GET DATA") and "menu" in line:
            deadline = time.monotonic() + 30
            while not _row_exists(engine):  # in the middle of the call: its row is written
                assert time.monotonic() < deadline, "the call's first turn was never written"
                time.sleep(0.02)
            refusing.__enter__()
            return "200 result=3"
        return plausible_reply(line)

    peer = AGIPeer([], callerid=NIKOS, uniqueid=UID, script="hotline", auto_reply=script, io_timeout=30)
    try:
        run_peers(host, port, [peer])
    finally:
        refusing.__exit__(None, None, None)
        server.stop_thread()
    peer.assert_ok()
    commands = peer.commands
    dial = next(i for i, c in enumerate(commands) if c.startswith("EXEC Dial"))
    assert settings.emergency_number in commands[dial], commands
    said = [c for c in commands[:dial] if c.startswith(("STREAM FILE", "EXEC Playback", "GET DATA"))]
    assert "emergency" in said[-1] and "/el/" in said[-1], said[-3:]
