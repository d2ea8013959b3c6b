"""Both channels give the same outcome for the same caller and digits; the classic pyst2 entry too."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime

import pytest
from agi_peer import AGIPeer, build_header, run_peers
from fake_twilio import FakeTwilio
from hotline_helpers import (
    ANNA,
    HOTLINE_NUMBER,
    IN_HOURS,
    NIKOS,
    OUT_OF_HOURS,
    STRANGER,
    call_row,
    recordings,
    summary,
)
from test_hotline_agi import ScriptedCaller

from callcenter.config import PROJECT_ROOT
from webhooks.agi_server import FastAGIServer
from webhooks.fastagi import HotlineAGI


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _twilio(call, digits: list[str | None], queue: str | None, record: int, hangup_at: int | None) -> None:  # noqa: ANN001
    gathers = 0
    while not call.ended:
        if call.state == "gather":
            if hangup_at == gathers:
                break
            digit = digits.pop(0) if digits else None
            gathers += 1
            call.press(digit) if digit else call.gather_timeout()
        elif call.state == "record":
            call.record(duration=record)
        elif call.state == "enqueue":
            if queue == "TIMEOUT":
                call.queue_wait(queue_time=10_000)
            else:
                call.queue_result("bridged", queue_time=30)
        elif call.state == "dial":
            call.dial_result("completed", 20)
        else:
            raise AssertionError(call.state)
    call.hangup()


SCENARIOS = {
    "critical-unanswered": (ANNA, IN_HOURS, ["1"], "TIMEOUT", 12, None),
    "critical-answered": (ANNA, IN_HOURS, ["1"], "", 12, None),
    "standby-out-of-hours": (NIKOS, OUT_OF_HOURS, ["1"], None, 20, None),
    "closed-message": (ANNA, OUT_OF_HOURS, [], None, 15, None),
    "permission": (NIKOS, IN_HOURS, ["5"], None, 0, None),
    "complaint": (ANNA, IN_HOURS, ["4"], None, 30, None),
    "message": (NIKOS, IN_HOURS, ["2"], None, 8, None),
    "sales-menu": (ANNA, IN_HOURS, ["0"], None, 0, None),
    "unknown": (STRANGER, IN_HOURS, [], None, 0, None),
    "no-input": (ANNA, IN_HOURS, [None, None, None], None, 0, None),
    "hangup-at-ticket-number": (ANNA, IN_HOURS, ["3"], None, 0, 1),
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_same_outcome_on_both_channels(name, app, settings, engine, demo, session):  # noqa: ANN001
    caller, now, digits, queue, record, hangup_at = SCENARIOS[name]
    clock = Clock(now)
    with FakeTwilio() as fake:
        settings.twilio_auth_token = fake.auth_token
        fake.attach_app(app, settings.public_url)
        app.config["HOTLINE_CLOCK"] = clock
        call = fake.start_inbound_call(settings.public_url, caller, HOTLINE_NUMBER,
                                       status_callback=settings.public_url + "/twilio/voice/status")
        _twilio(call, list(digits), queue, record, hangup_at)
    twilio = summary(session, call.sid)

    settings.asterisk_agent_dial = ""  # Queue() answers for the agents, as <Enqueue> does on Twilio here
    server = FastAGIServer(HotlineAGI(settings, engine, clock=clock), port=0)
    host, port = server.start_in_thread()
    try:
        script = ScriptedCaller(list(digits), queue_status=queue or "", answered_time=0 if queue else 30,
                                record_seconds=record, hangup_at_get_data=hangup_at)
        peer = AGIPeer([], callerid=caller, uniqueid=f"agi.{name}", script="hotline", auto_reply=script)
        run_peers(host, port, [peer])
        peer.assert_ok()
    finally:
        server.stop_thread()
    asterisk = summary(session, f"agi.{name}")
    assert asterisk == twilio
    assert twilio["ended"]


def run_classic_script(settings, caller: str, uid: str, script: ScriptedCaller) -> list[str]:  # noqa: ANN001
    """bin entry `hotline.agi` as Asterisk runs it: forked per call, header on stdin, commands on stdout.
    Returns the commands it sent; fails if the script did not exit 0."""
    env = dict(os.environ, CALLCENTER_DATABASE_URL=settings.database_url,
               CALLCENTER_RECORDINGS_DIR=settings.recordings_dir, PYTHONPATH=str(PROJECT_ROOT))
    proc = subprocess.Popen([sys.executable, "-c", "from webhooks.classic_agi import main; main()"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            text=True, cwd=PROJECT_ROOT)
    header = build_header(callerid=caller, uniqueid=uid, overrides={
        "agi_network": "no", "agi_request": "/opt/hotline/.venv/bin/hotline.agi"}).decode()
    proc.stdin.write(header.replace("agi_network_script: ivr?lang=hu\n", ""))
    proc.stdin.flush()
    commands = []
    while True:
        line = proc.stdout.readline()
        if not line:
            break
        line = line.rstrip("\n")
        commands.append(line)
        reply = script(line)
        try:
            proc.stdin.write("\n".join([reply] if isinstance(reply, str) else reply) + "\n")
            proc.stdin.flush()
        except BrokenPipeError:
            break  # the script ended the call after a hang-up
        if line.startswith("HANGUP"):
            proc.stdin.close()
            break
    assert proc.wait(timeout=30) == 0, proc.stderr.read()
    return commands


def test_classic_agi_script_with_pyst2(settings, demo, session):  # noqa: ANN001
    # An unknown caller goes to Sales at any hour (the forked script reads the real clock).
    commands = run_classic_script(settings, STRANGER, "classic.1", ScriptedCaller())
    assert commands[0] == "ANSWER"
    assert any("/en/unknown_caller" in c for c in commands), commands
    assert f'EXEC Dial "PJSIP/{settings.sales_number}@hotline-trunk,30"' in commands
    row = call_row(session, "classic.1")
    assert row.channel == "asterisk" and row.outcome == "sales" and row.ended_at is not None


def test_classic_agi_keeps_a_message_ended_by_hanging_up(settings, demo, session):  # noqa: ANN001
    """pyst2 raises on `result=-1 (hangup)`; the classic script must still keep the recording."""
    # The script reads the real clock: in hours Anna presses 2 (leave a message), out of hours she is
    # asked for one at once. Either way she talks for 10 s and hangs up.
    commands = run_classic_script(settings, ANNA, "classic.msg",
                                  ScriptedCaller(["2"], record_seconds=10, hangup_at_record=True))
    assert any(c.startswith("RECORD FILE") for c in commands), commands
    row = call_row(session, "classic.msg")
    messages = [r for r in recordings(session, row) if r.kind == "voice_message"]
    assert len(messages) == 1 and messages[0].duration_seconds == 10, commands
    assert row.ticket_id is not None and row.ended_at is not None
