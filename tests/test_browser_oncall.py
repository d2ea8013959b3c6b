"""The on-call page on a phone (390×844) in headless Chromium: the engineer sees who is being paged
and at which step, acknowledges one alert from its card and two more at once, the acknowledged alert
stays where it was, logout stays reachable; the outcome is read back from the database."""

from __future__ import annotations

import pytest
from browser import chromium, find_chromium, serve
from sqlalchemy import select
from test_browser import by_css, login, wait_for

from callcenter.models import Alert, AlertStatus, EscalationPolicy
from callcenter.paging import alerts
from callcenter.scheduler import Ticker

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(find_chromium() is None, reason="chromium and chromium-driver are not installed"),
]
PHONE = (390, 844)


@pytest.fixture
def site(app, demo, session, settings, engine, now):  # noqa: ANN001, ANN201
    app.config["CLOCK"] = lambda: now
    policy = session.scalar(select(EscalationPolicy).where(EscalationPolicy.name == "Default"))
    ids = []
    for minutes, summary in ((3, "Hotline call not answered for 15 min"), (2, "PBX trunk down"),
                             (1, "Core switch port flapping")):
        alert, _ = alerts.raise_alert(session, source="api", dedup_key=summary, summary=summary, policy=policy,
                                      now=now.replace(second=0) if minutes == 0 else now - _minutes(minutes))
        ids.append(alert.id)
    session.commit()
    Ticker(settings, engine, clock=lambda: now).tick()  # the first step is paged (console provider)
    with serve(app) as base:
        yield {"base": base, "ids": ids}


def _minutes(n: int):  # noqa: ANN202
    from datetime import timedelta

    return timedelta(minutes=n)


@pytest.fixture
def phone():  # noqa: ANN201
    with chromium(width=PHONE[0], height=PHONE[1]) as driver:
        driver.set_window_size(*PHONE)
        yield driver


def rect(driver, css: str) -> dict:  # noqa: ANN001
    return driver.execute_script("return document.querySelector(arguments[0]).getBoundingClientRect().toJSON();", css)


def card_order(driver) -> list[str]:  # noqa: ANN001
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('#alert-cards li.alert-card')).map(li => li.dataset.alert);")


def choose_language(driver, lang: str) -> None:  # noqa: ANN001
    from selenium.webdriver.support.ui import Select

    Select(by_css(driver, "select[name=lang]")).select_by_value(lang)  # sends itself (auto-submit)
    wait_for(lambda: driver.find_element("tag name", "html").get_attribute("lang") == lang)


@pytest.mark.parametrize("lang", ["en", "hu", "el"])
def test_engineer_acknowledges_on_a_phone(phone, site, session, lang) -> None:  # noqa: ANN001
    base, (oldest, middle, newest) = site["base"], site["ids"]
    login(phone, base, "eng3")  # Dimitris Alexiou is on call this week: the first step pages him
    phone.get(f"{base}/console/oncall")
    choose_language(phone, lang)
    width = phone.execute_script("return window.innerWidth;")
    assert width <= 400
    # Nothing sticks out sideways; logout is on screen and big enough to hit.
    assert phone.execute_script("return document.documentElement.scrollWidth;") <= width
    logout = rect(phone, "#logout")
    assert logout["right"] <= width and logout["height"] >= 40 and logout["top"] >= 0
    # The newest alert first; who is being paged now and at which step.
    assert card_order(phone) == [str(newest), str(middle), str(oldest)]
    paging = by_css(phone, f"#paging-{newest}").text
    assert "Dimitris Alexiou" in paging and "1" in paging and "3" in paging
    # Acknowledge is the first button of the card, full width and at least 44 px tall.
    buttons = phone.execute_script(
        f"return Array.from(document.querySelectorAll('#alert-{newest} .alert-actions button')).map(b => b.id);")
    assert buttons[0] == f"acknowledge-{newest}"
    ack = rect(phone, f"#acknowledge-{newest}")
    assert ack["height"] >= 44 and ack["right"] <= width and ack["width"] >= width * 0.7
    by_css(phone, f"#acknowledge-{newest}").click()
    flash = wait_for(lambda: by_css(phone, ".flash.ok").text)
    assert str(newest) in flash and "Core switch port flapping" in flash
    # The acknowledged alert keeps its place and says who took it.
    assert card_order(phone) == [str(newest), str(middle), str(oldest)]
    assert "Dimitris Alexiou" in by_css(phone, f"#paging-{newest}").text
    assert by_css(phone, f"#alert-{newest}").get_attribute("data-status") == "acknowledged"
    # Two more at once.
    by_css(phone, f"#select-{middle}").click()
    by_css(phone, f"#select-{oldest}").click()
    assert by_css(phone, "#selected-count").text == "(2)"
    by_css(phone, "#ack-selected").click()
    flash = wait_for(lambda: "PBX trunk down" in (t := by_css(phone, ".flash.ok").text) and t)
    # Both named; the hotline's own summary in the reader's language (web/alert_trail.SUMMARIES).
    hotline = {"en": "Hotline call not answered for 15 min", "hu": "Hotline-hívás 15 perce fogadatlan",
               "el": "Αναπάντητη κλήση γραμμής υποστήριξης για 15 λεπ."}[lang]
    assert f"{oldest} ({hotline})" in flash and f"{middle} (PBX trunk down)" in flash
    assert card_order(phone) == [str(newest), str(middle), str(oldest)]
    session.expire_all()
    rows = {a.id: a for a in session.scalars(select(Alert).where(Alert.id.in_(site["ids"])))}
    assert all(a.status == AlertStatus.ACKNOWLEDGED and a.ack_channel == "web" for a in rows.values())
    assert {a.acknowledged_by.username for a in rows.values()} == {"eng3"}


def test_alert_page_puts_the_buttons_first_on_a_phone(phone, site, session) -> None:  # noqa: ANN001
    base, alert_id = site["base"], site["ids"][1]
    login(phone, base, "eng3")
    phone.get(f"{base}/console/alerts/{alert_id}")
    width = phone.execute_script("return window.innerWidth;")
    assert phone.execute_script("return document.documentElement.scrollWidth;") <= width
    ack = rect(phone, f"#acknowledge-{alert_id}")
    assert 0 < ack["bottom"] <= PHONE[1] * 0.6 and ack["height"] >= 44  # above the fold, no scrolling
    assert "Dimitris Alexiou" in by_css(phone, f"#paging-{alert_id}").text  # who is being paged now
    by_css(phone, f"#escalate-{alert_id}").click()
    assert "PBX trunk down" in wait_for(lambda: by_css(phone, ".flash.ok").text)
    assert f"/console/alerts/{alert_id}" in phone.current_url
    session.expire_all()
    assert session.get(Alert, alert_id).step == 1 or session.get(Alert, alert_id).loop == 1


def test_queue_on_a_phone(phone, site, session, demo, now) -> None:  # noqa: ANN001
    from callcenter import tickets as tsvc

    ticket = tsvc.create_ticket(session, tsvc.NewTicket(subject="PBX trunk down", channel="phone",
                                                        category="infrastructure", reporter_contact_id=demo.nikos.id),
                                now=now)
    session.commit()
    base = site["base"]
    login(phone, base, "agent1")
    phone.get(f"{base}/console/queue")
    width = phone.execute_script("return window.innerWidth;")
    wait_for(lambda: phone.find_elements("css selector", f'#queue tr[data-number="{ticket.number}"] td.sla'))
    assert phone.execute_script("return document.documentElement.scrollWidth;") <= width
    # Each row is a card: the SLA and status values are on screen, each under its column's name.
    sla = rect(phone, f'#queue tr[data-number="{ticket.number}"] td.sla')
    assert 0 <= sla["left"] and sla["right"] <= width
    cell = f'#queue tr[data-number="{ticket.number}"] td.sla'
    # The column's name, copied from the header by console.js (again after each refresh swaps the rows).
    label = wait_for(lambda: phone.execute_script("return document.querySelector(arguments[0]).dataset.label;",
                                                  cell))
    assert label
    # The bulk bar stays out of the way until a ticket is ticked.
    assert not by_css(phone, "#bulk-bar").is_displayed()
    by_css(phone, f'#queue tr[data-number="{ticket.number}"] input.pick').click()
    assert by_css(phone, "#bulk-bar").is_displayed()
    by_css(phone, f'#queue tr[data-number="{ticket.number}"] a').click()
    wait_for(lambda: f"/console/tickets/{ticket.number}" in phone.current_url)
    assert phone.execute_script("return document.documentElement.scrollWidth;") <= width
