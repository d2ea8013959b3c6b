"""Issue 11 item 7 through a real Asterisk: a FastAGI server over its session limit refuses the call and
the dialplan's next priority routes the caller on (HOTLINE_STATUS=BUSY), as it does when the server
cannot be reached at all (AGISTATUS=FAILURE); nobody hears silence."""

from __future__ import annotations

import time

from actors import HangUp, Stay
from hotline_helpers import ANNA, IN_HOURS
from pbx import CallFile, free_port
from pbx_fixtures import *  # noqa: F403
from sqlalchemy import func, select

from callcenter.models import Call
from webhooks.agi_server import FastAGIServer


def _fallback_reached(hotline, name: str, timeout: float = 60) -> str:  # noqa: ANN001
    """Place a call and wait until the fallback answers it; Asterisk's log after the call was placed."""
    offset = len(hotline.pbx.log_text())
    hotline.pbx.originate(CallFile("Local/s@hotline", "test-caller", callerid=f'"Caller" <{ANNA}>',
                                   variables={"TEST_CALL": name}), name)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = hotline.pbx.log_text()[offset:]
        if "app_verbose.c: TEST FALLBACK reached by" in log:
            return log
        time.sleep(0.1)
    raise AssertionError(f"{name}: the fallback was never dialled")


def test_over_the_limit_or_unreachable_the_dialplan_routes_the_caller_on(make_hotline, demo, session) -> None:  # noqa: ANN001
    hotline = make_hotline(IN_HOURS)
    full = FastAGIServer(hotline.agi, port=0, max_sessions=0)  # every call is one too many
    _, port = full.start_in_thread()
    try:
        hotline.pbx.set_global("HOTLINE_AGI", f"agi://127.0.0.1:{port}/hotline")
        placed = hotline.actors.new_call([Stay(8), HangUp(on=None)])
        log = _fallback_reached(hotline, placed.name)
        assert "AGI SUCCESS BUSY" in log and full.calls_refused == 1
    finally:
        full.stop_thread()
    # No server listening at all: AGI() fails, the same fallback.
    hotline.pbx.set_global("HOTLINE_AGI", f"agi://127.0.0.1:{free_port()}/hotline")
    placed = hotline.actors.new_call([Stay(8), HangUp(on=None)])
    log = _fallback_reached(hotline, placed.name)
    assert "AGI FAILURE" in log
    assert session.scalar(select(func.count()).select_from(Call)) == 0  # refused calls write nothing
