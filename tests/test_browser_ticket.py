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


def test_agent_works_a_ticket_in_one_update(browser, site, session, demo) -> None:  # noqa: ANN001
    base, number = site["base"], site["number"]
    login(browser, base, "agent1")
    browser.get(f"{base}/console/tickets/{number}")
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
