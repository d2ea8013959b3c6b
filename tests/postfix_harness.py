"""A private Postfix instance for tests and benchmarks, built from the shipped deploy/postfix/ files.

Everything lives under one temporary directory (config, queue, data, log); it listens on 127.0.0.1
only, and `default_transport = error` so nothing can leave the machine. The shipped snippets are used
as they are; only the install-specific values are put in: the repository path for /opt/hotline, the
settings file for /etc/hotline/hotline.toml, the map directory for /etc/postfix, the LMTP port, the
pipe's user, and the transport file (LMTP or pipe).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from ports import free_port

REPO = Path(__file__).resolve().parent.parent
DEPLOY = REPO / "deploy" / "postfix"
POSTFIX = shutil.which("postfix") or "/usr/sbin/postfix"
POSTMAP = shutil.which("postmap") or "/usr/sbin/postmap"
SENDMAIL = shutil.which("sendmail") or "/usr/sbin/sendmail"


def postfix_missing() -> str | None:
    """Why a real Postfix cannot run here, or None."""
    if not Path(POSTFIX).exists() or not Path(SENDMAIL).exists():
        return "Postfix is not installed (Debian: apt-get install postfix; .ci/run installs it)"
    if os.geteuid() != 0:
        return "a private Postfix instance needs root (its daemons drop privileges to the postfix user)"
    return None


# Test scaffolding, not part of the recipe: a minimal instance of its own, no chroot.
BASE_MAIN = """\
compatibility_level = 3.6
queue_directory = {root}/spool
data_directory = {root}/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mx.hotline.test
mydomain = hotline.test
myorigin = $mydomain
mydestination =
mynetworks = 127.0.0.0/8
relayhost =
alias_maps =
alias_database =
# Nothing leaves this machine: any destination but Hotline's own is refused.
default_transport = error:this test Postfix delivers nothing off the machine
relay_transport = error:this test Postfix delivers nothing off the machine
maillog_file = {root}/maillog
maillog_file_prefixes = {root}
smtpd_banner = $myhostname ESMTP test
biff = no
append_dot_mydomain = no
smtputf8_enable = yes
lmtp_destination_concurrency_limit = {lmtp_concurrency}
"""

BASE_MASTER = """\
smtp      inet  n       -       n       -       -       smtpd
pickup    unix  n       -       n       1       1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       1       1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


class PrivatePostfix:
    def __init__(self, root: Path, *, lmtp_port: int, config_file: Path, transport: str = "lmtp",
                 pipe_user: str = "nobody", lmtp_concurrency: int = 20) -> None:
        self.root = Path(root)
        self.etc = self.root / "etc"
        self.smtp_port = free_port()
        self.lmtp_port = lmtp_port
        self.config_file = config_file
        self.transport = transport
        self.pipe_user = pipe_user
        self.lmtp_concurrency = lmtp_concurrency
        self.started = False

    def _shipped(self, name: str) -> str:
        text = (DEPLOY / name).read_text()
        for old, new in (("/opt/hotline", str(REPO)), ("/etc/hotline/hotline.toml", str(self.config_file)),
                         ("/etc/postfix/", f"{self.etc}/"), ("127.0.0.1:2424", f"127.0.0.1:{self.lmtp_port}"),
                         ("user=hotline ", f"user={self.pipe_user} ")):
            text = text.replace(old, new)
        return text

    def configure(self) -> PrivatePostfix:
        for sub in ("etc", "spool", "data"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        main = BASE_MAIN.format(root=self.root, lmtp_concurrency=self.lmtp_concurrency) + "\n" + \
            self._shipped("main.cf")
        master = BASE_MASTER.replace("smtp      inet", f"127.0.0.1:{self.smtp_port} inet", 1) + "\n" + \
            self._shipped("master.cf")
        (self.etc / "main.cf").write_text(main)
        (self.etc / "master.cf").write_text(master)
        (self.etc / "hotline-recipients").write_text(self._shipped("hotline-recipients"))
        transport = "hotline-transport" if self.transport == "lmtp" else "hotline-transport.pipe"
        (self.etc / "hotline-transport").write_text(self._shipped(transport))
        for name in ("hotline-recipients", "hotline-transport"):
            self._run([POSTMAP, "-c", str(self.etc), f"hash:{self.etc / name}"])
        # postdrop (setgid) must be able to enter the instance's maildrop; master keeps its lock in data.
        self.root.chmod(0o755)
        shutil.chown(self.root / "data", "postfix")
        return self

    def _run(self, argv: list[str], **kw) -> subprocess.CompletedProcess:  # noqa: ANN003
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, **kw)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr}{proc.stdout}")
        return proc

    def start(self) -> PrivatePostfix:
        self._run([POSTFIX, "-c", str(self.etc), "check"])
        self._run([POSTFIX, "-c", str(self.etc), "start"])
        self.started = True
        deadline = time.monotonic() + 90  # a ceiling: a loaded machine starts Postfix's daemons slowly
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.smtp_port), timeout=2).close()
                return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"the private Postfix did not listen on {self.smtp_port}: {self.log()}")

    def stop(self) -> None:
        if self.started:
            subprocess.run([POSTFIX, "-c", str(self.etc), "stop"], capture_output=True, timeout=60)
            self.started = False

    def sendmail(self, raw: bytes, recipient: str, sender: str = "anna@budapest-demo.example") -> None:
        """Submit like a local program does: sendmail -> postdrop -> pickup -> cleanup -> qmgr."""
        proc = subprocess.run([SENDMAIL, "-C", str(self.etc), "-i", "-f", sender, recipient], input=raw,
                              capture_output=True, timeout=120)
        if proc.returncode != 0:
            raise RuntimeError(f"sendmail failed ({proc.returncode}): {proc.stderr!r}")

    def flush(self) -> None:
        subprocess.run([POSTFIX, "-c", str(self.etc), "flush"], capture_output=True, timeout=60)

    def queue(self) -> str:
        return subprocess.run(["postqueue", "-c", str(self.etc), "-p"], capture_output=True, text=True,
                              timeout=60).stdout

    def log(self) -> str:
        path = self.root / "maillog"
        return path.read_text(errors="replace") if path.exists() else "(no maillog)"
