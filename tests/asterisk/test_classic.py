"""The classic form through a real Asterisk: AGI(hotline.agi,<settings file>), one process per call."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from hotline_helpers import IN_HOURS, NIKOS
from pbx import CallFile
from pbx_fixtures import *  # noqa: F403
from sqlalchemy import select

from callcenter.models import Call


def test_classic_script_reads_its_settings_file(make_hotline, demo, session, settings, tmp_path) -> None:  # noqa: ANN001
    hotline = make_hotline(IN_HOURS)  # the actors' server; the calls go to the classic script below
    config = tmp_path / "hotline.toml"
    config.write_text(
        f'[database]\nurl = "{settings.database_url}"\n'
        f'[recordings]\ndir = "{settings.recordings_dir}"\n'
        f'[hotline]\nprompts_dir = "{settings.prompts_dir}"\nasterisk_dial = "Local/{{number}}@test-phone"\n',
        encoding="utf-8")
    hotline.pbx.set_global("HOTLINE_AGI", str(Path(sys.executable).parent / "hotline.agi"))
    hotline.pbx.set_global("HOTLINE_CONFIG", str(config))
    try:
        # Athens has 24/7 standby: the menu at any hour of the real clock the script runs on. The
        # caller ([test-phone-caller]) presses 5 twelve seconds in, while the menu plays: the
        # classic script's commands are not observed like the FastAGI server's.
        placed = hotline.actors.new_call([])
        hotline.pbx.originate(CallFile("Local/s@hotline", "test-phone-caller", callerid=f'"Caller" <{NIKOS}>',
                                       variables={"TEST_CALL": placed.name}), placed.name)
        call = None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            session.expire_all()
            call = session.scalar(select(Call).where(Call.caller_number == NIKOS))
            if call is not None and call.ended_at is not None:
                break
            time.sleep(0.2)
        assert call is not None and call.ended_at is not None, "the classic script wrote no finished call"
        assert call.channel == "asterisk" and call.outcome == "permission_refused" and call.menu_path == "5"
    finally:
        hotline.pbx.set_global("HOTLINE_CONFIG", "/etc/hotline/hotline.toml")

