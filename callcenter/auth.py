"""Staff accounts, passwords and API tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from .models import ApiToken, Role, StaffUser

ROLE_RANK = {Role.AGENT: 1, Role.ENGINEER: 2, Role.QA: 2, Role.MANAGER: 3, Role.ADMIN: 4}


class AuthError(PermissionError):
    pass


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session: Session, username: str, now: datetime, label: str = "cli") -> str:
    """A new API token for a staff user; only its hash is stored, so it is shown once."""
    user = session.scalar(select(StaffUser).where(StaffUser.username == username))
    if user is None or not user.active:
        raise AuthError(f"no active staff user {username!r}")
    token = "hl_" + secrets.token_urlsafe(32)
    session.add(ApiToken(user=user, token_hash=hash_token(token), label=label, created_at=now))
    session.flush()
    return token


def user_for_token(session: Session, token: str, now: datetime) -> StaffUser | None:
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    if row is None or row.revoked_at is not None or not row.user.active:
        return None
    row.last_used_at = now
    return row.user


def set_password(user: StaffUser, password: str) -> None:
    user.password_hash = generate_password_hash(password)


def check_password(user: StaffUser, password: str) -> bool:
    return bool(user.password_hash) and check_password_hash(user.password_hash, password)


def has_role(user: StaffUser, *roles: str) -> bool:
    return user.role == Role.ADMIN or user.role in roles
