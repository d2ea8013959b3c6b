"""README screenshots from the real app with demo data.  Run: python bench/screenshots.py

Seeds a throw-away SQLite database with the demo customers and a few weeks of tickets, serves the
app on 127.0.0.1 and photographs the main pages with headless Chromium into docs/screenshots/.
"""

from __future__ import annotations

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
from callcenter.models import Company, Contact, StaffUser  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
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

        def shot(path: str, name: str, height: int = 900) -> None:
            driver.set_window_size(1360, height)
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
        login("anna@budapest-demo.example")
        shot("/console/tickets", "customer_tickets", 600)


if __name__ == "__main__":
    main()
