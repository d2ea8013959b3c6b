"""The agent's desk in a real browser: the screen-pop arrives, without a reload, when the agent takes a call.

The take goes through the real Asterisk path: a queued Asterisk caller is claimed for the agent and
the agent presses 1 in the `agent-offer` FastAGI session (a scripted peer over TCP).
"""

from __future__ import annotations

import asyncio
import time

import pytest
from agi_peer import AGIPeer, plausible_reply
from browser import find_chromium
from hotline_helpers import NIKOS
from test_browser import browser, by_css, login, wait_for  # noqa: F401 (fixture)

from callcenter import agents, calls, distribution
from callcenter.models import utcnow
from webhooks.agi_server import FastAGIServer
from webhooks.fastagi import HotlineAGI

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(find_chromium() is None, reason="chromium and chromium-driver are not installed"),
]


def test_screen_pop_arrives_when_the_agent_takes_an_asterisk_call(browser, app, settings, engine, demo,  # noqa: ANN001, F811
                                                                 session) -> None:
    from browser import serve

    agent1 = demo.staff["agent1"]
    server = FastAGIServer(HotlineAGI(settings, engine), port=0)
    host, port = server.start_in_thread()
    try:
        with serve(app) as base:
            login(browser, base, "agent1")
            browser.get(f"{base}/agent")
            assert by_css(browser, "#screen-pop").get_attribute("hidden") is not None
            marker = browser.execute_script("window.__noReload = 7; return window.__noReload;")

            now = utcnow()
            ctx = calls.start_call(session, channel="asterisk", provider_call_id="pop.1", caller=NIKOS, now=now)
            ticket = calls.open_critical_ticket(session, ctx, category="infrastructure", priority="critical",
                                                subject="PBX down", now=now)
            calls.enter_queue(session, ctx, now)
            agents.set_state(session, agents.agent_for(session, agent1.id, now), "available", now)
            look = distribution.claim_for_caller(session, ctx.call, now, settings)
            assert look.action == "dial" and look.target == f"PJSIP/{agent1.phone}@hotline-trunk"
            session.commit()
            # Ringing is not taking: after a poll or two the desk still shows nothing.
            time.sleep(2.5)
            assert by_css(browser, "#screen-pop").get_attribute("hidden") is not None

            def presses_1(line: str) -> str:
                return "200 result=1" if line.startswith("GET DATA") else plausible_reply(line)

            leg = AGIPeer([], callerid=agent1.phone, uniqueid="pop.agent", script="agent-offer",
                          query=f"offer={look.offer.id}", auto_reply=presses_1)
            asyncio.run(leg.run(host, port))
            leg.assert_ok()

            wait_for(lambda: by_css(browser, "#screen-pop").get_attribute("hidden") is None)
            pop = by_css(browser, "#screen-pop").text
            assert "Nikos Papadopoulos" in pop and "Athens Demo A.E." in pop and "ATH-PBX-01" in pop
            assert f"#{ticket.number}" in by_css(browser, "#pop-ivr").text
            assert by_css(browser, "#agent-state").text == "Hívásban"  # agent1 works in Hungarian: "On a call"
            assert browser.execute_script("return window.__noReload;") == marker  # same page, no reload
    finally:
        server.stop_thread()
