"""Readable, translated names for the stored codes (statuses, categories, levels ...)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext

LABELS = {
    # statuses
    "new": _l("New"), "acknowledged": _l("Acknowledged"), "in_progress": _l("In progress"),
    "waiting_customer": _l("Waiting for customer"), "waiting_approval": _l("Waiting for approval"),
    "resolved": _l("Resolved"), "closed": _l("Closed"),
    # categories
    "user": _l("User problem"), "system": _l("System-level problem"), "infrastructure": _l("Infrastructure problem"),
    "request": _l("Request"), "permission_change": _l("Permission change"), "device_order": _l("Device order"),
    "complaint": _l("Complaint"), "quote": _l("Quote"), "project": _l("Project"), "spare_part": _l("Spare part"),
    # priorities
    "critical": _l("Critical"), "high": _l("High"), "normal": _l("Normal"), "low": _l("Low"),
    # levels
    "L1": _l("L1 help desk"), "L2": _l("L2 support"), "L3": _l("L3 support"), "onsite": _l("On-site team"),
    # channels
    "phone": _l("Phone"), "email": _l("E-mail"), "web": _l("Web"), "api": _l("API"),
    # approvals
    "pending": _l("Pending"), "approved": _l("Approved"), "denied": _l("Denied"),
    # roles
    "agent": _l("Agent"), "engineer": _l("Engineer"), "qa": _l("Quality reviewer"), "manager": _l("Manager"),
    "admin": _l("Administrator"), "customer": _l("Customer"),
    # event kinds
    "created": _l("Created"), "status": _l("Status"), "assigned": _l("Assigned"), "escalated": _l("Escalated"),
    "de-escalated": _l("De-escalated"), "updated": _l("Updated"), "note": _l("Note"), "comment": _l("Comment"),
    "time": _l("Time logged"), "approval": _l("Approval"), "linked": _l("Linked"),
    # call states and outcomes, call channels, recordings
    "waiting": _l("Waiting"), "answered": _l("Answered"), "abandoned": _l("Abandoned"),
    "unanswered": _l("Unanswered"), "not_queued": _l("Not queued"),
    "critical_queued": _l("Critical fault, queued"), "critical_standby": _l("Critical fault, standby paged"),
    "unanswered_message": _l("Unanswered, message left"), "message": _l("Voice message"),
    "ticket_status": _l("Ticket status enquiry"), "permission_refused": _l("Permission change refused"),
    "sales": _l("Sales"), "no_input": _l("No input"), "hangup_in_menu": _l("Hung up in the menu"),
    "abandoned_in_queue": _l("Abandoned in the queue"), "emergency_route": _l("Emergency route"),
    "twilio": "Twilio", "asterisk": "Asterisk", "simulated": _l("Simulated"),
    "whole_call": _l("Whole call"), "voice_message": _l("Voice message"), "stored": _l("Stored"),
    "completed": _l("At the provider"), "deleted": _l("Deleted"),
    "in-progress": _l("Recording"), "absent": _l("Not recorded"), "failed": _l("Failed"),
    "play": _l("Played"), "download": _l("Downloaded"),
    # ticket fields (life cycle entries) and outcomes
    "category": _l("Category"), "priority": _l("Priority"), "subject": _l("Subject"), "level": _l("Level"),
    "assignee": _l("Assignee"), "resolution": _l("Outcome"), "channel": _l("Channel"),
    "responded_at": _l("Responded"), "reopened": _l("Reopened"), "link": _l("Link"), "asset_id": _l("Machine"),
    "location": _l("Location"), "description": _l("Description"),
    "solved": _l("Solved"), "refused": _l("Refused"), "duplicate": _l("Duplicate"),
    "reporter_name": _l("Reporter"), "reporter_contact_id": _l("Reporter"), "company_id": _l("Company"),
    "contract_id": _l("Contract"), "status_note": _l("Note"), "minutes": _l("Minutes worked"),
    "billable_hours": _l("Billed hours"), "billable": _l("Billable"), "kind": _l("Kind"),
    "sla_response_minutes": _l("Response target"), "response_due_at": _l("Response due by"),
    "resolved_at": _l("Resolved"), "closed_at": _l("Closed"), "sla_clock": _l("Clock"),
    "reporter_role": _l("Role"), "reason": _l("Reason"), "number": _l("Ticket number"),
    # ticket links
    "related": _l("Related"), "follow_up": _l("Follow-up"),
    # contracts: packages and SLA clocks
    "business_hours": _l("Business hours"), "standby_24_7": _l("24/7 standby"),
    "working": _l("working hours"), "calendar": _l("calendar hours"),
    # a contact's communication level
    "technical": _l("Technical staff"), "coordinator": _l("Coordinator"), "end_user": _l("End user"),
    # agents and call offers
    "available": _l("Available"), "on_call": _l("On a call"), "wrap_up": _l("Wrap-up"), "away": _l("Away"),
    "offline": _l("Offline"), "ringing": _l("Ringing"), "accepted": _l("Accepted"), "declined": _l("Declined"),
    "no_answer": _l("No answer"), "cancelled": _l("Cancelled"),
    # a call the system lost track of
    "lost": _l("Lost (caller gone)"),
    # mail intake and the outbox
    "new_ticket": _l("New ticket"), "threaded": _l("Added to a ticket"), "quarantined": _l("Quarantined"),
    "sending": _l("Sending"), "sent": _l("Sent"), "delivered": _l("Delivered"), "dead": _l("Given up"),
    "undelivered": _l("Not delivered"), "queued": _l("Queued"), "logged": _l("Logged"), "busy": _l("Busy"),
    "no-answer": _l("No answer"), "canceled": _l("Cancelled"), "retry": _l("Will retry"),
    "reconciled": _l("Reconciled"), "resend": _l("Sent again"), "unknown": _l("Unknown"),
    "lost_claim": _l("Worker stopped"), "attempt": _l("Attempt"), "done": _l("Done"),
    # paging: alert states, sources, severities, channels, audit trail, rotations
    "triggered": _l("Triggered"), "info": _l("Information"), "sms": _l("SMS"), "voice": _l("Voice call"),
    "cli": _l("Command line"), "hotline": _l("Hotline call"), "standby": _l("Standby line"), "sla": _l("SLA clock"),
    "imap": _l("Mailbox (IMAP)"), "lmtp": _l("Mail server (LMTP)"), "smtp": _l("Mail server (SMTP)"),
    "raised": _l("Raised"), "deduplicated": _l("Raised again"), "step": _l("Escalation step"),
    "notify": _l("Notification"), "unreachable": _l("Unreachable"), "unreached": _l("Nobody reached"),
    "not_reached": _l("Not reached"), "ack_timeout": _l("Acknowledgement timed out"),
    "escalate": _l("Escalated"), "escalate_now": _l("Escalated by hand"), "failover": _l("Next contact method"),
    "machine": _l("Answering machine"), "ended": _l("Ended"), "fax": _l("Fax"),
    "machine_start": _l("Answering machine"), "machine_end_beep": _l("Answering machine"),
    "machine_end_silence": _l("Answering machine"), "machine_end_other": _l("Answering machine"),
    "weekly": _l("weekly"), "daily": _l("daily"), "rotation": _l("Rotation"), "staff": _l("Staff member"),
    "managers": _l("Managers"),
    # working-hours keys of a contract
    "mon": _l("Mon"), "tue": _l("Tue"), "wed": _l("Wed"), "thu": _l("Thu"), "fri": _l("Fri"), "sat": _l("Sat"),
    "sun": _l("Sun"),
}

# Where one code means something else in a particular place: an acknowledged alert is not an
# acknowledged ticket, a resolved alert is closed rather than solved.
CONTEXT_LABELS = {
    "alert": {"acknowledged": lazy_pgettext("alert", "Acknowledged"),
              "resolved": lazy_pgettext("alert", "Resolved")},
}

# Where the customer reads a word differently from staff (the portal and its mails).
CUSTOMER_LABELS = {
    "waiting_customer": _l("Waiting for your reply"), "acknowledged": _l("Received"),
    # what happened to a call, as the caller knows it (customer_portal.CALL_RESULTS)
    "answered": _l("Answered"), "standby_alerted": _l("On-call engineer alerted"),
    "message_left": _l("Message left"), "status_enquiry": _l("Status enquiry"),
    "in_writing_only": _l("Asked to write (permission change)"), "passed_to_sales": _l("Passed to Sales"),
    "critical_reported": _l("Critical fault reported"), "missed": _l("Not answered"),
}


def label(code: object, context: str | None = None) -> object:
    """The translated name of a stored code; `context` picks a place-specific word (see CONTEXT_LABELS)."""
    if context is not None and str(code) in CONTEXT_LABELS.get(context, {}):
        return CONTEXT_LABELS[context][str(code)]
    return LABELS.get(str(code), str(code) if code is not None else "")


def actor(name: object) -> object:
    """Who did something: a person's name as stored, the automatic jobs as "System" in the viewer's language."""
    if name is None or name == "":
        return ""
    return _l("System") if str(name) == "system" else name


def customer_label(code: object) -> object:
    return CUSTOMER_LABELS.get(str(code)) or label(code)
