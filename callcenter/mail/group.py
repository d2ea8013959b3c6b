"""Group commit for the LMTP listener: the deliveries that arrive while a transaction is being stored
are stored together in the next one, each mail in a savepoint of its own.

An MTA hands over many messages at once (Postfix opens up to 20 LMTP connections), and a commit is
the costly part of a small transaction: the session, the flushes at commit, the search documents and,
on SQLite, the disk flush. A committer thread takes every delivery waiting (up to `max_batch`) and
stores them in one transaction; what arrives meanwhile waits for the next one, so a lone mail is
stored at once and a burst shares its commits.

The guarantees are those of one transaction per mail (callcenter/mail/intake.py):
- a recipient's 250 is sent only after the commit that holds its mail; a listener killed before it
  leaves the MTA to deliver again, and the mail is then found a duplicate;
- one mail cannot sink the others: each is ingested in a savepoint; a twin delivery that committed
  first (a unique key) is tried again and found a duplicate, and so is a mail whose savepoint lost a
  deadlock to another batch; a mail that fails for a reason that would repeat is rolled back to its
  savepoint and quarantined with the reason (250);
- a transient failure (the database unreachable, stalled, a timeout) gives up the whole batch: nothing
  of it is committed and every mail of it is answered 451 at once (the MTA retries), rather than each
  waiting out the timeouts in turn; a commit that fails otherwise stores the batch's mails again one by
  one, each in a transaction of its own (`ingest_message`), so no mail pays for another.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parseaddr

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from ..config import Settings
from ..unit_of_work import dispatch_in_transaction, is_retryable
from .ingest import IngestResult, ingest, quarantine
from .intake import ingest_message, is_transient

log = logging.getLogger(__name__)

TRY_AGAIN = "451 4.3.0 temporary failure, try again later"
MAX_BATCH = 32
ATTEMPTS = 3


@dataclass
class _Delivery:
    raw: bytes
    recipient: str
    future: Future = field(default_factory=Future)


class _Abandon(Exception):  # noqa: N818
    """The database is in trouble (unreachable, stalled, timed out): the batch is given up, all 451."""


_FROM = re.compile(rb"^from:[ \t]*([^\r\n]*)", re.IGNORECASE | re.MULTILINE)


def _sender(raw: bytes) -> str:
    """The From: address as a sort key, read cheaply from the header (the parser decides later)."""
    found = _FROM.search(raw, 0, 16384)
    if found is None:
        return ""
    return parseaddr(found.group(1).decode("utf-8", "replace"))[1].lower()


def reply_for(result: IngestResult, recipient: str) -> str:
    detail = f"ticket #{result.ticket_number}" if result.ticket_number else result.outcome
    return f"250 2.0.0 <{recipient}> {detail}"


class GroupIngest:
    """`submit(raw, recipient)` returns a Future of the recipient's reply line, set once its mail is
    committed (or refused); calling the object waits for it. `close()` stores what is queued, then stops."""

    def __init__(self, factory: sessionmaker[Session], settings: Settings,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC), *, committers: int = 2,
                 max_batch: int = MAX_BATCH) -> None:
        self.factory, self.settings, self.clock = factory, settings, clock
        self.max_batch = max(1, max_batch)
        self._queue: queue.SimpleQueue[_Delivery | None] = queue.SimpleQueue()
        self._threads = [threading.Thread(target=self._run, name=f"lmtp-commit-{i}", daemon=True)
                         for i in range(max(1, committers))]
        for thread in self._threads:
            thread.start()

    def submit(self, raw: bytes, recipient: str) -> Future:
        delivery = _Delivery(raw, recipient)
        self._queue.put(delivery)
        return delivery.future

    def __call__(self, raw: bytes, recipient: str) -> str:
        return self.submit(raw, recipient).result()

    def close(self) -> None:
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join(60)

    # -- the committer ---------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            stop = False
            while len(batch) < self.max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                batch.append(item)
            try:
                self._store(batch)
            except BaseException as exc:  # never leave a sender waiting for ever
                log.exception("LMTP: a batch of %s mails could not be stored", len(batch))
                for d in batch:
                    if not d.future.done():
                        d.future.set_exception(exc)
            if stop:
                return

    def _store(self, batch: list[_Delivery]) -> None:
        session = self.factory()
        # The rows mail shares between transactions (a sender's auto-reply counter, their tickets) are
        # locked in one order, by sender, so that two batches wait for each other instead of deadlocking.
        ordered = sorted(batch, key=lambda d: _sender(d.raw))
        try:
            replies = {id(d): self._one(session, d) for d in ordered}
            # The mails' reactions (auto-replies) last, each in a savepoint: the rows they share
            # between transactions (a sender's reply counter) stay locked only until the commit.
            dispatch_in_transaction(session)
            session.commit()
        except Exception as exc:
            failure: Exception | None = exc.__cause__ if isinstance(exc, _Abandon) else exc
        else:
            failure = None
        finally:
            session.close()  # rolls back whatever did not commit
        if failure is not None:
            self._whole_batch_failed(batch, failure)
            return
        for d in batch:
            d.future.set_result(replies[id(d)])

    def _whole_batch_failed(self, batch: list[_Delivery], exc: Exception) -> None:
        if is_transient(exc):
            log.warning("LMTP: %s mails not stored, asked the MTA to retry: %s: %s", len(batch),
                        type(exc).__name__, exc)
            for d in batch:
                d.future.set_result(TRY_AGAIN)
            return
        log.exception("LMTP: a batch of %s mails failed at its commit; storing them one by one", len(batch),
                      exc_info=exc)
        for d in batch:
            d.future.set_result(self._alone(d))

    def _alone(self, d: _Delivery) -> str:
        try:
            result = ingest_message(self.factory, d.raw, settings=self.settings, now=self.clock(),
                                    mailbox=d.recipient, source="lmtp")
        except Exception as exc:  # transient: nothing was written, the MTA keeps the mail
            log.warning("LMTP: message for %s not stored, asked the MTA to retry: %s: %s", d.recipient,
                        type(exc).__name__, exc)
            return TRY_AGAIN
        return reply_for(result, d.recipient)

    def _one(self, session: Session, d: _Delivery) -> str:
        """Ingest one mail of the batch in a savepoint; its reply, valid once the batch commits."""
        now = self.clock()
        failure = None
        for attempt in range(1, ATTEMPTS + 1):
            try:
                with session.begin_nested():
                    result = ingest(session, d.raw, settings=self.settings, now=now, mailbox=d.recipient,
                                    source="lmtp", reactions=False)
                return reply_for(result, d.recipient)
            except IntegrityError:
                if attempt == 1:
                    continue  # most likely a twin delivery committed first: the retry finds it a duplicate
                failure = "the database refused the message twice (integrity)"
                log.exception("LMTP: mail for %s could not be stored; quarantined", d.recipient)
            except Exception as exc:
                if is_retryable(exc) and attempt < ATTEMPTS:
                    continue  # a deadlock with another batch: this mail's savepoint gave way, run it again
                if is_transient(exc):
                    raise _Abandon() from exc
                failure = f"it could not be stored: {type(exc).__name__}: {exc}"
                log.exception("LMTP: mail for %s could not be stored; quarantined", d.recipient)
            break
        try:
            with session.begin_nested():
                result = quarantine(session, d.raw, failure[:2000], mailbox=d.recipient.strip().lower(),
                                    source="lmtp", now=now)
        except Exception as exc:
            raise _Abandon() from exc  # the database will not even take the quarantine: try again later
        return reply_for(result, d.recipient)
