"""Staff accounts, passwords, API tokens, console logins and their sessions (no Flask here)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import case, func, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from .models import ApiToken, Contact, LoginAttempt, LoginThrottle, Role, StaffUser, UTCDateTime

ROLE_RANK = {Role.AGENT: 1, Role.ENGINEER: 2, Role.QA: 2, Role.MANAGER: 3, Role.ADMIN: 4}

MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)


class AuthError(PermissionError):
    pass


def normalize_login(name: str) -> str:
    """Login names (staff usernames, contacts' e-mail addresses) compare case-insensitively."""
    return name.strip().lower()


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def find_staff(session: Session, username: str) -> StaffUser | None:
    return session.scalar(select(StaffUser).where(func.lower(StaffUser.username) == normalize_login(username)))


def issue_token(session: Session, username: str, now: datetime, label: str = "cli") -> str:
    """A new API token for a staff user; only its hash is stored, so it is shown once."""
    user = find_staff(session, username)
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


def revoke_tokens(session: Session, user: StaffUser, now: datetime) -> int:
    """Revoke every live API token of the user; returns how many were live."""
    result = session.execute(update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
                             .values(revoked_at=now))
    return result.rowcount or 0


def end_sessions(person: StaffUser | Contact) -> None:
    """Every console session issued to this person so far stops being valid at its next request."""
    person.session_version = (person.session_version or 0) + 1


def set_password(user: StaffUser | Contact, password: str, now: datetime | None = None,
                 session: Session | None = None) -> None:
    """A new password ends the person's console sessions and (staff) revokes their API tokens."""
    if not password or not password.strip():
        raise AuthError("the password must not be empty")
    user.password_hash = generate_password_hash(password)
    end_sessions(user)
    if session is not None and now is not None and isinstance(user, StaffUser) and user.id is not None:
        revoke_tokens(session, user, now)


def deactivate(session: Session, user: StaffUser, now: datetime) -> int:
    """The user can no longer log in; their sessions end and their API tokens are revoked (count returned)."""
    user.active = False
    end_sessions(user)
    return revoke_tokens(session, user, now)


# A hash of a random password, computed once: unknown login names cost one hash check like known ones,
# so the time a login takes does not tell which names exist.
_DUMMY_HASH = generate_password_hash(secrets.token_hex(16))


def check_password(user: StaffUser | Contact | None, password: str) -> bool:
    """Constant work whether or not the person (or their password) exists; empty passwords never match."""
    stored = user.password_hash if user is not None and user.password_hash else None
    ok = check_password_hash(stored or _DUMMY_HASH, password)
    return ok and stored is not None and bool(password)


def has_role(user: StaffUser, *roles: str) -> bool:
    return user.role == Role.ADMIN or user.role in roles


def find_login(session: Session, login: str) -> StaffUser | Contact | None:
    """A staff user by username, else an active customer contact with a portal password by e-mail address."""
    login = normalize_login(login)
    user = find_staff(session, login)
    if user is not None:
        return user
    return session.scalar(select(Contact).where(func.lower(Contact.email) == login, Contact.active.is_(True),
                                                Contact.password_hash.is_not(None))
                          .order_by(Contact.id).limit(1))


def claim_login_slot(session: Session, login: str, now: datetime) -> bool:
    """Take one of the login name's password checks for the lockout window; False when it is locked out.

    Counted before the check and committed at once: two requests racing each take a slot of their own.
    """
    cutoff = now - LOCKOUT
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(insert(LoginThrottle).values(login=login, failures=0, window_started_at=now)
                    .on_conflict_do_nothing(index_elements=["login"]))
    expired = LoginThrottle.window_started_at <= cutoff
    claimed = session.execute(
        update(LoginThrottle)
        .where(LoginThrottle.login == login, (LoginThrottle.failures < MAX_FAILURES) | expired)
        .values(failures=case((expired, 1), else_=LoginThrottle.failures + 1),
                window_started_at=case((expired, literal(now, UTCDateTime)), else_=LoginThrottle.window_started_at))
        .execution_options(synchronize_session=False)
    ).rowcount
    session.commit()
    return claimed == 1


def login_succeeded(session: Session, login: str) -> None:
    """A right password gives the name's slots back."""
    session.execute(update(LoginThrottle).where(LoginThrottle.login == login).values(failures=0)
                    .execution_options(synchronize_session=False))


def authenticate(session: Session, login: str, password: str, now: datetime,
                 remote_addr: str | None = None) -> StaffUser | Contact | None:
    """The person behind a login name and password, or None; every try is logged (LoginAttempt).

    Raises AuthError when the name is locked out (too many failures within the window).
    """
    login = normalize_login(login)[:254]
    if not login:
        return None
    if not claim_login_slot(session, login, now):
        session.add(LoginAttempt(login=login, at=now, success=False, remote_addr=(remote_addr or "")[:64]))
        session.commit()
        raise AuthError("locked out")
    person = find_login(session, login)
    ok = check_password(person, password) and person is not None and person.active
    if ok:
        login_succeeded(session, login)
    session.add(LoginAttempt(login=login, at=now, success=ok, remote_addr=(remote_addr or "")[:64]))
    session.commit()
    return person if ok else None
