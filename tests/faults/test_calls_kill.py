"""kill -9 of `callcenter serve` during calls, then a restart: every ticket once, no call left open, no page
about a caller who is gone. Real processes, a scripted Asterisk over TCP, Twilio's side from the fake.

Printed: the calls in flight, how they ended and how long after the kill the last one was closed."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter

from agi_peer import AGIPeer, plausible_reply, run_peers
from faults.procs import Service, hotline_config, open_all_day, wait_until
from hotline_helpers import ANNA, HOTLINE_NUMBER
from sqlalchemy import func, select

from callcenter.models import Alert, Call, Ticket

QUEUED_AGI = 8
MENU_AGI = 3
MENU_TWILIO = 3
MESSAGE_TWILIO = 3
THRESHOLD = 8  # seconds: the queue's no-answer timers fall due right after the restart


class Held:
    """Fake Asterisk replies that wait (a caller in Queue(), a caller thinking at the menu) until released."""

    def __init__(self) -> None:
        self.waiting = 0
        self.released = threading.Event()
        self._lock = threading.Lock()

    async def reply(self, line: str) -> str:
        with self._lock:
            self.waiting += 1
        while not self.released.is_set():
            await asyncio.sleep(0.05)
        return "200 result=0"


def count(session, *where) -> int:  # noqa: ANN001
    session.expire_all()
    return session.scalar(select(func.count()).select_from(Call).where(*where))


def test_kill_9_of_serve_during_calls(database_url, demo, session, tmp_path, fake):  # noqa: ANN001
    open_all_day(session, demo.budapest.id, THRESHOLD)
    config = hotline_config(database_url, tmp_path, twilio=fake, lost_seconds=6)
    serve = Service("serve", config, tmp_path).start().wait_ready()
    held = Held()

    def queued_script(line: str):  # noqa: ANN202
        if line.startswith("GET DATA") and "menu" in line:
            return "200 result=1"
        if line.startswith("EXEC Queue"):
            return held.reply(line)
        return plausible_reply(line)

    def menu_script(line: str):  # noqa: ANN202
        if line.startswith("GET DATA") and "menu" in line:
            return held.reply(line)
        return plausible_reply(line)

    peers = [AGIPeer([], callerid=ANNA, uniqueid=f"fault-kill.{i}", script="hotline", auto_reply=queued_script,
                     io_timeout=60) for i in range(QUEUED_AGI)]
    peers += [AGIPeer([], callerid=ANNA, uniqueid=f"fault-kill.menu.{i}", script="hotline", auto_reply=menu_script,
                      io_timeout=60) for i in range(MENU_AGI)]
    try:
        asterisk = threading.Thread(target=run_peers, args=(*serve.agi_address, peers), daemon=True)
        asterisk.start()
        twilio = [fake.start_inbound_call(serve.web_url, ANNA, HOTLINE_NUMBER) for _ in range(MENU_TWILIO)]
        for _ in range(MESSAGE_TWILIO):
            caller = fake.start_inbound_call(serve.web_url, ANNA, HOTLINE_NUMBER)
            caller.press("2")
            assert caller.state == "record", caller.transcript
            twilio.append(caller)
        wait_until(lambda: held.waiting == QUEUED_AGI + MENU_AGI, 30, what="every Asterisk caller in place")
        wait_until(lambda: count(session, Call.queue_entered_at.is_not(None)) == QUEUED_AGI, 30,
                   what="the critical callers in the queue")
        in_flight = count(session, Call.ended_at.is_(None))

        serve.kill()
        killed_at = time.monotonic()
        held.released.set()  # Asterisk sees the socket close: its callers hear nothing more and hang up
        for caller in twilio:
            fake.get_call(caller.sid).status = "completed"  # Twilio's callbacks failed while we were down
        asterisk.join(timeout=30)
        serve.start().wait_ready()

        wait_until(lambda: count(session, Call.ended_at.is_(None)) == 0, 45, interval=0.5,
                   what="every call closed after the restart")
        closed_after = time.monotonic() - killed_at
        # Every queue timer has fallen due by now: none of them may page.
        wait_until(lambda: time.monotonic() - killed_at > THRESHOLD + 2, 30)
        session.expire_all()
        calls = list(session.scalars(select(Call)))
        outcomes = Counter(c.outcome for c in calls)
        tickets = list(session.scalars(select(Ticket)))
        alerts = session.scalar(select(func.count()).select_from(Alert))
        pages = [m.to for m in fake.messages] + [c.to for c in fake.calls if c.direction == "outbound-api"]
        print(f"\nkill -9 of serve with {in_flight} calls in flight ({QUEUED_AGI} queued): "
              f"tickets {len(tickets)}, outcomes {dict(outcomes)}, open calls 0 after {closed_after:.1f} s, "
              f"alerts {alerts}, pages {len(pages)}")
        assert len(calls) == in_flight == QUEUED_AGI + MENU_AGI + MENU_TWILIO + MESSAGE_TWILIO
        assert len(tickets) == QUEUED_AGI  # every critical caller's ticket, once
        assert sorted(c.ticket_id for c in calls if c.ticket_id) == sorted(t.id for t in tickets)
        assert outcomes == {"lost": len(calls)}
        assert alerts == 0 and pages == [], pages
    finally:
        held.released.set()
        serve.stop()


def test_kill_9_of_the_agi_process_and_a_worker_while_callers_wait(database_url, demo, session, tmp_path,
                                                                   fake):  # noqa: ANN001
    """Scaled out (`agi`, `web`, two `worker`s): the FastAGI process and one worker die together and nothing is
    restarted. The surviving worker closes the callers' calls and pages nobody."""
    open_all_day(session, demo.budapest.id, THRESHOLD)
    config = hotline_config(database_url, tmp_path, twilio=fake, lost_seconds=6)
    agi = Service("agi", config, tmp_path).start()
    workers = [Service("worker", config, tmp_path, name=f"worker{i}").start() for i in range(2)]
    held = Held()

    def script(line: str):  # noqa: ANN202
        if line.startswith("GET DATA") and "menu" in line:
            return "200 result=1"
        if line.startswith("EXEC Queue"):
            return held.reply(line)
        return plausible_reply(line)

    peers = [AGIPeer([], callerid=ANNA, uniqueid=f"fault-agi.{i}", script="hotline", auto_reply=script, io_timeout=60)
             for i in range(QUEUED_AGI)]
    try:
        for service in (agi, *workers):
            service.wait_ready()
        asterisk = threading.Thread(target=run_peers, args=(*agi.agi_address, peers), daemon=True)
        asterisk.start()
        wait_until(lambda: held.waiting == QUEUED_AGI, 30, what="every caller in the queue")
        agi.kill()
        workers[0].kill()
        killed_at = time.monotonic()
        held.released.set()
        asterisk.join(timeout=30)
        wait_until(lambda: count(session, Call.ended_at.is_(None)) == 0, 45, interval=0.5,
                   what="the surviving worker to close every call")
        closed_after = time.monotonic() - killed_at
        wait_until(lambda: time.monotonic() - killed_at > THRESHOLD + 2, 30)
        session.expire_all()
        calls = list(session.scalars(select(Call)))
        tickets = session.scalar(select(func.count()).select_from(Ticket))
        alerts = session.scalar(select(func.count()).select_from(Alert))
        print(f"\nkill -9 of agi and a worker with {len(calls)} callers queued: tickets {tickets}, "
              f"outcomes {dict(Counter(c.outcome for c in calls))}, closed {closed_after:.1f} s after the kill "
              f"by the other worker, alerts {alerts}, pages {len(fake.messages)}")
        assert len(calls) == tickets == QUEUED_AGI
        assert {c.outcome for c in calls} == {"lost"} and alerts == 0 and fake.messages == []
        workers[1].assert_running()
    finally:
        held.released.set()
        for service in (agi, *workers):
            service.stop()
