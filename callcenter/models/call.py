"""Hotline calls and their recordings (whole-call QA recordings and voice messages)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, false, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, UTCDateTime, utcnow


class CallChannel(StrEnum):
    TWILIO = "twilio"
    ASTERISK = "asterisk"
    SIMULATED = "simulated"  # `callcenter call simulate`


class CallOutcome(StrEnum):
    CRITICAL_QUEUED = "critical_queued"        # critical ticket opened, caller queued
    CRITICAL_STANDBY = "critical_standby"      # critical ticket out of hours, on-call alerted
    ANSWERED = "answered"                      # an agent took the call from the queue
    UNANSWERED_MESSAGE = "unanswered_message"  # nobody answered in time; caller left a message
    UNANSWERED = "unanswered"                  # nobody answered in time; no message
    MESSAGE = "message"                        # voice message became a ticket
    COMPLAINT = "complaint"
    TICKET_STATUS = "ticket_status"
    PERMISSION_REFUSED = "permission_refused"
    SALES = "sales"
    NO_INPUT = "no_input"
    HANGUP_IN_MENU = "hangup_in_menu"
    ABANDONED_IN_QUEUE = "abandoned_in_queue"
    EMERGENCY_ROUTE = "emergency_route"
    LOST = "lost"                              # the caller was gone (crashed AGI process, call ended at Twilio
    #                                            while we did not hear it) before the call got an outcome


class RecordingKind(StrEnum):
    WHOLE_CALL = "whole_call"
    VOICE_MESSAGE = "voice_message"


class RecordingStatus(StrEnum):
    IN_PROGRESS = "in-progress"
    COMPLETED = "completed"      # the provider has the file; the worker fetches it
    STORED = "stored"            # the file is in the recordings store
    ABSENT = "absent"            # nothing was recorded
    FAILED = "failed"
    DELETED = "deleted"          # removed by the retention job; the row and its audit trail remain


class Call(Base):
    __tablename__ = "calls"
    # The ghost sweep reads the open calls every few seconds; the table holds every call ever made.
    __table_args__ = (Index("ix_calls_open", "arrived_at", postgresql_where=text("ended_at IS NULL"),
                            sqlite_where=text("ended_at IS NULL")),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(10))
    provider_call_id: Mapped[str] = mapped_column(String(64), unique=True)
    caller_number: Mapped[str | None] = mapped_column(String(64))
    called_number: Mapped[str | None] = mapped_column(String(64))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"), index=True)
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id"), index=True)
    contract_id: Mapped[int | None] = mapped_column(ForeignKey("contracts.id"))
    asset_id: Mapped[int | None] = mapped_column(ForeignKey("assets.id"))
    language: Mapped[str] = mapped_column(String(5), default="en")
    out_of_hours: Mapped[bool] = mapped_column(Boolean, default=False)
    arrived_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
    wait_seconds: Mapped[int | None] = mapped_column(Integer)
    # Menu choices in order, e.g. "1" or "3>15001"; retries show as "?".
    menu_path: Mapped[str] = mapped_column(String(200), default="")
    step: Mapped[str | None] = mapped_column(String(40))  # where the flow last stopped
    menu_attempts: Mapped[int] = mapped_column(Integer, default=0)
    outcome: Mapped[str | None] = mapped_column(String(30))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    queue_entered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    queue_left_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    unanswered_alerted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Last provider status report (Twilio CallStatus) and its SequenceNumber: older ones are ignored.
    provider_status: Mapped[str | None] = mapped_column(String(20))
    status_sequence: Mapped[int] = mapped_column(Integer, default=-1)
    # Agents (callcenter.agents / distribution): who took the call, and its times.
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"), index=True)
    offered_agent_id: Mapped[int | None] = mapped_column(Integer)  # the offer ringing now (claimed atomically)
    ring_seconds: Mapped[int | None] = mapped_column(Integer)
    talk_seconds: Mapped[int | None] = mapped_column(Integer)
    wrap_up_seconds: Mapped[int | None] = mapped_column(Integer)
    wrap_up_outcome: Mapped[str | None] = mapped_column(String(30))
    # Missed calls: pending -> dialling -> done (or dismissed); callbacks point at the missed call.
    callback_state: Mapped[str | None] = mapped_column(String(12), index=True)
    callback_of_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id"))
    # Legal hold: the retention job keeps this call's recordings whatever their age.
    legal_hold: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    legal_hold_reason: Mapped[str | None] = mapped_column(Text)
    # Idempotent turns (callcenter.call_turns): how many turns the call has taken, and the key and answer
    # of the last one, so a webhook Twilio sends again gets the same answer and changes nothing.
    turn_seq: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    turn_key: Mapped[str | None] = mapped_column(String(120))
    turn_replay: Mapped[dict | None] = mapped_column(JSON)
    # Ghost callers (callcenter.lost_calls): the AGI process serving the call, when we last heard from
    # the provider about it, and when we last asked the provider (Twilio's REST API) whether it still runs.
    owner: Mapped[str | None] = mapped_column(String(100))
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    recordings: Mapped[list[Recording]] = relationship(back_populates="call", order_by="Recording.id")

    @property
    def waiting_in_queue(self) -> bool:
        return self.queue_entered_at is not None and self.queue_left_at is None and self.ended_at is None


class Recording(Base):
    __tablename__ = "recordings"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    provider_recording_id: Mapped[str] = mapped_column(String(80), unique=True)
    kind: Mapped[str] = mapped_column(String(20), default=RecordingKind.WHOLE_CALL)
    status: Mapped[str] = mapped_column(String(20), default=RecordingStatus.IN_PROGRESS)
    url: Mapped[str | None] = mapped_column(Text)
    # Relative to the recordings store (CALLCENTER_RECORDINGS_DIR).
    local_path: Mapped[str | None] = mapped_column(String(300))
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    stored_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    call: Mapped[Call] = relationship(back_populates="recordings")


class ServiceProcess(Base):
    """A process that holds live calls (a FastAGI server: `callcenter agi` or `serve`), beating while it runs.

    Calls it serves name it in `Call.owner`; when its heartbeat stops, the ghost sweep closes them.
    """

    __tablename__ = "service_processes"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)  # host:pid:random
    kind: Mapped[str] = mapped_column(String(10), default="agi")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    beat_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
