"""A real Asterisk 22 for the tests and the bench: the shared portable build, our deploy/asterisk/ files.

`find_asterisk()` locates the build: `HOTLINE_ASTERISK_ROOT` (an unpacked tree), else the tarball in
../shared/asterisk/ next to the checkout, unpacked once into a temporary directory. `AsteriskPBX`
runs it with a private configuration directory (deploy/asterisk/*.conf copied unchanged, plus the
`*_local.conf` files they include: test contexts, a private AMI port and secret), private run, log
and spool directories, and no network port other than AMI on 127.0.0.1. Calls are Local channels
placed with call files.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ports import free_port

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy" / "asterisk"
TARBALL = REPO.parent / "shared" / "asterisk" / "asterisk-22-debian12-x86_64.tar.xz"


class AsteriskMissing(RuntimeError):
    """No Asterisk build to run: the message says what was looked for."""


def find_asterisk(unpack_into: Path | None = None) -> Path:
    """The root of an Asterisk tree (sbin/asterisk, lib/asterisk/modules, var/lib/asterisk)."""
    root = os.environ.get("HOTLINE_ASTERISK_ROOT")
    if root:
        if not (Path(root) / "sbin" / "asterisk").is_file():
            raise AsteriskMissing(f"HOTLINE_ASTERISK_ROOT={root} holds no sbin/asterisk")
        return Path(root)
    if not TARBALL.is_file():
        raise AsteriskMissing(f"no Asterisk: set HOTLINE_ASTERISK_ROOT or provide {TARBALL.relative_to(REPO.parent)}"
                              " next to the checkout")
    target = unpack_into or Path(tempfile.mkdtemp(prefix="hotline-asterisk-"))
    if not (target / "sbin" / "asterisk").is_file():
        with tarfile.open(TARBALL) as tar:
            tar.extractall(target, filter="tar")
    return target


LOGGER_CONF = """[general]
dateformat = %F %T.%3q
[logfiles]
full.log => notice,warning,error,verbose,debug
"""


@dataclass
class CallFile:
    channel: str
    context: str
    extension: str = "s"
    callerid: str | None = None
    variables: dict[str, str] | None = None
    wait_seconds: int = 30

    def render(self) -> str:
        lines = [f"Channel: {self.channel}", f"Context: {self.context}", f"Extension: {self.extension}",
                 "Priority: 1", "MaxRetries: 0", f"WaitTime: {self.wait_seconds}", "Archive: yes"]
        if self.callerid:
            lines.append(f"CallerID: {self.callerid}")
        for name, value in (self.variables or {}).items():
            lines.append(f"Setvar: {name}={value}")
        return "\n".join(lines) + "\n"


class AsteriskPBX:
    """One running Asterisk with a private configuration under `home`."""

    def __init__(self, root: Path, home: Path, *, local_extensions: str = "", ami_secret: str = "test-ami-secret",
                 debug_agi: bool = False) -> None:
        self.root = root
        self.home = home
        self.etc = home / "etc"
        self.log_dir = home / "log"
        self.spool = home / "spool"
        self.ami_port = free_port()
        self.ami_secret = ami_secret
        self.local_extensions = local_extensions
        self.debug_agi = debug_agi
        self.proc: subprocess.Popen | None = None

    @property
    def conf(self) -> Path:
        return self.etc / "asterisk.conf"

    @property
    def ami_url(self) -> str:
        return f"ami://hotline:{self.ami_secret}@127.0.0.1:{self.ami_port}"

    def configure(self) -> None:
        for sub in ("etc", "log", "run", "spool/outgoing", "spool/outgoing_done", "spool/tmp", "spool/monitor",
                    "varlib", "cache", "agi-bin"):
            (self.home / sub).mkdir(parents=True, exist_ok=True)
        data = self.root / "var" / "lib" / "asterisk"
        self.conf.write_text(
            "[directories]\n"
            f"astetcdir => {self.etc}\nastmoddir => {self.root / 'lib' / 'asterisk' / 'modules'}\n"
            f"astvarlibdir => {self.home / 'varlib'}\nastdbdir => {self.home / 'varlib'}\n"
            f"astkeydir => {self.home / 'varlib'}\nastdatadir => {data}\nastagidir => {self.home / 'agi-bin'}\n"
            f"astspooldir => {self.spool}\nastrundir => {self.home / 'run'}\nastlogdir => {self.log_dir}\n"
            f"astsbindir => {self.root / 'sbin'}\nastcachedir => {self.home / 'cache'}\n"
            "[options]\nverbose = 3\ndefaultlanguage = en\n", encoding="utf-8")
        for conf in DEPLOY.glob("*.conf"):
            shutil.copy(conf, self.etc / conf.name)  # unchanged: the files an administrator installs
        (self.etc / "logger.conf").write_text(LOGGER_CONF, encoding="utf-8")
        (self.etc / "manager_local.conf").write_text(
            f"[general](+)\nport = {self.ami_port}\n[hotline](+)\nsecret = {self.ami_secret}\n", encoding="utf-8")
        (self.etc / "extensions_local.conf").write_text(self.local_extensions, encoding="utf-8")

    def start(self, timeout: float = 60.0) -> None:
        self.configure()
        out = open(self.log_dir / "console.log", "ab")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen([str(self.root / "sbin" / "asterisk"), "-C", str(self.conf), "-f"],
                                     stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        out.close()
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"Asterisk exited with {self.proc.returncode}: "
                                   f"{(self.log_dir / 'console.log').read_text(errors='replace')[-2000:]}")
            try:
                if "fully booted" in self.cli("core waitfullybooted", timeout=10):
                    break
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("Asterisk did not boot in time")
            time.sleep(0.2)
        if self.debug_agi:
            self.cli("agi set debug on")

    def cli(self, command: str, timeout: float = 20) -> str:
        return subprocess.run([str(self.root / "sbin" / "asterisk"), "-C", str(self.conf), "-rx", command],
                              check=True, capture_output=True, text=True, timeout=timeout).stdout

    def set_global(self, name: str, value: str) -> None:
        self.cli(f"dialplan set global {name} {value}")

    def originate(self, call: CallFile, name: str) -> None:
        """Place a call with a call file (written aside, then moved in whole, as Asterisk requires)."""
        tmp = self.spool / "tmp" / f"{name}.call"
        tmp.write_text(call.render(), encoding="utf-8")
        os.replace(tmp, self.spool / "outgoing" / f"{name}.call")

    def log_text(self) -> str:
        path = self.log_dir / "full.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def active_channels(self) -> int:
        out = self.cli("core show channels count")
        match = re.search(r"(\d+) active channel", out)
        return int(match.group(1)) if match else 0

    def stop(self) -> None:
        if self.proc is None:
            return
        try:
            self.cli("core stop now", timeout=10)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            pass
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
        self.proc = None
