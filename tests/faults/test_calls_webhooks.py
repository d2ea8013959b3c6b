"""Duplicate and concurrent Twilio webhooks from many threads against real `callcenter web` and `worker`
processes: Twilio retries of the first webhook and of a key press, then the wait poll, the <Enqueue> action
and the status callback of the caller hanging up, all at once. Every call is written once, every ticket is
there once, every call ends the same way, nobody is paged.

Printed: requests sent, calls, tickets, outcomes."""

from __future__ import annotations

import threading
import uuid
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable

from fake_twilio import WebhookResponse
from faults.procs import Service, hotline_config, open_all_day
from hotline_helpers import ANNA, HOTLINE_NUMBER
from sqlalchemy import func, select

from callcenter.models import Alert, Call, Ticket, Timer

CALLS = 10


def wave(jobs: list[Callable[[], WebhookResponse]]) -> list[WebhookResponse]:
    """All jobs at once from their own threads; their responses in order."""
    barrier = threading.Barrier(len(jobs))
    out: list[WebhookResponse | BaseException | None] = [None] * len(jobs)

    def run(i: int) -> None:
        barrier.wait()
        try:
            out[i] = jobs[i]()
        except BaseException as exc:  # surfaced below
            out[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    errors = [r for r in out if isinstance(r, BaseException) or r is None]
    assert not errors, errors[:3]
    return out  # type: ignore[return-value]


def test_duplicate_and_concurrent_webhooks(database_url, demo, session, tmp_path, fake):  # noqa: ANN001
    open_all_day(session, demo.budapest.id, threshold=600)
    config = hotline_config(database_url, tmp_path, twilio=fake)
    web = Service("web", config, tmp_path).start()
    worker = Service("worker", config, tmp_path).start()
    try:
        web.wait_ready()
        worker.wait_ready()
        base = web.web_url
        sids = ["CA" + uuid.uuid4().hex for _ in range(CALLS)]

        def form(sid: str, status: str = "in-progress", **extra: str) -> dict[str, str]:
            return {"CallSid": sid, "From": ANNA, "To": HOTLINE_NUMBER, "CallStatus": status, "Direction": "inbound",
                    **extra}

        # Twilio sends the first webhook three times (its answer was slow to arrive).
        first = wave([lambda s=sid: fake.post_signed(base + "/twilio/voice", form(s, "ringing"))
                      for sid in sids for _ in range(3)])
        menus = {}
        for sid, answers in zip(sids, [first[i:i + 3] for i in range(0, len(first), 3)], strict=True):
            assert {a.status_code for a in answers} == {200} and len({a.text for a in answers}) == 1
            menus[sid] = ET.fromstring(answers[0].text).find(".//Gather").get("action")
        # The caller presses 1; Twilio sends the key press four times.
        pressed = wave([lambda s=sid: fake.post_signed(menus[s], form(s, Digits="1"))
                        for sid in sids for _ in range(4)])
        queue_done, wait_url = {}, {}
        for sid, answers in zip(sids, [pressed[i:i + 4] for i in range(0, len(pressed), 4)], strict=True):
            assert len({a.text for a in answers}) == 1, "a repeated key press answers as the first"
            enqueue = ET.fromstring(answers[0].text).find(".//Enqueue")
            queue_done[sid], wait_url[sid] = enqueue.get("action"), enqueue.get("waitUrl")
        # The caller hangs up in the queue: the wait poll, the <Enqueue> action and the status callback,
        # each twice, all at once.
        jobs: list[Callable[[], WebhookResponse]] = []
        for sid in sids:
            jobs += [lambda s=sid: fake.post_signed(wait_url[s], form(s, QueueTime="4", QueueSid="QU1"))] * 2
            jobs += [lambda s=sid: fake.post_signed(queue_done[s], form(s, QueueResult="hangup", QueueTime="5",
                                                                        QueueSid="QU1"))] * 2
            jobs += [lambda s=sid: fake.post_signed(base + "/twilio/voice/status",
                                                    form(s, "completed", SequenceNumber="3", CallDuration="20"))] * 2
        ended = wave(jobs)
        assert {r.status_code for r in ended} == {200}

        session.expire_all()
        calls = list(session.scalars(select(Call)))
        tickets = list(session.scalars(select(Ticket)))
        pending = session.scalar(select(func.count()).select_from(Timer).where(
            Timer.key.like("hotline-queue:%"), Timer.fired_at.is_(None), Timer.cancelled_at.is_(None)))
        outcomes = Counter(c.outcome for c in calls)
        print(f"\n{len(first) + len(pressed) + len(ended)} concurrent webhooks for {CALLS} calls: "
              f"{len(calls)} call rows, {len(tickets)} tickets, outcomes {dict(outcomes)}, "
              f"{pending} queue timers left, {session.scalar(select(func.count()).select_from(Alert))} alerts")
        assert sorted(c.provider_call_id for c in calls) == sorted(sids)
        assert len(tickets) == CALLS and sorted(c.ticket_id for c in calls) == sorted(t.id for t in tickets)
        assert all(c.menu_path == "1" and c.ended_at is not None for c in calls)
        assert outcomes == {"abandoned_in_queue": CALLS} and pending == 0
        assert all(c.callback_state == "pending" for c in calls)  # each a missed call to return, once
        assert session.scalar(select(func.count()).select_from(Alert)) == 0 and fake.messages == []
    finally:
        web.stop()
        worker.stop()
