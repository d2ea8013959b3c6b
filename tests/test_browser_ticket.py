"""The ticket page and the queue in headless Chromium (issue 12, items 1-3): an agent works a ticket in
one Update, sidebar fields save without a reload, and the queue's refresh leaves focus and scroll alone.
Outcomes are asserted in the database."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from browser import chromium, find_chromium, serve
from sqlalchemy import select
from test_browser import by_css, login, status_of, wait_for
from test_browser import select as choose

from callcenter import tickets as svc
from callcenter.models import OutboundMail, Ticket, TicketEvent, TimeEntry, utcnow

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(find_chromium() is None, reason="chromium and chromium-driver are not installed"),
]

SECRET = "caller was rude; engineer should phone her manager"


@pytest.fixture
def site(app, demo, session):  # noqa: ANN001, ANN201
    t = svc.create_ticket(session, svc.NewTicket(subject="Printer queue stuck", channel="phone", category="user",
                                                 reporter_contact_id=demo.anna.id), now=utcnow())
    session.commit()
    with serve(app) as base:
        yield {"base": base, "number": t.number}


@pytest.fixture
def browser(tmp_path: Path):  # noqa: ANN201
    with chromium(download_dir=tmp_path / "downloads") as driver:
        yield driver


@pytest.mark.parametrize("lang", ["en", "hu", "el"])
def test_agent_works_a_ticket_in_one_update(browser, site, session, demo, lang) -> None:  # noqa: ANN001
    base, number = site["base"], site["number"]
    login(browser, base, "agent1")
    browser.get(f"{base}/console/tickets/{number}")
    if by_css(browser, "html").get_attribute("lang") != lang:
        choose(browser, "select[name=lang]", lang)
        wait_for(lambda: by_css(browser, "html").get_attribute("lang") == lang)
    composer = by_css(browser, "#composer-form")
    assert "is-internal" in composer.get_attribute("class")  # an internal note unless the agent says otherwise
    by_css(browser, "#composer-body").send_keys(SECRET)
    choose(browser, "#composer-status", "in_progress")
    choose(browser, "#composer-level", "L2")
    choose(browser, "#composer-assignee", str(demo.staff["eng2"].id))
    by_css(browser, "#composer-hours").send_keys("0.75")
    by_css(browser, "#composer-submit").click()
    wait_for(lambda: status_of(browser) == "in_progress")
    assert browser.current_url.endswith("#composer")  # back where the agent was, not at the top
    assert browser.execute_script("return window.scrollY") > 0
    assert SECRET in by_css(browser, "#events").text
    session.expire_all()
    t = session.scalar(select(Ticket).where(Ticket.number == number))
    assert (t.status, t.level, t.assignee_id) == ("in_progress", "L2", demo.staff["eng2"].id)
    assert [e.billable_hours for e in session.scalars(select(TimeEntry).where(TimeEntry.ticket_id == t.id))] \
        == [Decimal("0.75")]
    secret_events = session.scalars(select(TicketEvent).where(TicketEvent.body == SECRET)).all()
    assert [e.public for e in secret_events] == [False]

    # A reply to the customer looks different before it is sent, and shows as a mail in the timeline.
    by_css(browser, "#vis-public").click()
    wait_for(lambda: "is-public" in by_css(browser, "#composer-form").get_attribute("class"))
    assert by_css(browser, ".hint-public").is_displayed() and not by_css(browser, ".hint-internal").is_displayed()
    by_css(browser, "#composer-body").send_keys("Fixed: the driver is reinstalled.")
    choose(browser, "#composer-status", "resolved")
    by_css(browser, "#composer-submit").click()
    wait_for(lambda: status_of(browser) == "resolved")
    wait_for(lambda: "anna@budapest-demo.example" in by_css(browser, "#events li.mail:last-child").text)
    session.expire_all()
    assert session.scalar(select(OutboundMail).where(OutboundMail.ticket_id == t.id, OutboundMail.kind == "phase"))


def test_sidebar_fields_save_in_place_without_reloading(browser, site, session) -> None:  # noqa: ANN001
    base, number = site["base"], site["number"]
    login(browser, base, "agent1")
    browser.get(f"{base}/console/tickets/{number}")
    browser.execute_script("window.__same = 1")
    choose(browser, "#field-priority", "critical")
    wait_for(lambda: by_css(browser, "form.inplace[data-field=priority] .inplace-state").text == "✓")
    assert browser.execute_script("return window.__same") == 1  # no reload
    session.expire_all()
    assert session.scalar(select(Ticket.priority).where(Ticket.number == number)) == "critical"


def test_queue_search_sort_bulk_and_a_refresh_that_keeps_focus_and_scroll(browser, site, session, demo) -> None:  # noqa: ANN001
    base = site["base"]
    at = utcnow()
    for i in range(40):
        svc.create_ticket(session, svc.NewTicket(subject=f"Switch port {i:02d} flapping", channel="phone",
                                                 category="infrastructure", reporter_contact_id=demo.nikos.id),
                          now=at)
    session.commit()
    login(browser, base, "agent1")
    browser.set_window_size(1200, 700)
    browser.get(f"{base}/console/queue?sort=subject")
    assert by_css(browser, "#queue-total").text == "41"
    assert "Printer queue stuck" in by_css(browser, "#queue tbody tr:first-child").text
    assert "Switch port 00" in by_css(browser, "#queue tbody tr:nth-child(2)").text
    # Tick two rows, scroll down, focus a checkbox: the next refreshes keep all three.
    wait_for(lambda: by_css(browser, "#queue-updated").text)  # the first poll has replaced the rows
    picks = browser.find_elements("css selector", "#queue input.pick")
    picks[0].click()
    picks[1].click()
    target = picks[30]
    target_value = target.get_attribute("value")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'}); arguments[0].focus();", target)
    scrolled = browser.execute_script("return window.scrollY")
    assert scrolled > 0
    stamp = by_css(browser, "#queue-updated").text
    wait_for(lambda: by_css(browser, "#queue-updated").text != stamp)
    stamp = by_css(browser, "#queue-updated").text
    wait_for(lambda: by_css(browser, "#queue-updated").text != stamp)
    assert browser.execute_script("return window.scrollY") == scrolled
    assert browser.execute_script("return document.activeElement.value") == target_value
    assert by_css(browser, "#bulk-count b").text == "2"
    ticked = [p.get_attribute("value") for p in browser.find_elements("css selector", "#queue input.pick:checked")]
    assert len(ticked) == 2
    # Bulk: take both and acknowledge them.
    browser.execute_script("window.scrollTo(0, 0)")
    choose(browser, "#bulk-assignee", "me")
    choose(browser, "#bulk-status", "acknowledged")
    by_css(browser, "#bulk-submit").click()
    wait_for(lambda: by_css(browser, ".flash.ok"))  # the confirmation, in agent1's Hungarian
    session.expire_all()
    for number in ticked:
        t = session.scalar(select(Ticket).where(Ticket.number == int(number)))
        assert t.status == "acknowledged" and t.assignee_id == demo.staff["agent1"].id
    # Search, then the saved filter "my tickets".
    search_box = by_css(browser, "#search")
    search_box.clear()
    search_box.send_keys("flapping 07\n")
    wait_for(lambda: "q=flapping" in browser.current_url)
    # Read the rows in one go, again if the 5-second refresh swaps them between finding and reading.
    rows = wait_for(lambda: [r.text for r in browser.find_elements("css selector", "#queue tbody tr")])
    assert len(rows) == 1 and "Switch port 07" in rows[0]
    browser.get(f"{base}/console/queue")
    by_css(browser, "#view-mine").click()
    wait_for(lambda: "view=mine" in browser.current_url)
    assert by_css(browser, "#queue-total").text == "2"
