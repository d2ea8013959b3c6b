"""Settings from the environment: an empty variable means empty where README says "empty: ..." (issue 13 item 4)."""

from __future__ import annotations

from callcenter.config import load_settings


def test_empty_agent_dial_means_plain_queue_mode() -> None:
    settings = load_settings(env={"CALLCENTER_ASTERISK_AGENT_DIAL": "", "CALLCENTER_ASTERISK_AGENT_CONFIRM": ""})
    assert settings.asterisk_agent_dial == ""
    assert settings.asterisk_agent_confirm == ""


def test_empty_variable_of_a_setting_without_an_empty_meaning_keeps_the_default() -> None:
    settings = load_settings(env={"CALLCENTER_AGI_PORT": "", "CALLCENTER_DATABASE_URL": ""})
    assert settings.agi_port == 4573
    assert settings.database_url.startswith("sqlite:///")


def test_unset_variable_keeps_the_file_value() -> None:
    settings = load_settings(env={})
    assert settings.asterisk_agent_dial == "PJSIP/{phone}@hotline-trunk"
