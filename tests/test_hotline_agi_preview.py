"""Menu keys the flow alone decides (every key but 1) are answered over FastAGI before their turn is
written (issue 13 item 7: the digit turn was the burst's tail); the turn written under the call's lock
must be the one played, else the caller goes to the emergency number."""

from __future__ import annotations

import pytest
from agi_peer import AGIPeer, HeldWrites, plausible_reply, run_peers
from hotline_helpers import ANNA, IN_HOURS, NIKOS, OUT_OF_HOURS, call_row, stub_number_prompts, tickets
from test_hotline_agi import Clock

from callcenter import calls
from callcenter.db import session_scope
from callcenter.ivr.engine import FlowEngine, Hangup, Input, Turn
from webhooks.agi_server import FastAGIServer
from webhooks.fastagi import HotlineAGI


def _pressing(key: str):  # noqa: ANN202
    def reply(line: str) -> str:
        return f"200 result={key}" if line.startswith("GET DATA") else plausible_reply(line)
    return reply


@pytest.fixture
def agi(settings, engine, demo, tmp_path):  # noqa: ANN001, ANN201
    stub_number_prompts(settings, tmp_path / "prompts")
    server = FastAGIServer(HotlineAGI(settings, engine, clock=Clock(IN_HOURS)), port=0)
    host, port = server.start_in_thread()
    yield host, port
    server.stop_thread()


@pytest.mark.parametrize("attempts", [0, 2])
@pytest.mark.parametrize("inp", [Input("digits", digits=k) for k in "01234589"] + [Input("timeout")],
                         ids=lambda i: i.digits or i.kind)
def test_the_preview_is_the_turn_the_engine_writes(session_factory, settings, demo, inp, attempts) -> None:  # noqa: ANN001
    engine = FlowEngine(settings)
    uid = f"u.preview.{inp.digits or 't'}.{attempts}"
    with session_scope(session_factory) as session:
        engine.start(session, channel="asterisk", provider_call_id=uid, caller=ANNA, now=IN_HOURS)
        calls.get_call(session, uid).menu_attempts = attempts
    with session_scope(session_factory) as session:
        written = engine.advance(session, uid, "menu", inp, IN_HOURS)
        lang = engine._lang(calls.get_call(session, uid))
    preview = engine.menu_preview(lang, attempts, inp)
    assert preview.leads(written)
    if inp.digits == "1":
        # The critical fault: only its first prompt is known; the number is the one written.
        assert preview.head and len(preview.instructions) == 1 < len(written.instructions)
        assert preview.instructions[0].text == written.instructions[0].text
        assert str(tickets_of(session_factory)[0].number) in preview.instructions[0].text.replace(" ", "")
    else:
        assert not preview.head and preview.instructions == written.instructions


@pytest.mark.parametrize(("caller", "now"), [(ANNA, IN_HOURS), (NIKOS, OUT_OF_HOURS)], ids=["queue", "standby"])
def test_a_critical_preview_leads_both_of_its_turns_and_no_other(session_factory, settings, demo, caller,  # noqa: ANN001
                                                                 now) -> None:
    engine = FlowEngine(settings)
    uid = f"u.head.{caller}"
    with session_scope(session_factory) as session:
        engine.start(session, channel="asterisk", provider_call_id=uid, caller=caller, now=now)
    with session_scope(session_factory) as session:
        lang = engine._lang(calls.get_call(session, uid))
        written = engine.advance(session, uid, "menu", Input("digits", digits="1"), now)
    assert engine.menu_preview(lang, 0, Input("digits", digits="1")).leads(written)
    # Another language, or a preview standing for a whole turn, is not this turn.
    other = next(x for x in ("hu", "el", "en") if x != lang)
    assert not engine.menu_preview(other, 0, Input("digits", digits="1")).leads(written)
    whole = engine.menu_preview(lang, 0, Input("digits", digits="1"))
    whole.head = False
    assert not whole.leads(written)


def tickets_of(session_factory):  # noqa: ANN001, ANN201
    with session_scope(session_factory) as session:
        return tickets(session)


def test_a_menu_key_is_answered_before_its_turn_is_written(agi, session, monkeypatch) -> None:  # noqa: ANN001
    held = HeldWrites("permission_refused")  # the menu turn's writes wait until its prompt has gone out
    monkeypatch.setattr(calls, "log_menu", held.wrap(calls.log_menu))
    peer = AGIPeer([], callerid=ANNA, uniqueid="u.key5", script="hotline", auto_reply=_pressing("5"))
    held.peer = peer
    run_peers(*agi, [peer])
    peer.assert_ok()
    assert held.sent_first  # the prompt went out at once
    assert not any(c.startswith("HANGUP") for c in held.sent_by_write)  # the hang-up waited for the writes
    assert peer.commands[-1].startswith("HANGUP")
    row = call_row(session, "u.key5")
    assert (row.menu_path, row.outcome) == ("5", "permission_refused")


def test_a_turn_written_otherwise_than_played_goes_to_the_emergency_number(agi, settings, session,  # noqa: ANN001
                                                                            monkeypatch) -> None:
    real = FlowEngine.menu_preview

    def wrong(self, lang, attempts, inp):  # noqa: ANN001, ANN202
        turn = real(self, lang, attempts, inp)
        return Turn(None, [self.say("sales_transfer", lang), Hangup()]) if turn is not None else None

    monkeypatch.setattr(FlowEngine, "menu_preview", wrong)
    peer = AGIPeer([], callerid=ANNA, uniqueid="u.wrong", script="hotline", auto_reply=_pressing("5"))
    run_peers(*agi, [peer])
    peer.assert_ok()
    assert f'EXEC Dial "PJSIP/{settings.emergency_number}@hotline-trunk,30"' in peer.commands
