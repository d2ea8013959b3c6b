"""All tables. Importing this package registers every model on Base.metadata."""

from .base import Base, UTCDateTime, utcnow
from .console import LoginAttempt
from .customer import Asset, ClockKind, Company, Contact, Contract, Package, SlaTarget
from .outbox import OutboxAttempt, OutboxMessage, OutboxState, Timer
from .staff import ApiToken, Role, StaffUser
from .ticket import (
    CATEGORIES_NEEDING_APPROVAL,
    LEVEL_ORDER,
    OPEN_STATUSES,
    PAUSED_STATUSES,
    Approval,
    ApprovalStatus,
    Category,
    Channel,
    Level,
    Priority,
    Status,
    Ticket,
    TicketCounter,
    TicketEvent,
    TicketLink,
    TimeEntry,
)

__all__ = [
    "Base", "UTCDateTime", "utcnow",
    "Asset", "ClockKind", "Company", "Contact", "Contract", "Package", "SlaTarget",
    "OutboxAttempt", "OutboxMessage", "OutboxState", "Timer",
    "ApiToken", "Role", "StaffUser", "LoginAttempt",
    "CATEGORIES_NEEDING_APPROVAL", "LEVEL_ORDER", "OPEN_STATUSES", "PAUSED_STATUSES",
    "Approval", "ApprovalStatus", "Category", "Channel", "Level", "Priority", "Status",
    "Ticket", "TicketCounter", "TicketEvent", "TicketLink", "TimeEntry",
]
