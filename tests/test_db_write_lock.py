"""The process-wide SQLite write lock: writers queue on it, and it is always given back."""

from __future__ import annotations

import threading
import time

from sqlalchemy import text

from callcenter.db import make_engine


def _engine(tmp_path):  # noqa: ANN001, ANN202
    engine = make_engine(f"sqlite:///{tmp_path}/lock.sqlite")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    return engine


def test_second_writer_waits_for_commit_not_for_busy_polling(tmp_path) -> None:
    engine = _engine(tmp_path)
    order: list[str] = []
    first_wrote = threading.Event()

    def first() -> None:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (1)"))
            first_wrote.set()
            time.sleep(0.3)
            order.append("first commits")

    def second() -> None:
        first_wrote.wait(30)
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (2)"))
            order.append("second wrote")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert order == ["first commits", "second wrote"]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 2
    engine.dispose()


def test_lock_released_on_rollback_and_reads_never_take_it(tmp_path) -> None:
    engine = _engine(tmp_path)
    with engine.connect() as conn:
        conn.execute(text("SELECT count(*) FROM t"))
        assert not conn.connection.dbapi_connection.holds_write_lock
        conn.execute(text("INSERT INTO t VALUES (1)"))
        assert conn.connection.dbapi_connection.holds_write_lock
        conn.rollback()
        assert not conn.connection.dbapi_connection.holds_write_lock
    # another thread can write at once: nothing was left holding the lock
    done = threading.Event()

    def writer() -> None:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (2)"))
        done.set()

    threading.Thread(target=writer).start()
    assert done.wait(30)
    engine.dispose()


def test_same_thread_second_connection_does_not_wait_for_its_own_lock(tmp_path) -> None:
    engine = _engine(tmp_path)
    with engine.connect() as a, engine.connect() as b:
        a.execute(text("INSERT INTO t VALUES (1)"))
        assert a.connection.dbapi_connection.holds_write_lock
        started = time.monotonic()
        b.connection.dbapi_connection.take_write_lock()  # would wait 30 s if it queued behind itself
        assert time.monotonic() - started < 10  # a loaded machine's delay, not the 30 s of a self-deadlock
        assert not b.connection.dbapi_connection.holds_write_lock
        a.commit()
    engine.dispose()


def test_savepoint_release_does_not_commit_the_session_early(tmp_path) -> None:
    """pysqlite opens no transaction before SAVEPOINT: RELEASE used to commit the work so far."""
    from sqlalchemy.orm import Session

    engine = _engine(tmp_path)
    with Session(engine) as session:
        session.execute(text("SELECT 1"))
        with session.begin_nested():
            session.execute(text("INSERT INTO t VALUES (1)"))
        session.execute(text("INSERT INTO t VALUES (2)"))
        session.rollback()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 0
    engine.dispose()
