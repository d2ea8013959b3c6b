"""The database stalls or goes away in the middle of a FastAGI call (PostgreSQL behind a TCP proxy).

A caller who is already past the greeting, at the menu or typing a ticket number, must never hear
silence or a dead line: the turn that needs the database gives up within its budget
(CALLCENTER_VOICE_TURN_SECONDS) and the caller is dialled through to the emergency number. Once the
database is back, each of those calls' rows is closed (by the call's own end, or by the process's
heartbeat sweep), and a new call works.

Printed: how long each caller waited between their key and the emergency Dial."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from agi_peer import AGIPeer, plausible_reply, run_peers
from conftest import is_postgres
from faults.procs import Service, hotline_config, open_all_day, wait_until
from faults.proxy import StallingProxy
from hotline_helpers import ANNA
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from callcenter.models import Call

pytestmark = pytest.mark.skipif(not is_postgres(), reason="stalls a PostgreSQL connection through a TCP proxy")

TURN_SECONDS = 5.0
EMERGENCY = "+3615550199"


class Caller:
    """An AGI call that answers GET DATA with `keys` in turn; `fault` runs just before answering the
    GET DATA numbered `fault_at` (0: the menu). Notes when the emergency Dial comes."""

    def __init__(self, name: str, keys: list[str], fault_at: int, fault: Callable[[str], None]) -> None:
        self.keys, self.fault_at, self.fault = keys, fault_at, fault
        self.gets = 0
        self.faulted_at: float | None = None
        self.dialled_after: float | None = None
        self.dials: list[str] = []
        self.peer = AGIPeer([], callerid=ANNA, uniqueid=f"agi-stall.{name}", script="hotline",
                            auto_reply=self.reply, io_timeout=30)

    def reply(self, line: str) -> str:
        if line.startswith("GET DATA"):
            n, self.gets = self.gets, self.gets + 1
            if n == self.fault_at:
                self.fault(self.peer.uniqueid)
                self.faulted_at = time.monotonic()
            return f"200 result={self.keys[n] if n < len(self.keys) else ''}"
        if line.startswith("EXEC Dial"):
            self.dials.append(line)
            if self.faulted_at is not None and self.dialled_after is None:
                self.dialled_after = time.monotonic() - self.faulted_at
        return plausible_reply(line)


def test_the_database_stalls_or_goes_away_in_the_middle_of_a_call(database_url, demo, session, tmp_path):  # noqa: ANN001
    open_all_day(session, demo.budapest.id, threshold=600)
    real = make_url(database_url)
    proxy = StallingProxy(real.host or "127.0.0.1", real.port or 5432).start()
    proxied = real.set(host=proxy.host, port=proxy.port).render_as_string(hide_password=False)
    config = hotline_config(proxied, tmp_path, lost_seconds=8, turn_seconds=TURN_SECONDS, statement_timeout=5)
    serve = Service("serve", config, tmp_path).start().wait_ready()

    def once_written(fault: Callable[[], None]) -> Callable[[str], None]:
        # In the middle of the call: its row is written (while the first prompts play), then the fault.
        def act(uniqueid: str) -> None:
            wait_until(lambda: _row(session, uniqueid), 20, interval=0.05, what=f"{uniqueid}'s row")
            fault()
        return act

    callers = [
        Caller("stalled-at-menu", ["1"], 0, once_written(proxy.stall)),  # the previewed key: its writes fail
        Caller("stalled-at-number", ["3", "15000"], 1, once_written(proxy.stall)),  # a look-up the caller waits on
        Caller("refused-at-menu", ["1"], 0, once_written(proxy.refuse)),
        Caller("refused-at-number", ["3", "15000"], 1, once_written(proxy.refuse)),
    ]
    try:
        for caller in callers:
            run_peers(*serve.agi_address, [caller.peer])
            proxy.recover()
            wait_until(lambda: _healthy(serve), 30, what="the service to see the database again")
        print("\n" + "; ".join(f"{c.peer.uniqueid}: emergency Dial {c.dialled_after:.1f} s after the key"
                               if c.dialled_after is not None else f"{c.peer.uniqueid}: no Dial" for c in callers))
        for caller in callers:
            caller.peer.assert_ok()
            assert caller.faulted_at is not None, caller.peer.commands
            assert caller.dials and all(EMERGENCY in d for d in caller.dials), caller.peer.commands
            assert caller.dialled_after is not None and caller.dialled_after < 15, caller.peer.commands

        after = Caller("after", ["1"], 99, lambda _: None)
        run_peers(*serve.agi_address, [after.peer])
        after.peer.assert_ok()
        assert not after.dials, after.peer.commands  # the critical fault is taken again
        # Every call's row is closed: by its own end once the database answered, or by the sweep.
        wait_until(lambda: _open_calls(session) == 0, 60, interval=0.5, what="every call's row closed")
        ids = {c.peer.uniqueid for c in callers}
        rows = list(session.scalars(select(Call).where(Call.provider_call_id.in_(ids))))
        assert len(rows) == len(callers)
        assert all(r.ended_at is not None for r in rows), [(r.provider_call_id, r.ended_at) for r in rows]
    finally:
        serve.stop()
        proxy.stop()


def _healthy(serve: Service) -> bool:
    import requests

    try:
        return requests.get(serve.web_url + "/healthz", timeout=5).status_code == 200
    except requests.RequestException:
        return False


def _row(session, uniqueid: str) -> bool:  # noqa: ANN001
    session.expire_all()
    found = session.scalar(select(Call.id).where(Call.provider_call_id == uniqueid)) is not None
    session.rollback()
    return found


def _open_calls(session) -> int:  # noqa: ANN001
    session.expire_all()
    return session.scalar(select(func.count()).select_from(Call).where(Call.ended_at.is_(None)))
