"""FastAGI warms up before the first call without leaving anything behind (issue 13 item 7)."""

from __future__ import annotations

from sqlalchemy import func, select

from callcenter.models import Call, Ticket
from webhooks.fastagi import HotlineAGI


def test_warm_up_writes_nothing(settings, engine, demo, session) -> None:  # noqa: ANN001
    HotlineAGI(settings, engine).warm_up()
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Call)) == 0
    assert session.scalar(select(func.count()).select_from(Ticket)) == 0


def test_warm_up_on_an_empty_database_is_harmless(settings, engine) -> None:  # noqa: ANN001
    HotlineAGI(settings, engine).warm_up()
