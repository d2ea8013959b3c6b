"""Messages ingested per second for a realistic mix (plain, HTML, with attachment, replies).

    .venv/bin/python bench/mail_bench.py [N]      # SQLite, and PostgreSQL when 127.0.0.1:5432 answers

One transaction per message, as the MTA pipe does it. Goal: at least 100 messages/s on SQLite.
"""

from __future__ import annotations

import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent.parent), str(Path(__file__).resolve().parent.parent / "tests")]

from mailtools import make_mail  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from callcenter.config import load_settings  # noqa: E402
from callcenter.db import make_engine, make_session_factory, session_scope  # noqa: E402
from callcenter.demo import seed_demo  # noqa: E402
from callcenter.mail.ingest import ingest  # noqa: E402
from callcenter.migrate import upgrade  # noqa: E402
from callcenter.wiring import load_services  # noqa: E402

NOW = datetime(2026, 10, 6, 8, 0, tzinfo=UTC)
SENDERS = ["Kovács Anna <anna@budapest-demo.example>", "pbx@athens-demo.example", "someone@elsewhere.example"]


def mix(n: int) -> list[bytes]:
    out = []
    for i in range(n):
        sender = SENDERS[i % 3]
        kind = i % 4
        if kind == 0:
            out.append(make_mail(sender, f"Plain problem {i}", "The printer does not print.\n" * 20))
        elif kind == 1:
            out.append(make_mail(sender, f"HTML problem {i}", "see html",
                                 html="<p>Hello,</p><p>the <b>VPN</b> is down.</p>" * 10))
        elif kind == 2:
            out.append(make_mail(sender, f"Screenshot {i}", "attached",
                                 attachment=("screen.png", "image/png", b"\x89PNG" + bytes(40_000))))
        else:
            out.append(make_mail(sender, f"Re: [#{15000 + i - 3}] Plain problem", "Still broken.\n> quoted"))
    return out


def run(url: str, n: int) -> float:
    upgrade(url)
    engine = make_engine(url)
    settings = load_settings(env={"CALLCENTER_DATABASE_URL": url})
    settings.secret_key = "bench"
    factory = make_session_factory(engine)
    factory.configure(info={"settings": settings})
    with session_scope(factory) as session:
        seed_demo(session, NOW)
    messages = mix(n)
    start = time.perf_counter()
    for raw in messages:
        with session_scope(factory) as session:
            ingest(session, raw, settings=settings, now=NOW)
    elapsed = time.perf_counter() - start
    engine.dispose()
    return n / elapsed


def main() -> None:
    load_services()
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 400
    with tempfile.TemporaryDirectory() as tmp:
        rate = run(f"sqlite:///{tmp}/bench.sqlite", n)
        print(f"SQLite:     {rate:7.1f} messages/s ({n} messages: plain, HTML, attachment, replies); "
              f"goal (>= 100/s): {'PASS' if rate >= 100 else 'FAIL'}")
    admin = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    try:
        admin_engine = create_engine(admin, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
        name = f"hotline_mailbench_{uuid.uuid4().hex[:8]}"
        with admin_engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # no server: say so instead of failing
        print(f"PostgreSQL: skipped ({type(exc).__name__})")
        return
    try:
        rate = run(admin.rsplit("/", 1)[0] + f"/{name}", n)
        print(f"PostgreSQL: {rate:7.1f} messages/s ({n} messages)")
    finally:
        with admin_engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
