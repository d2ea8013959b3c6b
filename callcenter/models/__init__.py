"""All tables. Importing this package registers every model on Base.metadata."""

from .agent import OPEN_OFFER_STATUSES, Agent, AgentState, AgentStateChange, CallOffer, OfferStatus
from .attachment import TicketAttachment
from .base import Base, UTCDateTime, utcnow
from .call import Call, CallChannel, CallOutcome, Recording, RecordingKind, RecordingStatus, ServiceProcess
from .call_review import MAX_SCORE, REVIEW_CRITERIA, CallReview, RecordingAudit
from .console import LoginAttempt, LoginThrottle
from .customer import Asset, ClockKind, Company, Contact, Contract, DirectoryVersion, Package, SlaTarget
from .domain_event import DomainEvent, DomainEventState
from .installation import InstallationSecret
from .mail import (
    AutoReplyCounter,
    InboundMail,
    InboundStatus,
    MailApprovalToken,
    MailAttachment,
    MailSpool,
    OutboundMail,
)
from .outbox import OutboxAttempt, OutboxMessage, OutboxState, Timer, WorkerHeartbeat
from .paging import (
    Alert,
    AlertEvent,
    AlertStatus,
    EscalationPolicy,
    InboundSms,
    NotificationRule,
    Page,
    Rotation,
    RotationOverride,
)
from .search import TicketSearch
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
    "OPEN_OFFER_STATUSES", "Agent", "AgentState", "AgentStateChange", "CallOffer", "OfferStatus",
    "Base", "UTCDateTime", "utcnow",
    "Call", "CallChannel", "CallOutcome", "Recording", "RecordingKind", "RecordingStatus", "ServiceProcess",
    "MAX_SCORE", "REVIEW_CRITERIA", "CallReview", "RecordingAudit",
    "Asset", "ClockKind", "Company", "Contact", "Contract", "DirectoryVersion", "Package", "SlaTarget",
    "AutoReplyCounter", "InboundMail", "InboundStatus", "MailApprovalToken", "MailAttachment", "MailSpool",
    "OutboundMail",
    "InstallationSecret", "DomainEvent", "DomainEventState",
    "Alert", "AlertEvent", "InboundSms", "AlertStatus", "EscalationPolicy", "NotificationRule", "Page", "Rotation",
    "RotationOverride",
    "OutboxAttempt", "OutboxMessage", "OutboxState", "Timer", "WorkerHeartbeat",
    "ApiToken", "Role", "StaffUser", "LoginAttempt", "LoginThrottle",
    "CATEGORIES_NEEDING_APPROVAL", "LEVEL_ORDER", "OPEN_STATUSES", "PAUSED_STATUSES",
    "Approval", "ApprovalStatus", "Category", "Channel", "Level", "Priority", "Status",
    "Ticket", "TicketCounter", "TicketEvent", "TicketLink", "TimeEntry", "TicketAttachment", "TicketSearch",
]
