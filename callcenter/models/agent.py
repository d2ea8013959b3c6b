"""Agents taking hotline calls: their availability, its history, and the offers of queued calls."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime, utcnow


class AgentState(StrEnum):
    AVAILABLE = "available"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    AWAY = "away"
    OFFLINE = "offline"


class OfferStatus(StrEnum):
    PENDING = "pending"        # chosen; the agent's phone is about to ring
    RINGING = "ringing"        # the outbound call to the agent was placed
    ACCEPTED = "accepted"      # the agent pressed 1
    DECLINED = "declined"      # the agent pressed something else or hung up on the whisper
    NO_ANSWER = "no_answer"    # busy, no answer, voicemail, or the offer timed out
    CANCELLED = "cancelled"    # the caller left the queue before the agent answered


OPEN_OFFER_STATUSES = (OfferStatus.PENDING, OfferStatus.RINGING)


class Agent(Base):
    """A staff user's presence on the hotline (one row per staff user, created on first use)."""

    __tablename__ = "agents"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"), unique=True)
    state: Mapped[str] = mapped_column(String(12), default=AgentState.OFFLINE)
    state_since: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When the agent last became free: longest-idle agents are offered calls first.
    idle_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Agents who let the last offer ring out are skipped for a while.
    last_missed_offer_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Contracts naming a team are served only by that team's agents.
    team: Mapped[str | None] = mapped_column(String(40))
    # The offer ringing now (claimed with a conditional UPDATE, so two workers never ring one agent twice).
    offer_id: Mapped[int | None] = mapped_column(Integer)
    current_call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id"))
    wrap_up_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AgentStateChange(Base):
    __tablename__ = "agent_state_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), index=True)
    previous: Mapped[str | None] = mapped_column(String(12))
    state: Mapped[str] = mapped_column(String(12))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    reason: Mapped[str] = mapped_column(String(40), default="console")  # console, phone, call, timer


class CallOffer(Base):
    """One attempt to connect a queued (or called-back) caller with one agent."""

    __tablename__ = "call_offers"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10), default="queue")  # queue | callback
    status: Mapped[str] = mapped_column(String(12), default=OfferStatus.PENDING, index=True)
    offered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The agent leg's provider call id (Twilio CallSid), known once the worker placed the call.
    provider_call_id: Mapped[str | None] = mapped_column(String(64), index=True)
