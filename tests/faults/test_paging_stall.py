"""A stalled database while an engineer acknowledges a page by SMS: PostgreSQL behind a TCP proxy that
accepts and never answers. With the production timeouts (statement 15 s, so a round trip is abandoned
after 16 s) the webhook used to hold Twilio past its 15 s and answer 500: Twilio gave up, the engineer
got no answer and believed the page acknowledged while it went on escalating. Now every Twilio webhook
gives up on the database in time to answer, and the SMS says the reply was not recorded, so the
engineer sends it again; after the recovery that reply acknowledges the alert, once.

Printed: how long the answers took during the stall."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from conftest import is_postgres
from faults.procs import Service, hotline_config, wait_until
from faults.proxy import StallingProxy
from faults.test_paging_kill import ENG2, FROM, escalating_alerts
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from callcenter.models import Alert, AlertEvent, AlertStatus

pytestmark = pytest.mark.skipif(not is_postgres(), reason="stalls a PostgreSQL connection through a TCP proxy")

TWILIO_WAITS = 15.0


def test_an_sms_acknowledgement_while_the_database_stalls(database_url, demo, session, tmp_path, fake):  # noqa: ANN001
    ids = escalating_alerts(session, 2, raised_ago=timedelta(seconds=30))
    first, second = session.scalars(select(Alert).where(Alert.id.in_(ids)).order_by(Alert.id))
    refs = (first.reference, second.reference)
    real = make_url(database_url)
    proxy = StallingProxy(real.host or "127.0.0.1", real.port or 5432).start()
    proxied = real.set(host=proxy.host, port=proxy.port).render_as_string(hide_password=False)
    web = Service("web", hotline_config(proxied, tmp_path, twilio=fake, statement_timeout=15), tmp_path).start()
    try:
        web.wait_ready()
        before = fake.inbound_sms(web.web_url, ENG2, FROM, f"ACK {refs[0]}")
        assert before.status_code == 200 and "cknowledged" in before.text, before.text

        proxy.stall()
        started = time.monotonic()
        during = fake.inbound_sms(web.web_url, ENG2, FROM, f"ACK {refs[1]}")
        seconds = time.monotonic() - started
        # An engineer answering a page call, then pressing 1, at the same moment.
        started = time.monotonic()
        answered = fake.post_signed(f"{web.web_url}/twilio/page/voice?n=1", {"CallSid": "CA" + "0" * 32,
                                                                            "AnsweredBy": "human"})
        key = fake.post_signed(f"{web.web_url}/twilio/page/voice/key?n=1", {"CallSid": "CA" + "0" * 32,
                                                                           "Digits": "1"})
        call_seconds = time.monotonic() - started
        proxy.recover()
        print(f"\nSMS ACK during a stalled database: {during.status_code} in {seconds:.1f} s "
              f"(Twilio waits {TWILIO_WAITS:.0f} s): {during.text}; the page call's answer and key: "
              f"{answered.status_code}, {key.status_code} in {call_seconds:.1f} s")
        for page in (answered, key):  # said to the engineer, not Twilio's "an application error has occurred"
            assert page.status_code == 200 and "<Say" in page.text and "not recorded" in page.text, page.text
        assert seconds < TWILIO_WAITS and during.status_code == 200
        assert "not recorded" in during.text and "again" in during.text

        wait_until(lambda: fake.inbound_sms(web.web_url, ENG2, FROM, f"ACK {refs[1]}").status_code == 200
                   and _acks(session, second.id) == 1, 30, interval=1, what="the reply sent again to count")
        assert session.get(Alert, second.id).status == AlertStatus.ACKNOWLEDGED
        assert _acks(session, first.id) == 1
    finally:
        web.stop()
        proxy.stop()


def _acks(session, alert_id: int) -> int:  # noqa: ANN001
    session.expire_all()
    return session.scalar(select(func.count()).select_from(AlertEvent).where(
        AlertEvent.alert_id == alert_id, AlertEvent.kind == "acknowledged"))
