"""A real Postfix in front of Hotline, configured with exactly the shipped deploy/postfix/ files:
mail submitted with `sendmail` reaches Hotline by LMTP (the recommended path) and by the pipe, our own
mail that Postfix cannot deliver bounces back onto its ticket, and nothing leaves the machine.

Skipped with the reason when Postfix is not installed or we are not root; `.ci/run` installs it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from mailpipe import drain_spool
from mailtools import make_mail
from postfix_harness import REPO, PrivatePostfix, postfix_missing
from sqlalchemy import func, select

from callcenter.mail.lmtp import LmtpServer, ingest_reply
from callcenter.models import InboundMail, MailSpool, Ticket
from callcenter.wiring import load_services

pytestmark = pytest.mark.skipif(postfix_missing() is not None, reason=postfix_missing() or "")
load_services()
ANNA = "Kovács Anna <anna@budapest-demo.example>"
HELPDESK = "helpdesk@hotline.example"


def wait_for(check, what: str, pf: PrivatePostfix, timeout: float = 90, seen=None):  # noqa: ANN001, ANN201
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what} (saw {seen() if seen else '-'})\nqueue:\n{pf.queue()}\n"
                f"log:\n{pf.log()[-4000:]}")


def count(session, model) -> int:  # noqa: ANN001
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def workdir():  # noqa: ANN201
    # Postfix's own processes (and the pipe's user) must reach it: not under pytest's private tmp.
    import tempfile

    path = Path(tempfile.mkdtemp(prefix="hotline-postfix-"))
    path.chmod(0o755)
    yield path
    if not os.environ.get("KEEP_POSTFIX_DIR"):
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def lmtp(session_factory, settings):  # noqa: ANN001, ANN201
    session_factory.configure(info={"settings": settings})
    server = LmtpServer(ingest_reply(session_factory, settings), {settings.mail_from}, port=0).start()
    yield server
    server.stop()


@pytest.fixture
def postfix_lmtp(workdir, lmtp, database_url):  # noqa: ANN001, ANN201
    config = workdir / "hotline.toml"
    config.write_text(f'[database]\nurl = "{database_url}"\n')
    pf = PrivatePostfix(workdir / "postfix", lmtp_port=lmtp.port, config_file=config).configure().start()
    yield pf
    pf.stop()


def test_mail_through_postfix_and_lmtp_becomes_tickets(demo, session, postfix_lmtp):
    pf = postfix_lmtp
    pf.sendmail(make_mail(ANNA, "Nem működik a nyomtató", "A 2. emeleti nyomtató nem nyomtat.",
                          encode_subject="utf-8"), HELPDESK)
    pf.sendmail(make_mail("pbx@athens-demo.example", "Πρόβλημα με το τηλεφωνικό κέντρο", "Η κάρτα E1 έπεσε.",
                          encode_subject="utf-8"), HELPDESK, sender="pbx@athens-demo.example")
    wait_for(lambda: count(session, Ticket) == 2, "two tickets", pf)
    number = session.scalar(select(Ticket.number).where(Ticket.company_id == demo.budapest.id))
    pf.sendmail(make_mail(ANNA, f"Vá: [#{number}] Nem működik a nyomtató", "Újraindítottam."), HELPDESK)
    pf.sendmail(make_mail(ANNA, "To someone outside", "must not leave"), "someone@elsewhere.example")
    wait_for(lambda: count(session, InboundMail) == 3, "the reply", pf)
    assert {t.subject for t in session.scalars(select(Ticket))} == {"Nem működik a nyomtató",
                                                                     "Πρόβλημα με το τηλεφωνικό κέντρο"}
    assert set(session.scalars(select(InboundMail.source))) == {"lmtp"}
    wait_for(lambda: "Mail queue is empty" in pf.queue(), "an empty queue", pf)
    log = pf.log()
    assert log.count("status=sent") == 3 and "relay=127.0.0.1" in log
    # The one mail for elsewhere was refused by `default_transport = error`, not sent anywhere.
    assert "to=<someone@elsewhere.example>, relay=none" in log and "status=bounced" in log


def test_our_undeliverable_mail_bounces_back_onto_its_ticket(demo, session, settings, postfix_lmtp):
    """The auto-reply, as the SMTP provider renders it, goes out through the same Postfix, which cannot
    deliver it (nothing leaves the machine); Postfix's own bounce comes back by LMTP and joins the
    ticket as an internal note. (Submitted with sendmail: Postfix's smtpd refuses an address routed to
    the error transport already at RCPT time, with no bounce.)"""
    from callcenter.models import OutboxMessage
    from callcenter.providers.smtp import build_message

    pf = postfix_lmtp
    pf.sendmail(make_mail(ANNA, "Szkenner offline"), HELPDESK)
    wait_for(lambda: count(session, Ticket) == 1, "the ticket", pf)
    auto_reply = session.scalar(select(OutboxMessage))
    to, raw = build_message(auto_reply, settings.mail_from)
    pf.sendmail(raw, to, sender=settings.mail_from)
    wait_for(lambda: count(session, InboundMail) == 2, "the bounce", pf)
    assert count(session, Ticket) == 1
    ticket = session.scalar(select(Ticket))
    note = ticket.events[-1]
    assert not note.public and "Delivery failure report" in note.body and "anna@budapest-demo.example" in note.body
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 1  # the bounce is not answered


def pipe_install(workdir: Path, user: str) -> Path:
    """A directory with the `.venv/bin/callcenter` the pipe's user can run, standing for /opt/hotline.

    The repository's own virtualenv, when that user can run its Python; otherwise (a Python under a
    private home, as with pyenv under /root) a virtualenv of the system's python3.11 that reads the
    repository's installed packages."""
    probe = subprocess.run(["su", "-s", "/bin/sh", user, "-c", f"{REPO}/.venv/bin/python -c 'import callcenter'"],
                           capture_output=True)
    if probe.returncode == 0:
        return REPO
    system = Path("/usr/bin/python3.11")
    if not system.exists():
        pytest.skip(f"the pipe user {user} cannot run {REPO}/.venv's Python and there is no /usr/bin/python3.11")
    root = workdir / "install"
    subprocess.run([str(system), "-m", "venv", "--without-pip", str(root / ".venv")], check=True)
    site = next((REPO / ".venv" / "lib").glob("python3.*/site-packages"))
    (root / ".venv" / "lib" / "python3.11" / "site-packages" / "hotline-repo.pth").write_text(f"{REPO}\n{site}\n")
    script = root / ".venv" / "bin" / "callcenter"
    script.write_text(f"#!{root}/.venv/bin/python\nfrom callcenter.entry import main\nmain()\n")  # as pip writes it
    script.chmod(0o755)
    return root


@pytest.fixture
def postfix_pipe(workdir, database_url):  # noqa: ANN001, ANN201
    user = "nobody"
    if database_url.startswith("sqlite"):
        # The pipe runs as its own user: it must be able to write the database and its directory.
        path = Path(database_url.split("///", 1)[1])
        database_dir = workdir / "db"
        database_dir.mkdir()
        shutil.copy(path, database_dir / path.name)
        database_url = f"sqlite:///{database_dir / path.name}"
        for p in (database_dir, database_dir / path.name):
            shutil.chown(p, user)
    config = workdir / "hotline.toml"
    config.write_text(f'[database]\nurl = "{database_url}"\n')
    config.chmod(0o644)
    pf = PrivatePostfix(workdir / "postfix", lmtp_port=1, config_file=config, transport="pipe", pipe_user=user)
    pf.configure()
    install = pipe_install(workdir, user)
    for name in ("master.cf",):
        text = (pf.etc / name).read_text().replace(str(REPO), str(install))
        (pf.etc / name).write_text(text)
    pf.start()
    yield pf, database_url
    pf.stop()


def test_mail_through_postfix_and_the_pipe_becomes_tickets(demo, postfix_pipe):
    from callcenter.db import make_engine

    pf, database_url = postfix_pipe
    raw = make_mail(ANNA, "Pipe: a VPN nem megy", "Reggel óta.", encode_subject="utf-8")
    pf.sendmail(raw, HELPDESK)
    pf.sendmail(make_mail("pbx@athens-demo.example", "Pipe: PBX", "down"), HELPDESK)
    pf.sendmail(raw, HELPDESK)  # the same message again: a duplicate, stored once
    engine = make_engine(database_url)

    def rows(model) -> int:  # noqa: ANN001
        with engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(model)).scalar()

    try:
        wait_for(lambda: rows(MailSpool) == 3 and "Mail queue is empty" in pf.queue(), "three spooled mails", pf,
                 seen=lambda: f"{rows(MailSpool)} spooled")
        drain_spool(database_url)  # what the worker does every second
        with engine.connect() as conn:
            subjects = set(conn.execute(select(Ticket.subject)).scalars())
            sources = set(conn.execute(select(InboundMail.source)).scalars())
        assert rows(InboundMail) == 2 and rows(MailSpool) == 0
    finally:
        engine.dispose()
    assert subjects == {"Pipe: a VPN nem megy", "Pipe: PBX"} and sources == {"pipe"}
    log = pf.log()
    assert log.count("relay=hotline") == 3 and log.count("status=sent (delivered via hotline service)") == 3
