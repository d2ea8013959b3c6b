"""README screenshots from the real app with demo data.  Run: python bench/screenshots.py [NAME ...]

Seeds a throw-away SQLite database with the demo customers and a few weeks of tickets, serves the
app on 127.0.0.1 and photographs the main pages with headless Chromium into docs/screenshots/, the
on-call page, an alert and the queue also phone-sized (390×844). Names given on the command line
take only those pictures; SCREENSHOTS_DIR writes them elsewhere (to look before replacing).
"""

from __future__ import annotations

import os
import random
import re
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from browser import chromium, serve  # noqa: E402

from callcenter import tickets as svc  # noqa: E402
from callcenter.app import create_app  # noqa: E402
from callcenter.config import load_settings  # noqa: E402
from callcenter.demo import seed_demo  # noqa: E402
from callcenter.migrate import upgrade  # noqa: E402
from callcenter.models import Alert, Call, CallReview, Company, Contact, StaffUser, Ticket  # noqa: E402

OUT = Path(os.environ.get("SCREENSHOTS_DIR") or ROOT / "docs" / "screenshots")
PHONE = (390, 844)
SUBJECTS = {
    "user": ["Outlook keeps asking for the password", "Printer on 2nd floor offline", "VPN drops every hour"],
    "system": ["File server share read-only", "Backup job failed overnight", "Domain controller slow"],
    "infrastructure": ["PBX trunk down", "Core switch port flapping", "E1 line alarms"],
    "complaint": ["Nobody called back yesterday"],
    "permission_change": ["Give Béla access to the finance share"],
}


def populate(factory, now: datetime) -> None:  # noqa: ANN001
    rng = random.Random(3)
    with factory() as s:
        seed_demo(s, now)
        s.commit()
        staff = {u.username: u for u in s.query(StaffUser)}
        contacts = s.query(Contact).all()
        agent = svc.Actor.staff(staff["agent1"])
        for day in range(60, 0, -1):
            for _ in range(rng.randrange(1, 4)):
                category = rng.choice(["user", "user", "system", "infrastructure"])
                at = now - timedelta(days=day, hours=rng.randrange(0, 6))
                contact = rng.choice(contacts)
                t = svc.create_ticket(s, svc.NewTicket(
                    subject=rng.choice(SUBJECTS[category]), channel=rng.choice(["phone", "email", "web"]),
                    category=category, reporter_contact_id=contact.id,
                    asset_id=contact.company.assets[0].id if contact.company.assets else None), now=at)
                svc.start_work(s, t, actor=agent, now=at + timedelta(minutes=rng.randrange(10, 600)))
                svc.log_time(s, t, rng.randrange(10, 120), actor=agent, now=at + timedelta(hours=2))
                if rng.random() < 0.2:
                    svc.escalate(s, t, "L2", actor=agent, now=at + timedelta(hours=3), reason="needs an engineer")
                svc.change_status(s, t, "resolved", actor=agent, now=at + timedelta(hours=5), note="Fixed.")
        for category, minutes_ago in (("infrastructure", 40), ("system", 90), ("user", 200), ("complaint", 20),
                                      ("user", 400), ("permission_change", 30)):
            contact = rng.choice(contacts)
            svc.create_ticket(s, svc.NewTicket(
                subject=rng.choice(SUBJECTS[category]), channel="phone", category=category,
                reporter_contact_id=contact.id,
                asset_id=contact.company.assets[0].id if contact.company.assets else None),
                now=now - timedelta(minutes=minutes_ago))
        s.commit()


def populate_calls(factory, now: datetime, store: Path) -> None:  # noqa: ANN001
    """Three weeks of hotline calls, a few recorded and one reviewed, for the calls pages."""
    from call_data import make_call, store_recording

    from callcenter.call_review import submit_review
    from callcenter.models import CallOutcome

    rng = random.Random(5)
    with factory() as s:
        contacts = s.query(Contact).all()
        qa = s.query(StaffUser).filter_by(username="qa").one()
        desk = [s.query(StaffUser).filter_by(username=name).one() for name in ("agent1", "agent2")]
        for day in range(21, -1, -1):
            for _ in range(rng.randrange(2, 7)):
                contact = rng.choice(contacts)
                hour = rng.choice([7, 7, 8, 8, 9, 11, 12, 13, 14, 17])
                at = (now - timedelta(days=day)).replace(hour=hour, minute=rng.randrange(60))
                if at >= now:
                    continue
                wait = rng.choice([15, 40, 75, 130, 260, 420, 700, 950])
                fate = rng.random()
                outcome = (CallOutcome.ANSWERED if fate < 0.75 else CallOutcome.ABANDONED_IN_QUEUE if fate < 0.9
                           else CallOutcome.UNANSWERED_MESSAGE)
                call = make_call(s, at, company=contact.company, contact=contact,
                                 asset=contact.company.assets[0] if contact.company.assets else None, wait=wait,
                                 answered=outcome == CallOutcome.ANSWERED, outcome=outcome,
                                 menu=rng.choice(["1", "2", "1", "3>15012"]))
                if outcome == CallOutcome.ANSWERED:
                    call.agent_id = rng.choice(desk).id
                if day < 3:
                    store_recording(s, store, call, seconds=rng.randrange(2, 5))
        s.flush()
        recorded = [c for c in s.query(Call).order_by(Call.id) if c.recordings]
        submit_review(s, recorded[0], qa, {"greeting": 5, "identification": 4, "problem_capture": 4,
                                           "solution": 3, "courtesy": 5}, "Good capture; promise a call-back time.",
                      now=now)
        s.commit()


def populate_alert(app, settings, now: datetime) -> None:  # noqa: ANN001
    """An open page about a PBX fault, already texted to the on-call engineer (console provider)."""
    from callcenter.models import EscalationPolicy, Ticket
    from callcenter.paging import alerts
    from callcenter.scheduler import Ticker

    with app.extensions["session_factory"]() as s:
        ticket = s.query(Ticket).filter(Ticket.company.has(name="Athens Demo A.E.")).first()
        policy = s.query(EscalationPolicy).filter_by(name="Default").one()
        alerts.raise_alert(s, source="hotline", dedup_key="screenshot", summary="Hotline call not answered for 15 min",
                           details="Caller +302105550102 waited 15 min in the queue.", policy=policy, ticket=ticket,
                           now=now - timedelta(minutes=12))
        taken, _ = alerts.raise_alert(s, source="api", dedup_key="screenshot-switch", severity="high",
                                      summary="Core switch port flapping", customer="Budapest Demo Kft.",
                                      policy=policy, now=now - timedelta(minutes=6))
        alerts.raise_alert(s, source="sla", dedup_key="screenshot-sla", summary="Ticket response due in 30 min",
                           customer="Athens Demo A.E.", policy=policy, now=now - timedelta(minutes=2))
        s.flush()
        on_call = s.query(StaffUser).filter_by(username="eng3").one()
        alerts.acknowledge(s, taken, staff=on_call, channel="sms", now=now - timedelta(minutes=4))
        s.commit()
    Ticker(settings, app.extensions["engine"], clock=lambda: now).tick()
    populate_wallboard(app, now)


def populate_wallboard(app, now: datetime) -> None:  # noqa: ANN001
    """Agent1 on a call with Nikos (taken from the queue), agent2 away, and Anna waiting in the queue."""
    from datetime import timedelta

    from callcenter import agents, distribution
    from callcenter.models import Call, CallOffer, StaffUser

    with app.extensions["session_factory"]() as s:
        s.info["settings"] = app.config["SETTINGS"]
        athens = s.query(Company).filter_by(name="Athens Demo A.E.").one()
        budapest = s.query(Company).filter_by(name="Budapest Demo Kft.").one()
        nikos = s.query(Contact).filter_by(email="pbx@athens-demo.example").one()
        anna = s.query(Contact).filter_by(email="anna@budapest-demo.example").one()
        ticket = s.query(Ticket).filter(Ticket.company_id == athens.id).order_by(Ticket.id.desc()).first()
        s.add(Call(channel="twilio", provider_call_id="CA-screenshot-taken", caller_number=nikos.phone,
                   contact_id=nikos.id, asset_id=athens.assets[0].id, ticket_id=ticket.id,
                   arrived_at=now - timedelta(minutes=4), queue_entered_at=now - timedelta(minutes=3, seconds=30),
                   company_id=athens.id, contract_id=athens.contracts[0].id, menu_path="1", language="el"))
        s.flush()
        for username, state, since in (("agent2", "away", 9), ("agent1", "available", 3)):
            user = s.query(StaffUser).filter_by(username=username).one()
            agent = agents.agent_for(s, user.id, now - timedelta(hours=1))
            agents.set_state(s, agent, state, now - timedelta(minutes=since))
        s.flush()
        offer = s.query(CallOffer).order_by(CallOffer.id.desc()).first()
        if offer is not None:
            distribution.offer_accepted(s, offer, now - timedelta(minutes=2, seconds=50))
        s.add(Call(channel="twilio", provider_call_id="CA-screenshot-waiting", caller_number=anna.phone,
                   contact_id=anna.id, arrived_at=now - timedelta(minutes=2),
                   queue_entered_at=now - timedelta(minutes=1, seconds=35), company_id=budapest.id,
                   contract_id=budapest.contracts[0].id, menu_path="2", language="hu"))
        s.commit()


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="hotline-shots-"))
    url = f"sqlite:///{tmp / 'shots.sqlite'}"
    upgrade(url)
    settings = load_settings(env={"CALLCENTER_DATABASE_URL": url})
    settings.secret_key = "screenshots"
    app = create_app(settings)
    # A Tuesday morning, so the office is open and the queue's clocks run.
    now = datetime(2026, 10, 6, 8, 30, tzinfo=UTC)
    app.config["CLOCK"] = lambda: now
    populate(app.extensions["session_factory"], now)
    settings.recordings_dir = str(tmp / "recordings")
    populate_calls(app.extensions["session_factory"], now, settings.recordings_path)
    populate_alert(app, settings, now)
    with app.extensions["session_factory"]() as s:
        athens = s.query(Company).filter_by(name="Athens Demo A.E.").one()
        asset_id = athens.assets[0].id
        athens_id = athens.id
    with serve(app) as base, chromium(width=1360, height=900) as driver:
        def login(name: str) -> None:
            driver.delete_all_cookies()
            driver.get(f"{base}/login")
            driver.find_element("id", "login").send_keys(name)
            driver.find_element("id", "password").send_keys("demo")
            driver.find_element("id", "login-submit").click()

        only = set(sys.argv[1:])

        def shot(path: str, name: str, height: int = 900, width: int = 1360) -> None:
            if only and name not in only:
                return
            driver.set_window_size(width, height)
            driver.get(f"{base}{path}")
            driver.save_screenshot(str(OUT / f"{name}.png"))
            print("wrote", OUT / f"{name}.png")

        login("admin")
        shot("/console/queue", "queue", 700)
        first = re.search(r"/console/tickets/(\d+)", driver.page_source)[1]
        shot(f"/console/tickets/{first}", "ticket", 1300)
        shot(f"/console/assets/{asset_id}", "asset", 700)
        shot(f"/console/companies/{athens_id}", "company", 900)
        shot(f"/console/reports/quarterly?company={athens_id}&quarter=2026Q3", "report_quarterly", 1200)
        shot("/console/reports/helpdesk?quarter=2026Q3", "report_helpdesk", 1000)
        shot("/console/calls", "calls", 900)
        with app.extensions["session_factory"]() as s:
            reviewed = s.query(CallReview).first().call_id
            alert_id = s.query(Alert).order_by(Alert.id).first().id
        shot(f"/console/calls/{reviewed}", "call", 800)
        shot("/console/reports/hotline?quarter=2026Q4", "report_hotline", 900)
        shot("/console/oncall", "oncall", 1000)
        shot("/wallboard", "wallboard", 760)
        shot("/console/nowhere", "error_404", 420)
        # The engineer's phone at 3 a.m.: the on-call page, an alert, the queue.
        login("eng3")
        shot("/console/oncall", "oncall_phone", PHONE[1], PHONE[0])
        shot(f"/console/alerts/{alert_id}", "alert_phone", PHONE[1], PHONE[0])
        shot("/console/queue", "queue_phone", PHONE[1], PHONE[0])
        login("agent1")
        shot("/agent", "agent_desk", 1000)
        login("anna@budapest-demo.example")
        shot("/console/tickets", "customer_tickets", 600)


if __name__ == "__main__":
    main()
