"""What on-call people do from their phone: the SMS command language, the keys of a page call, and
Twilio's reports about page calls and messages.

Channel-neutral: plain values in, plain answers out (reply text, the phrase to say); the Twilio
adapter (webhooks/twilio_paging.py) only checks the signature, calls one function here and renders
TwiML. Every action goes through alerts.acknowledge / escalate_now / resolve, so the same rule of
who may act (permissions.may_act) holds here as in the API and the console.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import outbox
from ..alert_text import N_
from ..customers import try_normalize_phone
from ..models import Alert, AlertStatus, InboundSms, OutboxMessage, Page, StaffUser
from . import alerts, engine, notify
from .permissions import AlertForbidden, may_act

log = logging.getLogger(__name__)

ACK_KEYS, ESCALATE_KEYS, RESOLVE_KEYS, REPEAT_KEY = {"4", "1"}, {"5"}, {"6"}, "*"
SMS_COMMAND = re.compile(r"^\s*(ACK|ACKNOWLEDGE|A|4|1|ESC|ESCALATE|E|5|RES|RESOLVE|R|6)\s*#?\s*(\d{1,9})?\s*[.!]*\s*$",
                         re.IGNORECASE)
SMS_ACTIONS = {"ack": "acknowledge", "acknowledge": "acknowledge", "a": "acknowledge", "4": "acknowledge",
               "1": "acknowledge", "esc": "escalate", "escalate": "escalate", "e": "escalate", "5": "escalate",
               "res": "resolve", "resolve": "resolve", "r": "resolve", "6": "resolve"}
PAST = {"acknowledge": "acknowledged", "escalate": "escalated", "resolve": "resolved"}
# Said while the database is unavailable (webhooks/twilio_paging.py), in the engineer's language.
NOT_RECORDED = N_("Your reply was not recorded (the service is busy). Please send it again in a minute.")
CALL_NOT_RECORDED = N_("Your answer was not recorded: the service is busy. You will be paged again.")
HELP = "Not understood. Reply ACK <number> to acknowledge, ESC <number> to escalate, RES <number> to resolve."


# ------------------------------------------------------------------ SMS replies


def sms_reply(session: Session, *, message_ref: str | None, sender: str, body: str, now: datetime) -> str | None:
    """`sms_command` once per provider message (`message_ref`, Twilio's MessageSid): a delivery of a
    message already handled gets the answer it got, and changes nothing. The message is claimed before
    it acts: a twin delivery running at the same moment waits on the claim, then fails it
    (IntegrityError); its caller asks `sms_answer` for the answer."""
    if not message_ref:
        return sms_command(session, sender=sender, body=body, now=now)
    earlier = session.scalar(select(InboundSms).where(InboundSms.provider_ref == message_ref[:64]))
    if earlier is not None:
        return earlier.answer
    claim = InboundSms(provider_ref=message_ref[:64], received_at=now)
    session.add(claim)
    session.flush()
    claim.answer = sms_command(session, sender=sender, body=body, now=now)
    return claim.answer


def sms_answer(session: Session, message_ref: str) -> str | None:
    """The answer a provider message already handled got (None: none was sent, or not handled)."""
    return session.scalar(select(InboundSms.answer).where(InboundSms.provider_ref == message_ref[:64]))


def sms_command(session: Session, *, sender: str, body: str, now: datetime) -> str | None:
    """Apply an SMS reply to a page (`ACK 15789`, `1`, `ESC 15789`, `RES 15789`; case and spaces do
    not matter) and return the text to answer with; None for a sender we do not know, who gets no
    answer (replying could start an auto-responder loop)."""
    number = try_normalize_phone(sender or "")
    staff = session.scalar(select(StaffUser).where(StaffUser.phone == number, StaffUser.active.is_(True))) \
        if number else None
    if staff is None:
        return None
    match = SMS_COMMAND.match(body or "")
    if match is None:
        return HELP
    action = SMS_ACTIONS[match.group(1).lower()]
    if match.group(2):
        alert = alerts.find_by_reference(session, int(match.group(2)))
        if alert is None:
            return f"No open alert {match.group(2)}."
    else:
        candidates = alerts.open_alerts_paged_to(session, staff)
        if action == "acknowledge":
            candidates = [a for a in candidates if a.status == AlertStatus.TRIGGERED]
        if len(candidates) != 1:
            listed = ", ".join(str(a.reference) for a in candidates) or "none"
            return (f"{len(candidates)} open alerts for you ({listed}); reply with the number, "
                    f"e.g. ACK {candidates[0].reference if candidates else 15789}.")
        alert = candidates[0]
    try:
        done = _act(session, alert, staff, action, now, by_reference=bool(match.group(2)))
    except AlertForbidden:
        log.warning("SMS %s from %s (%s) refused: may not act on alert %s", action, number, staff.username,
                    alert.id)
        return f"You may not {action} alert {alert.reference}."
    if done:
        return f"Alert {alert.reference} {PAST[action]} by {staff.name}."
    return (f"Alert {alert.reference} not {PAST[action]}: it is {alert.status}"
            + (" and has moved on since your message." if action == "escalate" else "."))


def _act(session: Session, alert: Alert, staff: StaffUser, action: str, now: datetime, *,
         by_reference: bool) -> bool:
    if action == "acknowledge":
        done = alerts.acknowledge(session, alert, staff=staff, channel="sms", now=now)
        if by_reference and alert.ticket_number:
            # "ACK 15789" means the ticket: its other open pages (standby, SLA) stop too, where allowed.
            for other in alerts.open_alerts_for_ticket(session, alert.ticket_number):
                if other.id != alert.id and may_act(session, other, staff, now):
                    done = alerts.acknowledge(session, other, staff=staff, channel="sms", now=now) or done
        return done
    if action == "escalate":
        page = alerts.last_page(session, alert, staff)
        return alerts.escalate_now(session, alert, staff=staff, channel="sms", now=now,
                                   expected_step=(page.loop, page.step) if page else None)
    return alerts.resolve(session, alert, staff=staff, channel="sms", now=now)


# ------------------------------------------------------------------ page calls


@dataclass
class PageCall:
    """One page call as the callee meets it: what to say, in which language, and what comes next."""

    message_id: int
    language: str | None
    say: list[str]
    next: str  # "menu" (wait for a key), "hangup", "repeat" (play the alert again)


def _notification(session: Session, message_id: int | None) -> tuple[OutboxMessage, Page, Alert] | None:
    msg = session.get(OutboxMessage, message_id) if message_id else None
    if msg is None or msg.source_kind != notify.SOURCE_KIND:
        return None
    page = session.get(Page, msg.source_id)
    if page is None:
        return None
    return msg, page, session.get(Alert, page.alert_id)


def answered(session: Session, *, message_id: int | None, answered_by: str | None, machine: bool,
             now: datetime) -> PageCall | None:
    """The page call was answered: read the alert out, then wait for a key (a voicemail never
    presses one, so a machine is told to check messages and is not counted as reached)."""
    found = _notification(session, message_id)
    if found is None:
        return None
    msg, page, alert = found
    language = page.staff.language
    if machine:
        engine.record(session, alert, "machine", now, staff_id=page.staff_id, channel="voice",
                      detail=f"answered by {answered_by}: not counted as reached")
        ref = notify._fields(alert, language)["ref"]
        return PageCall(msg.id, language, [notify.phrase(language, "machine", ref=ref)], "hangup")
    if alert.status != AlertStatus.TRIGGERED:
        return PageCall(msg.id, language, [notify.phrase(language, "closed", status=alert.status)], "hangup")
    return PageCall(msg.id, language, [notify.spoken_alert(alert, language), notify.phrase(language, "menu")], "menu")


def key_pressed(session: Session, *, message_id: int | None, digits: str, now: datetime) -> PageCall | None:
    """A key on a page call: 4 (or 1) acknowledge, 5 escalate, 6 resolve, * repeat."""
    found = _notification(session, message_id)
    if found is None:
        return None
    msg, page, alert = found
    language, staff = page.staff.language, page.staff
    if digits == REPEAT_KEY:
        return PageCall(msg.id, language, [], "repeat")
    try:
        if digits in ACK_KEYS:
            done, phrase = alerts.acknowledge(session, alert, staff=staff, channel="voice", now=now), "acked"
        elif digits in ESCALATE_KEYS:
            done, phrase = alerts.escalate_now(session, alert, staff=staff, channel="voice", now=now,
                                               expected_step=(page.loop, page.step)), "escalated"
        elif digits in RESOLVE_KEYS:
            done, phrase = alerts.resolve(session, alert, staff=staff, channel="voice", now=now), "resolved"
        else:
            return PageCall(msg.id, language, [], "menu_again")
    except AlertForbidden:
        return PageCall(msg.id, language, [notify.phrase(language, "not_allowed")], "hangup")
    return PageCall(msg.id, language, [notify.phrase(language, phrase if done else "closed", status=alert.status)],
                    "hangup")


# ------------------------------------------------------------------ delivery reports


def status_report(session: Session, *, provider_ref: str, status: str, now: datetime, sequence: int | None = None,
                  error_code: str | None = None, claim_ref: str | None = None,
                  answered_by: str | None = None, machine: bool = False) -> None:
    """A Twilio status callback for a page SMS or call. `claim_ref` (from our callback URL) names the
    outbox row even before its sender recorded the provider's id."""
    msg = outbox.record_status(session, provider_ref, status, now, sequence=sequence, error_code=error_code,
                               claim_ref=outbox.parse_claim_ref(claim_ref))
    if msg is None or not (status == "in-progress" and machine):
        return
    # Voicemail answered: move on now rather than after the call ends.
    page = session.get(Page, msg.source_id) if msg.source_id else None
    alert = session.get(Alert, page.alert_id) if page else None
    if alert is not None and alert.status == AlertStatus.TRIGGERED:
        engine.not_reached(session, msg, now, f"call answered by {answered_by}")
