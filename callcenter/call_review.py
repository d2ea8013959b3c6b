"""Call review: the call log, who may hear a recording, the playback audit, QA scores, legal hold and
recording retention.

Channel- and Flask-neutral like every service: the console passes a `Viewer` (who is asking) and an
explicit `now`. The retention job is a periodic job, safe in any number of workers: a recording is
claimed with a conditional UPDATE before its file is removed, so only one worker deletes and audits it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from . import scheduler
from .db import session_scope
from .models import (
    MAX_SCORE,
    REVIEW_CRITERIA,
    Asset,
    Call,
    CallOutcome,
    CallReview,
    Company,
    Contact,
    Contract,
    Recording,
    RecordingAudit,
    RecordingStatus,
    StaffUser,
    Ticket,
)

log = logging.getLogger(__name__)

# Staff roles that may hear recordings: everyone who works calls or reviews them. Customers hear only
# recordings of calls they made themselves (their own voice); other calls of their company they see in
# the log without playback, and other companies' calls do not exist for them (404).
LISTEN_ROLES = frozenset({"agent", "engineer", "qa", "manager", "admin"})
REVIEW_ROLES = frozenset({"qa", "manager", "admin"})
HOLD_ROLES = frozenset({"manager", "admin"})
STAFF_ROLES = frozenset({"agent", "engineer", "qa", "manager", "admin"})

LOG_ZONE = "Europe/Budapest"
CALL_STATES = ("waiting", "answered", "abandoned", "unanswered", "not_queued")


class ReviewError(ValueError):
    pass


@dataclass(frozen=True)
class Viewer:
    """Who is asking, as plain values (the console's logged-in principal)."""

    kind: str                 # staff, contact
    record_id: int
    name: str
    role: str                 # agent, engineer, qa, manager, admin, customer
    company_id: int | None = None

    @property
    def is_customer(self) -> bool:
        return self.kind != "staff"


def may_see_call(viewer: Viewer, call: Call) -> bool:
    if viewer.is_customer:
        return call.company_id is not None and call.company_id == viewer.company_id
    return viewer.role in STAFF_ROLES


def may_hear(viewer: Viewer, call: Call) -> bool:
    """The listening rule, in one place (the views, the templates and the tests use it)."""
    if viewer.is_customer:
        return call.contact_id is not None and call.contact_id == viewer.record_id
    return viewer.role in LISTEN_ROLES


def may_review(viewer: Viewer) -> bool:
    return not viewer.is_customer and viewer.role in REVIEW_ROLES


def may_hold(viewer: Viewer) -> bool:
    return not viewer.is_customer and viewer.role in HOLD_ROLES


# --- the call log ----------------------------------------------------------------------------


def state_expression():  # noqa: ANN201
    """A call's state for the log, as SQL (so it can be filtered and counted)."""
    return case(
        (Call.answered_at.is_not(None), "answered"),
        (Call.queue_entered_at.is_(None), "not_queued"),
        (and_(Call.queue_left_at.is_(None), Call.ended_at.is_(None)), "waiting"),
        (Call.outcome == CallOutcome.ABANDONED_IN_QUEUE, "abandoned"),
        else_="unanswered",
    )


@dataclass
class CallFilter:
    company_id: int | None = None
    channel: str | None = None
    state: str | None = None
    outcome: str | None = None
    asset_id: int | None = None
    caller: str | None = None       # part of the caller's number or the contact's name
    since: date | None = None       # arrived on or after (UTC date)
    until: date | None = None       # arrived before the end of this day
    with_recording: bool = False


@dataclass
class CallRow:
    id: int
    channel: str
    caller_number: str | None
    contact_name: str | None
    company_name: str | None
    asset_identifier: str | None
    arrived_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    state: str
    wait_seconds: int | None
    menu_path: str
    outcome: str | None
    ticket_number: int | None
    recordings: int
    legal_hold: bool
    agent_name: str | None = None   # who answered
    talk_seconds: int | None = None
    playable: int = 0               # recordings whose audio is in the store (the ones QA can score)


def _day_start(day: date) -> datetime:
    # The log shows Budapest time (the console's `local` filter), so its date filters read the same way.
    return datetime.combine(day, datetime.min.time(), ZoneInfo(LOG_ZONE)).astimezone(UTC)


def _apply(stmt, flt: CallFilter, viewer: Viewer):  # noqa: ANN001, ANN202
    if viewer.is_customer:
        stmt = stmt.where(Call.company_id == viewer.company_id)
    elif flt.company_id is not None:
        stmt = stmt.where(Call.company_id == flt.company_id)
    if flt.channel:
        stmt = stmt.where(Call.channel == flt.channel)
    if flt.state:
        stmt = stmt.where(state_expression() == flt.state)
    if flt.outcome:
        stmt = stmt.where(Call.outcome == flt.outcome)
    if flt.asset_id is not None:
        stmt = stmt.where(Call.asset_id == flt.asset_id)
    if flt.caller:
        like = f"%{flt.caller.strip()}%"
        stmt = stmt.where(or_(Call.caller_number.like(like), Contact.name.ilike(like)))
    if flt.since:
        stmt = stmt.where(Call.arrived_at >= _day_start(flt.since))
    if flt.until:
        stmt = stmt.where(Call.arrived_at < _day_start(flt.until + timedelta(days=1)))
    if flt.with_recording:
        stmt = stmt.where(select(Recording.id).where(Recording.call_id == Call.id).exists())
    return stmt


def list_calls(session: Session, flt: CallFilter, viewer: Viewer, *, now: datetime, page: int = 1,
               per_page: int = 50) -> tuple[list[CallRow], int]:
    """The call log, newest first, with who called, what they chose and what became of it."""
    state = state_expression().label("state")
    recs = (select(func.count(Recording.id)).where(Recording.call_id == Call.id,
                                                     Recording.status != RecordingStatus.DELETED)
            .scalar_subquery())
    stored = (select(func.count(Recording.id)).where(Recording.call_id == Call.id,
                                                       Recording.status == RecordingStatus.STORED)
              .scalar_subquery())
    agent = aliased(StaffUser)
    base = (select(Call.id).outerjoin(Contact, Contact.id == Call.contact_id))
    total = session.scalar(select(func.count()).select_from(_apply(base, flt, viewer).subquery())) or 0
    stmt = (
        select(Call.id, Call.channel, Call.caller_number, Contact.name, Company.name, Asset.identifier,
               Call.arrived_at, Call.answered_at, Call.ended_at, state, Call.wait_seconds, Call.queue_entered_at,
               Call.menu_path, Call.outcome, Ticket.number, recs, Call.legal_hold, agent.name, Call.talk_seconds,
               stored)
        .outerjoin(Contact, Contact.id == Call.contact_id)
        .outerjoin(agent, agent.id == Call.agent_id)
        .outerjoin(Company, Company.id == Call.company_id)
        .outerjoin(Asset, Asset.id == Call.asset_id)
        .outerjoin(Ticket, Ticket.id == Call.ticket_id)
        .order_by(Call.arrived_at.desc(), Call.id.desc())
        .limit(per_page).offset((max(page, 1) - 1) * per_page)
    )
    rows = []
    for (cid, channel, caller, contact, company, asset, arrived, answered, ended, st, wait, entered, path,
         outcome, number, nrec, hold, agent_name, talk, nstored) in session.execute(_apply(stmt, flt, viewer)):
        if wait is None and st == "waiting" and entered is not None:
            wait = int((now - entered).total_seconds())
        rows.append(CallRow(cid, channel, caller, contact, company, asset, arrived, answered, ended, st, wait,
                            path or "", outcome, number, int(nrec or 0), bool(hold), agent_name,
                            talk_seconds(answered, ended, talk), int(nstored or 0)))
    return rows, int(total)


def talk_seconds(answered: datetime | None, ended: datetime | None, talk: int | None) -> int | None:
    """The agent's talk time: what distribution measured, else answer to hang-up (hotline-only calls)."""
    if talk is not None:
        return talk
    if answered is not None and ended is not None:
        return max(0, int((ended - answered).total_seconds()))
    return None


def has_audio(call: Call) -> bool:
    """A reviewer scores what they can hear: a recording whose audio is in the store."""
    return any(r.status == RecordingStatus.STORED for r in call.recordings)


def call_state(call: Call) -> str:
    if call.answered_at is not None:
        return "answered"
    if call.queue_entered_at is None:
        return "not_queued"
    if call.queue_left_at is None and call.ended_at is None:
        return "waiting"
    return "abandoned" if call.outcome == CallOutcome.ABANDONED_IN_QUEUE else "unanswered"


def visible_call(session: Session, call_id: int, viewer: Viewer) -> Call | None:
    """The call if this viewer may see it; None reads as 404, so a customer learns nothing of others."""
    call = session.get(Call, call_id)
    return call if call is not None and may_see_call(viewer, call) else None


def visible_recording(session: Session, recording_id: int, viewer: Viewer) -> Recording | None:
    rec = session.get(Recording, recording_id)
    if rec is None or not may_see_call(viewer, rec.call):
        return None
    return rec


# --- playback audit --------------------------------------------------------------------------


def record_access(session: Session, rec: Recording, viewer: Viewer, action: str, *, now: datetime,
                  remote_addr: str | None = None, user_agent: str | None = None) -> RecordingAudit:
    entry = RecordingAudit(recording_id=rec.id, call_id=rec.call_id, action=action, actor_kind=viewer.kind,
                           actor_id=viewer.record_id, actor_name=viewer.name[:200], actor_role=viewer.role, at=now,
                           remote_addr=(remote_addr or "")[:64] or None, user_agent=(user_agent or "")[:300] or None)
    session.add(entry)
    return entry


def audit_trail(session: Session, *, call_id: int | None = None, limit: int = 200) -> list[RecordingAudit]:
    stmt = select(RecordingAudit).order_by(RecordingAudit.at.desc(), RecordingAudit.id.desc()).limit(limit)
    if call_id is not None:
        stmt = stmt.where(RecordingAudit.call_id == call_id)
    return list(session.scalars(stmt))


# --- QA reviews ------------------------------------------------------------------------------


def submit_review(session: Session, call: Call, reviewer: StaffUser, scores: dict[str, object], comment: str,
                  *, now: datetime) -> CallReview:
    """Score a recorded call: every criterion a whole number 0..5; refused (nothing stored) otherwise."""
    if reviewer.role not in REVIEW_ROLES:
        raise ReviewError("only quality reviewers, managers and admins score calls")
    if not has_audio(call):
        raise ReviewError("this call has no recording to listen to, so it cannot be scored")
    values: dict[str, int] = {}
    for criterion in REVIEW_CRITERIA:
        raw = str(scores.get(criterion, "")).strip()
        if not (raw.isascii() and raw.isdigit()) or not 0 <= int(raw) <= MAX_SCORE:
            raise ReviewError(f"{criterion}: a score from 0 to {MAX_SCORE} is needed, not {raw!r}")
        values[criterion] = int(raw)
    review = CallReview(call_id=call.id, reviewer_id=reviewer.id, reviewer_name=reviewer.name,
                        total=sum(values.values()), comment=(comment or "").strip(), created_at=now, **values)
    session.add(review)
    session.flush()
    return review


def reviews_for_call(session: Session, call_id: int) -> list[CallReview]:
    return list(session.scalars(select(CallReview).where(CallReview.call_id == call_id)
                                .order_by(CallReview.created_at, CallReview.id)))


@dataclass
class ReviewAverages:
    label: str
    reviews: int
    criteria: dict[str, float | None] = field(default_factory=dict)
    total: float | None = None


def review_averages(session: Session, *, company_id: int | None = None) -> tuple[ReviewAverages,
                                                                                  list[ReviewAverages]]:
    """Averages over all reviews, and per company of the reviewed call (SQL AVG)."""
    cols = [func.avg(getattr(CallReview, c)) for c in REVIEW_CRITERIA]
    scope = [] if company_id is None else [Call.company_id == company_id]

    def make(label: str, row) -> ReviewAverages:  # noqa: ANN001
        n, *avgs, total = row
        return ReviewAverages(label, int(n or 0), {c: None if a is None else float(a)
                                                    for c, a in zip(REVIEW_CRITERIA, avgs, strict=True)},
                              None if total is None else float(total))

    overall = session.execute(select(func.count(CallReview.id), *cols, func.avg(CallReview.total))
                              .join(Call, Call.id == CallReview.call_id).where(*scope)).one()
    per_company = session.execute(
        select(Company.name, func.count(CallReview.id), *cols, func.avg(CallReview.total))
        .join(Call, Call.id == CallReview.call_id).outerjoin(Company, Company.id == Call.company_id)
        .where(*scope).group_by(Company.name).order_by(Company.name))
    return make("", overall), [make(name or "—", rest) for name, *rest in per_company]


def review_averages_per_agent(session: Session, *, company_id: int | None = None) -> list[ReviewAverages]:
    """Averages per agent who answered the reviewed call (calls nobody answered are left out)."""
    cols = [func.avg(getattr(CallReview, c)) for c in REVIEW_CRITERIA]
    scope = [] if company_id is None else [Call.company_id == company_id]
    rows = session.execute(
        select(StaffUser.name, func.count(CallReview.id), *cols, func.avg(CallReview.total))
        .join(Call, Call.id == CallReview.call_id).join(StaffUser, StaffUser.id == Call.agent_id)
        .where(*scope).group_by(StaffUser.name).order_by(StaffUser.name))
    return [ReviewAverages(name, int(n or 0), {c: None if a is None else float(a)
                                                for c, a in zip(REVIEW_CRITERIA, avgs, strict=True)},
                           None if total is None else float(total))
            for name, n, *avgs, total in rows]


def recent_reviews(session: Session, *, company_id: int | None = None, limit: int = 100
                   ) -> list[tuple[CallReview, Call]]:
    stmt = (select(CallReview, Call).join(Call, Call.id == CallReview.call_id)
            .order_by(CallReview.created_at.desc(), CallReview.id.desc()).limit(limit))
    if company_id is not None:
        stmt = stmt.where(Call.company_id == company_id)
    return list(session.execute(stmt).tuples())


# --- the PBX maintainers' view ---------------------------------------------------------------


@dataclass
class AssetFaults:
    asset: Asset
    calls: list[Call]
    tickets: list[Ticket]


def fault_calls_per_asset(session: Session) -> list[tuple[Asset, int, datetime | None]]:
    """Every machine with its number of hotline calls and the latest one, busiest first."""
    rows = session.execute(
        select(Asset, func.count(Call.id), func.max(Call.arrived_at))
        .outerjoin(Call, Call.asset_id == Asset.id).group_by(Asset.id)
        .order_by(func.count(Call.id).desc(), Asset.identifier))
    return [(a, int(n), last) for a, n, last in rows]


def asset_faults(session: Session, asset_id: int) -> AssetFaults | None:
    """A machine's fault calls (with recordings) and its tickets: the machine's history in one place."""
    asset = session.get(Asset, asset_id)
    if asset is None:
        return None
    calls = list(session.scalars(select(Call).where(Call.asset_id == asset_id)
                                 .order_by(Call.arrived_at.desc()).limit(200)))
    tickets = list(session.scalars(select(Ticket).where(Ticket.asset_id == asset_id)
                                   .order_by(Ticket.created_at.desc()).limit(200)))
    return AssetFaults(asset, calls, tickets)


# --- legal hold and retention ----------------------------------------------------------------


def set_legal_hold(session: Session, call: Call, hold: bool, *, reason: str, by: Viewer, now: datetime) -> None:
    if not may_hold(by):
        raise ReviewError("only managers and admins set or lift a legal hold")
    if hold and not (reason or "").strip():
        raise ReviewError("a legal hold needs a reason")
    call.legal_hold = hold
    call.legal_hold_reason = (f"{reason.strip()} ({by.name}, {now:%Y-%m-%d %H:%M} UTC)" if hold else None)


def is_complaint(call: Call, ticket_category: str | None) -> bool:
    return call.outcome == CallOutcome.COMPLAINT or ticket_category == "complaint"


def retention_days(contract: Contract | None, complaint: bool, default_days: int) -> int:
    if contract is None:
        return default_days
    if complaint:
        return max(contract.complaint_recording_retention_days, contract.recording_retention_days)
    return contract.recording_retention_days


def expired_recordings(session: Session, now: datetime, *, default_days: int) -> list[Recording]:
    """Recordings with a file whose call is older than its retention and not under legal hold."""
    contract_min = session.scalar(select(func.min(Contract.recording_retention_days)))
    shortest = default_days if contract_min is None else min(default_days, contract_min)
    contract = aliased(Contract)
    rows = session.execute(
        select(Recording, Call, contract, Ticket.category)
        .join(Call, Call.id == Recording.call_id)
        .outerjoin(contract, contract.id == Call.contract_id)
        .outerjoin(Ticket, Ticket.id == Call.ticket_id)
        .where(Recording.status.not_in([RecordingStatus.DELETED, RecordingStatus.IN_PROGRESS]),
               Call.legal_hold.is_(False),
               Call.arrived_at < now - timedelta(days=shortest))
        .order_by(Recording.id))
    due = []
    for rec, call, con, category in rows:
        days = retention_days(con, is_complaint(call, category), default_days)
        if call.arrived_at + timedelta(days=days) <= now:
            due.append(rec)
    return due


def purge_expired_recordings(session: Session, store: Path, now: datetime, *, default_days: int) -> list[int]:
    """Delete expired recording files and mark their rows deleted with an audit entry; returns the ids.

    Each recording is claimed with a conditional UPDATE (status not yet deleted, call not on hold),
    so two workers never both delete and audit it, and a hold set a moment ago still wins.
    The file goes before the commit: if the commit fails, the next run claims the row again and
    finds nothing left to remove.
    """
    done = []
    for rec in expired_recordings(session, now, default_days=default_days):
        on_hold = select(Call.id).where(Call.id == rec.call_id, Call.legal_hold.is_(True)).exists()
        claimed = session.execute(
            update(Recording).where(Recording.id == rec.id, Recording.status != RecordingStatus.DELETED, ~on_hold)
            .values(status=RecordingStatus.DELETED, deleted_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        if claimed != 1:
            continue
        removed = "no local file"
        if rec.local_path:
            path = (store / rec.local_path).resolve()
            if store.resolve() not in path.parents:  # a stored path never points outside the store
                removed = f"path outside the store left alone: {rec.local_path}"
            elif path.exists():
                path.unlink()
                removed = f"removed {rec.local_path}"
            else:
                removed = f"file already gone: {rec.local_path}"
        session.add(RecordingAudit(recording_id=rec.id, call_id=rec.call_id, action="deleted", actor_kind="system",
                                   actor_id=None, actor_name="retention", actor_role=None, at=now,
                                   detail=f"retention expired; {removed}"))
        session.commit()
        done.append(rec.id)
    return done


@scheduler.periodic("recording_retention", 6 * 3600)
def _retention_job(factory, settings, now: datetime) -> None:  # noqa: ANN001
    with session_scope(factory) as session:
        deleted = purge_expired_recordings(session, settings.recordings_path, now,
                                           default_days=settings.recording_retention_days)
    if deleted:
        log.info("recording retention: %d recording(s) deleted", len(deleted))
