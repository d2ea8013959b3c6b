"""Ticket numbers stay unique when many tickets are created at once."""

import threading

import pytest
from conftest import is_postgres
from sqlalchemy import select

from callcenter import tickets as svc
from callcenter.models import Ticket


def test_numbers_unique_under_concurrency(session_factory, demo, now):
    if not is_postgres():
        pytest.skip("SQLite has a single writer; the concurrency case is PostgreSQL's")
    numbers: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(10):
            s = session_factory()
            try:
                t = svc.create_ticket(s, svc.NewTicket(subject="c", channel="api", category="user",
                                                       company_id=demo.budapest.id), now=now)
                s.commit()
                with lock:
                    numbers.append(t.number)
            except BaseException as exc:  # collected and asserted below
                errors.append(exc)
            finally:
                s.close()

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    assert len(numbers) == 160 and len(set(numbers)) == 160
    with session_factory() as s:
        stored = [n for (n,) in s.execute(select(Ticket.number))]
    assert sorted(stored) == sorted(numbers)


def test_numbers_are_sequential_from_start(session, demo, now):
    made = [svc.create_ticket(session, svc.NewTicket(subject="s", channel="api", category="user"),
                              now=now, number_start=20000).number for _ in range(3)]
    assert made == [20000, 20001, 20002]
