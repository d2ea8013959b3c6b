"""Mail intake while PostgreSQL stalls (accepts connections, never answers) and when it is unreachable:
the LMTP and SMTP listeners answer 451 and the pipe exits 75 within the database timeouts, nothing is
half-written, and the same mails are stored once after the recovery.

Printed: how long each intake took to give its answer during the stall."""

from __future__ import annotations

import os
import smtplib
import subprocess
import time

import pytest
from conftest import is_postgres
from faults.procs import CALLCENTER, free_port, wait_until, write_config
from faults.proxy import StallingProxy
from mailpipe import drain_spool
from mailtools import make_mail
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from callcenter.models import InboundMail, MailSpool, Ticket

pytestmark = pytest.mark.skipif(not is_postgres(), reason="stalls a PostgreSQL connection through a TCP proxy")
ANNA = "Kovács Anna <anna@budapest-demo.example>"
HELPDESK = "helpdesk@hotline.example"
# Every wait is bounded by these (CALLCENTER_DB_CONNECT_TIMEOUT, CALLCENTER_DB_STATEMENT_TIMEOUT).
CONNECT, STATEMENT = 2, 3
BOUND = 30  # generous on a loaded CI machine; the printed figures say what it really took


def listener(config, *args: str) -> tuple[subprocess.Popen, int]:  # noqa: ANN001
    port = free_port()
    env = {**os.environ, "CALLCENTER_CONFIG": str(config)}
    env.pop("CALLCENTER_DATABASE_URL", None)
    proc = subprocess.Popen([CALLCENTER, "mail-listen", *args, "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def up() -> bool:
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=2) if "--lmtp" not in args else \
                    smtplib.LMTP("127.0.0.1", port, timeout=2):
                return True
        except OSError:
            return False

    wait_until(up, 60, what=f"mail-listen {' '.join(args)}")
    return proc, port


def deliver(port: int, raw: bytes, lmtp: bool) -> int:
    client = smtplib.LMTP("127.0.0.1", port, timeout=120) if lmtp else smtplib.SMTP("127.0.0.1", port, timeout=120)
    with client:
        try:
            client.sendmail("anna@budapest-demo.example", [HELPDESK], raw)
        except smtplib.SMTPDataError as exc:
            return exc.smtp_code
    return 250


def pipe(config, raw: bytes) -> int:  # noqa: ANN001
    env = {**os.environ, "CALLCENTER_CONFIG": str(config)}
    env.pop("CALLCENTER_DATABASE_URL", None)
    proc = subprocess.run([CALLCENTER, "mail-ingest"], input=raw, env=env, capture_output=True, timeout=120)
    assert proc.stdout == b""
    return proc.returncode


def timed(fn):  # noqa: ANN001, ANN201
    started = time.monotonic()
    return fn(), time.monotonic() - started


def test_mail_intake_while_the_database_stalls(database_url, demo, session, tmp_path):
    real = make_url(database_url)
    proxy = StallingProxy(real.host or "127.0.0.1", real.port or 5432).start()
    proxied = real.set(host=proxy.host, port=proxy.port).render_as_string(hide_password=False)
    config = write_config(tmp_path / "hotline.toml", {"database": {
        "url": proxied, "connect_timeout": CONNECT, "statement_timeout": STATEMENT, "pool_timeout": CONNECT}})
    lmtp, lmtp_port = listener(config, "--lmtp")
    smtp, smtp_port = listener(config)
    mails = {name: make_mail(ANNA, f"during the stall: {name}") for name in ("lmtp", "smtp", "pipe")}
    try:
        assert deliver(lmtp_port, make_mail(ANNA, "before the stall"), lmtp=True) == 250
        proxy.stall()
        code_lmtp, t_lmtp = timed(lambda: deliver(lmtp_port, mails["lmtp"], lmtp=True))
        code_smtp, t_smtp = timed(lambda: deliver(smtp_port, mails["smtp"], lmtp=False))
        code_pipe, t_pipe = timed(lambda: pipe(config, mails["pipe"]))
        print(f"\nstalled database: LMTP answered {code_lmtp} after {t_lmtp:.1f} s, SMTP {code_smtp} after "
              f"{t_smtp:.1f} s, the pipe exited {code_pipe} after {t_pipe:.1f} s")
        assert (code_lmtp, code_smtp, code_pipe) == (451, 451, 75)
        assert max(t_lmtp, t_smtp, t_pipe) < BOUND
        proxy.recover()
        # The MTA retries: each mail is stored once.
        assert wait_until(lambda: deliver(lmtp_port, mails["lmtp"], lmtp=True) == 250, 60, interval=1,
                          what="LMTP after the recovery")
        assert deliver(smtp_port, mails["smtp"], lmtp=False) == 250
        assert pipe(config, mails["pipe"]) == 0
        drain_spool(database_url)
        proxy.cut()  # unreachable: connections reset
        proxy.stop()
        code_lmtp, t_lmtp = timed(lambda: deliver(lmtp_port, make_mail(ANNA, "after the cut"), lmtp=True))
        code_pipe, t_pipe = timed(lambda: pipe(config, make_mail(ANNA, "after the cut")))
        print(f"unreachable database: LMTP answered {code_lmtp} after {t_lmtp:.1f} s, the pipe exited "
              f"{code_pipe} after {t_pipe:.1f} s")
        assert (code_lmtp, code_pipe) == (451, 75) and max(t_lmtp, t_pipe) < BOUND
    finally:
        for proc in (lmtp, smtp):
            proc.terminate()
            proc.wait(timeout=30)
        proxy.stop()
    session.expire_all()
    subjects = sorted(session.scalars(select(InboundMail.subject)))
    assert subjects == sorted(["before the stall", *(f"during the stall: {n}" for n in mails)])
    assert session.scalar(select(func.count()).select_from(Ticket)) == 4
    assert session.scalar(select(func.count()).select_from(MailSpool)) == 0
