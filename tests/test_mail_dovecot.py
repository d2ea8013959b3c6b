"""IMAP polling against a real Dovecot (Debian's dovecot-imapd), the server the report used: a mail
whose ingestion fails stays unseen, and is flagged \\Seen only after its commit.

Skipped with the reason when Dovecot is not installed or we are not root; `.ci/run` installs it.
"""

from __future__ import annotations

import imaplib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from mailtools import make_mail
from ports import free_port
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from callcenter.mail.imap import poll_mailbox
from callcenter.models import InboundMail, Ticket
from callcenter.wiring import load_services

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"


def _missing() -> str | None:
    if not Path(DOVECOT).exists():
        return "Dovecot is not installed (Debian: apt-get install dovecot-imapd; .ci/run installs it)"
    if os.geteuid() != 0:
        return "a private Dovecot instance needs root (it drops privileges to its own users)"
    return None


pytestmark = pytest.mark.skipif(_missing() is not None, reason=_missing() or "")
load_services()
ANNA = "Kovács Anna <anna@budapest-demo.example>"
NOW = datetime(2026, 10, 6, 8, 0, tzinfo=UTC)

CONFIG = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = dovenull
default_internal_user = dovecot
passdb {{
  driver = static
  args = password=secret
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={root}/home/%u
}}
mail_location = maildir:~/Maildir
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""


@pytest.fixture
def dovecot():  # noqa: ANN201
    root = Path(tempfile.mkdtemp(prefix="hotline-dovecot-"))
    root.chmod(0o755)
    port = free_port()
    (root / "home").mkdir()
    shutil.chown(root / "home", "nobody", "nogroup")
    conf = root / "dovecot.conf"
    conf.write_text(CONFIG.format(root=root, port=port))
    proc = subprocess.Popen([DOVECOT, "-F", "-c", str(conf)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail(f"dovecot exited: {proc.stdout.read().decode(errors='replace')}")
                time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(root, ignore_errors=True)


def imap(port: int) -> imaplib.IMAP4:
    client = imaplib.IMAP4("127.0.0.1", port, timeout=30)
    client.login("helpdesk", "secret")
    client.select("INBOX")
    return client


def flags(port: int) -> list[bytes]:
    client = imap(port)
    try:
        status, data = client.uid("FETCH", "1:*", "(FLAGS)")
        return [line for line in data if line]
    finally:
        client.logout()


def test_a_failed_ingestion_leaves_the_mail_unseen_on_dovecot(demo, session, session_factory, settings, dovecot,
                                                              monkeypatch):
    import callcenter.mail.intake as intake

    client = imap(dovecot)
    client.append("INBOX", None, None, make_mail(ANNA, "IMAP a valódi Dovecotból", encode_subject="utf-8"))
    client.logout()
    settings.imap_url = f"imap://helpdesk:secret@127.0.0.1:{dovecot}/INBOX"
    session_factory.configure(info={"settings": settings})

    real = intake.ingest

    def database_down(*a, **kw):
        raise OperationalError("INSERT", {}, ConnectionRefusedError("database down"))

    monkeypatch.setattr(intake, "ingest", database_down)
    r = poll_mailbox(session_factory, settings, NOW)
    assert (r.fetched, r.failed) == (1, 1)
    assert not any(b"\\Seen" in f for f in flags(dovecot)), "the failed mail must stay unseen for the next poll"

    monkeypatch.setattr(intake, "ingest", real)
    r = poll_mailbox(session_factory, settings, NOW)
    assert (r.fetched, r.ingested) == (1, 1)
    assert all(b"\\Seen" in f for f in flags(dovecot))
    assert session.scalar(select(Ticket.subject)) == "IMAP a valódi Dovecotból"
    assert session.scalar(select(InboundMail.source)) == "imap"
    assert poll_mailbox(session_factory, settings, NOW).fetched == 0  # seen: not fetched again
