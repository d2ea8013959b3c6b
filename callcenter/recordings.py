"""Call recordings: whole-call QA recordings and voice messages (which become or join tickets).

Callbacks are idempotent and tolerate any order; Twilio's files are downloaded by the worker
through the outbox, Asterisk's are written straight into the store.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import bindparam, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from . import outbox
from .calls import CallContext, _actor, _description, _new_ticket, lock_or_create
from .models import Call, OutboxMessage, OutboxState, Recording, RecordingKind, RecordingStatus, Ticket, UTCDateTime
from .tickets import add_note, create_ticket

RECORDING_SOURCE = "recording"
RECORDING_RANK = {RecordingStatus.IN_PROGRESS: 0, RecordingStatus.ABSENT: 1, RecordingStatus.FAILED: 1,
                  RecordingStatus.COMPLETED: 2, RecordingStatus.STORED: 3}


def _recording(session: Session, call: Call, provider_recording_id: str, kind: str, now: datetime) -> Recording:
    rec = session.scalar(select(Recording).where(Recording.provider_recording_id == provider_recording_id))
    if rec is not None:
        return rec
    rec = Recording(call_id=call.id, provider_recording_id=provider_recording_id, kind=kind,
                    status=RecordingStatus.IN_PROGRESS, created_at=now, updated_at=now)
    try:
        with session.begin_nested():
            session.add(rec)
    except IntegrityError:
        return session.scalar(select(Recording).where(Recording.provider_recording_id == provider_recording_id))
    return rec


def _advance_recording(rec: Recording, status: str, now: datetime) -> bool:
    """Move forward only: a late 'in-progress' after 'completed' changes nothing."""
    if RECORDING_RANK.get(status, 0) < RECORDING_RANK.get(rec.status, 0):
        return False
    if status == rec.status:
        return False
    rec.status = status
    rec.updated_at = now
    return True


def _download(session: Session, rec: Recording, url: str, path: str, now: datetime) -> None:
    outbox.enqueue(session, key=f"recording:{rec.provider_recording_id}", channel="download",
                   destination=url if url.endswith((".wav", ".mp3")) else url + ".wav",
                   payload={"path": path, "auth": "twilio"}, now=now,
                   source_kind=RECORDING_SOURCE, source_id=rec.id)


def voice_message(session: Session, ctx: CallContext, *, provider_recording_id: str, duration: int | None,
                  now: datetime, url: str | None = None, local_path: str | None = None,
                  ticket_spec: tuple[str, str, str] | None = None, number_start: int = 15000) -> Ticket:
    """A voice message: attached to the call's ticket, or a new ticket is opened for it (once per recording).

    Twilio messages have a URL (downloaded by the worker); Asterisk ones are already a local file.
    """
    call = ctx.call
    rec = _recording(session, call, provider_recording_id, RecordingKind.VOICE_MESSAGE, now)
    rec.kind = RecordingKind.VOICE_MESSAGE
    rec.duration_seconds = duration
    if rec.ticket_id is not None:
        return session.get(Ticket, rec.ticket_id)
    note = f"Voice message ({duration or 0} s), recording {provider_recording_id}."
    if call.ticket_id is not None:
        ticket = session.get(Ticket, call.ticket_id)
        add_note(session, ticket, note, actor=_actor(ctx), now=now, public=False)
    else:
        if ticket_spec is None:
            raise ValueError("a ticket spec is needed to open a ticket for a voice message")
        category, priority, subject = ticket_spec
        ticket = create_ticket(session, _new_ticket(ctx, category, priority, subject, _description(ctx, note)),
                               actor=_actor(ctx), now=now, number_start=number_start)
        call.ticket_id = ticket.id
    rec.ticket_id = ticket.id
    if url:
        rec.url = url
        _advance_recording(rec, RecordingStatus.COMPLETED, now)
        _download(session, rec, url, local_path or f"twilio/{call.provider_call_id}/{provider_recording_id}.wav", now)
    elif local_path:
        rec.local_path = local_path
        rec.stored_at = now
        _advance_recording(rec, RecordingStatus.STORED, now)
    session.flush()
    return ticket


def recording_status(session: Session, *, provider_call_id: str, provider_recording_id: str, status: str,
                     now: datetime, url: str | None = None, duration: int | None = None,
                     error: str | None = None, channel: str = "twilio") -> Recording:
    """Whole-call recording status callback: idempotent, order-tolerant; completed -> background download."""
    call = lock_or_create(session, channel, provider_call_id, now)
    rec = _recording(session, call, provider_recording_id, RecordingKind.WHOLE_CALL, now)
    if RECORDING_RANK.get(status, 0) < RECORDING_RANK.get(rec.status, 0):
        return rec  # a late report of an earlier state
    if url:
        rec.url = url
    if duration is not None:
        rec.duration_seconds = duration
    if error:
        rec.error = error
    changed = _advance_recording(rec, status, now)
    if changed and rec.status == RecordingStatus.COMPLETED and rec.url:
        _download(session, rec, rec.url, f"twilio/{provider_call_id}/{provider_recording_id}.wav", now)
    session.flush()
    return rec


def whole_call_recording_started(session: Session, call: Call, *, provider_recording_id: str, local_path: str,
                                 now: datetime) -> Recording:
    """Asterisk MixMonitor writes straight into the store; the row tracks it."""
    rec = _recording(session, call, provider_recording_id, RecordingKind.WHOLE_CALL, now)
    rec.local_path = local_path
    return rec


# `whole_call_recording_started` in one statement: SQLAlchemy does not cache the compiled form of its
# dialects' ON CONFLICT constructs, and compiling one costs more than the write. SQLite and PostgreSQL
# read the same text.
_NOTE_WHOLE_CALL = text(
    "INSERT INTO recordings (call_id, provider_recording_id, kind, status, local_path, created_at, updated_at) "
    "SELECT id, :recording, :kind, :status, :path, :now, :now FROM calls WHERE provider_call_id = :call "
    "ON CONFLICT (provider_recording_id) DO UPDATE SET local_path = excluded.local_path",
).bindparams(bindparam("now", type_=UTCDateTime()), bindparam("kind", value=str(RecordingKind.WHOLE_CALL)),
             bindparam("status", value=str(RecordingStatus.IN_PROGRESS)))


def note_whole_call_recording(session: Session, provider_call_id: str, *, provider_recording_id: str,
                              local_path: str, now: datetime) -> bool:
    """`whole_call_recording_started` for a call known by its provider id, in one statement instead of the
    ORM's read of the call, read of the row, savepoint, insert and update: an Asterisk call writes it while
    its prompts play, and what it costs is taken from the other callers' turns. A repeated note keeps
    one row and takes the new path. False: no such call."""
    result = session.execute(_NOTE_WHOLE_CALL, {"call": provider_call_id, "recording": provider_recording_id,
                                                "path": local_path, "now": now})
    return result.rowcount > 0


def asterisk_recordings_closed(session: Session, call: Call, now: datetime, store: Path) -> None:
    """MixMonitor closes its file at hangup; it is stored if it is in our store (Asterisk may write elsewhere)."""
    for rec in call.recordings:
        if rec.kind == RecordingKind.WHOLE_CALL and rec.status == RecordingStatus.IN_PROGRESS and rec.local_path:
            if (store / rec.local_path).exists():
                rec.status, rec.stored_at = RecordingStatus.STORED, now
            else:
                rec.status = RecordingStatus.COMPLETED
            rec.updated_at = now


def _recording_sent(session: Session, msg: OutboxMessage, now: datetime) -> None:
    rec = session.get(Recording, msg.source_id) if msg.source_id else None
    if rec is None:
        return
    if msg.state in (OutboxState.FAILED, OutboxState.DEAD):
        rec.status = RecordingStatus.FAILED
        rec.error = msg.last_error
    else:
        rec.local_path = (msg.payload or {}).get("path")
        rec.stored_at = now
        rec.status = RecordingStatus.STORED
    rec.updated_at = now


outbox.on_sent(RECORDING_SOURCE, _recording_sent)
outbox.on_status(RECORDING_SOURCE, _recording_sent)
