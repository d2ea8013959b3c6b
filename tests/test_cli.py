"""The callcenter command against a real database file."""

from click.testing import CliRunner

from callcenter.cli import cli


def run(args, database_url):
    return CliRunner().invoke(cli, args, env={"CALLCENTER_DATABASE_URL": database_url}, catch_exceptions=False)


def test_seed_token_and_sla_due(database_url):
    assert "2 companies" in run(["seed-demo"], database_url).output
    assert "0 companies" in run(["seed-demo"], database_url).output
    token = run(["user", "token", "admin"], database_url).output.strip()
    assert token.startswith("hl_") and len(token) > 30
    out = run(["sla", "due", "--company", "Budapest Demo Kft.", "--category", "system",
               "--at", "2026-03-27T15:00:00+01:00"], database_url)
    assert out.output.strip() == "2026-03-30T10:00:00+02:00"  # over the spring DST weekend
    out = run(["sla", "due", "--company", "Athens Demo A.E.", "--category", "infrastructure",
               "--at", "2026-10-25T02:30:00+03:00"], database_url)
    assert out.output.strip() == "2026-10-25T03:30:00+02:00"  # clock hours across autumn DST
    bad = CliRunner().invoke(cli, ["sla", "due", "--company", "Nobody", "--category", "user", "--at",
                                   "2026-01-05T10:00Z"], env={"CALLCENTER_DATABASE_URL": database_url})
    assert bad.exit_code != 0 and "unknown company" in bad.output
    bad = CliRunner().invoke(cli, ["user", "token", "ghost"], env={"CALLCENTER_DATABASE_URL": database_url})
    assert bad.exit_code != 0
