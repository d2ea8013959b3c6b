"""SQLite group commit: a commit is on disk before it returns (as with synchronous=FULL), but the disk
flush happens after the write lock is released and concurrent commits share one flush."""

from __future__ import annotations

import os
import threading
import time

from hotline_helpers import wait_until
from sqlalchemy import text

from callcenter import db
from callcenter.db import make_engine


def _engine(tmp_path):  # noqa: ANN001, ANN202
    engine = make_engine(f"sqlite:///{tmp_path / 'group.sqlite'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    return engine


class Flushes:
    """Counts the WAL flushes; `gate` holds each one until set."""

    def __init__(self, monkeypatch, delay: float = 0.0) -> None:  # noqa: ANN001
        self.paths: list[str] = []
        self.gate = threading.Event()
        self.gate.set()
        self.delay = delay
        real = os.fdatasync

        def fdatasync(fd: int) -> None:
            self.paths.append(os.readlink(f"/proc/self/fd/{fd}"))
            self.gate.wait(60)  # a ceiling far above any scheduling delay: a writer queued behind it shows
            time.sleep(self.delay)
            real(fd)

        monkeypatch.setattr(db.os, "fdatasync", fdatasync)


def test_connections_write_the_wal_without_waiting_and_flush_it_at_commit(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    engine = _engine(tmp_path)
    try:
        flushes = Flushes(monkeypatch)
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL: we flush
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (1)"))
        assert flushes.paths == [str(tmp_path / "group.sqlite-wal")]
        with engine.begin() as conn:  # a read-only transaction writes nothing to flush
            conn.execute(text("SELECT count(*) FROM t")).scalar()
        assert len(flushes.paths) == 1
    finally:
        engine.dispose()


def test_the_next_writer_does_not_wait_for_the_flush(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    engine = _engine(tmp_path)
    try:
        flushes = Flushes(monkeypatch)
        flushes.gate.clear()
        first_done = threading.Event()

        def first() -> None:
            with engine.begin() as conn:
                conn.execute(text("INSERT INTO t VALUES (1)"))
            first_done.set()

        thread = threading.Thread(target=first)
        thread.start()
        deadline = time.monotonic() + 10
        while not flushes.paths and time.monotonic() < deadline:
            time.sleep(0.01)
        assert flushes.paths and not first_done.is_set()  # committed, waiting for the disk
        conn = engine.connect()
        started = time.monotonic()
        conn.execute(text("INSERT INTO t VALUES (2)"))  # takes the write lock while the flush waits
        # Still gated: had the insert waited for the flush it would have taken the gate's 60 s ceiling (and the
        # first commit would be done). The bound is far above a loaded machine's delays, far below that.
        assert time.monotonic() - started < 30 and not first_done.is_set()
        flushes.gate.set()
        conn.commit()
        conn.close()
        thread.join(10)
        assert first_done.is_set()
    finally:
        engine.dispose()


def test_concurrent_commits_share_flushes(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    engine = _engine(tmp_path)
    try:
        flushes = Flushes(monkeypatch)
        flushes.gate.clear()  # the first flush waits until every writer has committed and waits for one
        entered: list[int] = []
        real_sync = db._WalSync.sync

        def sync(self) -> None:  # noqa: ANN001
            entered.append(1)
            real_sync(self)

        monkeypatch.setattr(db._WalSync, "sync", sync)

        def writer(i: int) -> None:
            with engine.begin() as conn:
                conn.execute(text("INSERT INTO t VALUES (:x)"), {"x": i})

        threads = [threading.Thread(target=writer, args=(i,)) for i in range(12)]
        for t in threads:
            t.start()
        # Ordered by events, not by timing: a loaded machine may start the writers far apart.
        wait_until(lambda: len(entered) == 12, 30, interval=0.01, what="every writer to commit")
        flushes.gate.set()
        for t in threads:
            t.join(30)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 12
        # The first flush, then one shared by the eleven that committed while it ran (one each: 12).
        assert 1 <= len(flushes.paths) <= 2, flushes.paths
    finally:
        engine.dispose()


def test_each_commit_waits_for_a_flush_that_started_after_it(monkeypatch, tmp_path) -> None:  # noqa: ANN001
    sync = db._WalSync(str(tmp_path / "x.sqlite"))
    events: list[str] = []
    release = threading.Event()

    def flush() -> None:
        events.append("flush")
        if len(events) == 1:
            release.wait(10)

    monkeypatch.setattr(sync, "_flush", flush)
    first = threading.Thread(target=sync.sync)
    first.start()
    while not events:
        time.sleep(0.01)
    # A commit made while the first flush runs is not covered by it: its own sync starts a second one.
    second = threading.Thread(target=lambda: (sync.sync(), events.append("second returned")))
    second.start()
    time.sleep(0.1)
    assert events == ["flush"]
    release.set()
    first.join(10)
    second.join(10)
    assert events == ["flush", "flush", "second returned"]
