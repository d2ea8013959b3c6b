"""Secrets generated once per installation and kept in the database, so every process (web, agi,
worker, mail-ingest, mail-listen) on every machine uses the same value without configuring it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime, utcnow


class InstallationSecret(Base):
    __tablename__ = "installation_secrets"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)  # e.g. "mail"
    value: Mapped[str] = mapped_column(String(128))  # random, hex
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
