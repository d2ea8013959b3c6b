"""The flow file, its validation, the Asterisk prompts, and the simulated call."""

from __future__ import annotations

import copy
import tomllib
import wave

import pytest
from hotline_helpers import ANNA, IN_HOURS

from callcenter.ivr.flow import FLOWS_DIR, FlowError, load_flow, parse_flow
from callcenter.ivr.prompts import SPOKEN_NUMBERS, TONES, build_prompts


@pytest.fixture
def flow_data() -> dict:
    with open(FLOWS_DIR / "hotline.toml", "rb") as fh:
        return tomllib.load(fh)


def test_hotline_flow_keeps_the_contract_digits() -> None:
    flow = load_flow("hotline")
    assert flow.menu == {"1": "critical_fault", "2": "leave_message", "3": "ticket_status", "4": "complaint",
                         "5": "permission_change", "0": "sales"}
    assert flow.languages == ["hu", "el", "en"]


@pytest.mark.parametrize("breakage,message", [
    (lambda d: d["menu"].pop("5"), "menu 5 must be 'permission_change'"),
    (lambda d: d["menu"].update({"1": "sales"}), "menu 1 must be 'critical_fault'"),
    (lambda d: d["menu"].update({"7": "reboot_pbx"}), "unknown action 'reboot_pbx'"),
    (lambda d: d["prompts"]["menu"].pop("el"), "prompt 'menu' has no el text"),
    (lambda d: d["prompts"].pop("recording_notice"), "prompt 'recording_notice' is missing"),
    (lambda d: d["tickets"]["critical_fault"].update({"priority": "urgent"}), "unknown priority 'urgent'"),
    (lambda d: d["prompts"]["message_thanks"].update({"hu": "Köszönjük."}), "different placeholders"),
])
def test_broken_flows_are_refused_with_the_reason(flow_data, breakage, message) -> None:  # noqa: ANN001
    data = copy.deepcopy(flow_data)
    breakage(data)
    with pytest.raises(FlowError, match=message):
        parse_flow(data)


def test_prompt_segments_split_at_placeholders() -> None:
    flow = load_flow("hotline")
    segs = flow.segments("critical_ticket_opened", "en")
    assert [(s.kind, s.key) for s in segs] == [("text", "critical_ticket_opened-0"), ("digits", ""),
                                               ("text", "critical_ticket_opened-1")]
    assert flow.segments("menu", "hu")[0].key == "menu"


def test_prompts_build_writes_8khz_mono_wavs_once(tmp_path) -> None:  # noqa: ANN001
    flow = load_flow("hotline")
    result = build_prompts(flow, tmp_path)
    # The prompts, the numbers 0-99 in each language (read out instead of Asterisk's English SAY
    # DIGITS), and the tones (beep, silence).
    spoken = len(flow.audio_texts()) + len(SPOKEN_NUMBERS) * len(flow.languages)
    assert len(result.written) == spoken + len(TONES)
    with wave.open(str(tmp_path / "el" / "digits" / "17.wav")) as w:
        assert w.getframerate() == 8000 and w.getnframes() > 2000
    for lang in ("hu", "el", "en"):
        with wave.open(str(tmp_path / lang / "recording_notice.wav")) as w:
            assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
            assert w.getnframes() > 8000  # more than a second of speech
    again = build_prompts(flow, tmp_path)
    assert again.written == [] and again.unchanged == spoken


def test_simulated_call_against_demo_data(session_factory, settings, demo) -> None:  # noqa: ANN001
    from callcenter.ivr.engine import FlowEngine
    from callcenter.ivr.simulate import simulate_call

    sim = simulate_call(session_factory, FlowEngine(settings), caller=ANNA, digits="4", now=IN_HOURS,
                        message_seconds=5)
    assert sim.outcome == "complaint"
    assert any("panaszát" in line for line in sim.lines)


def test_prompts_build_says_each_customers_name(tmp_path) -> None:  # noqa: ANN001
    flow = load_flow("hotline")
    build_prompts(flow, tmp_path)
    result = build_prompts(flow, tmp_path, companies={7: "Athens Demo A.E."})
    assert sorted(p.relative_to(tmp_path).as_posix() for p in result.written) == [
        "el/company-7.wav", "en/company-7.wav", "hu/company-7.wav"]
    with wave.open(str(tmp_path / "el" / "company-7.wav")) as w:
        assert w.getframerate() == 8000 and w.getnframes() > 1000
    renamed = build_prompts(flow, tmp_path, companies={7: "Athens Demo S.A."})
    assert len(renamed.written) == 3  # a new name is said again
