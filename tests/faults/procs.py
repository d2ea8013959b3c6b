"""Real `callcenter` processes for fault tests: start them with a temporary config, wait until they serve,
kill them (-9) or stop them, read their logs.

    hotline = Service("serve", config, tmp_path).start().wait_ready()
    ...
    hotline.kill()                      # SIGKILL: no cleanup of any kind runs
    hotline = hotline.restarted()       # same command, same config, same ports
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from hotline_helpers import wait_until
from ports import free_port
from sqlalchemy import select

from callcenter.config import PROJECT_ROOT
from callcenter.models import Contract, Rotation, StaffUser
from callcenter.paging.rotations import add_override

CALLCENTER = str(Path(sys.executable).with_name("callcenter"))
READY_TIMEOUT = 45.0  # a cold start under a loaded CI machine


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_config(path: Path, sections: Mapping[str, Mapping[str, Any]]) -> Path:
    """A CALLCENTER_CONFIG overlay: {"database": {"url": ...}, "web": {"port": ...}, ...}."""
    lines: list[str] = []
    for section, values in sections.items():
        lines.append(f"[{section}]")
        lines += [f"{key} = {toml_value(value)}" for key, value in values.items()]
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


class Service:
    """One `callcenter <command>` process (serve, web, agi, worker) with a config overlay file."""

    def __init__(self, command: str, config: Mapping[str, Mapping[str, Any]], workdir: Path,
                 name: str | None = None, env: Mapping[str, str] | None = None) -> None:
        self.command = command
        self.config = {k: dict(v) for k, v in config.items()}
        self.workdir = workdir
        self.name = name or command
        self.extra_env = dict(env or {})
        self.config_path = write_config(workdir / f"{self.name}.toml", self.config)
        self.log_path = workdir / f"{self.name}.log"
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    @property
    def web_url(self) -> str:
        web = self.config.get("web", {})
        return f"http://{web.get('host', '127.0.0.1')}:{web['port']}"

    @property
    def agi_address(self) -> tuple[str, int]:
        agi = self.config.get("agi", {})
        return agi.get("host", "127.0.0.1"), int(agi["port"])

    def start(self) -> Service:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CALLCENTER_", "TWILIO_"))}
        env.update(CALLCENTER_CONFIG=str(self.config_path), PYTHONUNBUFFERED="1", **self.extra_env)
        self.starts += 1
        log = open(self.log_path, "a", encoding="utf-8")  # noqa: SIM115 (the child owns it)
        log.write(f"\n===== start {self.starts}: callcenter {self.command}\n")
        log.flush()
        self.proc = subprocess.Popen([CALLCENTER, self.command], cwd=PROJECT_ROOT, env=env, stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        return self

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> Service:
        def ready() -> bool:
            self.assert_running()
            if self.command in ("serve", "web"):
                try:
                    return requests.get(self.web_url + "/healthz", timeout=2).status_code == 200
                except requests.RequestException:
                    return False
            if self.command == "agi":
                try:
                    with socket.create_connection(self.agi_address, timeout=1):
                        return True
                except OSError:
                    return False
            return "ticking" in self.log_text()

        wait_until(ready, timeout, what=f"callcenter {self.command} to serve")
        if self.command == "serve":  # its FastAGI server too
            wait_until(lambda: _connects(self.agi_address), timeout, what="FastAGI of callcenter serve")
        return self

    def assert_running(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            raise AssertionError(f"callcenter {self.command} is not running:\n{self.log_text()[-3000:]}")

    def kill(self) -> None:
        """kill -9: the process gets no chance to clean anything up."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()

    def restarted(self) -> Service:
        self.kill()
        return self.start()

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""


def _connects(address: tuple[str, int]) -> bool:
    try:
        with socket.create_connection(address, timeout=1):
            return True
    except OSError:
        return False


def hotline_config(database_url: str, workdir: Path, *, twilio: Any = None, lost_seconds: float = 6,
                   turn_seconds: float = 30.0, statement_timeout: float = 10.0) -> dict[str, dict[str, Any]]:
    """A whole installation's settings on free ports; `twilio`: a tests.fake_twilio.FakeTwilio.

    `turn_seconds` is generous by default: on a loaded machine an ordinary turn can take seconds, and
    only the stalled-database tests want callers sent to the emergency number."""
    web_port, agi_port = free_port(), free_port()
    config: dict[str, dict[str, Any]] = {
        "database": {"url": database_url, "connect_timeout": 2, "statement_timeout": statement_timeout,
                     "pool_timeout": 2},
        "web": {"host": "127.0.0.1", "port": web_port, "public_url": f"http://127.0.0.1:{web_port}",
                "secret_key": "fault-test-secret"},
        "agi": {"host": "127.0.0.1", "port": agi_port},
        "recordings": {"dir": str(workdir / "recordings")},
        "hotline": {"turn_seconds": turn_seconds, "lost_seconds": lost_seconds},
        "agents": {"asterisk_dial": ""},  # callers wait in plain Queue(): the fake Asterisk holds them there
    }
    if twilio is not None:
        config["twilio"] = {"account_sid": twilio.account_sid, "auth_token": twilio.auth_token,
                            "from_number": "+3615550100", "api_url": twilio.base_url}
    return config


def open_all_day(session, company_id: int, threshold: int) -> None:  # noqa: ANN001
    """A company open around the clock (whatever time the test runs) with the given no-answer threshold, and
    eng2 on call: an unanswered-hotline alert would page him at once."""
    for contract in session.scalars(select(Contract).where(Contract.company_id == company_id)):
        contract.working_hours = {day: ["00:00-24:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
        contract.holiday_country = None
        contract.no_answer_threshold_seconds = threshold
    now = datetime.now(UTC)
    eng2 = session.scalar(select(StaffUser).where(StaffUser.username == "eng2"))
    add_override(session, session.scalar(select(Rotation)), eng2, now - timedelta(hours=1), now + timedelta(days=1),
                 now=now, reason="fault test")
    session.commit()
