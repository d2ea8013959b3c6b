"""Agents' desk and wallboard in the console, and the agents service at the service layer."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hotline_helpers import ANNA, NIKOS
from sqlalchemy import select
from test_console import csrf, login

from callcenter import agents, calls, distribution, timers
from callcenter.models import Agent, CallOffer, Contract, OutboxMessage, Ticket


@pytest.fixture
def wired(app, session, settings, now):  # noqa: ANN001, ANN201
    session.info["settings"] = settings
    app.config["CLOCK"] = lambda: now
    return app


def queued(session, now, caller: str):  # noqa: ANN001, ANN201
    ctx = calls.start_call(session, channel="twilio", provider_call_id=f"CA-{caller}", caller=caller, now=now)
    calls.open_critical_ticket(session, ctx, category="infrastructure", priority="critical", subject="Down", now=now)
    calls.enter_queue(session, ctx, now)
    session.commit()
    return ctx.call


def available(session, staff, now):  # noqa: ANN001, ANN201
    agent = agents.agent_for(session, staff.id, now)
    agents.set_state(session, agent, "available", now)
    session.commit()
    return agent


def test_screen_pop_arrives_when_the_agent_takes_the_call_then_wrap_up(wired, client, session, demo, now):  # noqa: ANN001
    login(client, "agent1")
    assert client.get("/agent/screen-pop.json").get_json()["call"] is None
    call = queued(session, now, NIKOS)
    agent = available(session, demo.staff["agent1"], now)
    [offer] = session.scalars(select(CallOffer)).all()
    msg = session.scalar(select(OutboxMessage).where(OutboxMessage.source_kind == "agent_offer"))
    assert msg.destination == demo.staff["agent1"].phone and msg.payload["url"].endswith(f"offer={offer.id}")
    assert client.get("/agent/screen-pop.json").get_json()["call"] is None  # ringing is not taking
    distribution.offer_accepted(session, offer, now + timedelta(seconds=8))
    session.commit()
    pop = client.get("/agent/screen-pop.json").get_json()
    assert pop["state"] == "on_call"
    c = pop["call"]
    assert c["contact"]["name"] == "Nikos Papadopoulos" and c["contact"]["role"] == "Telecoms administrator"
    assert c["company"]["name"] == "Athens Demo A.E." and c["contract"]["package"]
    assert c["asset"]["identifier"] == "ATH-PBX-01"
    ivr = session.get(Ticket, call.ticket_id)
    assert c["ivr_ticket"]["number"] == ivr.number
    assert [t["number"] for t in c["asset_faults"]] == [ivr.number]
    assert ivr.number in [t["number"] for t in c["open_tickets"]]
    session.expire_all()
    assert session.get(type(call), call.id).ring_seconds == 8
    # The answered call's no-answer timer is cancelled.
    assert timers.overdue(session, now + timedelta(hours=2)) == []

    distribution.agent_leg_ended(session, offer, now + timedelta(minutes=5), 290)
    session.commit()
    r = client.post(f"/agent/calls/{call.id}/wrap-up", data={
        "outcome": "ticket_updated", "minutes": "20", "csrf_token": csrf(client, "/agent")})
    assert r.status_code == 302
    session.expire_all()
    assert session.get(Agent, agent.id).state == "available"
    assert [str(e.billable_hours) for e in session.get(Ticket, call.ticket_id).time_entries] == ["0.50"]
    assert session.get(type(call), call.id).wrap_up_outcome == "ticket_updated"


def test_open_ticket_from_the_call_links_it(wired, client, session, demo, now):  # noqa: ANN001
    login(client, "agent1")
    ctx = calls.start_call(session, channel="twilio", provider_call_id="CA-x", caller=ANNA, now=now)
    session.commit()
    r = client.post(f"/agent/calls/{ctx.call.id}/ticket",
                    data={"subject": "Printer", "csrf_token": csrf(client, "/agent")})
    assert r.status_code == 302
    session.expire_all()
    ticket = session.get(Ticket, session.get(type(ctx.call), ctx.call.id).ticket_id)
    assert ticket.subject == "Printer" and ticket.company_id == demo.budapest.id


def test_console_state_buttons_and_wallboard(wired, client, session, demo, now):  # noqa: ANN001
    login(client, "agent2")
    r = client.post("/agent/state", data={"state": "away", "csrf_token": csrf(client, "/agent")})
    assert r.status_code == 302
    assert client.get("/wallboard.json").status_code == 403
    queued(session, now - timedelta(seconds=90), ANNA)
    client.post("/logout", data={"csrf_token": csrf(client, "/agent")})
    login(client, "manager")
    board = client.get("/wallboard.json").get_json()
    assert [(w["company"], w["waited"]) for w in board["waiting"]] == [("Budapest Demo Kft.", 90)]
    assert [(a["name"], a["state"]) for a in board["agents"]] == [("Eleni Georgiou", "away")]
    assert client.get("/wallboard").status_code == 200


def test_team_contracts_go_to_team_agents_and_standby_missed_calls_page(session, demo, settings, now):  # noqa: ANN001
    from hotline_helpers import OUT_OF_HOURS, Captured

    session.info["settings"] = settings
    contract = session.scalar(select(Contract).where(Contract.company_id == demo.budapest.id))
    contract.agent_team = "hu"
    available(session, demo.staff["agent2"], now)
    queued(session, now, ANNA)
    assert session.scalars(select(CallOffer)).all() == []  # agent2 is not in team "hu"
    agents.agent_for(session, demo.staff["agent1"].id, now).team = "hu"
    available(session, demo.staff["agent1"], now)
    [offer] = session.scalars(select(CallOffer)).all()
    assert session.get(Agent, offer.agent_id).staff_id == demo.staff["agent1"].id

    with Captured() as seen:
        ctx = calls.start_call(session, channel="twilio", provider_call_id="CA-night", caller=NIKOS,
                               now=OUT_OF_HOURS)
        calls.end_call(session, ctx.call, OUT_OF_HOURS)  # hung up in the menu, out of hours, 24/7 customer
        assert ctx.call.callback_state == "pending"
        assert [e.call_id for e in seen.unanswered] == [ctx.call.id]


def test_every_page_hears_of_an_offered_then_answered_call(wired, client, session, demo, now):  # noqa: ANN001
    login(client, "agent1")
    assert client.get("/agent/notify.json").get_json() == {"state": None, "offered": None, "call": None}
    # The notice is on every console page of the people who take calls, not only the desk.
    page = client.get("/console/calls").get_data(as_text=True)
    assert 'id="call-notice"' in page and "/static/notify.js" in page
    call = queued(session, now - timedelta(seconds=75), NIKOS)
    available(session, demo.staff["agent1"], now)
    [offer] = session.scalars(select(CallOffer)).all()
    note = client.get("/agent/notify.json").get_json()
    assert note["call"] is None and note["offered"]["id"] == call.id
    assert note["offered"]["caller"] == "Nikos Papadopoulos" and note["offered"]["company"] == "Athens Demo A.E."
    assert note["offered"]["waited"] == 75 and note["offered"]["waited_text"] == "1:15"
    distribution.offer_accepted(session, offer, now + timedelta(seconds=5))
    session.commit()
    note = client.get("/agent/notify.json").get_json()
    assert note["offered"] is None and note["call"]["id"] == call.id and note["state"] == "on_call"
    # The screen-pop says how long the caller waited and names statuses in the agent's language.
    pop = client.get("/agent/screen-pop.json").get_json()["call"]
    assert pop["waited_text"] == note["call"]["waited_text"]
    assert all("status_label" in t and "priority_label" in t for t in pop["open_tickets"])


def test_desk_shows_the_current_state_and_a_visible_dismiss(wired, client, session, demo, now):  # noqa: ANN001
    login(client, "agent2")
    client.post("/agent/state", data={"state": "away", "csrf_token": csrf(client, "/agent")})
    page = client.get("/agent").get_data(as_text=True)
    assert 'id="state-away" aria-pressed="true"' in page and 'id="state-available" aria-pressed="false"' in page
    start = page.index('id="state-buttons"')
    assert "disabled" not in page[start:page.index("</form>", start)]
    # Customers and QA have no desk and no notice.
    client.post("/logout", data={"csrf_token": csrf(client, "/agent")})
    login(client, "qa")
    assert 'id="call-notice"' not in client.get("/console/calls").get_data(as_text=True)
    assert client.get("/agent/notify.json").status_code == 403


def test_wallboard_tiles(wired, client, session, demo, now):  # noqa: ANN001
    queued(session, now - timedelta(seconds=90), ANNA)
    queued(session, now - timedelta(seconds=400), NIKOS)
    agent = agents.agent_for(session, demo.staff["agent2"].id, now)
    agents.set_state(session, agent, "away", now - timedelta(minutes=3))
    session.commit()
    login(client, "manager")
    board = client.get("/wallboard.json").get_json()
    assert board["waiting_count"] == 2 and board["longest_wait"] == 400 and board["longest_wait_text"] == "6:40"
    assert {s["state"]: s["count"] for s in board["by_state"]}["away"] == 1
    assert [s["state"] for s in board["by_state"]] == ["available", "on_call", "wrap_up", "away", "offline"]
    assert board["within_share"] is None and board["answered_today"] == 0
    page = client.get("/wallboard").get_data(as_text=True)
    assert 'id="wb-waiting-count"' in page and 'id="wb-longest"' in page and 'id="wb-state-away"' in page
