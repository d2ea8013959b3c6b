"""Calls and recordings written straight into the database (and a real WAV file into the store), for
the call log, playback, review, statistics and retention tests."""

from __future__ import annotations

import itertools
import math
import struct
import wave
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from callcenter.customers import active_contract
from callcenter.models import Call, Recording, RecordingKind, RecordingStatus

_numbers = itertools.count(1)


def make_call(session: Session, arrived: datetime, *, company=None, contact=None, asset=None,  # noqa: ANN001
              wait: int | None = None, answered: bool = False, queued: bool = True, ended: bool = True,
              outcome: str | None = None, menu: str = "1", ticket_id: int | None = None,
              channel: str = "twilio") -> Call:
    """A finished (or still queued) hotline call; `wait` seconds in the queue before it was answered or left."""
    contract = None
    if company is not None:
        contract = active_contract(session, company.id, arrived.date()) or (company.contracts or [None])[0]
    call = Call(channel=channel, provider_call_id=f"CA{next(_numbers):08d}{arrived:%Y%m%d%H%M%S}",
                caller_number=contact.phone if contact is not None else "+3615559999", called_number="+3615550100",
                contact_id=contact.id if contact is not None else None,
                company_id=company.id if company is not None else None,
                contract_id=contract.id if contract is not None else None,
                asset_id=asset.id if asset is not None else None, arrived_at=arrived, menu_path=menu,
                outcome=outcome, ticket_id=ticket_id)
    if queued:
        call.queue_entered_at = arrived + timedelta(seconds=20)
        if wait is not None:
            call.queue_left_at = call.queue_entered_at + timedelta(seconds=wait)
            call.wait_seconds = wait
            if answered:
                call.answered_at = call.queue_left_at
    if ended:
        call.ended_at = arrived + timedelta(seconds=20 + (wait or 0) + 180)
    session.add(call)
    session.flush()
    return call


def write_wav(path: Path, seconds: float = 1.0, rate: int = 8000) -> None:
    """A short 440 Hz tone, 8 kHz mono 16-bit: what a telephone recording looks like."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        frames = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / rate)))
                          for i in range(int(seconds * rate)))
        w.writeframes(frames)


def store_recording(session: Session, store: Path, call: Call, *, seconds: float = 1.0,
                    kind: str = RecordingKind.WHOLE_CALL) -> Recording:
    rel = f"test/{call.provider_call_id}-{kind}.wav"
    write_wav(store / rel, seconds)
    rec = Recording(call_id=call.id, provider_recording_id=f"RE{call.provider_call_id}{kind}", kind=kind,
                    status=RecordingStatus.STORED, local_path=rel, duration_seconds=int(seconds),
                    created_at=call.arrived_at, updated_at=call.arrived_at, stored_at=call.arrived_at)
    session.add(rec)
    session.flush()
    return rec
