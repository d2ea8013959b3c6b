"""End to end: agents take queued hotline calls over Twilio (FakeTwilio drives both legs)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from fake_twilio import FakeTwilio
from hotline_helpers import ANNA, HOTLINE_NUMBER, IN_HOURS, NIKOS, Captured, call_row
from sqlalchemy import select

from callcenter import agents, callbacks, tickets
from callcenter.models import Agent, AgentStateChange, CallOffer, Contact, StaffUser, Ticket
from callcenter.providers.twilio import TwilioProvider
from callcenter.scheduler import Ticker

PBX_LINE = "+302105550100"  # Athens' PBX: the caller is known by the asset's number


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: int) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(IN_HOURS)


@pytest.fixture
def line(app, settings, fake, demo, clock, session, engine):  # noqa: ANN001, ANN201
    settings.twilio_auth_token = fake.auth_token
    settings.twilio_account_sid = fake.account_sid
    settings.twilio_from_number = HOTLINE_NUMBER
    fake.attach_app(app, settings.public_url)
    app.config["HOTLINE_CLOCK"] = clock
    session.info["settings"] = settings
    provider = TwilioProvider(settings, fake.client())
    return Ticker(settings, engine, providers={"voice": provider, "sms": provider}, clock=clock)


def dial_in(fake: FakeTwilio, settings, caller: str):  # noqa: ANN001, ANN201
    return fake.start_inbound_call(settings.public_url, caller, HOTLINE_NUMBER,
                                   status_callback=settings.public_url + "/twilio/voice/status")


def queue_caller(fake, settings, clock, caller: str):  # noqa: ANN001, ANN201
    call = dial_in(fake, settings, caller)
    call.press("1")
    assert call.state == "enqueue"
    clock.advance(10)
    return call


def set_state(session, clock, staff: StaffUser, state: str) -> None:  # noqa: ANN001
    agents.set_state(session, agents.agent_for(session, staff.id, clock.now), state, clock.now)
    session.commit()


def agent_rings(fake: FakeTwilio, line: Ticker, staff: StaffUser):  # noqa: ANN201
    while line.drain_outbox():
        pass
    return fake.wait_for_call(to=staff.phone)


def offers(session) -> list[tuple[int, int, str]]:  # noqa: ANN001
    session.expire_all()
    return [(o.call_id, o.agent_id, o.status) for o in session.scalars(select(CallOffer).order_by(CallOffer.id))]


def take(fake: FakeTwilio, sid: str):  # noqa: ANN201
    leg = fake.answer_call(sid)
    assert leg.state == "gather"
    leg.press("1")
    assert leg.state == "dial" and leg.heard[-1].attrs["nouns"] == "Queue"
    return leg


def test_callers_reach_agents_in_priority_order(line, fake, settings, session, demo, clock):  # noqa: ANN001
    agent1, agent2 = demo.staff["agent1"], demo.staff["agent2"]
    with Captured() as seen:
        anna = queue_caller(fake, settings, clock, ANNA)
        nikos = queue_caller(fake, settings, clock, NIKOS)
        pbx = queue_caller(fake, settings, clock, PBX_LINE)
        rows = {name: call_row(session, c.sid) for name, c in (("anna", anna), ("nikos", nikos), ("pbx", pbx))}
        # Nikos' fault was reclassified as not critical: the two critical callers go first.
        ticket = session.get(Ticket, rows["nikos"].ticket_id)
        tickets.update_fields(session, ticket, {"priority": "high"}, actor=tickets.SYSTEM, now=clock.now)
        session.commit()
        assert offers(session) == []

        set_state(session, clock, agent2, "available")
        clock.advance(5)
        set_state(session, clock, agent1, "available")
        a2 = agent_rings(fake, line, agent2)
        a1 = agent_rings(fake, line, agent1)
        ids = {a.staff_id: a.id for a in session.scalars(select(Agent))}
        # Longest idle (agent2) gets the longest-waiting critical caller, agent1 the next critical one.
        assert offers(session) == [(rows["anna"].id, ids[agent2.id], "ringing"),
                                   (rows["pbx"].id, ids[agent1.id], "ringing")]

        leg2 = fake.answer_call(a2.sid)
        assert leg2.state == "gather"
        whisper = leg2.said[-1]
        assert "Budapest Demo Kft." in whisper and "κρίσιμη βλάβη" in whisper  # agent2 speaks Greek
        leg2.press("1")
        assert leg2.heard[-1].text == f"hotline-{rows['anna'].id}"
        anna.queue_result("bridged", queue_time=25)
        take(fake, a1.sid)
        pbx.queue_result("bridged", queue_time=20)
        anna_row = call_row(session, anna.sid)
        assert anna_row.agent_id == agent2.id and anna_row.answered_at is not None
        assert anna_row.ring_seconds is not None and anna_row.outcome == "answered"

        # agent2 finishes: the agent leg ends, wrap-up, then Nikos is offered to them.
        clock.advance(120)
        leg2.dial_result("completed", duration=110)
        session.expire_all()
        assert agents.agent_for(session, agent2.id, clock.now).state == "wrap_up"
        assert call_row(session, anna.sid).talk_seconds == 110
        agents.wrap_up(session, call_row(session, anna.sid), agent2, now=clock.advance(30), outcome="ticket_updated",
                       minutes=20)
        session.commit()
        a2b = agent_rings(fake, line, agent2)
        take(fake, a2b.sid)
        nikos.queue_result("bridged", queue_time=200)
        assert [c for c, _, s in offers(session) if s == "accepted"] == [rows["anna"].id, rows["pbx"].id,
                                                                         rows["nikos"].id]
        assert call_row(session, anna.sid).wrap_up_seconds == 30
        assert [str(e.billable_hours) for e in session.get(Ticket, anna_row.ticket_id).time_entries] == ["0.50"]

        # Every caller was answered: the queue watch timers were cancelled and never alert.
        clock.advance(3600)
        line.tick()
        assert seen.unanswered == []
    fake.assert_nothing_unexpected()


def test_no_answer_skips_agent_hangup_goes_to_callbacks_threshold_only_for_unanswered(
        line, fake, settings, session, demo, clock):  # noqa: ANN001
    session.add(Contact(company_id=demo.budapest.id, name="Kiss Béla", phone="+3615550111", language="hu"))
    session.commit()
    eng2, agent1 = demo.staff["eng2"], demo.staff["agent1"]
    with Captured() as seen:
        anna = queue_caller(fake, settings, clock, ANNA)
        nikos = queue_caller(fake, settings, clock, NIKOS)
        bela = queue_caller(fake, settings, clock, "+3615550111")

        set_state(session, clock, eng2, "available")
        ring = agent_rings(fake, line, eng2)
        fake.ring(ring.sid)
        fake.no_answer(ring.sid)  # eng2 lets it ring out
        assert offers(session)[-1][2] == "no_answer"
        set_state(session, clock, agent1, "available")
        a1 = agent_rings(fake, line, agent1)
        # Anna goes to agent1; eng2, who missed the last offer, is skipped for now.
        assert offers(session)[-1][0] == call_row(session, anna.sid).id
        take(fake, a1.sid)
        anna.queue_result("bridged", queue_time=40)

        # Béla gives up while queued: he is on the callback list with what he chose.
        bela.hangup()
        row = call_row(session, bela.sid)
        assert row.callback_state == "pending" and row.menu_path == "1"
        assert [c.id for c in agents.callback_list(session)] == [row.id]

        # Nobody takes Nikos: the threshold alert fires for him only.
        clock.advance(900)
        nikos.queue_wait(queue_time=900)  # his wait-URL poll finds the threshold passed
        line.tick()
        assert [e.call_id for e in seen.unanswered] == [call_row(session, nikos.sid).id]
        # ... and paging texts the on-call engineer about him, once (nothing for the answered callers).
        # The on-call engineer reads Greek, so the summary is in Greek (callcenter/alert_text.py).
        page = fake.wait_for_message(body_contains="Athens Demo A.E.")
        assert "Αναπάντητη κλήση" in page.body

        # Call back Béla: agent1's phone first, then Béla, recorded.
        clock.advance(60)
        agents.set_state(session, agents.agent_for(session, agent1.id, clock.now), "available", clock.now, "call")
        back = callbacks.start_callback(
            session, call_row(session, bela.sid), session.get(StaffUser, agent1.id), clock.now, settings)
        session.commit()
        leg = fake.answer_call(agent_rings(fake, line, agent1).sid)
        assert leg.state == "dial" and leg.heard[-1].text == "+3615550111"
        assert leg.waiting.get("record") == "record-from-answer-dual"
        leg.dial_result("completed", duration=75)
        session.expire_all()
        assert call_row(session, bela.sid).callback_state == "done"
        assert session.get(type(back), back.id).talk_seconds == 75
    fake.assert_nothing_unexpected()


def test_agent_logs_in_and_out_by_phone(line, fake, settings, session, demo, clock):  # noqa: ANN001
    agent2 = demo.staff["agent2"]
    call = dial_in(fake, settings, agent2.phone)
    assert call.state == "gather" and "Μενού" in call.said[-1]
    assert not call.started  # an agent's own call is not recorded
    call.press("1")
    assert call.ended
    session.expire_all()
    assert agents.agent_for(session, agent2.id, clock.now).state == "available"
    clock.advance(3600)
    call = dial_in(fake, settings, agent2.phone)
    call.press("2")
    session.expire_all()
    agent = agents.agent_for(session, agent2.id, clock.now)
    assert agent.state == "offline"
    changes = session.scalars(select(AgentStateChange).where(AgentStateChange.agent_id == agent.id)
                              .order_by(AgentStateChange.id)).all()
    assert [(c.previous, c.state, c.reason) for c in changes] == [("offline", "available", "phone"),
                                                                  ("available", "offline", "phone")]
    assert changes[1].at - changes[0].at == timedelta(seconds=3600)
