"""Several workers (Ticker loops in threads) against one database never send the same page twice,
and a worker that dies mid-cycle loses no page."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

from paging_harness import Pager
from sqlalchemy import select

from callcenter import timers
from callcenter.models import EscalationPolicy, Timer
from callcenter.paging import alerts
from callcenter.paging import engine as paging_engine

ENG2, ENG3 = "+3615550182", "+302105550183"
WORKERS = 4
ALERTS = 40


def run_workers(pager: Pager, rounds: int = 3) -> None:
    from callcenter.providers import providers_for
    from callcenter.scheduler import Ticker

    errors: list[BaseException] = []
    barrier = threading.Barrier(WORKERS)

    def work() -> None:
        try:
            ticker = Ticker(pager.settings, pager.engine, providers=providers_for(pager.settings),
                            clock=lambda: pager.t)
            barrier.wait()
            for _ in range(rounds):
                ticker.tick()
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=240)
    assert not errors, errors


def test_concurrent_workers_send_exactly_one_page_per_target_per_step(settings, engine, session_factory, demo,
                                                                       fake, app, now):
    fake.attach_app(app, settings.public_url)
    pager = Pager(settings, engine, session_factory, fake, now)
    pager.put_on_call("eng2")
    with session_factory() as s:
        policy = s.scalar(select(EscalationPolicy).where(EscalationPolicy.name == "Default"))
        for i in range(ALERTS):
            alerts.raise_alert(s, source="api", dedup_key=f"load-{i}", summary=f"load alert {i}", policy=policy,
                               now=now)
        s.commit()
    run_workers(pager)  # step 1: one SMS per alert to eng2
    pager.t = now + timedelta(minutes=2)
    run_workers(pager)  # voice rule: one call per alert to eng2
    pager.t = now + timedelta(minutes=5)
    run_workers(pager)  # step 2: one SMS per alert to eng3
    sms = Counter((m.to, m.body.split(" - ")[1].split(".")[0]) for m in fake.messages)
    calls = Counter(c.to for c in fake.calls)
    assert len(sms) == 2 * ALERTS and set(sms.values()) == {1}, sms.most_common(3)
    assert calls == {ENG2: ALERTS}
    with session_factory() as s:
        fired_by = Counter(t.fired_by for t in s.scalars(select(Timer).where(Timer.fired_at.is_not(None))))
    assert sum(fired_by.values()) == 2 * ALERTS  # voice rule + step 1 timers, each fired once
    for m in list(fake.messages):
        fake.wait_for_message(to=m.to, timeout=0)
    for c in list(fake.calls):
        fake.wait_for_call(to=c.to, timeout=0)
    fake.assert_nothing_unexpected()


def test_worker_dying_mid_handler_loses_no_page(settings, engine, session_factory, demo, fake, app, now,
                                                monkeypatch):
    fake.attach_app(app, settings.public_url)
    pager = Pager(settings, engine, session_factory, fake, now)
    pager.put_on_call("eng2")
    with session_factory() as s:
        policy = s.scalar(select(EscalationPolicy).where(EscalationPolicy.name == "Default"))
        alerts.raise_alert(s, source="api", dedup_key="crash", summary="crash test", policy=policy, now=now)
        s.commit()
    pager.tick()
    fake.wait_for_message(to=ENG2)
    real = paging_engine.start_steps

    def dies_after_writing(session, starts, now):  # noqa: ANN001
        real(session, starts, now)
        raise RuntimeError("worker killed")

    # Both ways a step timer fires (its batch, then one by one after the batch failed) start steps here.
    monkeypatch.setattr(paging_engine, "start_steps", dies_after_writing)
    pager.t = now + timedelta(minutes=5)
    timers.fire_due(session_factory, pager.t, "doomed")  # its writes roll back with its claim
    monkeypatch.setattr(paging_engine, "start_steps", real)
    with session_factory() as s:
        step_timer = s.scalar(select(Timer).where(Timer.key.like("alert:%:step:0:0")))
        assert step_timer.fired_at is None and "worker killed" in step_timer.error
    assert not [m for m in fake.messages if m.to == ENG3]
    pager.advance(minutes=2)  # the voice rule and, after its retry delay, the step timer
    fake.wait_for_call(to=ENG2)
    fake.wait_for_message(to=ENG3)
    pager.settle(minutes=4)
    fake.wait_for_call(to=ENG3)
    fake.assert_nothing_unexpected()


WORKER_PROCESS = """
import sys
from datetime import datetime

from callcenter.config import load_settings
from callcenter.db import make_engine
from callcenter.providers import providers_for
from callcenter.scheduler import Ticker
from callcenter.wiring import load_services

load_services()
settings = load_settings()
at = datetime.fromisoformat(sys.argv[1])
ticker = Ticker(settings, make_engine(settings.database_url), providers=providers_for(settings), clock=lambda: at)
print("ready", flush=True)
sys.stdin.readline()  # all workers start together
for _ in range(int(sys.argv[2])):
    ticker.tick()
print("done", flush=True)
"""


def run_worker_processes(pager: Pager, rounds: int = 3) -> None:
    """`callcenter worker` as it is scaled out: separate processes, each with its own engine and pool."""
    import os
    import subprocess
    import sys

    from callcenter.config import PROJECT_ROOT

    s = pager.settings
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT), CALLCENTER_DATABASE_URL=s.database_url,
               TWILIO_ACCOUNT_SID=s.twilio_account_sid, TWILIO_AUTH_TOKEN=s.twilio_auth_token,
               TWILIO_FROM_NUMBER=s.twilio_from_number, CALLCENTER_TWILIO_API_URL=s.twilio_api_url,
               CALLCENTER_PUBLIC_URL=s.public_url, CALLCENTER_RECORDINGS_DIR=s.recordings_dir)
    procs = [subprocess.Popen([sys.executable, "-c", WORKER_PROCESS, pager.t.isoformat(), str(rounds)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=env, cwd=PROJECT_ROOT) for _ in range(WORKERS)]
    try:
        for p in procs:
            assert p.stdout.readline().strip() == "ready", p.stderr.read()
        for p in procs:
            p.stdin.write("go\n")
            p.stdin.flush()
        for p in procs:
            out, err = p.communicate(timeout=240)
            assert p.returncode == 0 and "done" in out, err
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()


def test_worker_processes_send_exactly_one_page_per_target_per_step(settings, engine, session_factory, demo,
                                                                     fake, app, now):
    fake.attach_app(app, settings.public_url)
    pager = Pager(settings, engine, session_factory, fake, now)
    pager.put_on_call("eng2")
    with session_factory() as s:
        policy = s.scalar(select(EscalationPolicy).where(EscalationPolicy.name == "Default"))
        for i in range(ALERTS):
            alerts.raise_alert(s, source="api", dedup_key=f"proc-{i}", summary=f"process alert {i}",
                               policy=policy, now=now)
        s.commit()
    run_worker_processes(pager)  # step 1: one SMS per alert to eng2
    pager.t = now + timedelta(minutes=2)
    run_worker_processes(pager)  # voice rule: one call per alert to eng2
    sms = Counter((m.to, m.body.split(" - ")[1].split(".")[0]) for m in fake.messages)
    calls = Counter(c.to for c in fake.calls)
    assert len(sms) == ALERTS and set(sms.values()) == {1}, sms.most_common(3)
    assert calls == {ENG2: ALERTS}
    with session_factory() as s:
        fired = list(s.scalars(select(Timer).where(Timer.fired_at.is_not(None))))
    assert len(fired) == ALERTS and len({t.key for t in fired}) == ALERTS  # each voice-rule timer once
