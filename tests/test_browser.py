"""The console in a real browser: headless Chromium against the app on 127.0.0.1.

Skipped only when chromium / chromium-driver are not installed (CI installs them).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from browser import chromium, find_chromium, serve

from callcenter import tickets as svc
from callcenter.models import Ticket, utcnow

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(find_chromium() is None, reason="chromium and chromium-driver are not installed"),
]


@pytest.fixture
def site(app, demo, session):  # noqa: ANN001, ANN201
    at = utcnow()
    ath = svc.create_ticket(session, svc.NewTicket(subject="PBX trunk down", channel="phone",
                                                   category="infrastructure", reporter_contact_id=demo.nikos.id,
                                                   asset_id=demo.pbx.id), now=at)
    session.commit()
    with serve(app) as base:
        yield {"base": base, "ath": ath.number}


@pytest.fixture
def browser(tmp_path: Path):  # noqa: ANN201
    with chromium(download_dir=tmp_path / "downloads") as driver:
        yield driver


def by_css(driver, css: str):  # noqa: ANN001, ANN201
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, css)


def wait_for(predicate, timeout: float = 30.0):  # noqa: ANN001, ANN201
    """Poll `predicate` in the browser; `timeout` is a ceiling for a loaded machine, never a goal."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except (NoSuchElementException, StaleElementReferenceException):
            # The next page has not arrived yet, or was replaced between finding the element and
            # reading it: look again.
            value = None
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out waiting in the browser")


def login(driver, base: str, name: str, password: str = "demo") -> None:  # noqa: ANN001
    driver.delete_all_cookies()
    driver.get(f"{base}/login")
    by_css(driver, "#login").send_keys(name)
    by_css(driver, "#password").send_keys(password)
    by_css(driver, "#login-submit").click()
    wait_for(lambda: "/login" not in driver.current_url)


def select(driver, css: str, value: str) -> None:  # noqa: ANN001
    from selenium.webdriver.support.ui import Select

    Select(by_css(driver, css)).select_by_value(value)


def status_of(driver) -> str:  # noqa: ANN001
    return by_css(driver, "#ticket-status").get_attribute("data-status")


def test_agent_works_a_ticket_from_new_to_closed(browser, site, session) -> None:  # noqa: ANN001
    base = site["base"]
    login(browser, base, "agent1")
    browser.get(f"{base}/console/tickets/new")
    by_css(browser, "#subject").send_keys("Printer queue stuck")
    select(browser, "#category", "user")
    select(browser, "#company_id", "1")
    select(browser, "#reporter_contact_id", "1")
    by_css(browser, "#create-ticket").click()
    wait_for(lambda: by_css(browser, "#ticket-number"))
    assert status_of(browser) == "new"
    # The one composer (issue 12): each step is one Update; the details are in test_browser_ticket.py.
    for status in ("acknowledged", "in_progress"):
        select(browser, "#composer-status", status)
        by_css(browser, "#composer-submit").click()
        wait_for(lambda s=status: status_of(browser) == s)
    select(browser, "#composer-level", "L2")
    by_css(browser, "#composer-body").send_keys("driver problem, needs an engineer")
    by_css(browser, "#composer-hours").send_keys("0.5")
    by_css(browser, "#composer-submit").click()
    wait_for(lambda: by_css(browser, "#ticket-level").get_attribute("data-level") == "L2")
    assert by_css(browser, "#time-total").text == "0,50 ó"  # agent1 reads Hungarian: decimal comma, óra
    select(browser, "#composer-status", "resolved")
    by_css(browser, "#vis-public").click()
    by_css(browser, "#composer-body").send_keys("Driver reinstalled, queue cleared.")
    by_css(browser, "#composer-submit").click()
    wait_for(lambda: status_of(browser) == "resolved")
    select(browser, "#composer-status", "closed")
    by_css(browser, "#composer-submit").click()
    wait_for(lambda: status_of(browser) == "closed")
    assert "Driver reinstalled, queue cleared." in by_css(browser, "#events").text
    session.expire_all()
    t = session.query(Ticket).filter_by(subject="Printer queue stuck").one()
    assert t.status == "closed" and t.level == "L2" and t.closed_at is not None


def test_queue_updates_without_reload(browser, site, session, demo) -> None:  # noqa: ANN001
    base = site["base"]
    login(browser, base, "agent2")
    browser.get(f"{base}/console/queue")
    assert "PBX trunk down" in by_css(browser, "#queue").text
    marker = browser.execute_script("window.__noReload = 1; return window.__noReload;")
    svc.create_ticket(session, svc.NewTicket(subject="Customer complaint: no callback", channel="email",
                                             category="complaint", reporter_contact_id=demo.anna.id), now=utcnow())
    session.commit()
    wait_for(lambda: "Customer complaint: no callback" in by_css(browser, "#queue").text)
    assert browser.execute_script("return window.__noReload;") == marker  # same page, no reload
    first_row = by_css(browser, "#queue tbody tr").text
    assert "Customer complaint" in first_row  # complaints first
    # The SLA cell counts down while the office is open.
    cell = by_css(browser, "#queue tbody tr:nth-child(2) td.sla")
    assert cell.text not in ("", "—")


def test_approval_requested_by_engineer_decided_by_manager(browser, site) -> None:  # noqa: ANN001
    base, number = site["base"], site["ath"]
    login(browser, base, "eng2")
    browser.get(f"{base}/console/tickets/{number}")
    by_css(browser, "#approvals details summary").click()
    select(browser, "#approval-kind", "spare_part")
    by_css(browser, "#approval-summary").send_keys("Replacement E1/PRI card")
    by_css(browser, "#approval-request-submit").click()
    wait_for(lambda: status_of(browser) == "waiting_approval")
    assert not browser.find_elements("css selector", ".decide-form")  # an engineer cannot decide it
    login(browser, base, "manager")
    browser.get(f"{base}/console/tickets/{number}")
    by_css(browser, ".decide-form textarea").send_keys("Approved within the quarterly spare-part budget.")
    by_css(browser, ".decide-form button.approve").click()
    wait_for(lambda: by_css(browser, ".approval-status").get_attribute("data-status") == "approved")
    assert status_of(browser) == "acknowledged"


def test_manager_downloads_the_quarterly_pdf(browser, site, tmp_path) -> None:  # noqa: ANN001
    base = site["base"]
    login(browser, base, "manager")
    browser.get(f"{base}/console/reports/")
    select(browser, "#report-company", "2")
    by_css(browser, "#report-show").click()
    wait_for(lambda: "Athens Demo A.E." in browser.find_element("tag name", "h1").text)
    assert browser.find_elements("css selector", "svg.chart")
    by_css(browser, "#download-pdf").click()
    downloads = tmp_path / "downloads"
    pdf = wait_for(lambda: next((p for p in downloads.glob("*.pdf")), None) if downloads.exists() else None)
    wait_for(lambda: pdf.stat().st_size > 1000 and pdf.read_bytes().startswith(b"%PDF"))


def test_customer_cannot_reach_another_companys_ticket(browser, site, session, demo) -> None:  # noqa: ANN001
    base = site["base"]
    own = svc.create_ticket(session, svc.NewTicket(subject="VPN slow", channel="email", category="user",
                                                   reporter_contact_id=demo.anna.id), now=utcnow())
    session.commit()
    login(browser, base, "anna@budapest-demo.example")
    browser.get(f"{base}/console/tickets/{own.number}")
    assert "VPN slow" in browser.find_element("tag name", "h1").text
    browser.get(f"{base}/console/tickets/{site['ath']}")
    body = browser.find_element("tag name", "body").text  # Anna reads Hungarian: the page's code, not its words
    assert 'data-code="404"' in browser.page_source and "PBX trunk down" not in body
    browser.get(f"{base}/console/queue")
    assert 'data-code="403"' in browser.page_source
    browser.get(f"{base}/console/tickets")
    listing = by_css(browser, "#tickets").text
    assert "VPN slow" in listing and "PBX trunk down" not in listing


@pytest.mark.parametrize("username, sees, does_not_see", [
    ("admin", ["/console/queue", "/console/companies", "/console/reports/"], []),
    ("eng3", ["/console/queue", "/console/companies"], ["/console/reports/"]),
    ("qa", ["/console/queue", "/console/reports/"], ["/console/tickets/new"]),
])
def test_each_role_sees_its_menu(browser, site, username, sees, does_not_see) -> None:  # noqa: ANN001
    base = site["base"]
    login(browser, base, username)
    nav = [a.get_attribute("href").removeprefix(base) for a in browser.find_elements("css selector", "header nav a")]
    for item in sees:
        assert item in nav
    for item in does_not_see:
        assert item not in nav
    browser.get(f"{base}/console/tickets/{site['ath']}")
    assert ("composer-form" in browser.page_source) == (username != "qa")


def test_language_switcher(browser, site) -> None:  # noqa: ANN001
    base = site["base"]
    login(browser, base, "agent1")
    select(browser, "select[name=lang]", "el")
    wait_for(lambda: "Αποσύνδεση" in by_css(browser, "#logout").text)
    select(browser, "select[name=lang]", "hu")
    wait_for(lambda: "Kijelentkezés" in by_css(browser, "#logout").text)
