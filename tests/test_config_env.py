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


def test_classic_agi_reads_the_settings_file_named_in_the_dialplan(tmp_path) -> None:  # noqa: ANN001
    from webhooks.classic_agi import classic_settings_file

    named = tmp_path / "hotline.toml"
    named.write_text('[database]\nurl = "sqlite:////srv/hotline/hotline.sqlite"\n', encoding="utf-8")
    assert classic_settings_file([str(named)]) == str(named)
    assert load_settings(classic_settings_file([str(named)]), env={}).database_url == \
        "sqlite:////srv/hotline/hotline.sqlite"
    # No argument: the default place, when it exists; else nothing (CALLCENTER_CONFIG, the defaults).
    assert classic_settings_file([], default=str(named)) == str(named)
    assert classic_settings_file([""], default=str(tmp_path / "absent.toml")) is None
