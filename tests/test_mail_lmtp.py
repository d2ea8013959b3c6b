"""The LMTP listener (RFC 2033): one transaction per message, one reply per recipient after the data."""

from __future__ import annotations

import os
import smtplib
import socket
import subprocess
import sys

import pytest
from hotline_helpers import wait_for_listener, wait_until
from mailtools import make_mail
from ports import free_port
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from callcenter.mail.lmtp import LmtpServer, ingest_reply
from callcenter.models import InboundMail, Ticket
from callcenter.wiring import load_services

load_services()
ANNA = "Kovács Anna <anna@budapest-demo.example>"
HELPDESK = "helpdesk@hotline.example"


@pytest.fixture
def lmtp(session_factory, settings):  # noqa: ANN001, ANN201
    session_factory.configure(info={"settings": settings})
    server = LmtpServer(ingest_reply(session_factory, settings), {HELPDESK, "sales@hotline.example"}, port=0,
                        max_message_bytes=settings.mail_max_message_bytes).start()
    yield server
    server.stop()


class Client:
    """A raw LMTP client: sends pipelined commands, reads the replies as they come."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.file = self.sock.makefile("rb")
        assert self.reply().startswith("220")

    def reply(self) -> str:
        lines = []
        while True:
            line = self.file.readline().decode().rstrip("\r\n")
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                return "\n".join(lines)

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close(self) -> None:
        self.sock.close()


def stuffed(raw: bytes) -> bytes:
    raw = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    lines = [b"." + ln if ln.startswith(b".") else ln for ln in raw.split(b"\r\n")]
    return b"\r\n".join(lines).rstrip(b"\r\n") + b"\r\n.\r\n"


def test_lmtp_delivery_creates_the_ticket(demo, session, lmtp):
    raw = make_mail(ANNA, "Nem megy a VPN", "Reggel óta.", encode_subject="utf-8")
    with smtplib.LMTP("127.0.0.1", lmtp.port, timeout=30) as client:
        assert client.sendmail("anna@budapest-demo.example", [HELPDESK], raw) == {}
    ticket = session.scalar(select(Ticket))
    assert ticket.subject == "Nem megy a VPN" and ticket.reporter_contact_id == demo.anna.id
    assert session.scalar(select(InboundMail.source)) == "lmtp"


def test_one_reply_per_recipient_and_pipelining(demo, session, lmtp):
    raw = make_mail(ANNA, "Two mailboxes", "body\n.starts with a dot\n..two dots\n.\nend").replace(b"\n", b"\r\n")
    c = Client(lmtp.port)
    c.send(b"LHLO relay.example\r\nMAIL FROM:<anna@budapest-demo.example>\r\nRCPT TO:<helpdesk@hotline.example>\r\n"
           b"RCPT TO:<nobody@hotline.example>\r\nRCPT TO:<Sales@Hotline.example>\r\nDATA\r\n")
    assert "250-PIPELINING" in c.reply()
    replies = [c.reply() for _ in range(4)]
    assert [r[:3] for r in replies] == ["250", "250", "550", "250"]
    assert c.reply().startswith("354")
    c.send(stuffed(raw))
    first, second = c.reply(), c.reply()
    assert first.startswith("250 2.0.0 <helpdesk@hotline.example> ticket #")
    assert second.startswith("250 2.0.0 <sales@hotline.example> ticket #")
    c.send(b"QUIT\r\n")
    assert c.reply().startswith("221")
    c.close()
    rows = list(session.scalars(select(InboundMail).order_by(InboundMail.mailbox)))
    assert [r.mailbox for r in rows] == ["helpdesk@hotline.example", "sales@hotline.example"]
    assert rows[0].raw == raw  # dot-unstuffed back to the bytes sent
    assert session.scalar(select(func.count()).select_from(Ticket)) == 2


def test_transient_failure_answers_451_and_stores_nothing(demo, session, lmtp, monkeypatch):
    import callcenter.mail.group as group

    def database_down(*a, **kw):
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError("database down"))

    monkeypatch.setattr(group, "ingest", database_down)
    with smtplib.LMTP("127.0.0.1", lmtp.port, timeout=30) as client:
        with pytest.raises(smtplib.SMTPDataError) as info:
            client.sendmail("anna@budapest-demo.example", [HELPDESK], make_mail(ANNA, "x"))
    assert info.value.smtp_code == 451
    assert session.scalar(select(func.count()).select_from(InboundMail)) == 0


def test_mail_we_can_quarantine_gets_250(demo, session, lmtp):
    c = Client(lmtp.port)
    c.send(b"LHLO x\r\nMAIL FROM:<>\r\nRCPT TO:<helpdesk@hotline.example>\r\nDATA\r\n")
    for _ in range(4):
        c.reply()
    c.send(b".\r\n")  # an empty message
    assert c.reply().startswith("250 2.0.0 <helpdesk@hotline.example> quarantined")
    broken = b"From: x@y.example\r\nContent-Type: multipart/mixed; boundary=Q\r\n\r\nnothing\r\n"
    c.send(b"MAIL FROM:<x@y.example>\r\nRCPT TO:<helpdesk@hotline.example>\r\nDATA\r\n")
    for _ in range(3):
        c.reply()
    c.send(stuffed(broken))
    assert c.reply().startswith("250")
    c.close()
    assert sorted(session.scalars(select(InboundMail.reason))) == ["broken MIME structure: StartBoundaryNotFoundDefect",
                                                                   "empty message"]


def test_too_large_is_refused_only_beyond_what_we_can_quarantine(demo, session, session_factory, settings):
    settings.mail_max_message_bytes = 2000
    server = LmtpServer(ingest_reply(session_factory, settings), {HELPDESK}, port=0, max_message_bytes=2000).start()
    try:
        with smtplib.LMTP("127.0.0.1", server.port, timeout=30) as client:
            client.sendmail("anna@budapest-demo.example", [HELPDESK], make_mail(ANNA, "big", "x" * 2500))
            with pytest.raises(smtplib.SMTPDataError) as info:
                client.sendmail("anna@budapest-demo.example", [HELPDESK], make_mail(ANNA, "huge", "y\n" * 5000))
            assert info.value.smtp_code == 552
            client.noop()  # the session goes on
    finally:
        server.stop()
    assert session.scalar(select(InboundMail.reason)).startswith("message of")


def test_mail_listen_lmtp_command(database_url):
    """`callcenter mail-listen --lmtp` as a real process."""
    port = free_port()
    env = {**os.environ, "CALLCENTER_DATABASE_URL": database_url}
    proc = subprocess.Popen([sys.executable, "-m", "callcenter.cli", "mail-listen", "--lmtp", "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_listener(port, proc)
        with smtplib.LMTP("127.0.0.1", port, timeout=60) as client:
            client.sendmail("a@b.example", [HELPDESK], make_mail(ANNA, "via LMTP"))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    from callcenter.db import make_engine

    engine = make_engine(database_url)
    with engine.connect() as conn:
        assert conn.execute(select(InboundMail.subject)).scalar() == "via LMTP"
    engine.dispose()


def test_mail_listen_lmtp_in_several_processes(database_url):
    """`--processes 2`: forked listeners share the port; stopping the parent stops them all."""
    from callcenter.db import make_engine

    port = free_port()
    env = {**os.environ, "CALLCENTER_DATABASE_URL": database_url}
    proc = subprocess.Popen([sys.executable, "-m", "callcenter.cli", "mail-listen", "--lmtp", "--processes", "2",
                             "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_listener(port, proc)
        for i in range(6):
            with smtplib.LMTP("127.0.0.1", port, timeout=60) as client:
                client.sendmail("a@b.example", [HELPDESK], make_mail(ANNA, f"process test {i}"))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    def nobody_listens() -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
        except OSError:
            return True
        return False

    wait_until(nobody_listens, 60, interval=0.1, what="the listener processes to follow their parent")
    engine = make_engine(database_url)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(InboundMail)).scalar() == 6
    engine.dispose()
