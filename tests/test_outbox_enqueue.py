"""outbox.enqueue writes its row with one INSERT .. ON CONFLICT DO NOTHING (callcenter/bulk.py), not
through the unit of work: the row must be the one the ORM writes, column by column, the same key must
stay one row, and a value no column can hold must still be refused."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from callcenter import outbox
from callcenter.models import OutboxMessage
from callcenter.validation import InvalidInput

PAYLOAD = {"subject": "Jogosultság kérés [#15001]", "text": "Szia,\n\nköszönjük.", "headers": {"X-Loop": "a@b"},
           "message_id": "<x.15001@hotline.example>", "n": 3, "nested": [1, None, "é"]}


def _columns(row: OutboxMessage) -> dict:
    skip = ("id", "idempotency_key")
    return {c.key: getattr(row, c.key) for c in OutboxMessage.__table__.columns if c.key not in skip}


def test_enqueue_writes_the_row_the_orm_writes(session, session_factory, now) -> None:  # noqa: ANN001
    kw = dict(channel="email", destination="anna@budapest-demo.example", payload=PAYLOAD, now=now,
              source_kind="mail", source_id=7, max_attempts=4, not_before=now + timedelta(minutes=5))
    fast = outbox.enqueue(session, key="fast", **kw)
    session.add(OutboxMessage(**outbox.new_row(key="orm", **kw)))
    session.commit()
    assert fast.id is not None and fast.payload == PAYLOAD
    with session_factory() as fresh:  # as stored, read back by another session
        rows = {r.idempotency_key: r for r in fresh.scalars(select(OutboxMessage))}
        assert _columns(rows["fast"]) == _columns(rows["orm"])
        assert rows["fast"].id == fast.id


def test_the_same_key_is_one_row_pending_flushed_or_committed(session, now) -> None:  # noqa: ANN001
    def queue(text: str) -> OutboxMessage:
        return outbox.enqueue(session, key="k", channel="sms", destination="+3612345678",
                              payload={"text": text}, now=now)

    first = queue("one")
    assert queue("two") is first  # in the session, not flushed
    session.flush()
    assert queue("three") is first
    session.commit()
    session.expunge_all()
    again = queue("four")  # committed before: the row as it is, nothing written
    assert again.id == first.id and again.payload == {"text": "one"}
    assert len(session.scalars(select(OutboxMessage)).all()) == 1


@pytest.mark.parametrize("destination", ["+36\x001234", "x" * 501])
def test_a_value_no_column_holds_is_refused(session, now, destination: str) -> None:  # noqa: ANN001
    with pytest.raises(InvalidInput):
        outbox.enqueue(session, key="bad", channel="sms", destination=destination, payload={}, now=now)
