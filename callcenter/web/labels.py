"""Readable, translated names for the stored codes (statuses, categories, levels ...)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

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


def label(code: object) -> object:
    return LABELS.get(str(code), str(code) if code is not None else "")


def customer_label(code: object) -> object:
    return CUSTOMER_LABELS.get(str(code)) or label(code)
