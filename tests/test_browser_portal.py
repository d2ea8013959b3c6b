"""The customer portal in headless Chromium: approve a pending request from the top of the page, reply
with a file, and see nothing of the staff's internal work."""

from __future__ import annotations

import pytest
from browser import find_chromium
from sqlalchemy import select
from test_browser import browser, by_css, login, site, wait_for  # noqa: F401 (fixtures)

from callcenter import tickets as svc
from callcenter.models import Approval, Ticket, TicketAttachment, utcnow

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(find_chromium() is None, reason="chromium and chromium-driver are not installed"),
]


def test_customer_approves_and_replies_with_a_file(browser, site, session, demo, tmp_path) -> None:  # noqa: ANN001, F811
    base = site["base"]
    at = utcnow()
    request = svc.create_ticket(session, svc.NewTicket(subject="CRM access for Kiss Péter", channel="email",
                                                       category="permission_change",
                                                       reporter_contact_id=demo.anna.id), now=at)
    vpn = svc.create_ticket(session, svc.NewTicket(subject="VPN drops", channel="email", category="system",
                                                   reporter_contact_id=demo.anna.id), now=at)
    svc.escalate(session, vpn, "L2", actor=svc.Actor.staff(demo.staff["agent1"]), now=at,
                 reason="she is impatient")
    session.commit()
    login(browser, base, "anna@budapest-demo.example")
    assert "/portal/" in browser.current_url
    # Hungarian customer: the portal speaks Hungarian.
    assert "Jóváhagyására vár" in by_css(browser, "#pending-approvals").text
    by_css(browser, "#pending-approvals textarea").send_keys("Rendben.")
    by_css(browser, "#pending-approvals button.approve").click()
    wait_for(lambda: not browser.find_elements("css selector", "#pending-approvals"))
    session.expire_all()
    approval = session.scalar(select(Approval).where(Approval.ticket_id == request.id))
    assert approval.status == "approved" and approval.decided_by_name == "Kovács Anna"

    browser.get(f"{base}/portal/tickets/{vpn.number}")
    assert "she is impatient" not in browser.page_source and "L2" not in by_css(browser, "main").text
    log = tmp_path / "vpn.log"
    log.write_text("drop at 10:02\n")
    by_css(browser, "#reply-body").send_keys("A napló csatolva.")
    by_css(browser, "#reply-files").send_keys(str(log))
    by_css(browser, "#reply-submit").click()
    wait_for(lambda: "vpn.log" in by_css(browser, "#conversation").text)
    session.expire_all()
    att = session.scalar(select(TicketAttachment).where(TicketAttachment.ticket_id == vpn.id))
    assert att.data == b"drop at 10:02\n"
    assert "A napló csatolva." in [e.body for e in session.get(Ticket, vpn.id).events]
