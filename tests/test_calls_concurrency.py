"""Two webhooks for one call at once (Twilio retries, a <Record> action racing the status callback) and
FastAGI turns racing other writers of the same call: every turn runs under the call's row lock, reads
what it acts on inside it, is idempotent per (call, step, input), and outcomes only move forward.

Real concurrent requests: many threads against the app served over HTTP, on both databases."""

from __future__ import annotations

import threading
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from agi_peer import AGIPeer, plausible_reply, run_peers
from fake_twilio import FakeTwilio, WebhookResponse
from hotline_helpers import ANNA, HOTLINE_NUMBER, IN_HOURS, NIKOS, OUT_OF_HOURS, Captured, call_row
from sqlalchemy import func, select
from werkzeug.serving import make_server

from callcenter.models import Alert, Call, Ticket, Timer

THREADS = 16


class Clock:
    def __init__(self, now) -> None:  # noqa: ANN001
        self.now = now

    def __call__(self):  # noqa: ANN204
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(IN_HOURS)


@pytest.fixture
def served(app, settings, fake, demo, clock) -> Iterator[str]:  # noqa: ANN001
    """The app on a real threaded HTTP server; Twilio signs the URLs it serves."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    settings.public_url = f"http://127.0.0.1:{server.server_port}"
    settings.twilio_auth_token = fake.auth_token
    app.config["HOTLINE_CLOCK"] = clock
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield settings.public_url
    server.shutdown()
    thread.join(timeout=5)


def all_at_once(*jobs: Callable[[], WebhookResponse]) -> list[WebhookResponse]:
    """Run the jobs in threads released together; their responses in job order."""
    barrier = threading.Barrier(len(jobs))
    results: list[WebhookResponse | BaseException | None] = [None] * len(jobs)

    def run(i: int, job: Callable[[], WebhookResponse]) -> None:
        barrier.wait()
        try:
            results[i] = job()
        except BaseException as exc:  # surfaced below
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors
    return results  # type: ignore[return-value]


def call_params(sid: str, caller: str, status: str = "in-progress", **extra: str) -> dict[str, str]:
    return {"CallSid": sid, "From": caller, "To": HOTLINE_NUMBER, "CallStatus": status, "Direction": "inbound",
            **extra}


def first_turn(fake: FakeTwilio, base: str, caller: str) -> tuple[str, ET.Element]:
    sid = "CA" + uuid.uuid4().hex
    resp = fake.post_signed(base + "/twilio/voice", call_params(sid, caller, "ringing"))
    assert resp.status_code == 200, resp.text
    return sid, ET.fromstring(resp.text)


def action_of(root: ET.Element, tag: str) -> str:
    found = root.find(f".//{tag}")
    assert found is not None, ET.tostring(root)
    return found.get("action") or ""


def count(session, model, *where) -> int:  # noqa: ANN001
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model).where(*where))


def pending_queue_timers(session, call: Call) -> int:  # noqa: ANN001
    return count(session, Timer, Timer.key == f"hotline-queue:{call.id}", Timer.fired_at.is_(None),
                 Timer.cancelled_at.is_(None))


# ----------------------------------------------------------------------------- Twilio


def test_many_identical_menu_presses_at_once_open_one_ticket_and_answer_the_same(served, fake, session):  # noqa: ANN001
    sid, root = first_turn(fake, served, ANNA)
    menu = action_of(root, "Gather")
    with Captured() as seen:
        answers = all_at_once(*[lambda: fake.post_signed(menu, call_params(sid, ANNA, Digits="1"))] * THREADS)
    assert {a.status_code for a in answers} == {200}
    assert len({a.text for a in answers}) == 1, "a retried turn must answer what the first one did"
    assert "<Enqueue" in answers[0].text
    row = call_row(session, sid)
    print(f"\n{THREADS} concurrent menu-1 requests: {count(session, Ticket)} ticket(s), "
          f"{len(seen.critical)} critical event(s), menu path {row.menu_path!r}")
    assert count(session, Ticket) == 1 and len(seen.critical) == 1
    assert row.menu_path == "1" and row.outcome == "critical_queued"


def test_standby_critical_pressed_twice_at_once_pages_once(served, fake, session, clock):  # noqa: ANN001
    clock.now = OUT_OF_HOURS
    sid, root = first_turn(fake, served, NIKOS)
    menu = action_of(root, "Gather")
    answers = all_at_once(*[lambda: fake.post_signed(menu, call_params(sid, NIKOS, Digits="1"))] * THREADS)
    assert len({a.text for a in answers}) == 1
    assert count(session, Ticket) == 1
    assert count(session, Alert) == 1, "one critical fault, one alert (and so one escalation)"


def test_a_retried_turn_after_the_first_one_answered_changes_nothing(served, fake, session):  # noqa: ANN001
    sid, root = first_turn(fake, served, ANNA)
    menu = action_of(root, "Gather")
    first = fake.post_signed(menu, call_params(sid, ANNA, Digits="1"))
    again = fake.post_signed(menu, call_params(sid, ANNA, Digits="1"))
    assert again.text == first.text
    row = call_row(session, sid)
    assert row.menu_path == "1" and count(session, Ticket) == 1


def test_the_same_input_at_a_later_turn_is_a_new_turn(served, fake, session):  # noqa: ANN001
    # Three menu timeouts in a row are three turns, not one turn retried: the third says goodbye.
    sid, root = first_turn(fake, served, ANNA)
    for _ in range(3):
        resp = fake.post_signed(action_of(root, "Gather"), call_params(sid, ANNA))
        root = ET.fromstring(resp.text)
        if root.find("Hangup") is not None:
            break
    row = call_row(session, sid)
    assert root.find("Hangup") is not None and row.outcome == "no_input" and row.menu_path == "?>?>?"


def test_menu_press_racing_the_completed_callback_ends_one_way(served, fake, session, settings):  # noqa: ANN001
    """The caller presses 1 and hangs up at once: whichever request runs first, the call ends with its ticket,
    as a caller who left the queue (a missed call to return), and no queue timer is left to page anyone."""
    pairs = 12
    started = [first_turn(fake, served, ANNA) for _ in range(pairs)]
    jobs: list[Callable[[], WebhookResponse]] = []
    status_url = served + "/twilio/voice/status"
    for sid, root in started:
        menu = action_of(root, "Gather")
        jobs.append(lambda m=menu, s=sid: fake.post_signed(m, call_params(s, ANNA, Digits="1")))
        jobs.append(lambda s=sid: fake.post_signed(status_url, call_params(s, ANNA, "completed", SequenceNumber="3",
                                                                           CallDuration="9")))
    answers = all_at_once(*jobs)
    assert {a.status_code for a in answers} == {200}
    outcomes = []
    for sid, _ in started:
        row = call_row(session, sid)
        outcomes.append(row.outcome)
        assert row.ended_at is not None and row.ticket_id is not None
        assert pending_queue_timers(session, row) == 0, "a queue timer for a caller who is gone"
        assert row.callback_state == "pending"
    print(f"\nmenu-1 racing 'completed' on {pairs} calls: outcomes {sorted(set(outcomes))}")
    assert set(outcomes) == {"abandoned_in_queue"}
    assert count(session, Ticket) == pairs


def test_voice_message_racing_the_completed_callback_keeps_the_message(served, fake, session):  # noqa: ANN001
    pairs = 10
    started = []
    for _ in range(pairs):
        sid, root = first_turn(fake, served, ANNA)
        resp = fake.post_signed(action_of(root, "Gather"), call_params(sid, ANNA, Digits="2"))
        started.append((sid, action_of(ET.fromstring(resp.text), "Record")))
    status_url = served + "/twilio/voice/status"
    jobs: list[Callable[[], WebhookResponse]] = []
    for sid, record in started:
        jobs.append(lambda r=record, s=sid: fake.post_signed(r, call_params(
            s, ANNA, RecordingUrl=f"https://api.twilio.example/Recordings/RE{s[2:]}", RecordingSid="RE" + s[2:],
            RecordingDuration="7", Digits="hangup")))
        jobs.append(lambda s=sid: fake.post_signed(status_url, call_params(s, ANNA, "completed", SequenceNumber="3")))
    all_at_once(*jobs)
    for sid, _ in started:
        row = call_row(session, sid)
        assert (row.outcome, row.ended_at is not None, row.ticket_id is not None) == ("message", True, True)
        assert row.callback_state is None, "a caller who left a message is not a missed call"
    assert count(session, Ticket) == pairs


def test_late_status_callback_never_moves_a_final_outcome_back(served, fake, session, clock):  # noqa: ANN001
    clock.now = OUT_OF_HOURS
    sid, root = first_turn(fake, served, NIKOS)
    fake.post_signed(action_of(root, "Gather"), call_params(sid, NIKOS, Digits="1"))
    status_url = served + "/twilio/voice/status"
    fake.post_signed(status_url, call_params(sid, NIKOS, "completed", SequenceNumber="4"))
    fake.post_signed(status_url, call_params(sid, NIKOS, "in-progress", SequenceNumber="2"))
    fake.post_signed(status_url, call_params(sid, NIKOS, "completed", SequenceNumber="5"))
    row = call_row(session, sid)
    assert row.outcome == "critical_standby" and row.callback_state is None and row.ended_at is not None


# ----------------------------------------------------------------------------- FastAGI


@pytest.fixture
def agi_server(settings, engine, demo, clock):  # noqa: ANN001, ANN201
    from webhooks.agi_server import FastAGIServer
    from webhooks.fastagi import HotlineAGI

    settings.asterisk_agent_dial = ""
    server = FastAGIServer(HotlineAGI(settings, engine, clock=clock), port=0)
    host, port = server.start_in_thread()
    yield host, port
    server.stop_thread()


class Gate:
    """FastAGI peers (on their own event loop) and test threads meet here: peers report that they arrived
    and wait, without holding a thread, until the test opens the gate."""

    def __init__(self) -> None:
        self.arrived = 0
        self.opened = threading.Event()
        self._cond = threading.Condition()

    async def pass_through(self, reply: str | list[str]) -> str | list[str]:
        import asyncio

        with self._cond:
            self.arrived += 1
            self._cond.notify_all()
        while not self.opened.is_set():
            await asyncio.sleep(0.01)
        return reply

    def wait_for(self, n: int, timeout: float = 60) -> None:
        with self._cond:
            assert self._cond.wait_for(lambda: self.arrived >= n, timeout), f"{self.arrived} of {n} arrived"


def test_agi_queue_timeouts_racing_the_queue_timers_alert_once_per_caller(agi_server, settings, engine,
                                                                          session_factory, session, clock):  # noqa: ANN001
    """Asterisk's Queue() times out while the worker's queue timers fire for the same callers: each caller
    is alerted once, and each has one ticket."""
    from callcenter.scheduler import Ticker

    host, port = agi_server
    callers = 10
    in_queue = Gate()

    def script(line: str):  # noqa: ANN202
        if line.startswith("EXEC Queue"):
            return in_queue.pass_through("200 result=0")
        if line == "GET VARIABLE QUEUESTATUS":
            return "200 result=1 (TIMEOUT)"
        if line == "GET VARIABLE ANSWEREDTIME":
            return "200 result=1 (0)"
        if line.startswith("RECORD FILE"):
            return "200 result=0 (timeout) endpos=0"
        return plausible_reply(line)

    peers = [AGIPeer([], callerid=ANNA, uniqueid=f"1795303247.{100 + i}", script="hotline", auto_reply=script,
                     io_timeout=60) for i in range(callers)]
    ticker = Ticker(settings, engine, providers={}, clock=lambda: clock.now)
    with Captured() as seen:
        runner = threading.Thread(target=run_peers, args=(host, port, peers))
        runner.start()
        in_queue.wait_for(callers)
        clock.now = IN_HOURS + timedelta(hours=1)  # past every threshold
        workers = [threading.Thread(target=ticker.fire_timers) for _ in range(3)]
        for w in workers:
            w.start()
        in_queue.opened.set()
        for w in workers:
            w.join(timeout=60)
        runner.join(timeout=60)
    for peer in peers:
        peer.assert_ok()
    alerted = sorted(e.call_id for e in seen.unanswered)
    assert len(alerted) == callers and len(set(alerted)) == callers, alerted
    assert count(session, Ticket) == callers


def test_agi_menu_turn_racing_a_hangup_from_elsewhere_ends_one_way(agi_server, settings, engine,
                                                                   session_factory, session):  # noqa: ANN001
    """The caller presses 1 while another process (AMI, the sweep) ends the call: the same end as over Twilio."""
    from callcenter.db import session_scope
    from callcenter.ivr.engine import FlowEngine

    host, port = agi_server
    callers = 10
    flow = FlowEngine(settings)
    at_menu = Gate()

    def script(line: str):  # noqa: ANN202
        if line.startswith("GET DATA") and "menu" in line:
            return at_menu.pass_through("200 result=1")
        if line.startswith("EXEC Queue"):
            return ["200 result=-1", "HANGUP"]
        return plausible_reply(line)

    uids = [f"1795303247.{300 + i}" for i in range(callers)]
    peers = [AGIPeer([], callerid=ANNA, uniqueid=uid, script="hotline", auto_reply=script, io_timeout=60)
             for uid in uids]

    def hang_up_elsewhere(uid: str) -> None:
        at_menu.opened.wait(timeout=60)
        with session_scope(session_factory) as s:
            flow.hangup(s, uid, IN_HOURS)

    others = [threading.Thread(target=hang_up_elsewhere, args=(uid,)) for uid in uids]
    for t in others:
        t.start()
    runner = threading.Thread(target=run_peers, args=(host, port, peers))
    runner.start()
    at_menu.wait_for(callers)
    at_menu.opened.set()
    runner.join(timeout=60)
    for t in others:
        t.join(timeout=60)
    for peer in peers:
        peer.assert_ok()
    for uid in uids:
        row = call_row(session, uid)
        assert row.ended_at is not None and row.ticket_id is not None
        assert row.outcome == "abandoned_in_queue", (uid, row.outcome)
        assert pending_queue_timers(session, row) == 0
    assert count(session, Ticket) == callers
