"""`callcenter oncall ...` and `callcenter alert ...` against a real database file."""

from click.testing import CliRunner

from callcenter.cli import cli


def run(args, database_url, ok=True):
    result = CliRunner().invoke(cli, args, env={"CALLCENTER_DATABASE_URL": database_url})
    assert (result.exit_code == 0) == ok, result.output
    return result.output


def test_oncall_and_alert_commands(database_url):
    run(["seed-demo"], database_url)
    now = run(["oncall", "now", "--at", "2026-01-05T09:30+01:00"], database_url)
    assert now.strip() == "Primary on-call: Tóth Gábor (eng2, +3615550182)"
    assert "Dimitris Alexiou" in run(["oncall", "now", "--at", "2026-01-12T09:00+01:00"], database_url)
    sched = run(["oncall", "schedule", "--weeks", "3"], database_url)
    assert "hand-over 09:00 Europe/Budapest" in sched and sched.count(" Mon 09:00") >= 2
    run(["oncall", "override", "--rotation", "Primary on-call", "--user", "manager",
         "--from", "2026-01-05T12:00+01:00", "--to", "2026-01-05T18:00+01:00"], database_url)
    assert "Nagy Katalin" in run(["oncall", "now", "--at", "2026-01-05T13:00+01:00"], database_url)
    assert "needs a UTC offset" in run(["oncall", "now", "--at", "2026-01-05T13:00"], database_url, ok=False)

    out = run(["alert", "raise", "--summary", "Core switch down", "--dedup-key", "sw1"], database_url)
    assert out.startswith("alert 1 raised")
    assert "deduplicated" in run(["alert", "raise", "--summary", "again", "--dedup-key", "sw1"], database_url)
    assert "triggered" in run(["alert", "list"], database_url)
    assert "acknowledged" in run(["alert", "ack", "1", "--user", "eng3"], database_url)
    assert "cannot acknowledge" in run(["alert", "ack", "1"], database_url, ok=False)
    assert "resolved" in run(["alert", "resolve", "1"], database_url)
    assert run(["alert", "list"], database_url).strip() == ""
    assert "Core switch down" in run(["alert", "list", "--status", "all"], database_url)
