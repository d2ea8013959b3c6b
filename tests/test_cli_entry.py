"""The `callcenter` executable's entry point: `mail-ingest` (one process per message from the MTA)
spools the message without importing the command-line framework; everything else is the click CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from mailtools import make_mail
from sqlalchemy import create_engine, select

from callcenter.entry import _mailbox_option
from callcenter.models import MailSpool

ANNA = "anna@budapest-demo.example"
DOWN = "postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=2"


def run_entry(args: list[str], env: dict[str, str], stdin: bytes = b"", check_modules: bool = False):
    """Run `callcenter ARGS` as the installed script does (callcenter.entry:main)."""
    code = ("import sys; sys.argv = ['callcenter', *sys.argv[1:]]\n"
            "from callcenter.entry import main\n"
            "try:\n    main()\n"
            "except SystemExit as e:\n    code = e.code\nelse:\n    code = 0\n")
    if check_modules:
        heavy = ["click", "sqlalchemy", "flask"]
        if env.get("CALLCENTER_DATABASE_URL", "").startswith("sqlite"):
            # dataclasses (with inspect) and logging cost more to import than the rest of the spooling
            # (psycopg imports them itself).
            heavy += ["dataclasses", "inspect", "logging"]
        code += (f"heavy = sorted(m for m in sys.modules if m.split('.')[0] in {tuple(heavy)!r}"
                 " or m.startswith(('callcenter.models', 'callcenter.mail.', 'callcenter.cli')))\n"
                 "assert not heavy, heavy\n")
    code += "sys.exit(code)\n"
    return subprocess.run([sys.executable, "-c", code, *args], input=stdin, capture_output=True,
                          env={**os.environ, **env}, timeout=60)


def spooled(database_url: str) -> list[str]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return list(conn.scalars(select(MailSpool.mailbox).order_by(MailSpool.id)))
    finally:
        engine.dispose()


def test_mail_ingest_spools_without_the_cli_framework(database_url):
    env = {"CALLCENTER_DATABASE_URL": database_url}
    proc = run_entry(["mail-ingest"], env, make_mail(ANNA, "fast path"), check_modules=True)
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout == b""
    proc = run_entry(["mail-ingest", "--mailbox", "Sales@Hotline.Example"], env, make_mail(ANNA, "to sales"),
                     check_modules=True)
    assert proc.returncode == 0, proc.stderr.decode()
    assert spooled(database_url) == ["helpdesk@hotline.example", "sales@hotline.example"]


def test_mail_ingest_database_down_exits_75_with_one_json_line():
    env = {"CALLCENTER_DATABASE_URL": DOWN, "CALLCENTER_LOG_FORMAT": "json"}
    proc = run_entry(["mail-ingest"], env, make_mail(ANNA, "x"))
    assert proc.returncode == 75 and proc.stdout == b""
    line = json.loads(proc.stderr.decode().strip().splitlines()[-1])
    assert line["level"] == "error" and "mail-ingest could not spool the message, the MTA will retry" in line["msg"]


@pytest.mark.parametrize(("args", "expected"), [
    ([], ""),
    (["--mailbox", "a@b.example"], "a@b.example"),
    (["--mailbox=a@b.example"], "a@b.example"),
    (["--help"], None),
    (["--mailbox"], None),
    (["--mailbox="], None),
    (["--mailbox", "--help"], None),
    (["--mailbox", "a@b.example", "extra"], None),
])
def test_only_plain_mail_ingest_lines_take_the_fast_path(args, expected):
    assert _mailbox_option(args) == expected


def test_everything_else_is_the_click_cli(database_url):
    env = {"CALLCENTER_DATABASE_URL": database_url}
    proc = run_entry(["mail-ingest", "--help"], env)
    assert proc.returncode == 0 and b"--mailbox TEXT" in proc.stdout
    proc = run_entry(["--help"], env)
    assert proc.returncode == 0 and b"mail-listen" in proc.stdout
    # A bad log format is the CLI's usage error, whichever path the command line would take.
    proc = run_entry(["mail-ingest"], {**env, "CALLCENTER_LOG_FORMAT": "xml"}, make_mail(ANNA, "x"))
    assert proc.returncode == 2 and b"CALLCENTER_LOG_FORMAT" in proc.stderr
    assert spooled(database_url) == []
