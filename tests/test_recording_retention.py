"""Recording retention per contract, longer for complaints, legal hold, audit entries; explicit now."""

from __future__ import annotations

from datetime import timedelta

import pytest
from call_data import make_call, store_recording
from sqlalchemy import select

from callcenter import call_review as svc
from callcenter.models import CallOutcome, Recording, RecordingAudit, RecordingStatus
from callcenter.scheduler import PERIODIC


@pytest.fixture
def store(settings):  # noqa: ANN001, ANN201
    return settings.recordings_path


@pytest.fixture
def recordings(session, demo, store, now):  # noqa: ANN001, ANN201
    bud = demo.budapest  # its contract: 90 days, complaints 365 days (the defaults)
    made = {}

    def rec(name: str, days: int, **kw) -> None:  # noqa: ANN003
        call = make_call(session, now - timedelta(days=days), **kw)
        made[name] = store_recording(session, store, call)

    rec("expired", 91, company=bud, contact=demo.anna)
    rec("young", 89, company=bud, contact=demo.anna)
    rec("complaint_kept", 200, company=bud, contact=demo.anna, outcome=CallOutcome.COMPLAINT)
    rec("complaint_expired", 400, company=bud, contact=demo.anna, outcome=CallOutcome.COMPLAINT)
    rec("on_hold", 200, company=bud, contact=demo.anna)
    made["on_hold"].call.legal_hold = True
    rec("no_contract", 100)
    session.commit()
    return made


def test_expired_recordings_are_deleted_with_an_audit_entry(session, recordings, store, now) -> None:  # noqa: ANN001
    deleted = svc.purge_expired_recordings(session, store, now, default_days=90)
    names = {name for name, rec in recordings.items() if rec.id in deleted}
    assert names == {"expired", "complaint_expired", "no_contract"}
    for name, rec in recordings.items():
        session.refresh(rec)
        gone = name in names
        assert (rec.status == RecordingStatus.DELETED) is gone
        assert (store / rec.local_path).exists() is not gone
    audit = session.scalars(select(RecordingAudit).where(RecordingAudit.action == "deleted")).all()
    assert sorted(a.recording_id for a in audit) == sorted(deleted)
    assert all(a.actor_kind == "system" and a.at == now and "removed" in a.detail for a in audit)


def test_legal_hold_keeps_the_recording(session, recordings, store, now) -> None:  # noqa: ANN001
    held = recordings["on_hold"]
    svc.purge_expired_recordings(session, store, now + timedelta(days=3000), default_days=90)
    session.refresh(held)
    assert held.status == RecordingStatus.STORED and (store / held.local_path).exists()
    assert session.scalar(select(RecordingAudit).where(RecordingAudit.recording_id == held.id)) is None


def test_a_second_worker_with_a_stale_list_deletes_nothing(session_factory, recordings, store, now,
                                                            monkeypatch) -> None:  # noqa: ANN001
    with session_factory() as one, session_factory() as two:
        # Both workers listed the same candidates; only the first claim of each recording wins.
        listed = svc.expired_recordings(two, now, default_days=90)
        two.commit()
        assert len(svc.purge_expired_recordings(one, store, now, default_days=90)) == 3
        monkeypatch.setattr(svc, "expired_recordings", lambda *a, **kw: listed)
        assert svc.purge_expired_recordings(two, store, now, default_days=90) == []
        two.commit()
        assert two.query(RecordingAudit).count() == 3


def test_a_hold_set_after_listing_still_wins(session_factory, recordings, store, now, monkeypatch) -> None:  # noqa: ANN001
    with session_factory() as s:
        listed = svc.expired_recordings(s, now, default_days=90)
        target = next(r for r in listed if r.id == recordings["expired"].id)
        with session_factory() as other:
            from callcenter.models import Call

            other.get(Call, target.call_id).legal_hold = True
            other.commit()
        monkeypatch.setattr(svc, "expired_recordings", lambda *a, **kw: listed)
        deleted = svc.purge_expired_recordings(s, store, now, default_days=90)
        assert target.id not in deleted and len(deleted) == 2
        assert (store / recordings["expired"].local_path).exists()


def test_contract_and_default_retention_settings(session, demo, recordings, store, now) -> None:  # noqa: ANN001
    contract = demo.budapest.contracts[0]
    contract.recording_retention_days = 30
    contract.complaint_recording_retention_days = 1000
    session.commit()
    deleted = svc.purge_expired_recordings(session, store, now, default_days=120)
    names = {name for name, rec in recordings.items() if rec.id in deleted}
    # 30 days now deletes the 89-day one; complaints keep 1000 days; no contract: 120 days keeps it.
    assert names == {"expired", "young"}


def test_the_periodic_job_is_registered_and_runs(session_factory, settings, recordings, now) -> None:  # noqa: ANN001
    job = next(j for j in PERIODIC if j.name == "recording_retention")
    job.run(session_factory, settings, now)
    with session_factory() as s:
        assert s.query(Recording).filter_by(status=RecordingStatus.DELETED).count() == 3
