"""Who may decide a special request, and on what proof: the one rule every channel goes through.

A permission change or a device order is decided only by an authorised contact of the ticket's
company (the one named on the request, when it names one), and a spare part only by a manager of ours.
The console, the API, mail and any later channel build a `Decision` saying who decided and how that
person was authenticated, and call `decide_approval`; nothing else changes an approval's status.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import update
from sqlalchemy.orm import Session

from . import events
from .models import Approval, ApprovalStatus, Contact, Role, StaffUser, Status
from .tickets import Actor, TicketError, _changed, _pending_approval, _record

MANAGER_ROLES = {Role.MANAGER, Role.ADMIN}
# Staff who may enter a customer's decision that reached us in writing outside the system.
RECORDING_ROLES = {Role.AGENT, Role.ENGINEER, Role.MANAGER, Role.ADMIN}
SPECIAL_REQUESTS = {"permission_change", "device_order"}


class Proof(StrEnum):
    """How the decider was authenticated."""

    # The decider is the one logged in (console session or API token): the actor is the decider.
    LOGIN = "login"
    # A written reply by mail from the approver's address to the approval request; callcenter.mail
    # decides what proves the reply genuine (the request's token, the MTA's Authentication-Results)
    # before it calls with this proof.
    MAIL_REPLY = "mail_reply"
    # A member of staff enters the customer's written decision received elsewhere (a letter, a signed
    # form); the evidence says where it is, and the ticket's event names who entered it.
    RECORDED = "recorded"


class ApprovalRefused(TicketError):
    """This person, or this proof, may not decide this approval (the channel answers 403)."""


class ApprovalClosed(TicketError):
    """The approval was decided already (the channel answers 409)."""


@dataclass(frozen=True)
class Decision:
    approved: bool
    proof: Proof
    channel: str                    # web, api, email, ...: where the decision reached us
    evidence: str                   # the written reply, the portal note, the letter's reference
    contact: Contact | None = None  # the customer's person who decided (permission change, device order)
    staff: StaffUser | None = None  # the manager who decided (spare part)
    recorder: StaffUser | None = None  # Proof.RECORDED: the member of staff who enters it (the actor)

    @property
    def decider_name(self) -> str:
        person = self.contact or self.staff
        return person.name if person is not None else ""


def check_decision(approval: Approval, decision: Decision, actor: Actor) -> None:
    """Raise ApprovalRefused / ApprovalClosed / TicketError unless `decision` may decide `approval`."""
    if approval.status != ApprovalStatus.PENDING:
        raise ApprovalClosed("this approval has already been decided")
    if not decision.evidence or not decision.evidence.strip():
        raise TicketError("a decision needs its evidence (the written reply or a note)")
    if approval.kind == "spare_part":
        manager = decision.staff
        if decision.contact is not None or manager is None or manager.role not in MANAGER_ROLES \
                or not manager.active:
            raise ApprovalRefused("only a manager can approve a spare part")
        # A manager decides in person: nobody enters a manager's decision for them.
        if decision.proof != Proof.LOGIN or actor.kind != "staff" or actor.id != manager.id:
            raise ApprovalRefused("only a manager can approve a spare part, logged in as themselves")
        return
    if approval.kind not in SPECIAL_REQUESTS:
        raise ApprovalRefused(f"unknown approval kind {approval.kind!r}")
    contact = decision.contact
    if contact is None or decision.staff is not None:
        raise ApprovalRefused("the decision must come from the customer's authorised contact")
    if not contact.active or not contact.can_authorize or contact.company_id != approval.ticket.company_id:
        raise ApprovalRefused(f"{contact.name} may not authorise special requests")
    if approval.approver_contact_id is not None and approval.approver_contact_id != contact.id:
        raise ApprovalRefused(f"this request is for {approval.approver_contact.name} to decide")
    if decision.proof == Proof.LOGIN:
        if actor.kind != "contact" or actor.id != contact.id:
            raise ApprovalRefused("only the authorised contact, logged in as themselves, decides in the portal")
    elif decision.proof == Proof.MAIL_REPLY:
        if decision.channel != "email":
            raise ApprovalRefused("a mail proof comes with the e-mail channel")
    elif decision.proof == Proof.RECORDED:
        recorder = decision.recorder
        if recorder is None or recorder.role not in RECORDING_ROLES or not recorder.active \
                or actor.kind != "staff" or actor.id != recorder.id:
            raise ApprovalRefused("only help-desk staff enter a customer's written decision")
    else:
        raise ApprovalRefused(f"unknown proof {decision.proof!r}")


def decide_approval(session: Session, approval: Approval, decision: Decision, *, actor: Actor,
                    now: datetime) -> Approval:
    """Record the authorised person's decision with its evidence, after `check_decision`."""
    check_decision(approval, decision, actor)
    evidence = decision.evidence
    if decision.proof == Proof.RECORDED:
        evidence = f"Entered by {actor.name} from the customer's written decision: {evidence}"
    # Conditional on `pending`: of two decisions racing (two channels, two clicks) only one counts.
    decided = session.execute(
        update(Approval).where(Approval.id == approval.id, Approval.status == ApprovalStatus.PENDING)
        .values(status=ApprovalStatus.APPROVED if decision.approved else ApprovalStatus.DENIED, decided_at=now,
                decided_by_name=decision.decider_name[:200], decision_channel=decision.channel[:10],
                evidence=evidence)
        .execution_options(synchronize_session="evaluate"))
    if decided.rowcount != 1:
        session.refresh(approval)
        raise ApprovalClosed("this approval has already been decided")
    ticket = approval.ticket
    # A spare part is our managers' business: its decision stays internal (customer_portal).
    _changed(session, ticket, "approval", actor, now,
             {"approval": [f"{approval.kind} requested", f"{approval.kind} {approval.status}"]}, evidence,
             public=approval.kind != "spare_part")
    if ticket.status == Status.WAITING_APPROVAL and not _pending_approval(ticket):
        old = ticket.status
        ticket.status = Status.ACKNOWLEDGED
        _record(session, ticket, "status", actor, now, {"status": [old, Status.ACKNOWLEDGED]})
    events.publish(session, events.ApprovalDecided(approval.id, ticket.id, decision.approved, now))
    return approval
