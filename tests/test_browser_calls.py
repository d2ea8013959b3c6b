"""Calls in a real browser: play a recording in the <audio> element, score a call, and a customer
cannot reach another company's recording by URL. Headless Chromium against the app on 127.0.0.1."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from browser import chromium, find_chromium, serve
from call_data import make_call, store_recording
from test_browser import by_css, login, select, wait_for
from test_browser_oncall import choose_language

from callcenter.models import CallOutcome, CallReview, RecordingAudit, utcnow

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(find_chromium() is None, reason="chromium and chromium-driver are not installed"),
]


@pytest.fixture
def site(app, demo, session, settings):  # noqa: ANN001, ANN201
    at = utcnow() - timedelta(hours=1)
    nikos = make_call(session, at, company=demo.athens, contact=demo.nikos, asset=demo.pbx, wait=40, answered=True,
                      outcome=CallOutcome.ANSWERED)
    anna = make_call(session, at, company=demo.budapest, contact=demo.anna, wait=20, answered=True,
                     outcome=CallOutcome.ANSWERED)
    rec_nikos = store_recording(session, settings.recordings_path, nikos, seconds=3)
    rec_anna = store_recording(session, settings.recordings_path, anna, seconds=2)
    session.commit()
    with serve(app) as base:
        yield {"base": base, "nikos": nikos.id, "anna": anna.id, "rec_nikos": rec_nikos.id, "rec_anna": rec_anna.id}


@pytest.fixture
def browser():  # noqa: ANN201
    with chromium() as driver:
        yield driver


def media_state(driver) -> dict:  # noqa: ANN001
    return driver.execute_script(
        "const a = document.querySelector('audio.player');"
        "return {ready: a.readyState, duration: a.duration, error: a.error && a.error.code, time: a.currentTime};")


def test_engineer_plays_a_recording(browser, site, session) -> None:  # noqa: ANN001
    base = site["base"]
    login(browser, base, "eng3")
    browser.get(f"{base}/console/calls/{site['nikos']}")
    wait_for(lambda: by_css(browser, "audio.player"))
    # Opening the page is not a playback: preload="none" fetches nothing, and nothing is audited.
    time.sleep(1)
    session.expire_all()
    assert session.query(RecordingAudit).filter_by(recording_id=site["rec_nikos"]).count() == 0
    # Play it (muted: the test machine has no speakers) until the media clock moves.
    by_css(browser, "h1").click()  # a user gesture: Chromium's autoplay policy wants one before play()
    played = browser.execute_async_script(
        "const done = arguments[0]; const a = document.querySelector('audio.player'); a.muted = true;"
        "a.play().then(() => done(true), e => done(String(e)));")
    assert played is True
    wait_for(lambda: media_state(browser)["time"] > 0.2)
    state = media_state(browser)
    assert state["error"] is None and abs(state["duration"] - 3.0) < 0.1
    session.expire_all()
    trail = session.query(RecordingAudit).filter_by(recording_id=site["rec_nikos"]).all()
    assert [t.action for t in trail] == ["play"] and trail[0].actor_name == "Dimitris Alexiou"


@pytest.mark.parametrize("lang", ["en", "hu", "el"])
def test_quality_reviewer_scores_a_call(browser, site, session, lang) -> None:  # noqa: ANN001
    base = site["base"]
    login(browser, base, "qa")
    browser.get(f"{base}/console/calls/{site['anna']}")
    choose_language(browser, lang)
    # Scores start empty: saving before choosing them all is refused by the browser, nothing is stored.
    by_css(browser, "#review-submit").click()
    assert by_css(browser, "#score-greeting").get_attribute("value") == ""
    assert session.query(CallReview).count() == 0
    for criterion, score in (("greeting", "5"), ("identification", "4"), ("problem_capture", "4"),
                             ("solution", "2"), ("courtesy", "5")):
        select(browser, f"#score-{criterion}", score)
    by_css(browser, "#review-comment").send_keys("Solution needed a call-back.")
    by_css(browser, "#review-submit").click()
    wait_for(lambda: "20/25" in by_css(browser, "#reviews").text)
    session.expire_all()
    review = session.query(CallReview).one()
    assert (review.call_id, review.total, review.solution) == (site["anna"], 20, 2)
    browser.get(f"{base}/console/calls/reviews")
    assert re.search(r"20[.,]00", by_css(browser, "#review-averages").text)


def test_customer_cannot_reach_another_companys_recording(browser, site) -> None:  # noqa: ANN001
    base = site["base"]
    login(browser, base, "anna@budapest-demo.example")
    browser.get(f"{base}/console/calls/{site['anna']}")
    assert wait_for(lambda: by_css(browser, "audio.player"))  # her own call she may hear
    fetch = ("const done = arguments[1]; fetch(arguments[0], {headers: {Range: 'bytes=0-'}})"
             ".then(r => done(r.status), e => done(String(e)));")
    assert browser.execute_async_script(fetch, f"/console/recordings/{site['rec_anna']}/audio") == 206
    assert browser.execute_async_script(fetch, f"/console/recordings/{site['rec_nikos']}/audio") == 404
    browser.get(f"{base}/console/recordings/{site['rec_nikos']}/audio")
    assert 'data-code="404"' in browser.page_source  # Anna reads Hungarian: the page's code, not its words
    browser.get(f"{base}/console/calls/{site['nikos']}")
    assert 'data-code="404"' in browser.page_source  # Anna reads Hungarian: the page's code, not its words
