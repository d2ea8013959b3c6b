"""100 concurrent calls through a real Asterisk: none lost, none doubled, every row finished."""

from __future__ import annotations

from actors import Press
from hotline_helpers import ANNA, IN_HOURS, NIKOS
from pbx_fixtures import *  # noqa: F403
from sqlalchemy import func, select

from callcenter.models import Call


def test_hundred_concurrent_calls(make_hotline, demo, session) -> None:  # noqa: ANN001
    hotline = make_hotline(IN_HOURS)
    placed = [hotline.call(ANNA if i % 2 else NIKOS, [Press("5")]) for i in range(100)]
    for one in placed:
        hotline.wait_done(one, timeout=600)
    session.expire_all()
    uids = {hotline.uniqueid(one) for one in placed}
    assert len(uids) == 100
    rows = session.scalars(select(Call).where(Call.provider_call_id.in_(uids))).all()
    assert len(rows) == 100
    assert {(r.outcome, r.menu_path) for r in rows} == {("permission_refused", "5")}
    assert all(r.ended_at is not None and r.ended_at >= r.arrived_at for r in rows)
    assert session.scalar(select(func.count()).select_from(Call)) == 100
    assert hotline.server.calls_refused == 0
