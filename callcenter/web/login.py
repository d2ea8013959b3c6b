"""Console login for staff and customer contacts: Flask-Login, roles, lockout after failures."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import wraps

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash

from ..auth import check_password
from ..models import Contact, LoginAttempt, StaffUser, utcnow
from .db import db_session

STAFF_ROLES = {"agent", "engineer", "qa", "manager", "admin"}
WORKING_ROLES = {"agent", "engineer", "manager", "admin"}   # may change tickets
REPORT_ROLES = {"qa", "manager", "admin"}
CUSTOMER = "customer"

MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)

login_manager = LoginManager()
login_manager.login_view = "login.login"
login_manager.session_protection = "strong"

bp = Blueprint("login", __name__)
csrf = CSRFProtect()


def csrf_check() -> None:
    """Every console blueprint runs this before its views: a POST needs the session's CSRF token."""
    if request.method == "POST":
        csrf.protect()


bp.before_request(csrf_check)


@dataclass
class Principal(UserMixin):
    """Who is logged in, as plain values (no ORM object outlives its request)."""

    kind: str          # staff, contact
    record_id: int
    name: str
    role: str          # agent, engineer, qa, manager, admin, customer
    language: str
    company_id: int | None = None

    def get_id(self) -> str:
        return f"{self.kind}:{self.record_id}"

    @property
    def is_customer(self) -> bool:
        return self.role == CUSTOMER

    @property
    def is_staff(self) -> bool:
        return self.kind == "staff"

    def can(self, *roles: str) -> bool:
        return self.role == "admin" or self.role in roles

    @property
    def can_work(self) -> bool:
        return self.is_staff and self.can(*WORKING_ROLES)


def principal_for_staff(user: StaffUser) -> Principal:
    return Principal("staff", user.id, user.name, user.role, user.language or "en")


def principal_for_contact(contact: Contact) -> Principal:
    return Principal("contact", contact.id, contact.name, CUSTOMER, contact.language or "en", contact.company_id)


@login_manager.user_loader
def load_user(user_id: str) -> Principal | None:
    kind, _, raw = user_id.partition(":")
    if not raw.isdigit():
        return None
    if kind == "staff":
        user = db_session().get(StaffUser, int(raw))
        return principal_for_staff(user) if user and user.active else None
    if kind == "contact":
        contact = db_session().get(Contact, int(raw))
        return principal_for_contact(contact) if contact and contact.active and contact.password_hash else None
    return None


def locked_out(db: Session, login: str, now: datetime) -> bool:
    """Too many failures for this login name since its last success, within the lockout window."""
    since = now - LOCKOUT
    last_ok = db.scalar(select(func.max(LoginAttempt.at)).where(LoginAttempt.login == login,
                                                                  LoginAttempt.success.is_(True)))
    if last_ok is not None and last_ok > since:
        since = last_ok
    failures = db.scalar(select(func.count()).select_from(LoginAttempt).where(
        LoginAttempt.login == login, LoginAttempt.success.is_(False), LoginAttempt.at > since)) or 0
    return failures >= MAX_FAILURES


def authenticate(db: Session, login: str, password: str) -> Principal | None:
    """A staff user by username, else a customer contact by e-mail address."""
    user = db.scalar(select(StaffUser).where(StaffUser.username == login))
    if user is not None:
        return principal_for_staff(user) if user.active and check_password(user, password) else None
    contact = db.scalar(select(Contact).where(func.lower(Contact.email) == login, Contact.active.is_(True))
                        .order_by(Contact.id).limit(1))
    if contact is not None and contact.password_hash and check_password_hash(contact.password_hash, password):
        return principal_for_contact(contact)
    return None


@bp.route("/login", methods=["GET", "POST"])
def login():  # noqa: ANN201
    if request.method == "POST":
        login_name = (request.form.get("login") or "").strip().lower()
        password = request.form.get("password") or ""
        db = db_session()
        now = utcnow()
        if locked_out(db, login_name, now):
            flash(_("Too many failed logins. Try again in %(minutes)d minutes.",
                    minutes=int(LOCKOUT.total_seconds() // 60)), "error")
            return render_template("login.html"), 429
        principal = authenticate(db, login_name, password) if login_name else None
        db.add(LoginAttempt(login=login_name[:254], at=now, success=principal is not None,
                            remote_addr=(request.remote_addr or "")[:64]))
        db.commit()
        if principal is None:
            flash(_("Wrong login name or password."), "error")
            return render_template("login.html"), 401
        session.clear()
        session.permanent = True  # expires after PERMANENT_SESSION_LIFETIME
        login_user(principal)
        target = request.args.get("next") or ""
        # Only same-site paths: an open redirect would hand the session to another site.
        if not target.startswith("/") or target.startswith("//"):
            target = url_for("console.home")
        return redirect(target)
    return render_template("login.html")


@bp.post("/logout")
def logout():  # noqa: ANN201
    logout_user()
    session.clear()
    return redirect(url_for("login.login"))


def roles_required(*roles: str) -> Callable:
    """Logged in and holding one of the roles (admin holds them all); 403 otherwise."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            if not current_user.is_authenticated:
                return current_app.login_manager.unauthorized()
            if not current_user.can(*roles):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator
