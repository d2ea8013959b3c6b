"""What a mail may change on the ticket it joins, and the evidence a decision by mail carries.

A `From:` header is whatever the sender typed. A mail that threads onto a ticket is recorded there
(nothing is dropped), but a state change by mail needs more:

- every change (reopening, ending the wait for the customer, an approval decision) is refused when
  the receiving MTA found the sender forged: an `Authentication-Results` header with `dmarc=fail`,
  or `spf=fail` without `dkim=pass` in the same header;
- an approval decision must also prove that its author *received the request*: the reply brings
  back the request's unguessable token (in In-Reply-To/References, or the quoted body marker) and
  comes from the address the request went to. The service's approval rule then decides whether
  that person may approve that kind of request at all.

When a decision is not counted, the ticket records why (an internal note).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import approvals, tickets
from ..models import Approval, ApprovalStatus, Contact, MailApprovalToken, Ticket
from .parse import ParsedMail
from .signing import MailSigner, token_hash

APPROVE_WORDS = ("approve", "approved", "i approve", "jóváhagyom", "jóváhagyva", "engedélyezem", "εγκρίνω",
                 "εγκρίνεται", "genehmigt")
DENY_WORDS = ("deny", "denied", "reject", "rejected", "elutasítom", "nem hagyom jóvá", "nem engedélyezem",
              "απορρίπτω", "δεν εγκρίνω", "abgelehnt")

_COMMENT = re.compile(r"\([^()]*\)")
_RESULT = re.compile(r"^\s*([a-z0-9_-]+)\s*=\s*([a-z]+)", re.IGNORECASE)


def approval_decision(text: str) -> bool | None:
    """True (approve), False (deny) or None (unclear) from the first lines the person wrote."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith(">")][:3]
    head = " ".join(lines).casefold()
    words = re.findall(r"\w+", head)
    deny = any((w in head) if " " in w else (w in words) for w in DENY_WORDS)
    if deny:
        return False
    approve = any((w in head) if " " in w else (w in words) for w in APPROVE_WORDS)
    return True if approve else None


def authentication_failure(mail: ParsedMail) -> str | None:
    """Why the receiving MTA's `Authentication-Results` (RFC 8601) say the sender is forged, or None.

    Each header is judged on its own: a header the sender added can only add a failure, never hide
    one (a forged `dkim=pass` in another header does not excuse the MTA's `spf=fail`)."""
    for value in mail.headers.get("authentication-results", []):
        text = _COMMENT.sub(" ", value)
        server, _, rest = text.partition(";")
        results: dict[str, set[str]] = {}
        for item in rest.split(";"):
            match = _RESULT.match(item)
            if match:
                results.setdefault(match.group(1).lower(), set()).add(match.group(2).lower())
        where = f"Authentication-Results from {server.strip() or '?'}"
        if "fail" in results.get("dmarc", set()):
            return f"{where}: dmarc=fail"
        if "fail" in results.get("spf", set()) and "pass" not in results.get("dkim", set()):
            return f"{where}: spf=fail without dkim=pass"
    return None


@dataclass
class MailEvidence:
    """What a mail proves about its author, for the approval rule and the ticket's record."""

    from_address: str
    message_id: str | None
    token_for: set[int]  # ids of the approvals whose request token the mail brought back
    token_addresses: dict[int, str]  # approval id -> address its request went to
    auth_failure: str | None
    text: str

    def refusal(self, approval: Approval, contact: Contact | None) -> str | None:
        """Why this mail cannot decide `approval`, or None when it proves receipt and sender."""
        if self.auth_failure:
            return f"the receiving mail server found the sender forged ({self.auth_failure})"
        if approval.id not in self.token_for:
            return ("it does not answer this approval's request mail (the request's token is neither in "
                    "In-Reply-To/References nor in the quoted text)")
        asked = self.token_addresses[approval.id]
        if self.from_address.lower() != asked.lower():
            return f"it comes from {self.from_address}, but the request went to {asked}"
        if contact is None or (approval.approver_contact_id is not None and approval.approver_contact_id != contact.id):
            return f"{self.from_address} is not the contact asked to approve"
        return None

    def record(self) -> str:
        proof = "the approval request's token brought back, from the address it was sent to"
        return (f"E-mail from {self.from_address}, Message-ID <{self.message_id or '-'}>; {proof}; "
                f"no authentication failure reported by the receiving server\n\n{self.text[:4000]}")


def mail_evidence(session: Session, signer: MailSigner, mail: ParsedMail, pending: list[Approval],
                  auth_failure: str | None) -> MailEvidence:
    """Collect the approval tokens the mail brings back (headers first, then quoted markers)."""
    tokens = []
    for mid in mail.in_reply_to + mail.references:
        own = signer.decode(mid)
        if own is not None and own.token:
            tokens.append(own.token)
    tokens += [m.article for m in signer.markers(mail.text, mail.html) if m.article != "ref"]
    rows = []
    if tokens:
        rows = list(session.scalars(select(MailApprovalToken).where(
            MailApprovalToken.token_hash.in_([token_hash(t) for t in tokens]),
            MailApprovalToken.approval_id.in_([a.id for a in pending]))))
    return MailEvidence(mail.from_address, mail.message_id, {r.approval_id for r in rows},
                        {r.approval_id: r.address for r in rows}, auth_failure, mail.text)


def decide_approvals_by_mail(session: Session, signer: MailSigner, ticket: Ticket, mail: ParsedMail,
                             contact: Contact | None, actor: tickets.Actor, now: datetime,
                             auth_failure: str | None) -> None:
    """An APPROVE/DENY reply decides the approval whose request it answers, if it proves it may."""
    # The words first: most replies decide nothing, and reading them costs no query for the approvals.
    decision = approval_decision(mail.text)
    if decision is None:
        return
    pending = [a for a in ticket.approvals if a.status == ApprovalStatus.PENDING and a.kind != "spare_part"]
    if not pending:
        return
    evidence = mail_evidence(session, signer, mail, pending, auth_failure)
    for approval in pending:
        if evidence.token_for and approval.id not in evidence.token_for:
            continue  # the reply answers another approval's request: not a word about this one
        refusal = evidence.refusal(approval, contact)
        if refusal is None:
            try:
                approvals.decide_approval(session, approval, approvals.Decision(
                    decision, approvals.Proof.MAIL_REPLY, "email", evidence.record(), contact=contact),
                    actor=actor, now=now)
                continue
            except tickets.TicketError as exc:  # the approval rule says this person may not decide it
                refusal = str(exc)
        word = "approval" if decision else "denial"
        tickets.add_note(session, ticket, f"An {word} by e-mail from {mail.from_address} (Message-ID "
                         f"<{mail.message_id or '-'}>) was not counted for the {approval.kind.replace('_', ' ')} "
                         f"request: {refusal}.", actor=tickets.SYSTEM, now=now, public=False)


def state_change_refusal(auth_failure: str | None) -> str | None:
    """Why a mail that joined a ticket may not change its state (reopen it, end a wait)."""
    if auth_failure:
        return f"the receiving mail server found the sender forged ({auth_failure})"
    return None
