"""deploy/: the systemd units are well formed, hardened, and start commands that exist; the reverse-proxy
sample passes what Twilio's signature check needs."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import click
import pytest
from fake_twilio import compute_signature

from callcenter.cli import cli

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
INSTALL_ROOT = "/opt/hotline"
STATE_DIR = "/var/lib/hotline"


def parse_unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """systemd's unit syntax: [Section], Key=Value (keys may repeat), # and ; comments, no continuations here."""
    sections: dict[str, dict[str, list[str]]] = {}
    current = None
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        assert not line.endswith("\\"), f"{path.name}:{number}: keep directives on one line"
        if m := re.fullmatch(r"\[(\w+)\]", line):
            current = sections.setdefault(m[1], {})
            continue
        m = re.fullmatch(r"([A-Za-z][A-Za-z0-9]*)=(.*)", line)
        assert m and current is not None, f"{path.name}:{number}: not a Key=Value line in a section: {raw!r}"
        current.setdefault(m[1], []).append(m[2].strip())
    return sections


def test_the_four_parts_have_units():
    assert {p.name for p in UNITS} == {"hotline-web.service", "hotline-agi.service", "hotline-worker.service",
                                       "hotline-mail-listen.service"}


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_unit_is_hardened_and_restarts(unit: Path):
    service = parse_unit(unit)["Service"]
    one = {key: values[-1] for key, values in service.items()}
    assert one["User"] == "hotline" and one["Group"] == "hotline"
    assert one["EnvironmentFile"].startswith("/etc/hotline/")
    assert one["Restart"] == "on-failure"
    assert one["ProtectSystem"] == "strict"
    assert one["NoNewPrivileges"] == "yes" and one["ProtectHome"] == "yes" and one["PrivateTmp"] == "yes"
    writable = one["ReadWritePaths"].split()
    assert STATE_DIR in writable and "/run/hotline" in writable
    assert one["StateDirectory"] == "hotline" and one["RuntimeDirectory"] == "hotline"
    # Several units share /run/hotline (the metrics directory): stopping one must not empty it.
    assert one["RuntimeDirectoryPreserve"] == "yes"
    assert "WantedBy" in parse_unit(unit)["Install"]


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_unit_runs_an_existing_callcenter_command(unit: Path):
    exec_start = parse_unit(unit)["Service"]["ExecStart"]
    assert len(exec_start) == 1
    program, *args = exec_start[0].split()
    assert program == f"{INSTALL_ROOT}/.venv/bin/callcenter", "the console script of the venv `make install` makes"
    command = cli.get_command(click.Context(cli), args[0])  # the group imports its commands when asked
    assert command is not None, args[0]
    # Parses the options as the real start would, without running anything.
    command.make_context(args[0], args[1:])


def test_writable_paths_of_the_example_settings_are_writable_for_the_units():
    env = dict(line.split("=", 1) for line in (DEPLOY / "systemd" / "hotline.env.example").read_text().splitlines()
               if line and not line.startswith("#"))
    for name in ("CALLCENTER_RECORDINGS_DIR", "CALLCENTER_PROMPTS_DIR", "CALLCENTER_METRICS_DIR"):
        assert env[name].startswith((STATE_DIR + "/", "/run/hotline/")), name
    assert env["CALLCENTER_PUBLIC_URL"].startswith("https://") and not env["CALLCENTER_PUBLIC_URL"].endswith("/")
    from callcenter.config import ENVIRONMENT

    known = {variable for _section, _key, variable in ENVIRONMENT.values()}
    assert set(env) <= known, f"unknown settings: {set(env) - known}"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_verify_finds_nothing(tmp_path: Path):
    # verify wants the programs to exist: point the units at this checkout's venv.
    root = Path(__file__).resolve().parent.parent
    if not (root / ".venv" / "bin" / "callcenter").exists():
        pytest.skip("no .venv/bin/callcenter in this checkout (make install)")
    copies = []
    for unit in UNITS:
        copy = tmp_path / unit.name
        copy.write_text(unit.read_text().replace(INSTALL_ROOT, str(root)))
        copies.append(str(copy))
    def verify(*paths: str) -> str:
        result = subprocess.run(["systemd-analyze", "verify", *paths], capture_output=True, text=True, timeout=60)
        # It exits 0 even for unknown keys or bad values (it ignores them): what it says is what counts.
        return (result.stdout + result.stderr).strip() if result.returncode == 0 else f"exit {result.returncode}"

    assert verify(*copies) == ""
    broken = tmp_path / "broken.service"
    broken.write_text(Path(copies[0]).read_text().replace("ProtectSystem=strict", "ProtectSystem=stritc"))
    assert "ProtectSystem" in verify(str(broken)) or "protect system" in verify(str(broken))


def test_nginx_sample_keeps_the_signed_url_intact():
    conf = (DEPLOY / "nginx" / "hotline.conf").read_text()
    code = "\n".join(line.split("#", 1)[0] for line in conf.splitlines())
    assert code.count("{") == code.count("}")
    for line in code.splitlines():
        stripped = line.strip()
        assert not stripped or stripped.endswith(("{", "}", ";")), f"unterminated directive: {line!r}"
    # No URI part after the upstream: the path and query Twilio signed reach Hotline unchanged.
    assert re.findall(r"proxy_pass\s+(\S+);", code) and all(
        target == "http://hotline_web" for target in re.findall(r"proxy_pass\s+(\S+);", code))
    assert "rewrite" not in code
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in code and "proxy_set_header Host $host;" in code


def test_signature_behind_the_proxy_is_checked_against_the_public_url(app, client, settings, demo):
    """nginx hands Hotline http://127.0.0.1:8080/...; Twilio signed https://hotline.example.com/... ."""
    settings.public_url = "https://hotline.example.com"
    settings.twilio_auth_token = "proxy-test-token"
    form = {"CallSid": "CA" + "7" * 32, "From": "+3615550101", "To": "+3615550100", "CallStatus": "ringing"}
    signature = compute_signature("proxy-test-token", "https://hotline.example.com/twilio/voice", form)
    forwarded = {"X-Twilio-Signature": signature, "Host": "hotline.example.com", "X-Forwarded-Proto": "https",
                 "X-Forwarded-For": "54.172.60.1"}
    resp = client.post("/twilio/voice", data=form, headers=forwarded, base_url="http://127.0.0.1:8080")
    assert resp.status_code == 200 and b"<Response>" in resp.data
    tampered = {**form, "From": "+3615550666"}
    assert client.post("/twilio/voice", data=tampered, headers=forwarded,
                       base_url="http://127.0.0.1:8080").status_code == 403
