"""The worker's paging loop across a stalled database: alerts whose escalation falls due while
PostgreSQL (behind a TCP proxy) accepts and never answers are paged once it answers again: every page
exactly once, nothing lost to a job that died during the stall.

Printed: how long after the recovery the last page was requested."""

from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta

import pytest
from conftest import is_postgres
from faults.procs import Service, hotline_config, wait_until
from faults.proxy import StallingProxy
from faults.test_paging_kill import ENG2, ENG3, escalating_alerts, pages_requested
from sqlalchemy.engine import make_url

pytestmark = pytest.mark.skipif(not is_postgres(), reason="stalls a PostgreSQL connection through a TCP proxy")

ALERTS = 6
STALL_SECONDS = 20


def test_pages_due_during_a_stall_go_out_once_after_it(database_url, demo, session, tmp_path, fake):  # noqa: ANN001
    real = make_url(database_url)
    proxy = StallingProxy(real.host or "127.0.0.1", real.port or 5432).start()
    proxied = real.set(host=proxy.host, port=proxy.port).render_as_string(hide_password=False)
    worker = Service("worker", hotline_config(proxied, tmp_path, twilio=fake, statement_timeout=15), tmp_path)
    try:
        worker.start().wait_ready()
        # Step 1 (eng2) is paged at once; step 2 (eng3) falls due in the middle of the stall.
        escalating_alerts(session, ALERTS, raised_ago=timedelta(minutes=5) - timedelta(seconds=8))
        wait_until(lambda: pages_requested(fake) >= 2 * ALERTS, 60, what="step 1's pages")
        proxy.stall()
        time.sleep(STALL_SECONDS)
        proxy.recover()
        recovered = time.monotonic()
        wait_until(lambda: pages_requested(fake) >= 4 * ALERTS, 90, interval=0.5, what="step 2's pages")
        after = time.monotonic() - recovered
        time.sleep(3)
        worker.assert_running()
    finally:
        worker.stop()
        proxy.stop()
    sms = Counter((m.to, m.body) for m in fake.messages)
    calls = Counter((c.to, c.url) for c in fake.calls)
    print(f"\n{ALERTS} alerts escalating across a {STALL_SECONDS} s stall: {pages_requested(fake)} pages, "
          f"the last {after:.1f} s after the recovery")
    assert set(sms.values()) == {1} and set(calls.values()) == {1}
    assert Counter(to for to, _ in sms) == {ENG2: ALERTS, ENG3: ALERTS}
    assert pages_requested(fake) == 4 * ALERTS
