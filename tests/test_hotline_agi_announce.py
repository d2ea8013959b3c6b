"""Turns announced before their writes: over FastAGI the first prompt plays while the ticket, alert or
message is written; the caller hears a ticket number only once it is committed; a failed write routes
the caller to the emergency number."""

from __future__ import annotations

import re

import pytest
from agi_peer import AGIPeer, HeldWrites, expect, plausible_reply, run_peers
from hotline_helpers import ANNA, IN_HOURS, call_row, stub_number_prompts, tickets, wait_until
from test_hotline_agi import Clock

from callcenter import calls, events
from callcenter.db import session_scope
from callcenter.ivr.engine import FlowEngine, Input, Later
from webhooks.agi_server import FastAGIServer
from webhooks.fastagi import HotlineAGI

PROMPT = "critical_ticket_opened-0"


@pytest.fixture
def writes_after_the_prompt(monkeypatch):  # noqa: ANN001, ANN201
    """The critical ticket's writes wait until the caller has been sent the first prompt."""
    held = HeldWrites(PROMPT)
    monkeypatch.setattr(calls, "open_critical_ticket", held.wrap(calls.open_critical_ticket))
    return held


@pytest.fixture
def agi(settings, engine, demo, tmp_path):  # noqa: ANN001, ANN201
    stub_number_prompts(settings, tmp_path / "prompts")
    settings.asterisk_agent_dial = ""
    server = FastAGIServer(HotlineAGI(settings, engine, clock=Clock(IN_HOURS)), port=0)
    host, port = server.start_in_thread()
    yield host, port
    server.stop_thread()


def test_first_prompt_plays_while_the_ticket_is_written(agi, session, writes_after_the_prompt) -> None:  # noqa: ANN001
    peer = AGIPeer([], callerid=ANNA, uniqueid="u.announce", script="hotline", auto_reply=plausible_reply)
    writes_after_the_prompt.peer = peer
    run_peers(*agi, [peer])
    peer.assert_ok()
    commands = peer.commands
    opened = next(i for i, c in enumerate(commands) if PROMPT in c)
    assert commands[opened - 1].startswith("GET DATA") and commands[opened + 1].startswith("EXEC Playback")
    # The prompt went out while the writes waited; the number only after they were done.
    assert writes_after_the_prompt.sent_first
    assert not any(c.startswith("EXEC Playback") for c in writes_after_the_prompt.sent_by_write)
    [ticket] = tickets(session)
    assert commands[opened + 1].count("/digits/") == len(str(ticket.number))


def test_failed_writes_route_the_caller_to_the_emergency_number(agi, settings, session, monkeypatch) -> None:  # noqa: ANN001
    def broken(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise RuntimeError("disk full")

    monkeypatch.setattr(calls, "open_critical_ticket", broken)
    peer = AGIPeer([], callerid=ANNA, uniqueid="u.broken", script="hotline", auto_reply=plausible_reply)
    run_peers(*agi, [peer])
    peer.assert_ok()
    commands = peer.commands
    assert any("critical_ticket_opened-0" in c for c in commands)  # announced before the writes failed
    assert not any(c.startswith("EXEC Playback") for c in commands)  # no number that was never written
    assert f'EXEC Dial "PJSIP/{settings.emergency_number}@hotline-trunk,30"' in commands
    assert tickets(session) == []


def test_hangup_while_asterisk_answers_still_ends_the_call(agi, session) -> None:  # noqa: ANN001
    peer = AGIPeer([expect("ANSWER", "200 result=-1", hangup_after=True)], callerid=ANNA, uniqueid="u.gone",
                   script="hotline")
    run_peers(*agi, [peer])
    peer.assert_ok()
    row = call_row(session, "u.gone")
    assert row is not None and row.ended_at is not None


def test_engine_announces_before_writing_and_fills_in_the_number(session_factory, settings, demo) -> None:  # noqa: ANN001
    engine = FlowEngine(settings)
    with session_scope(session_factory) as session:
        engine.start(session, channel="asterisk", provider_call_id="u.engine", caller=ANNA, now=IN_HOURS)
    announced = []

    def announce(turn) -> None:  # noqa: ANN001
        # Nothing is written yet when the turn is announced.
        with session_scope(session_factory) as other:
            assert tickets(other) == []
        announced.append(turn)

    with session_scope(session_factory) as session:
        turn = engine.advance(session, "u.engine", "menu", Input("digits", digits="1"), IN_HOURS, announce=announce)
    [early] = announced
    assert early.instructions is turn.instructions
    number = turn.instructions[0].values["number"]
    assert isinstance(number, Later) and re.fullmatch(r"\d+", str(number))
    with session_scope(session_factory) as session:
        assert str(tickets(session)[0].number) == str(number)


def test_a_later_value_cannot_be_read_before_it_is_decided() -> None:
    with pytest.raises(LookupError):
        str(Later())


HANDLED: list[tuple[int, bool]] = []  # (ticket id, whether the caller had been read the number by then)
CALLER: list[AGIPeer] = []


def _heard_the_number(peer: AGIPeer) -> bool:
    return any(c.startswith("EXEC Playback") and "/digits/" in c for c in peer.commands)


def _slow_after_commit(session, event) -> None:  # noqa: ANN001
    """An after-commit handler (found again by name, so module-level) as slow as a mail transaction can be: it
    returns only once the caller has been read the ticket number. Were the number queued behind the handler,
    the wait would give up (a ceiling for a loaded machine) and the test fail: causal, not timed."""
    try:
        heard = wait_until(lambda: _heard_the_number(CALLER[0]), 20, interval=0.02, what="the ticket number")
    except AssertionError:
        heard = False
    HANDLED.append((event.ticket_id, heard))


@pytest.fixture
def slow_after_commit():  # noqa: ANN201
    HANDLED.clear()
    CALLER.clear()
    events.subscribe(events.TicketCreated, _slow_after_commit, after_commit=True)
    yield HANDLED
    events.unsubscribe(events.TicketCreated, _slow_after_commit)


def test_the_events_a_turn_committed_are_dispatched_behind_the_caller(agi, session, slow_after_commit) -> None:  # noqa: ANN001
    peer = AGIPeer([], callerid=ANNA, uniqueid="u.after", script="hotline", auto_reply=plausible_reply)
    CALLER.append(peer)
    run_peers(*agi, [peer])
    peer.assert_ok()
    [ticket] = tickets(session)
    # The number was read back once the ticket was committed, while its mail handler still ran; which ran once.
    wait_until(lambda: slow_after_commit, 30, interval=0.05, what="the after-commit handler")
    assert slow_after_commit == [(ticket.id, True)]
