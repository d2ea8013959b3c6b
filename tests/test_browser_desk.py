"""The call notice on every console page, in headless Chromium: an agent reading the call log hears
of the call offered to them and then of the call they are on, with the caller's wait; the desk's
Dismiss is visible and dismisses; the outcome is read back from the database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from browser import chromium, find_chromium, serve
from call_data import make_call
from hotline_helpers import NIKOS
from sqlalchemy import select
from test_browser import by_css, login, wait_for

from callcenter import agents, calls, distribution
from callcenter.models import Call, CallOffer, CallOutcome

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(find_chromium() is None, reason="chromium and chromium-driver are not installed"),
]


@pytest.fixture
def site(app, demo, session, settings, now):  # noqa: ANN001, ANN201
    session.info["settings"] = settings
    app.config["CLOCK"] = lambda: now
    with serve(app) as base:
        yield base


@pytest.fixture
def browser():  # noqa: ANN201
    with chromium() as driver:
        yield driver


def test_agent_hears_of_the_call_on_any_page(browser, site, session, demo, now) -> None:  # noqa: ANN001
    login(browser, site, "agent1")
    browser.get(f"{site}/console/calls")
    assert by_css(browser, "#call-notice").get_attribute("hidden") is not None
    marker = browser.execute_script("window.__noReload = 3; return window.__noReload;")
    ctx = calls.start_call(session, channel="twilio", provider_call_id="CA-notice", caller=NIKOS,
                           now=now - timedelta(seconds=100))
    calls.enter_queue(session, ctx, now - timedelta(seconds=95))
    session.commit()
    agents.set_state(session, agents.agent_for(session, demo.staff["agent1"].id, now), "available", now)
    session.commit()
    [offer] = session.scalars(select(CallOffer)).all()
    notice = wait_for(lambda: by_css(browser, "#call-notice").get_attribute("hidden") is None
                      and by_css(browser, "#call-notice"))
    assert "offered" in notice.get_attribute("class")
    assert "Nikos Papadopoulos" in notice.text and "Athens Demo A.E." in notice.text and "1:35" in notice.text
    distribution.offer_accepted(session, offer, now)
    session.commit()
    wait_for(lambda: "answered" in by_css(browser, "#call-notice").get_attribute("class"))
    assert "Nikos Papadopoulos" in by_css(browser, "#call-notice").text
    assert browser.execute_script("return window.__noReload;") == marker  # the same page, never reloaded
    by_css(browser, "#call-notice a").click()
    wait_for(lambda: "/agent" in browser.current_url)
    assert by_css(browser, "#agent-state").text  # the desk took over
    session.expire_all()
    assert session.get(Call, ctx.call.id).agent_id is not None


def test_dismiss_is_visible_and_dismisses(browser, site, session, demo, now) -> None:  # noqa: ANN001
    missed = make_call(session, now - timedelta(minutes=20), company=demo.budapest, contact=demo.anna, wait=300,
                       outcome=CallOutcome.ABANDONED_IN_QUEUE)
    missed.callback_state = "pending"
    session.commit()
    login(browser, site, "agent2")
    browser.get(f"{site}/agent")
    button = by_css(browser, f"#dismiss-{missed.id}")
    colours = browser.execute_script(
        "const s = getComputedStyle(arguments[0]); return [s.color, s.backgroundColor];", button)
    assert colours[0] != colours[1] and button.is_displayed() and button.size["height"] >= 30
    assert "5:00" in by_css(browser, "#callbacks").text  # the wait in the console's one format
    # The current state is the pressed button.
    by_css(browser, "#state-away").click()
    wait_for(lambda: by_css(browser, "#state-away").get_attribute("aria-pressed") == "true")
    button = by_css(browser, f"#dismiss-{missed.id}")
    button.click()
    wait_for(lambda: f"dismiss-{missed.id}" not in browser.page_source)
    session.expire_all()
    assert session.get(Call, missed.id).callback_state == "dismissed"


def test_wallboard_is_a_wall_display_that_does_not_flicker(browser, site, session, demo, now) -> None:  # noqa: ANN001
    ctx = calls.start_call(session, channel="twilio", provider_call_id="CA-wall", caller=NIKOS,
                           now=now - timedelta(seconds=130))
    calls.enter_queue(session, ctx, now - timedelta(seconds=125))
    agents.set_state(session, agents.agent_for(session, demo.staff["agent2"].id, now), "away", now)
    session.commit()
    login(browser, site, "manager")
    browser.get(f"{site}/wallboard")
    wait_for(lambda: by_css(browser, "#wb-waiting-count").text == "1")
    assert by_css(browser, "#wb-longest").text == "2:05" and by_css(browser, "#wb-state-away").text == "1"
    # Readable from across a room: the numbers are big.
    size = browser.execute_script("return parseFloat(getComputedStyle(arguments[0]).fontSize);",
                                  by_css(browser, "#wb-waiting-count"))
    assert size >= 40
    # The next polls edit the text in place: the same row elements, never redrawn.
    browser.execute_script(
        "document.querySelector('#wb-waiting tr').__kept = 1; window.__polls = 0; const f = window.fetch;"
        "window.fetch = (...a) => f(...a).then(r => { if (String(a[0]).includes('wallboard.json')) {"
        " r.clone().json().then(() => setTimeout(() => { window.__polls++; }, 50)); } return r; });")
    wait_for(lambda: browser.execute_script("return window.__polls;") >= 2)
    assert browser.execute_script("return document.querySelector('#wb-waiting tr').__kept;") == 1
    assert by_css(browser, "#wb-longest").text == "2:05"
