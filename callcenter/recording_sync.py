"""Recordings whose status callback we missed (the database was down, Twilio does not retry).

Every worker periodically lists Twilio's recent recordings and hands each one we do not have yet
to recordings.recording_status, exactly as its callback would have: the recording row moves to
'completed' and a download is queued under the outbox key `recording:<sid>`. Recordings we already
have (completed, stored, failed or deleted) are left alone, and the outbox key makes a second
download impossible even when the late callback, this job and another worker all meet.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from . import calls, recordings
from .config import Settings
from .db import session_scope
from .models import Call, Recording, RecordingKind, RecordingStatus
from .scheduler import periodic

log = logging.getLogger(__name__)

SYNC_SECONDS = 600
LOOKBACK = timedelta(hours=24)


def sync_recordings(factory: sessionmaker[Session], provider: object, now: datetime) -> int:
    """Fetch the recordings Twilio has and we lack; returns how many were taken up."""
    found = provider.recent_recordings(now - LOOKBACK)
    if not found:
        return 0
    with session_scope(factory) as session:
        have = dict(session.execute(select(Recording.provider_recording_id, Recording.status).where(
            Recording.provider_recording_id.in_([r.sid for r in found]))).all())
    missing = [r for r in found if have.get(r.sid, RecordingStatus.IN_PROGRESS) == RecordingStatus.IN_PROGRESS]
    for rec in missing:
        with session_scope(factory) as session:
            if calls.get_call(session, rec.call_sid) is None:
                _known_call(session, provider, rec.call_sid, now)
            row = recordings.recording_status(session, provider_call_id=rec.call_sid, provider_recording_id=rec.sid,
                                         status=RecordingStatus.COMPLETED, now=now, url=rec.url,
                                         duration=rec.duration)
            if rec.source == "RecordVerb" and row.ticket_id is None:
                row.kind = RecordingKind.VOICE_MESSAGE
        log.info("recording %s of call %s: its callback never arrived; fetched from Twilio's list", rec.sid,
                 rec.call_sid)
    return len(missing)


def _known_call(session: Session, provider: object, call_sid: str, now: datetime) -> Call:
    """A call we never saw (its webhooks failed too): recorded as ended, with Twilio's numbers and times."""
    details = provider.call_details(call_sid)
    started, ended = details.get("start_time") or now, details.get("end_time") or now
    call = Call(channel="twilio", provider_call_id=call_sid, caller_number=details.get("from"),
                called_number=details.get("to"), arrived_at=started, ended_at=ended,
                duration_seconds=details.get("duration"), provider_status=details.get("status"),
                step="recording-sync", menu_path="", status_sequence=-1, menu_attempts=0)
    session.add(call)
    session.flush()
    return call


@periodic("recordings-sync", SYNC_SECONDS)
def _sync_job(factory: sessionmaker[Session], settings: Settings, now: datetime) -> None:
    if not settings.twilio_enabled:
        return
    from .providers.twilio import TwilioProvider

    try:
        sync_recordings(factory, TwilioProvider(settings), now)
    except Exception as exc:  # Twilio unreachable: the next run catches up (the look-back is a day)
        log.warning("recordings sync: %s", exc)
