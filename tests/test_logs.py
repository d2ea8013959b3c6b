"""Log lines carry the ids of what they are about; JSON lines with CALLCENTER_LOG_FORMAT=json."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap

import pytest
from click.testing import CliRunner

from callcenter import logs
from callcenter.cli import cli


def record(message: str, **extra) -> logging.LogRecord:  # noqa: ANN003
    logger = logging.getLogger("callcenter.test")
    return logger.makeRecord(logger.name, logging.WARNING, __file__, 1, message, (), None, extra=extra or None)


def test_bound_ids_and_one_line_ids_in_json_and_text():
    with logs.bound(call="CA123", alert_id=7), logs.bound(ticket_id=None):
        rec = record("paged", **logs.ids(ticket=15001))
    outside = record("plain")
    entry = json.loads(logs.JsonFormatter().format(rec))
    assert entry["msg"] == "paged" and entry["level"] == "warning" and entry["logger"] == "callcenter.test"
    assert (entry["call"], entry["alert_id"], entry["ticket"]) == ("CA123", 7, 15001)
    assert "ticket_id" not in entry  # None values are left out
    assert logs.TextFormatter().format(rec).endswith("paged [call=CA123 ticket=15001 alert_id=7]")
    assert "call" not in json.loads(logs.JsonFormatter().format(outside))


def test_exceptions_stay_in_one_json_line():
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logger = logging.getLogger("callcenter.test")
        rec = logger.makeRecord(logger.name, logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    line = logs.JsonFormatter().format(rec)
    assert "\n" not in line
    assert "RuntimeError: boom" in json.loads(line)["exc"]


def test_a_twilio_webhook_logs_with_its_call_sid(app, client, caplog):
    with caplog.at_level(logging.WARNING, logger="webhooks"):
        assert client.post("/twilio/voice", data={"CallSid": "CA-log-1", "From": "+3615550101"}).status_code == 403
    rejected = [r for r in caplog.records if "X-Twilio-Signature" in r.getMessage()]
    assert rejected and json.loads(logs.JsonFormatter().format(rejected[0]))["call"] == "CA-log-1"


def test_cli_takes_the_format_from_the_environment(monkeypatch, database_url):
    seen = []
    monkeypatch.setattr(logs, "configure", lambda fmt, level: seen.append(fmt))
    env = {"CALLCENTER_DATABASE_URL": database_url, "CALLCENTER_LOG_FORMAT": "json"}
    assert CliRunner().invoke(cli, ["db", "upgrade"], env=env).exit_code == 0
    assert seen == ["json"]


def test_an_unknown_format_is_refused_clearly(database_url):
    result = CliRunner().invoke(cli, ["db", "upgrade"],
                                env={"CALLCENTER_DATABASE_URL": database_url, "CALLCENTER_LOG_FORMAT": "xml"})
    assert result.exit_code == 2
    assert "CALLCENTER_LOG_FORMAT must be 'text' or 'json'" in result.output
    with pytest.raises(ValueError):
        logs.configure("xml")


def test_a_fresh_process_writes_json_lines_to_stderr():
    code = textwrap.dedent("""
        import logging
        from callcenter import logs
        logs.configure("json")
        with logs.bound(call="CA9"):
            logging.getLogger("callcenter.x").info("hello %s", "world")
        logging.getLogger("callcenter.x").debug("not at info level")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60,
                         env={**os.environ})
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1
    assert json.loads(lines[0]) | {"ts": None} == {"ts": None, "level": "info", "logger": "callcenter.x",
                                                  "msg": "hello world", "call": "CA9"}
