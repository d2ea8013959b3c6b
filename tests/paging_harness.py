"""Shared set-up for the paging tests: the app's Twilio provider pointed at a FakeTwilio, a controlled clock."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from callcenter.models import EscalationPolicy, Rotation, StaffUser
from callcenter.paging import alerts
from callcenter.paging.rotations import add_override
from callcenter.providers import providers_for
from callcenter.scheduler import Ticker
from callcenter.tickets import NewTicket, create_ticket

FROM_NUMBER = "+3615550100"


class Pager:
    """Drives the worker deterministically: `tick()` is one engine cycle at the pager's clock `t`."""

    def __init__(self, settings, engine, session_factory, fake, now: datetime) -> None:  # noqa: ANN001
        settings.twilio_account_sid = fake.account_sid
        settings.twilio_auth_token = fake.auth_token
        settings.twilio_api_url = fake.base_url
        settings.twilio_from_number = FROM_NUMBER
        self.settings, self.engine, self.factory, self.fake = settings, engine, session_factory, fake
        self.t = now
        self.ticker = Ticker(settings, engine, providers=providers_for(settings), clock=lambda: self.t)

    def tick(self) -> None:
        self.ticker.tick()

    def advance(self, **delta: float) -> None:
        self.t += timedelta(**delta)
        self.tick()

    def settle(self, minutes: int = 60) -> None:
        """The end-of-test sweep: several cycles far ahead; anything sent now is a stray page."""
        for _ in range(4):
            self.advance(minutes=minutes / 4)

    def staff(self, session, username: str) -> StaffUser:  # noqa: ANN001
        return session.scalar(select(StaffUser).where(StaffUser.username == username))

    def put_on_call(self, username: str) -> None:
        with self.factory() as s:
            rotation = s.scalar(select(Rotation))
            add_override(s, rotation, self.staff(s, username), self.t - timedelta(hours=1),
                         self.t + timedelta(days=2), now=self.t, reason="test")
            s.commit()

    def raise_alert(self, *, key: str = "k1", summary: str = "PBX down in the server room",
                    ticket: bool = True, company: str = "Athens Demo A.E.") -> tuple[int, int | None]:
        """Raise an alert on a new ticket with the Default policy; returns (alert id, ticket number)."""
        from callcenter.models import Company

        with self.factory() as s:
            t = None
            if ticket:
                c = s.scalar(select(Company).where(Company.name == company))
                t = create_ticket(s, NewTicket(subject=summary, channel="phone", category="user",
                                               company_id=c.id), now=self.t)
            policy = s.scalar(select(EscalationPolicy).where(EscalationPolicy.name == "Default"))
            alert, _ = alerts.raise_alert(s, source="api", dedup_key=key, summary=summary, policy=policy,
                                          ticket=t, now=self.t)
            s.commit()
            return alert.id, t.number if t else None

    def sms_reply(self, frm: str, body: str):  # noqa: ANN201
        return self.fake.inbound_sms(self.settings.public_url, frm, FROM_NUMBER, body)
