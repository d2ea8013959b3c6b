"""Group commit of the LMTP listener (callcenter/mail/group.py): concurrent deliveries share a
transaction, each mail in a savepoint; one bad mail sinks nothing else, a twin is a duplicate, and a
transient failure answers the whole batch 451 with nothing stored."""

from __future__ import annotations

import threading

from mailtools import make_mail
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError

import callcenter.mail.group as group
from callcenter.mail.group import GroupIngest
from callcenter.models import InboundMail, OutboxMessage, Ticket, TicketSearch
from callcenter.wiring import load_services

load_services()
ANNA = "Kovács Anna <anna@budapest-demo.example>"
HELPDESK = "helpdesk@hotline.example"


def held(ingestor: GroupIngest, mails: list[bytes], monkeypatch) -> list[str]:  # noqa: ANN001
    """Deliver `mails` as one batch. The (single) committer is first kept busy with a placeholder delivery,
    never stored, while they all queue: then it takes them together. Submitting them while the committer
    was idle raced it (under load it took the first mail alone, and the batch split)."""
    gate, busy, real = threading.Event(), threading.Event(), group.GroupIngest._store

    def store(self, batch):  # noqa: ANN001, ANN202
        if not busy.is_set():
            busy.set()
            gate.wait(30)
            for d in batch:
                d.future.set_result("placeholder")
            return None
        return real(self, batch)

    monkeypatch.setattr(group.GroupIngest, "_store", store)
    ingestor.submit(b"placeholder", HELPDESK)
    assert busy.wait(30)
    futures = [ingestor.submit(raw, HELPDESK) for raw in mails]
    gate.set()
    return [f.result(60) for f in futures]


def test_a_batch_commits_once_and_one_bad_mail_is_quarantined_alone(demo, session, session_factory, settings,
                                                                    engine, monkeypatch):  # noqa: ANN001
    real_ingest = group.ingest

    def ingest(session, raw, **kw):  # noqa: ANN001, ANN202
        result = real_ingest(session, raw, **kw)  # written, then it fails: its savepoint must undo it
        if b"poison" in raw:
            raise ValueError("a bug that hits this mail only")
        return result

    monkeypatch.setattr(group, "ingest", ingest)
    commits = []
    event.listen(engine, "commit", lambda conn: commits.append(1))
    ingestor = GroupIngest(session_factory, settings, committers=1)
    mails = [make_mail(ANNA, f"Batch mail {i}", "The printer.") for i in range(5)]
    mails.insert(2, make_mail(ANNA, "poison mail", "x"))
    mails.append(mails[0])  # a twin delivery in the same batch
    try:
        replies = held(ingestor, mails, monkeypatch)
    finally:
        ingestor.close()
    assert all(r.startswith("250 2.0.0 <helpdesk@hotline.example>") for r in replies), replies
    assert "quarantined" in replies[2] and replies[-1].endswith("duplicate")
    assert len(commits) == 1
    subjects = set(session.scalars(select(Ticket.subject)))
    assert subjects == {f"Batch mail {i}" for i in range(5)}
    [bad] = session.scalars(select(InboundMail).where(InboundMail.status == "quarantined"))
    assert "ValueError: a bug that hits this mail only" in bad.reason and bad.subject == "poison mail"
    assert session.scalar(select(func.count()).select_from(InboundMail)) == 6
    # The search documents and the auto-reply (in the batch's transaction) of every stored mail.
    assert session.scalar(select(func.count()).select_from(TicketSearch)) == 5
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 5  # not the poisoned one's


def test_a_transient_failure_answers_the_whole_batch_451_and_stores_nothing(demo, session, session_factory,
                                                                           settings, monkeypatch):  # noqa: ANN001
    real_ingest = group.ingest

    def ingest(session, raw, **kw):  # noqa: ANN001, ANN202
        if b"third" in raw:
            raise OperationalError("INSERT", {}, ConnectionResetError("server closed the connection"))
        return real_ingest(session, raw, **kw)

    monkeypatch.setattr(group, "ingest", ingest)
    ingestor = GroupIngest(session_factory, settings, committers=1)
    try:
        replies = held(ingestor, [make_mail(ANNA, f"{n} mail") for n in ("first", "second", "third", "fourth")],
                       monkeypatch)
    finally:
        ingestor.close()
    assert replies == [group.TRY_AGAIN] * 4
    assert session.scalar(select(func.count()).select_from(InboundMail)) == 0
    assert session.scalar(select(func.count()).select_from(Ticket)) == 0


def test_a_mail_whose_savepoint_loses_a_deadlock_is_run_again_not_refused(demo, session, session_factory, settings,
                                                                          monkeypatch):  # noqa: ANN001
    real_ingest, lost = group.ingest, []

    class Deadlock(Exception):
        sqlstate = "40P01"

    def ingest(session, raw, **kw):  # noqa: ANN001, ANN202
        result = real_ingest(session, raw, **kw)
        if b"contested" in raw and not lost:
            lost.append(1)  # written, then chosen as the deadlock's victim: its savepoint is rolled back
            raise OperationalError("UPDATE", {}, Deadlock("deadlock detected"))
        return result

    monkeypatch.setattr(group, "ingest", ingest)
    ingestor = GroupIngest(session_factory, settings, committers=1)
    try:
        replies = held(ingestor, [make_mail(ANNA, "calm mail"), make_mail(ANNA, "contested mail")], monkeypatch)
    finally:
        ingestor.close()
    assert [r[:3] for r in replies] == ["250", "250"] and lost == [1]
    assert sorted(session.scalars(select(Ticket.subject))) == ["calm mail", "contested mail"]
    assert session.scalar(select(func.count()).select_from(InboundMail)) == 2


def test_a_batch_reads_a_senders_auto_reply_counter_once(demo, session, session_factory, settings,
                                                         engine):  # noqa: ANN001
    """The session holds clean rows weakly: the counter must be kept, not read again for every mail."""
    reads = []

    def count(conn, cursor, statement, *_args) -> None:  # noqa: ANN001
        if statement.lstrip().upper().startswith("SELECT") and "FROM mail_auto_reply_counters" in statement:
            reads.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    ingestor = GroupIngest(session_factory, settings, committers=1)
    # One batch for certain: stored directly, not left to how fast the committer drains its queue.
    batch = [group._Delivery(make_mail(ANNA, f"Counter mail {i}", "The printer."), HELPDESK) for i in range(6)]
    try:
        ingestor._store(batch)
    finally:
        ingestor.close()
        event.remove(engine, "before_cursor_execute", count)
    replies = [d.future.result(0) for d in batch]
    assert all(" ticket #" in r for r in replies), replies
    assert len(reads) == 1, reads
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 6  # every auto-reply counted
