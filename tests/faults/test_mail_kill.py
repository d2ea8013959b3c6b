"""kill -9 of `callcenter mail-listen --lmtp` while mails arrive, then a restart on the same port: like Postfix,
the senders deliver each mail again until it is answered 250, so some mails the listener had committed before it
died arrive twice. Every mail is stored once, and is one ticket.

Printed: mails, kills, deliveries that failed and were retried, rows and tickets."""

from __future__ import annotations

import os
import signal
import smtplib
import subprocess
import threading
import time

from faults.procs import CALLCENTER, free_port, wait_until, write_config
from mailtools import make_mail
from sqlalchemy import func, select

from callcenter.models import InboundMail, Ticket

ANNA = "Kovács Anna <anna@budapest-demo.example>"
HELPDESK = "helpdesk@hotline.example"
MAILS = 60
SENDERS = 4
KILLS = 2


class Listener:
    def __init__(self, config, port: int) -> None:  # noqa: ANN001
        self.config, self.port, self.proc = config, port, None

    def start(self) -> Listener:
        env = {**os.environ, "CALLCENTER_CONFIG": str(self.config)}
        env.pop("CALLCENTER_DATABASE_URL", None)
        self.proc = subprocess.Popen([CALLCENTER, "mail-listen", "--lmtp", "--port", str(self.port)], env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        wait_until(self.up, 60, what="mail-listen --lmtp")
        return self

    def up(self) -> bool:
        try:
            with smtplib.LMTP("127.0.0.1", self.port, timeout=2):
                return True
        except OSError:
            return False

    def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)


def test_kill_9_of_the_lmtp_listener_while_mail_arrives(database_url, demo, session, session_factory,
                                                        tmp_path):  # noqa: ANN001
    config = write_config(tmp_path / "hotline.toml", {"database": {"url": database_url}})
    listener = Listener(config, free_port()).start()
    queue = [make_mail(ANNA, f"kill test mail {i}") for i in range(MAILS)]
    accepted: list[int] = []
    retried = [0]
    stored_unanswered = [0]  # retried although the dead listener had stored it: the duplicate to refuse
    lock = threading.Lock()

    def stored(subject: str) -> bool:
        with session_factory() as s:
            return s.scalar(select(InboundMail.id).where(InboundMail.subject == subject).limit(1)) is not None

    def sender() -> None:
        while True:
            with lock:
                if not queue:
                    return
                subject = f"kill test mail {len(queue) - 1}"
                raw = queue.pop()
            while True:  # as an MTA does: again until 250 (the deferred queue, shortened)
                try:
                    with smtplib.LMTP("127.0.0.1", listener.port, timeout=60) as client:
                        client.sendmail("anna@budapest-demo.example", [HELPDESK], raw)
                    break
                except (OSError, smtplib.SMTPException):
                    again = stored(subject)
                    with lock:
                        retried[0] += 1
                        stored_unanswered[0] += again
                    time.sleep(0.2)
            with lock:
                accepted.append(1)

    threads = [threading.Thread(target=sender) for _ in range(SENDERS)]
    try:
        for t in threads:
            t.start()
        for k in range(KILLS):
            wait_until(lambda k=k: len(accepted) >= (k + 1) * MAILS // (KILLS + 2), 120, interval=0.02,
                       what="mails accepted")
            listener.kill()
            listener.start()
        for t in threads:
            t.join(timeout=180)
    finally:
        listener.stop()
    session.expire_all()
    subjects = list(session.scalars(select(InboundMail.subject)))
    tickets = session.scalar(select(func.count()).select_from(Ticket))
    print(f"\nkill -9 of mail-listen --lmtp {KILLS}x while {SENDERS} senders deliver {MAILS} mails: accepted "
          f"{len(accepted)}, failed and retried {retried[0]} "
          f"({stored_unanswered[0]} of them for a mail already stored), "
          f"stored {len(subjects)} ({len(set(subjects))} distinct), "
          f"tickets {tickets}")
    assert len(accepted) == MAILS
    assert sorted(subjects) == sorted(f"kill test mail {i}" for i in range(MAILS))
    assert tickets == MAILS
