"""End to end: the hotline over FastAGI, a scripted Asterisk peer over TCP against the server in a thread."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from agi_peer import DEAD_511, AGIPeer, dead_channel_reply, expect, plausible_reply, run_peers
from hotline_helpers import (
    ANNA,
    IN_HOURS,
    NIKOS,
    OUT_OF_HOURS,
    STRANGER,
    Captured,
    call_row,
    recordings,
    stub_number_prompts,
    tickets,
)
from sqlalchemy import select

from callcenter.models import Timer
from webhooks.agi_server import FastAGIServer
from webhooks.fastagi import HotlineAGI


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(IN_HOURS)


@pytest.fixture
def agi_server(settings, engine, demo, clock, tmp_path):  # noqa: ANN001, ANN201
    stub_number_prompts(settings, tmp_path / "prompts")
    # The flow's own Queue() step (agent distribution over AGI is tests/test_agents_asterisk.py).
    settings.asterisk_agent_dial = ""
    server = FastAGIServer(HotlineAGI(settings, engine, clock=clock), port=0)
    host, port = server.start_in_thread()
    yield host, port
    server.stop_thread()


class ScriptedCaller:
    """Asterisk's side of one caller: digits for each GET DATA (None = timeout), what Queue() ends with,
    and where the caller hangs up (the GET DATA / RECORD FILE number, 0-based)."""

    def __init__(self, digits: list[str | None] = (), *, hangup_at_get_data: int | None = None,
                 queue_status: str = "TIMEOUT", answered_time: int = 0, record_seconds: int = 10,
                 hangup_at_record: bool = False) -> None:
        self.digits = list(digits)
        self.hangup_at_get_data = hangup_at_get_data
        self.queue_status = queue_status
        self.answered_time = answered_time
        self.record_seconds = record_seconds
        self.hangup_at_record = hangup_at_record
        self.get_data_count = 0
        self.dead = False

    def __call__(self, line: str) -> str | list[str]:
        if self.dead:
            return dead_channel_reply(line)
        if line.startswith("GET DATA"):
            index, self.get_data_count = self.get_data_count, self.get_data_count + 1
            if index == self.hangup_at_get_data:
                self.dead = True
                return ["200 result=-1", "HANGUP"]  # order observed on Asterisk 22.10.1
            digit = self.digits.pop(0) if self.digits else None
            return "200 result= (timeout)" if digit is None else f"200 result={digit}"
        if line.startswith("RECORD FILE"):
            endpos = self.record_seconds * 8000
            if self.hangup_at_record:
                self.dead = True
                return [f"200 result=-1 (hangup) endpos={endpos}", "HANGUP"]
            return f"200 result=0 (timeout) endpos={endpos}"
        if line == "GET VARIABLE QUEUESTATUS":
            return f"200 result=1 ({self.queue_status})" if self.queue_status else "200 result=0"
        if line == "GET VARIABLE ANSWEREDTIME":
            return f"200 result=1 ({self.answered_time})"
        return plausible_reply(line)


def call(host: str, port: int, caller: str | None, script: ScriptedCaller, uid: str) -> AGIPeer:
    peer = AGIPeer([], callerid=caller, uniqueid=uid, script="hotline", auto_reply=script)
    run_peers(host, port, [peer])
    peer.assert_ok()
    return peer


def test_critical_fault_exact_transcript(agi_server, settings, session, demo):  # noqa: ANN001
    host, port = agi_server
    prompts, store = settings.prompts_path, settings.recordings_path
    uid = "1795303247.11"
    with Captured() as seen:
        peer = AGIPeer([
            expect("ANSWER", "200 result=0"),
            expect(f'EXEC MixMonitor "{store}/asterisk/{uid}.wav"', "200 result=0"),
            expect(f'STREAM FILE {prompts}/hu/recording_notice ""', "200 result=0 endpos=8000"),
            expect(f"STREAM FILE {prompts}/hu/welcome 0123456789*#", "200 result=0 endpos=8000"),
            expect(f"GET DATA {prompts}/hu/menu 6000 1", "200 result=1"),
            expect(f'STREAM FILE {prompts}/hu/critical_ticket_opened-0 ""', "200 result=0 endpos=8000"),
            expect(re.compile(r'^EXEC Playback "[^"]+"$'), "200 result=0"),
            expect(f'STREAM FILE {prompts}/hu/critical_ticket_opened-1 ""', "200 result=0 endpos=8000"),
            expect(f'STREAM FILE {prompts}/hu/queue_connecting ""', "200 result=0 endpos=8000"),
            expect('SET VARIABLE QUEUESTATUS ""', "200 result=1"),
            expect(f'EXEC Queue "hotline,,,,600,agi://127.0.0.1:4573/queue-connected?call={uid}"', "200 result=0"),
            expect("GET VARIABLE ANSWEREDTIME", "200 result=1 (0)"),
            expect("GET VARIABLE QUEUESTATUS", "200 result=1 (TIMEOUT)"),
            expect(f'STREAM FILE {prompts}/hu/oncall_alerted ""', "200 result=0 endpos=8000"),
            expect(f'STREAM FILE {prompts}/beep ""', "200 result=0 endpos=2000"),
            expect(f"RECORD FILE {store}/asterisk/{uid}-msg_unanswered wav # 180000 0 s=5",
                   "200 result=0 (timeout) endpos=96000"),
            expect(f'STREAM FILE {prompts}/hu/message_added ""', "200 result=0 endpos=8000"),
            expect("HANGUP", "200 result=1", hangup_after=True),
        ], callerid=ANNA, uniqueid=uid, script="hotline")
        run_peers(host, port, [peer])
        peer.assert_ok()
    [ticket] = tickets(session)
    said = [c for c in peer.commands if c.startswith("EXEC Playback")][0]
    # The number in the caller's language (Hungarian), digit by digit, from the files we ship.
    assert said == 'EXEC Playback "' + "&".join(f"{prompts}/hu/digits/{d}" for d in str(ticket.number)) + '"'
    assert (ticket.priority, ticket.channel, ticket.reporter_contact_id) == ("critical", "phone", demo.anna.id)
    row = call_row(session, uid)
    assert row.channel == "asterisk" and row.outcome == "unanswered_message" and row.ended_at is not None
    assert [e.out_of_hours for e in seen.critical] == [False] and len(seen.unanswered) == 1
    kinds = sorted((r.kind, r.local_path) for r in recordings(session, row))
    assert kinds == [("voice_message", f"asterisk/{uid}-msg_unanswered.wav"), ("whole_call", f"asterisk/{uid}.wav")]
    timer = session.scalar(select(Timer).where(Timer.key == f"hotline-queue:{row.id}"))
    assert timer.cancelled_at is not None  # the Queue() timeout already raised the alert


def test_agent_answers_from_the_queue(agi_server, session):  # noqa: ANN001
    with Captured() as seen:
        call(*agi_server, ANNA, ScriptedCaller(["1"], queue_status="", answered_time=30), "u.answer")
    row = call_row(session, "u.answer")
    assert row.outcome == "answered" and row.answered_at is not None and seen.unanswered == []


def test_unknown_caller_goes_to_sales(agi_server, settings, session):  # noqa: ANN001
    peer = call(*agi_server, STRANGER, ScriptedCaller(), "u.sales")
    assert f'EXEC Dial "PJSIP/{settings.sales_number}@hotline-trunk,30"' in peer.commands
    assert any("/en/unknown_caller" in c for c in peer.commands)
    assert call_row(session, "u.sales").outcome == "sales"


def test_anonymous_caller_goes_to_sales(agi_server, session):  # noqa: ANN001
    call(*agi_server, None, ScriptedCaller(), "u.anon")
    assert call_row(session, "u.anon").outcome == "sales"


def test_permission_change_refused_no_ticket(agi_server, session):  # noqa: ANN001
    peer = call(*agi_server, ANNA, ScriptedCaller(["5"]), "u.perm")
    assert any("/hu/permission_refused" in c for c in peer.commands)
    assert tickets(session) == []
    assert call_row(session, "u.perm").outcome == "permission_refused"


def test_out_of_hours_standby_alerts_at_once(agi_server, session, clock, demo):  # noqa: ANN001
    clock.now = OUT_OF_HOURS
    with Captured() as seen:
        peer = call(*agi_server, NIKOS, ScriptedCaller(["1"], record_seconds=20), "u.standby")
    assert any("/el/standby_alerted" in c for c in peer.commands)
    assert not any(c.startswith("EXEC Queue") for c in peer.commands)
    [ticket] = tickets(session)
    assert ticket.asset_id == demo.pbx.id and [e.out_of_hours for e in seen.critical] == [True]
    assert call_row(session, "u.standby").outcome == "critical_standby"


def test_out_of_hours_business_customer_hears_hours(agi_server, session, clock, settings):  # noqa: ANN001
    clock.now = OUT_OF_HOURS
    peer = call(*agi_server, ANNA, ScriptedCaller(record_seconds=15), "u.closed")
    prompts = settings.prompts_path
    assert f'EXEC Playback "{prompts}/hu/digits/8"' in peer.commands
    assert f'EXEC Playback "{prompts}/hu/digits/17"' in peer.commands
    [ticket] = tickets(session)
    assert ticket.priority == "normal"
    assert call_row(session, "u.closed").outcome == "message"


@pytest.mark.parametrize("digits,hangup_at", [([], 0), (["3"], 1), (["9"], 1)])
def test_hangup_in_the_middle_of_each_menu(agi_server, session, digits, hangup_at):  # noqa: ANN001
    peer = call(*agi_server, ANNA, ScriptedCaller(digits, hangup_at_get_data=hangup_at), f"u.h{hangup_at}{digits}")
    assert "CHANNEL STATUS" in peer.commands[-1] or peer.commands[-1].startswith("GET DATA")
    row = call_row(session, f"u.h{hangup_at}{digits}")
    assert row.outcome == "hangup_in_menu" and row.ended_at is not None
    assert tickets(session) == []


def test_hangup_while_recording_keeps_the_message(agi_server, session):  # noqa: ANN001
    call(*agi_server, ANNA, ScriptedCaller(["2"], record_seconds=9, hangup_at_record=True), "u.rec")
    [ticket] = tickets(session)
    row = call_row(session, "u.rec")
    assert row.outcome == "message" and row.ticket_id == ticket.id and row.ended_at is not None


def test_hangup_line_and_511_mid_prompt(agi_server, session):  # noqa: ANN001
    peer = AGIPeer([
        expect("ANSWER"),
        expect(re.compile("^EXEC MixMonitor ")),
        expect(re.compile("^STREAM FILE .*recording_notice"), [DEAD_511], hangup_before=True),
    ], callerid=ANNA, uniqueid="u.511", script="hotline")
    run_peers(*agi_server, [peer])
    peer.assert_ok()
    assert call_row(session, "u.511").outcome == "hangup_in_menu"


def test_other_scripts_are_not_served(agi_server, session):  # noqa: ANN001
    peer = AGIPeer([], callerid=ANNA, uniqueid="u.other", script="ivr")
    run_peers(*agi_server, [peer])
    peer.assert_ok()
    assert peer.commands == []


def test_database_down_routes_to_emergency(settings, clock):  # noqa: ANN001
    from callcenter.db import make_engine

    broken = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none", connect_args={"connect_timeout": 2})
    server = FastAGIServer(HotlineAGI(settings, broken, clock=clock), port=0)
    host, port = server.start_in_thread()
    try:
        peer = AGIPeer([], callerid=ANNA, uniqueid="u.down", script="hotline", auto_reply=plausible_reply)
        run_peers(host, port, [peer])
        peer.assert_ok()
    finally:
        server.stop_thread()
    assert peer.commands[0] == "ANSWER"
    assert f'EXEC Dial "PJSIP/{settings.emergency_number}@hotline-trunk,30"' in peer.commands
    assert peer.commands[-1] == "HANGUP"


def test_threshold_timer_fires_while_asterisk_waits(agi_server, session, session_factory, clock):  # noqa: ANN001
    """The worker's timer and the Queue() timeout are the same alert: raised once."""
    from callcenter import timers

    with Captured() as seen:
        call(*agi_server, ANNA, ScriptedCaller(["1"], queue_status="TIMEOUT", record_seconds=0), "u.t")
        # Other services' timers (e.g. the page this alert opens) may fire too; the queue watch must not
        # raise the same alert a second time.
        timers.fire_due(session_factory, clock.now + timedelta(hours=1))
    assert len(seen.unanswered) == 1
    assert call_row(session, "u.t").outcome == "unanswered"
