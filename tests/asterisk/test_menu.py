"""Every menu digit through a real Asterisk: prompts played, keys pressed, rows and recordings written."""

from __future__ import annotations

import wave
from pathlib import Path

from actors import HangUp, Press, Talk
from hotline_helpers import ANNA, IN_HOURS, NIKOS, OUT_OF_HOURS, STRANGER, call_row
from pbx_fixtures import *  # noqa: F403
from sqlalchemy import select

from callcenter.models import Recording, Ticket


def _seconds(path: Path) -> float:
    with wave.open(str(path)) as wav:
        return wav.getnframes() / wav.getframerate()


def _whole_call(hotline, call) -> Path:  # noqa: ANN001
    rec = next(r for r in call.recordings if r.kind == "whole_call")
    return Path(hotline.settings.recordings_path) / rec.local_path


def test_every_menu_digit(make_hotline, demo, session) -> None:  # noqa: ANN001
    hotline = make_hotline(IN_HOURS)
    scripts = {
        "2": [Press("2"), Talk(), Press("#", on="RECORD FILE", after=0.2)],
        "3": [Press("3"), Press("99999#", nth=2)],
        "4": [Press("4"), Talk(), HangUp(on="RECORD FILE", after=0.2)],
        "5": [Press("5")],
        "0": [Press("0")],
        "9": [Press("9"), Press("5", nth=2)],
        "none": [],
    }
    placed = {key: hotline.call(NIKOS if key == "2" else ANNA, steps) for key, steps in scripts.items()}
    for one in placed.values():
        hotline.wait_done(one, timeout=180)
    rows = {key: call_row(session, hotline.uniqueid(one)) for key, one in placed.items()}
    assert {k: (r.menu_path, r.outcome) for k, r in rows.items()} == {
        "2": ("2", "message"), "3": ("3>#99999", "ticket_status"), "4": ("4", "complaint"),
        "5": ("5", "permission_refused"), "0": ("0", "sales"), "9": ("?>5", "permission_refused"),
        "none": ("?>?>?", "no_input"),
    }
    for key in ("2", "4"):
        ticket = session.get(Ticket, rows[key].ticket_id)
        message = session.scalar(select(Recording).where(Recording.call_id == rows[key].id,
                                                         Recording.kind == "voice_message"))
        assert ticket is not None and message is not None and message.ticket_id == ticket.id
        path = Path(hotline.settings.recordings_path) / message.local_path
        assert _seconds(path) >= 1.0, "the caller's words are in the message"
    assert session.get(Ticket, rows["4"].ticket_id).category == "complaint"
    sales = hotline.observed.leg(placed["0"].base)
    assert any(c.startswith('EXEC Dial "Local/+3615550190@test-phone') for c in sales.commands)
    for key, row in rows.items():
        assert row.ended_at is not None and row.ended_at >= row.arrived_at, key
        # The whole call is recorded by Asterisk (MixMonitor) into the recordings folder.
        assert _seconds(_whole_call(hotline, row)) > 1.0, key


def test_unknown_caller_goes_to_sales(make_hotline, demo, session) -> None:  # noqa: ANN001
    hotline = make_hotline(IN_HOURS)
    placed = hotline.call(STRANGER, [])
    hotline.wait_done(placed)
    call = call_row(session, hotline.uniqueid(placed))
    assert call.outcome == "sales" and call.company_id is None


def test_closed_hours_message(make_hotline, demo, session) -> None:  # noqa: ANN001
    hotline = make_hotline(OUT_OF_HOURS)
    placed = hotline.call(ANNA, [Talk(), HangUp(on="RECORD FILE", after=0.2)])
    hotline.wait_done(placed)
    call = call_row(session, hotline.uniqueid(placed))
    assert call.outcome == "message" and call.ticket_id is not None


def test_hang_up_in_the_middle_of_a_prompt(make_hotline, demo, session) -> None:  # noqa: ANN001
    hotline = make_hotline(IN_HOURS)
    placed = hotline.call(ANNA, [HangUp(on="STREAM FILE", after=0.5)])
    hotline.wait_done(placed)
    call = call_row(session, hotline.uniqueid(placed))
    assert call.outcome == "hangup_in_menu" and call.ended_at is not None
    assert call.recordings and call.recordings[0].status in ("stored", "completed")


def test_hang_up_in_the_middle_of_a_message_keeps_it(make_hotline, demo, session) -> None:  # noqa: ANN001
    hotline = make_hotline(IN_HOURS)
    placed = hotline.call(ANNA, [Press("2"), Talk(), HangUp(on="RECORD FILE", after=0.1)])
    hotline.wait_done(placed)
    call = call_row(session, hotline.uniqueid(placed))
    assert call.outcome == "message" and call.ticket_id is not None
    message = session.scalar(select(Recording).where(Recording.call_id == call.id, Recording.kind == "voice_message"))
    assert message is not None and message.duration_seconds >= 1
