"""*Call back* on Asterisk (real Asterisk, AMI): the outbox originates the agent's phone, the hotline's
`callback` script records and dials the customer; an agent's phone that cannot be reached puts the
call back on the list."""

from __future__ import annotations

import time
import wave
from pathlib import Path

from actors import HangUp, Stay, Talk
from hotline_helpers import ANNA, IN_HOURS, call_row
from pbx_fixtures import *  # noqa: F403
from sqlalchemy import select

from callcenter import callbacks, outbox
from callcenter.models import Call, Contact, OutboxMessage
from callcenter.providers import providers_for


def _seconds(path: Path) -> float:
    with wave.open(str(path)) as wav:
        return wav.getnframes() / wav.getframerate()


def _missed(session, demo) -> Call:  # noqa: ANN001
    anna = session.scalar(select(Contact).where(Contact.phone == ANNA))
    missed = Call(channel="asterisk", provider_call_id="1790000000.7", caller_number=ANNA, contact_id=anna.id,
                  company_id=anna.company_id, arrived_at=IN_HOURS, ended_at=IN_HOURS, menu_path="1",
                  status_sequence=-1, menu_attempts=0, outcome="abandoned_in_queue", callback_state="pending")
    session.add(missed)
    session.commit()
    return missed


def _call_back(hotline, session, demo) -> tuple[Call, Call]:  # noqa: ANN001
    missed = _missed(session, demo)
    back = callbacks.start_callback(session, missed, demo.staff["agent1"], hotline.agi.clock(), hotline.settings)
    session.commit()
    providers = providers_for(hotline.settings)
    assert outbox.drain(hotline.agi.factory, providers, hotline.agi.clock) == 1
    deadline = time.monotonic() + 60
    while call_row(session, back.provider_call_id).ended_at is None:
        assert time.monotonic() < deadline, ("the callback never ended", session.scalars(
            select(OutboxMessage.last_error)).all(), hotline.pbx.log_text()[-3000:])
        time.sleep(0.1)
    return session.get(Call, missed.id), call_row(session, back.provider_call_id)


def test_call_back_rings_the_agent_then_the_customer_recorded(make_hotline, pbx, demo, session) -> None:  # noqa: ANN001
    hotline = make_hotline(IN_HOURS, ami_url=pbx.ami_url, asterisk_agent_dial="Local/{username}@test-agent/n")
    # The agent speaks once the customer is dialled; the customer (test-phone) answers, listens 2 s, hangs up.
    hotline.actors.agent_scripts["agent1"] = [Talk(on="EXEC Dial", after=0.3), Stay(20), HangUp()]
    missed, back = _call_back(hotline, session, demo)
    assert back.channel == "asterisk" and back.agent_id == demo.staff["agent1"].id
    assert back.outcome == "callback" and missed.callback_state == "done"
    assert 1 <= back.talk_seconds <= 8, back.talk_seconds  # the customer stayed 2 s
    assert back.answered_at >= back.arrived_at
    assert "TEST PHONE 3615550101 answered" in hotline.pbx.log_text()
    # The agent's phone was rung first (Originate), with the outbox row sent once.
    assert session.scalar(select(OutboxMessage.state).where(OutboxMessage.source_id == back.id)) == "delivered"
    rec = next(r for r in back.recordings if r.kind == "whole_call")
    assert rec.status == "stored"
    # MixMonitor writes the WAV header's length as it closes the file, when the agent's channel hangs up.
    path, deadline = Path(hotline.settings.recordings_path) / rec.local_path, time.monotonic() + 20
    while _seconds(path) <= 1.0 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _seconds(path) > 1.0


def test_an_agent_phone_not_reached_puts_the_call_back_on_the_list(make_hotline, pbx, demo, session) -> None:  # noqa: ANN001
    hotline = make_hotline(IN_HOURS, ami_url=pbx.ami_url, asterisk_agent_dial="Local/{username}@test-nowhere/n")
    missed, back = _call_back(hotline, session, demo)
    assert back.outcome == "callback_failed" and back.talk_seconds is None
    assert missed.callback_state == "pending"
