"""End to end: agents take queued hotline callers on Asterisk (scripted FastAGI peers over TCP).

`FakeAsterisk` plays Asterisk for every caller: the IVR digits, music-on-hold slices, and Dial() to
an agent's phone. A Dial with the `U(hotline-agent-offer^N)` confirmation runs what Asterisk runs on
the agent's answered channel, a second FastAGI session (`agent-offer?offer=N`) whose digit decides
whether Dial bridges (DIALSTATUS=ANSWER) or returns BUSY.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from agi_peer import AGIPeer, dead_channel_reply, plausible_reply
from hotline_helpers import ANNA, IN_HOURS, NIKOS, Captured, stub_number_prompts
from sqlalchemy import select

from callcenter import agents, tickets, timers
from callcenter.db import session_scope
from callcenter.models import AgentStateChange, Call, CallOffer, Contact, StaffUser, Ticket, Timer
from webhooks.agi_server import FastAGIServer
from webhooks.fastagi import HotlineAGI

PBX_LINE = "+302105550100"  # Athens' PBX: the caller is known by the asset's number
BELA = "+3615550111"
DIAL = re.compile(r'^EXEC Dial "PJSIP/(?P<phone>[^@]+)@hotline-trunk,20,U\(hotline-agent-offer\^(?P<offer>\d+)\)"$')


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: int) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


class FakeAsterisk:
    """Asterisk's side of the callers and of the agents' phones.

    phones[e164]: what the agent's phone does at each Dial, in turn: "take" (answers, hears the
    whisper, presses 1), "decline" (answers, presses 2) or "noanswer" (rings out). Unlisted: rings out.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.phones: dict[str, list[str]] = {}
        self.talk_seconds = 60
        self.dials: list[tuple[str, str, str]] = []  # (caller uid, agent phone, what the phone did)
        self.agent_legs: list[AGIPeer] = []
        self.callers: dict[str, Caller] = {}

    def caller(self, uid: str, number: str, digits: list[str]) -> Caller:
        self.callers[uid] = Caller(self, uid, number, digits)
        return self.callers[uid]

    async def dial_agent(self, caller: Caller, phone: str, offer: str) -> tuple[str, int]:
        """DIALSTATUS and ANSWEREDTIME of one Dial() to an agent's phone."""
        queue = self.phones.get(phone) or []
        behaviour = queue.pop(0) if queue else "noanswer"
        self.dials.append((caller.uid, phone, behaviour))
        if behaviour == "noanswer":
            return "NOANSWER", 0
        digit = "1" if behaviour == "take" else "2"
        leg = AgentLeg(digit)
        peer = AGIPeer([], callerid=phone, uniqueid=f"agent.{offer}", script="agent-offer", query=f"offer={offer}",
                       auto_reply=leg)
        self.agent_legs.append(peer)
        await peer.run(self.host, self.port)
        if leg.gosub_result:
            return leg.gosub_result, 0
        # Asterisk 22's ANSWEREDTIME counts from the caller's answer: more than the talk.
        return "ANSWER", self.talk_seconds + 40


class AgentLeg:
    """The agent's answered channel running the confirmation subroutine."""

    def __init__(self, digit: str) -> None:
        self.digit = digit
        self.gosub_result: str | None = None

    def __call__(self, line: str) -> str:
        if line.startswith("GET DATA"):
            return f"200 result={self.digit}"
        m = re.match(r'^SET VARIABLE GOSUB_RESULT "(.*)"$', line)
        if m:
            self.gosub_result = m.group(1)
            return "200 result=1"
        return plausible_reply(line)


class Caller:
    """One queued caller's channel: menu digits, hold slices (until `hang_up()`), Dial results."""

    def __init__(self, fake: FakeAsterisk, uid: str, number: str, digits: list[str]) -> None:
        self.fake, self.uid, self.number = fake, uid, number
        self.digits = list(digits)
        self.dead = False
        self.want_hangup = False
        self.dial_status, self.answered = "", 0
        self.peer = AGIPeer([], callerid=number, uniqueid=uid, script="hotline", auto_reply=self.reply,
                            max_commands=20000, io_timeout=30)

    def hang_up(self) -> None:
        self.want_hangup = True

    async def reply(self, line: str) -> str | list[str]:
        if self.dead:
            return dead_channel_reply(line)
        if line.startswith("GET DATA"):
            return f"200 result={self.digits.pop(0)}" if self.digits else "200 result= (timeout)"
        if line.startswith(("EXEC MusicOnHold", "EXEC Wait")):
            # A short hold slice, but not so short that three held callers' looks (each a write
            # transaction) crowd out the test's own transactions on a loaded machine (the flake).
            await asyncio.sleep(0.1)
            if self.want_hangup:
                self.dead = True
                return ["200 result=-1", "HANGUP"]
            return "200 result=0"
        m = DIAL.match(line)
        if m:
            self.dial_status, self.answered = await self.fake.dial_agent(self, m["phone"], m["offer"])
            return "200 result=0"
        if line == "GET VARIABLE DIALSTATUS":
            return f"200 result=1 ({self.dial_status})"
        if line == "GET VARIABLE ANSWEREDTIME":
            return f"200 result=1 ({self.answered})" if self.answered else "200 result=0"
        if line.startswith("RECORD FILE"):
            return "200 result=0 (timeout) endpos=80000"
        return plausible_reply(line)


@pytest.fixture
def clock() -> Clock:
    return Clock(IN_HOURS)


@pytest.fixture
def asterisk(settings, engine, demo, clock):  # noqa: ANN001, ANN201
    assert settings.asterisk_agent_dial == "PJSIP/{phone}@hotline-trunk"  # the shipped default
    server = FastAGIServer(HotlineAGI(settings, engine, clock=clock), port=0)
    host, port = server.start_in_thread()
    yield FakeAsterisk(host, port)
    server.stop_thread()


def db(session_factory, work: Callable):  # noqa: ANN001, ANN201
    """One short transaction of the test's own (the FastAGI threads write concurrently)."""
    with session_scope(session_factory) as s:
        return work(s)


async def until(session_factory, check: Callable, what: str, timeout: float = 60.0) -> None:  # noqa: ANN001
    """Wait for a condition, polling the database: generous, since a loaded machine is slow, never wrong."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await asyncio.to_thread(db, session_factory, check):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        await asyncio.sleep(0.02)


def row(s, uid: str) -> Call | None:  # noqa: ANN001
    return s.scalar(select(Call).where(Call.provider_call_id == uid))


def queued(uid: str) -> Callable:
    return lambda s: row(s, uid) is not None and row(s, uid).queue_entered_at is not None


def answered(uid: str) -> Callable:
    return lambda s: row(s, uid) is not None and row(s, uid).answered_at is not None


def make_state(staff_id: int, state: str, clock: Clock, reason: str = "console") -> Callable:
    return lambda s: agents.set_state(s, agents.agent_for(s, staff_id, clock.now), state, clock.now, reason) and None


def agent_state(staff_id: int, clock: Clock) -> Callable:
    return lambda s: agents.agent_for(s, staff_id, clock.now).state


async def queue_in_order(fake: FakeAsterisk, factory, clock: Clock, callers: list[tuple[str, str]]) -> list:  # noqa: ANN001
    """Each caller presses 1 (critical fault) and is queued before the next one calls."""
    tasks = []
    for uid, number in callers:
        caller = fake.caller(uid, number, ["1"])
        tasks.append(asyncio.create_task(caller.peer.run(fake.host, fake.port)))
        await until(factory, queued(uid), f"{uid} is queued")
        clock.advance(10)
    return tasks


def test_callers_reach_agents_in_priority_order(asterisk, session, session_factory, demo, clock, settings,  # noqa: ANN001
                                                tmp_path):
    agent1, agent2 = demo.staff["agent1"], demo.staff["agent2"]
    # `callcenter prompts build` said Budapest Demo Kft.'s name in Greek (the file's content does not matter here).
    stub_number_prompts(settings, tmp_path / "prompts")
    (tmp_path / "prompts" / "el" / f"company-{demo.budapest.id}.wav").write_bytes(b"RIFF")
    fake = asterisk
    fake.phones = {agent1.phone: ["take"], agent2.phone: ["take", "take"]}

    async def scenario() -> None:
        tasks = await queue_in_order(fake, session_factory, clock, [("a.anna", ANNA), ("a.nikos", NIKOS),
                                                                    ("a.pbx", PBX_LINE)])
        # Nikos' fault was reclassified as not critical: the two critical callers go first.
        db(session_factory, lambda s: tickets.update_fields(s, s.get(Ticket, row(s, "a.nikos").ticket_id),
                                                            {"priority": "high"}, actor=tickets.SYSTEM, now=clock.now))
        assert fake.dials == []  # nobody is available yet: all three hold
        db(session_factory, make_state(agent2.id, "available", clock))
        await until(session_factory, answered("a.anna"), "agent2 takes Anna")
        await until(session_factory, lambda s: agent_state(agent2.id, clock)(s) == "wrap_up", "Anna's call ends")
        clock.advance(5)
        db(session_factory, make_state(agent1.id, "available", clock))
        await until(session_factory, answered("a.pbx"), "agent1 takes the PBX line")
        await asyncio.gather(tasks[0], tasks[2])
        assert db(session_factory, agent_state(agent2.id, clock)) == "wrap_up"
        assert not db(session_factory, answered("a.nikos"))
        # agent2 finishes the wrap-up: Nikos, still holding, is theirs.
        clock.advance(30)
        db(session_factory, lambda s: agents.wrap_up(s, row(s, "a.anna"), s.get(StaffUser, agent2.id), now=clock.now,
                                                     outcome="ticket_updated", minutes=20))
        await until(session_factory, answered("a.nikos"), "agent2 takes Nikos")
        await tasks[1]

    with Captured() as seen:
        asyncio.run(scenario())
    for caller in fake.callers.values():
        caller.peer.assert_ok()
    for leg in fake.agent_legs:
        leg.assert_ok()
    assert [(uid, phone) for uid, phone, _ in fake.dials] == [
        ("a.anna", agent2.phone), ("a.pbx", agent1.phone), ("a.nikos", agent2.phone)]
    # The agent heard the reason and the wait in their language (agent2 speaks Greek) before pressing 1.
    whisper = fake.agent_legs[0].commands
    # Anna's company by name, then the reason; the PBX line's company has no name prompt: reason only.
    assert [c.split("/")[-1] for c in whisper[:3]] == [
        'agent_offer_company ""', f'company-{demo.budapest.id} ""', 'agent_offer_critical_fault-0 ""']
    assert not any("company" in c for c in fake.agent_legs[1].commands)
    assert any("/el/agent_offer_critical_fault-0" in c for c in whisper)
    assert any(c.startswith("EXEC Playback") and "/el/digits/0" in c for c in whisper)
    assert any(c.startswith("GET DATA") and "/el/agent_offer_critical_fault-1" in c for c in whisper)
    session.expire_all()
    anna, pbx, nikos = row(session, "a.anna"), row(session, "a.pbx"), row(session, "a.nikos")
    assert (anna.agent_id, pbx.agent_id, nikos.agent_id) == (agent2.id, agent1.id, agent2.id)
    for call in (anna, pbx, nikos):
        # Talk time runs from the agent's 1 on the test clock (which stands still here), whatever
        # ANSWEREDTIME Asterisk reports (tests/asterisk/ measures it with real time).
        assert call.outcome == "answered" and call.talk_seconds == 0 and call.ring_seconds == 0
        assert call.answered_at is not None and call.wait_seconds is not None
    assert anna.wait_seconds == 30 and pbx.wait_seconds == 15 and anna.wrap_up_seconds == 35
    assert [str(e.billable_hours) for e in session.get(Ticket, anna.ticket_id).time_entries] == ["0.50"]
    agent = agents.agent_for(session, agent2.id, clock.now)
    changes = session.scalars(select(AgentStateChange).where(AgentStateChange.agent_id == agent.id)
                              .order_by(AgentStateChange.id)).all()
    assert [(c.state, c.reason) for c in changes] == [
        ("available", "console"), ("on_call", "call"), ("wrap_up", "call"), ("available", "wrap_up"),
        ("on_call", "call"), ("wrap_up", "call")]
    assert [o.status for o in session.scalars(select(CallOffer).order_by(CallOffer.id))] == ["accepted"] * 3
    # Every caller was answered: the queue watch never alerts.
    timers.fire_due(session_factory, clock.now + timedelta(hours=1))
    assert seen.unanswered == []
    assert all(t.cancelled_at is not None for t in session.scalars(
        select(Timer).where(Timer.key.like("hotline-queue:%"))))


def test_no_answer_skips_agent_hangup_goes_to_callbacks_threshold_only_for_unanswered(
        asterisk, session, session_factory, demo, clock):  # noqa: ANN001
    session.add(Contact(company_id=demo.budapest.id, name="Kiss Béla", phone=BELA, language="hu"))
    session.commit()
    eng2, agent1 = demo.staff["eng2"], demo.staff["agent1"]
    fake = asterisk
    fake.phones = {eng2.phone: ["noanswer"], agent1.phone: ["take"]}

    async def scenario() -> None:
        tasks = await queue_in_order(fake, session_factory, clock, [("b.anna", ANNA), ("b.nikos", NIKOS),
                                                                    ("b.bela", BELA)])
        db(session_factory, make_state(eng2.id, "available", clock))
        await until(session_factory, lambda s: s.scalar(select(CallOffer.status).where(CallOffer.id == 1))
                    == "no_answer", "eng2's phone rang out")
        # Anna goes to agent1; eng2, who missed the last offer, is skipped for now.
        db(session_factory, make_state(agent1.id, "available", clock))
        await until(session_factory, answered("b.anna"), "agent1 takes Anna")
        await tasks[0]
        # Béla gives up while queued.
        fake.callers["b.bela"].hang_up()
        await tasks[2]
        # Nobody takes Nikos: the threshold passes for him.
        clock.advance(900)
        await tasks[1]

    with Captured() as seen:
        asyncio.run(scenario())
        timers.fire_due(session_factory, clock.now + timedelta(hours=1))
    for caller in fake.callers.values():
        caller.peer.assert_ok()
    assert fake.dials == [("b.anna", eng2.phone, "noanswer"), ("b.anna", agent1.phone, "take")]
    session.expire_all()
    anna, nikos, bela = row(session, "b.anna"), row(session, "b.nikos"), row(session, "b.bela")
    assert anna.agent_id == agent1.id and anna.outcome == "answered"
    assert bela.outcome == "abandoned_in_queue" and bela.callback_state == "pending" and bela.menu_path == "1"
    # Nikos, whom nobody answered, left a message and is on the list too; Anna, answered, is not.
    assert [c.id for c in agents.callback_list(session)] == [nikos.id, bela.id]
    assert [e.call_id for e in seen.unanswered] == [nikos.id]
    assert nikos.outcome == "unanswered_message" and nikos.agent_id is None
    assert any("/el/oncall_alerted" in c for c in fake.callers["b.nikos"].peer.commands)
    assert agents.agent_for(session, eng2.id, clock.now).last_missed_offer_at == IN_HOURS + timedelta(seconds=30)


def test_agent_logs_in_and_out_by_phone(asterisk, session, session_factory, demo, clock):  # noqa: ANN001
    agent2 = demo.staff["agent2"]
    fake = asterisk

    def phone_call(uid: str, digit: str) -> AGIPeer:
        caller = fake.caller(uid, agent2.phone, [digit])
        asyncio.run(caller.peer.run(fake.host, fake.port))
        caller.peer.assert_ok()
        return caller.peer

    peer = phone_call("c.in", "1")
    assert any("/el/agent_menu" in c for c in peer.commands)
    assert not any("MixMonitor" in c for c in peer.commands)  # an agent's own call is not recorded
    session.expire_all()
    assert agents.agent_for(session, agent2.id, clock.now).state == "available"
    clock.advance(3600)
    phone_call("c.out", "2")
    session.expire_all()
    agent = agents.agent_for(session, agent2.id, clock.now)
    assert agent.state == "offline"
    changes = session.scalars(select(AgentStateChange).where(AgentStateChange.agent_id == agent.id)
                              .order_by(AgentStateChange.id)).all()
    assert [(c.previous, c.state, c.reason) for c in changes] == [("offline", "available", "phone"),
                                                                  ("available", "offline", "phone")]
    assert changes[1].at - changes[0].at == timedelta(seconds=3600)
