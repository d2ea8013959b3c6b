"""Mail intake speed, side by side in one run (a realistic mix: plain, HTML, attachment, replies):

    .venv/bin/python bench/mail_bench.py [N] [--no-start]   # SQLite, and PostgreSQL when 127.0.0.1:5432 answers

1. end to end through the recommended path: a private Postfix built from deploy/postfix/ (as root,
   when Postfix is installed) takes the mails over SMTP and delivers them by LMTP to a
   `callcenter mail-listen --lmtp` process; the clock stops when the last mail is committed.
   Goal: at least 200 mails/s.
2. LMTP alone: the same mails straight to `callcenter mail-listen --lmtp` (reply 250 = committed).
3. in process: ingest() in a loop, one transaction per message (the service's own cost), with the
   SQL statements and commits per mail (figures a busy machine does not change).
4. process start to exit: `callcenter --help` and `callcenter mail-ingest` (one plain mail, SQLite),
   median of 15 runs. Goal: under 150 ms. `--no-start` skips it (bench/cli_start_bench.py has p50/p95).

Beside each rate: the CPU the listener (or this process) used per mail, which a busy machine inflates
far less than the wall clock; PostgreSQL's own server processes and Postfix's are not in it. Load
averages are printed with each line: on a shared machine the rates mean little without them.
"""

from __future__ import annotations

import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from mailtools import make_mail  # noqa: E402
from sqlalchemy import create_engine, event, func, select, text  # noqa: E402

from callcenter.config import load_settings  # noqa: E402
from callcenter.db import make_engine, make_session_factory, session_scope  # noqa: E402
from callcenter.demo import seed_demo  # noqa: E402
from callcenter.mail.ingest import ingest  # noqa: E402
from callcenter.migrate import upgrade  # noqa: E402
from callcenter.models import InboundMail  # noqa: E402
from callcenter.wiring import load_services  # noqa: E402

NOW = datetime(2026, 10, 6, 8, 0, tzinfo=UTC)
SENDERS = ["Kovács Anna <anna@budapest-demo.example>", "pbx@athens-demo.example", "someone@elsewhere.example"]
HELPDESK = "helpdesk@hotline.example"
CALLCENTER = str(ROOT / ".venv" / "bin" / "callcenter")
CONNECTIONS = 4


def mix(n: int, tag: str = "") -> list[bytes]:
    out = []
    for i in range(n):
        sender = SENDERS[i % 3]
        kind = i % 4
        if kind == 0:
            out.append(make_mail(sender, f"Plain problem {tag}{i}", "The printer does not print.\n" * 20))
        elif kind == 1:
            out.append(make_mail(sender, f"HTML problem {tag}{i}", "see html",
                                 html="<p>Hello,</p><p>the <b>VPN</b> is down.</p>" * 10))
        elif kind == 2:
            out.append(make_mail(sender, f"Screenshot {tag}{i}", "attached",
                                 attachment=("screen.png", "image/png", b"\x89PNG" + bytes(40_000))))
        else:
            out.append(make_mail(sender, f"Re: [#{15000 + i - 3}] Plain problem", "Still broken.\n> quoted"))
    return out


class Database:
    """A fresh, migrated, seeded database (a SQLite file, or a PostgreSQL database dropped after)."""

    def __init__(self, kind: str, tmp: Path) -> None:
        self.kind = kind
        self.admin = None
        if kind == "sqlite":
            self.url = f"sqlite:///{tmp / f'bench-{uuid.uuid4().hex[:6]}.sqlite'}"
        else:
            self.admin = create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
                                       isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
            self.name = f"hotline_mailbench_{uuid.uuid4().hex[:8]}"
            with self.admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{self.name}"'))
            self.url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{self.name}"
        upgrade(self.url)
        self.engine = make_engine(self.url)
        self.settings = load_settings(env={"CALLCENTER_DATABASE_URL": self.url})
        self.factory = make_session_factory(self.engine, self.settings)
        with session_scope(self.factory) as session:
            seed_demo(session, NOW)

    def inbound(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(InboundMail)).scalar()

    def drop(self) -> None:
        self.engine.dispose()
        if self.admin is not None:
            with self.admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
            self.admin.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def processes(db: Database) -> int:
    # SQLite has one writer at a time: one listener process; PostgreSQL: one per core.
    return 1 if db.kind == "sqlite" else max(1, os.cpu_count() or 1)


def start_listener(db: Database) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = {**os.environ, "CALLCENTER_DATABASE_URL": db.url}
    proc = subprocess.Popen([CALLCENTER, "mail-listen", "--lmtp", "--processes", str(processes(db)),
                             "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(600):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    proc.terminate()  # the parent stops its forked listener processes too
    raise RuntimeError("mail-listen --lmtp did not start")


def stuff(raw: bytes) -> bytes:
    raw = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    if raw.startswith(b"."):
        raw = b"." + raw
    return raw.replace(b"\r\n.", b"\r\n..").rstrip(b"\r\n") + b"\r\n.\r\n"


def send_session(port: int, messages: list[bytes], greeting: bytes, replies_per_message: int) -> None:
    """One connection: pipelined MAIL/RCPT/DATA, then the data, per message (LMTP or SMTP)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=120)
    reader = sock.makefile("rb")

    def reply() -> bytes:
        while True:
            line = reader.readline()
            if not line:
                raise RuntimeError("connection closed")
            if line[3:4] != b"-":
                return line

    reply()
    sock.sendall(greeting + b" bench.example\r\n")
    reply()
    for raw in messages:
        sock.sendall(b"MAIL FROM:<bench@elsewhere.example>\r\nRCPT TO:<" + HELPDESK.encode() + b">\r\nDATA\r\n")
        for _ in range(3):
            code = reply()
        if not code.startswith(b"354"):
            raise RuntimeError(f"DATA refused: {code!r}")
        sock.sendall(stuff(raw))
        for _ in range(replies_per_message):
            code = reply()
            if not code.startswith(b"250"):
                raise RuntimeError(f"not accepted: {code!r}")
    sock.sendall(b"QUIT\r\n")
    sock.close()


def send_all(port: int, messages: list[bytes], greeting: bytes) -> None:
    chunks = [messages[i::CONNECTIONS] for i in range(CONNECTIONS)]
    threads = [threading.Thread(target=send_session, args=(port, chunk, greeting, 1)) for chunk in chunks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def process_tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by a process and its children (the forked listeners,
    Postfix's daemons), those alive and those that ended (reaped: counted in their parent's figures)."""
    total, todo, first = 0.0, [pid], True
    while todo:
        current = todo.pop()
        try:
            with open(f"/proc/{current}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{current}/task/{current}/children") as fh:
                todo += [int(child) for child in fh.read().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        if first:
            total += (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")
            first = False
    return total


def postfix_cpu(pf) -> float:  # noqa: ANN001
    """CPU seconds used so far by the private Postfix (master and every daemon it started)."""
    try:
        master = int((pf.root / "spool" / "pid" / "master.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0
    return process_tree_cpu(master)


def bench_in_process(db: Database, n: int) -> tuple[float, float, float, float]:
    """(mails/s, CPU ms per mail of this process, statements and commits per mail): the statements
    and commits do not depend on how busy the machine is."""
    messages = mix(n, "p")
    counts = {"statements": 0, "commits": 0}

    def statement(*_args: object) -> None:
        counts["statements"] += 1

    def commit(*_args: object) -> None:
        counts["commits"] += 1

    event.listen(db.engine, "before_cursor_execute", statement)
    event.listen(db.engine, "commit", commit)
    start, cpu = time.perf_counter(), time.process_time()
    for raw in messages:
        with session_scope(db.factory) as session:
            ingest(session, raw, settings=db.settings, now=NOW)
    rate, cpu = n / (time.perf_counter() - start), (time.process_time() - cpu) / n * 1000
    event.remove(db.engine, "before_cursor_execute", statement)
    event.remove(db.engine, "commit", commit)
    return rate, cpu, counts["statements"] / n, counts["commits"] / n


def bench_lmtp(db: Database, n: int) -> tuple[float, float]:
    """(mails/s, the listener's CPU ms per mail)."""
    proc, port = start_listener(db)
    try:
        send_all(port, mix(20, "w"), b"LHLO")  # warm up: imports, caches, connections
        messages = mix(n, "l")
        start, cpu = time.perf_counter(), process_tree_cpu(proc.pid)
        send_all(port, messages, b"LHLO")
        return n / (time.perf_counter() - start), (process_tree_cpu(proc.pid) - cpu) / n * 1000
    finally:
        proc.terminate()
        proc.wait(30)


def bench_postfix(db: Database, n: int, tmp: Path) -> tuple[float | None, str, float, float, float]:
    """(mails/s or None, why not, the listener's CPU ms per mail, the rate at which Postfix accepted
    the mails over SMTP (the end to end rate cannot exceed it), Postfix's own CPU ms per mail)."""
    from postfix_harness import PrivatePostfix, postfix_missing

    why = postfix_missing()
    if why:
        return None, why, 0.0, 0.0, 0.0
    proc, port = start_listener(db)
    root = tmp / f"postfix-{uuid.uuid4().hex[:6]}"
    config = tmp / "hotline.toml"
    config.write_text(f'[database]\nurl = "{db.url}"\n')
    pf = PrivatePostfix(root, lmtp_port=port, config_file=config).configure()
    try:
        pf.start()
        before = db.inbound()
        send_all(pf.smtp_port, mix(20, "w"), b"EHLO")
        wait_until(lambda: db.inbound() >= before + 20, pf)
        messages = mix(n, "e")
        before = db.inbound()
        start, cpu, mta = time.perf_counter(), process_tree_cpu(proc.pid), postfix_cpu(pf)
        send_all(pf.smtp_port, messages, b"EHLO")
        accepted = time.perf_counter() - start
        wait_until(lambda: db.inbound() >= before + n, pf)
        took = time.perf_counter() - start
        return (n / took, "", (process_tree_cpu(proc.pid) - cpu) / n * 1000, n / accepted,
                (postfix_cpu(pf) - mta) / n * 1000)
    finally:
        pf.stop()
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(root, ignore_errors=True)


def wait_until(check, pf, timeout: float = 600) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.02)
    raise RuntimeError(f"timed out; queue:\n{pf.queue()}\n{pf.log()[-2000:]}")


def bench_process_start(tmp: Path) -> tuple[float, float]:
    url = f"sqlite:///{tmp / 'start.sqlite'}"
    upgrade(url)
    env = {**os.environ, "CALLCENTER_DATABASE_URL": url}
    plain = make_mail(SENDERS[0], "Printer", "The printer does not print.")

    def median(argv: list[str], stdin: bytes | None) -> float:
        times = []
        for _ in range(15):
            start = time.perf_counter()
            subprocess.run(argv, input=stdin, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           check=True)
            times.append(time.perf_counter() - start)
        return statistics.median(times) * 1000

    return median([CALLCENTER, "--help"], None), median([CALLCENTER, "mail-ingest"], plain)


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main() -> None:
    load_services()
    numbers = [a for a in sys.argv[1:] if a.isdigit()]
    n = int(numbers[0]) if numbers else 400
    kinds = ["sqlite"]
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=2).close()
        kinds.append("postgresql")
    except OSError:
        print("PostgreSQL: skipped (nothing answers on 127.0.0.1:5432)")
    print(f"load average {load()}")
    with tempfile.TemporaryDirectory(prefix="hotline-mailbench-") as name:
        tmp = Path(name)
        tmp.chmod(0o755)
        if "--no-start" not in sys.argv:
            help_ms, ingest_ms = bench_process_start(tmp)
            print(f"process start to exit (median of 15): callcenter --help {help_ms:5.0f} ms, "
                  f"mail-ingest {ingest_ms:5.0f} ms (plain mail, SQLite); goal < 150 ms: "
                  f"{verdict(help_ms < 150 and ingest_ms < 150)} (bench/cli_start_bench.py: p50/p95)")
        for kind in kinds:
            label = "SQLite    " if kind == "sqlite" else "PostgreSQL"
            for what in ("postfix", "lmtp", "in-process"):
                db = Database(kind, tmp)
                try:
                    if what == "postfix":
                        rate, why, cpu, smtp, mta = bench_postfix(db, n, tmp)
                        if rate is None:
                            print(f"{label} Postfix -> LMTP end to end: skipped ({why})")
                        else:
                            print(f"{label} Postfix -> LMTP end to end: {rate:6.1f} mails/s ({n} mails, "
                                  f"{CONNECTIONS} SMTP connections, {processes(db)} listener process(es); "
                                  f"listener CPU {cpu:.1f} ms/mail; Postfix accepted {smtp:.0f}/s, "
                                  f"its CPU {mta:.1f} ms/mail); "
                                  f"goal >= 200/s: {verdict(rate >= 200)}; "
                                  f"load {load()}")
                    elif what == "lmtp":
                        rate, cpu = bench_lmtp(db, n)
                        print(f"{label} LMTP alone:                {rate:6.1f} mails/s ({n} mails, "
                              f"{CONNECTIONS} connections, {processes(db)} listener process(es); "
                              f"listener CPU {cpu:.1f} ms/mail); load {load()}")
                    else:
                        rate, cpu, statements, commits = bench_in_process(db, n)
                        print(f"{label} ingest in process:         {rate:6.1f} mails/s ({n} mails; "
                              f"CPU {cpu:.1f} ms/mail; {statements:.1f} statements and {commits:.2f} "
                              f"commits per mail); load {load()}")
                finally:
                    db.drop()


if __name__ == "__main__":
    main()
