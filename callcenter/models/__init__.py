"""All tables. Importing this package registers every model on Base.metadata."""

from .base import Base, UTCDateTime, utcnow
from .customer import Asset, ClockKind, Company, Contact, Contract, Package, SlaTarget
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
    "ApiToken", "Role", "StaffUser",
    "CATEGORIES_NEEDING_APPROVAL", "LEVEL_ORDER", "OPEN_STATUSES", "PAUSED_STATUSES",
    "Approval", "ApprovalStatus", "Category", "Channel", "Level", "Priority", "Status",
    "Ticket", "TicketCounter", "TicketEvent", "TicketLink", "TimeEntry",
]
