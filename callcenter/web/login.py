"""Console login for staff and customer contacts: Flask-Login, roles, lockout after failures."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf.csrf import CSRFProtect

from ..auth import LOCKOUT, AuthError, authenticate, end_sessions, normalize_login
from ..models import Contact, StaffUser, utcnow
from .db import db_session

STAFF_ROLES = {"agent", "engineer", "qa", "manager", "admin"}
WORKING_ROLES = {"agent", "engineer", "manager", "admin"}   # may change tickets
REPORT_ROLES = {"qa", "manager", "admin"}
CUSTOMER = "customer"

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
    session_version: int = 0

    def get_id(self) -> str:
        # The version travels in the session: logout or a password change moves it on the server.
        return f"{self.kind}:{self.record_id}:{self.session_version}"

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
    return Principal("staff", user.id, user.name, user.role, user.language or "en",
                     session_version=user.session_version or 0)


def principal_for_contact(contact: Contact) -> Principal:
    return Principal("contact", contact.id, contact.name, CUSTOMER, contact.language or "en", contact.company_id,
                     session_version=contact.session_version or 0)


def principal_for(person: StaffUser | Contact) -> Principal:
    return principal_for_staff(person) if isinstance(person, StaffUser) else principal_for_contact(person)


@login_manager.user_loader
def load_user(user_id: str) -> Principal | None:
    """Runs on every request: the person must still be active and the session's version current."""
    kind, record_id, version = (user_id.split(":") + ["", "", ""])[:3]
    if not (record_id.isascii() and record_id.isdigit() and version.isascii() and version.isdigit()):
        return None
    model = {"staff": StaffUser, "contact": Contact}.get(kind)
    if model is None:
        return None
    person = db_session().get(model, int(record_id))
    if person is None or not person.active or (person.session_version or 0) != int(version):
        return None
    if isinstance(person, Contact) and not person.password_hash:
        return None
    return principal_for(person)


def safe_next(target: str | None, default: str) -> str:
    """Only a same-site relative path: anything a browser could read as another host becomes `default`.

    Browsers drop tabs and newlines inside URLs and read a backslash as a slash, so "/", tab, "/evil"
    and "/", backslash, "evil" both mean `//evil`: control characters, spaces and backslashes are refused,
    and so is a scheme or authority of any kind.
    """
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    if any(ord(ch) < 0x21 or ord(ch) == 0x7F or ch == "\\" for ch in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():  # noqa: ANN201
    if request.method == "POST":
        login_name = normalize_login(request.form.get("login") or "")
        password = request.form.get("password") or ""
        db = db_session()
        try:
            person = authenticate(db, login_name, password, utcnow(), request.remote_addr) \
                if login_name and password else None
        except AuthError:
            flash(_("Too many failed logins. Try again in %(minutes)d minutes.",
                    minutes=int(LOCKOUT.total_seconds() // 60)), "error")
            return render_template("login.html"), 429
        if person is None:
            flash(_("Wrong login name or password."), "error")
            return render_template("login.html"), 401
        session.clear()
        session.permanent = True  # expires after PERMANENT_SESSION_LIFETIME
        login_user(principal_for(person))
        # Only same-site paths: an open redirect would hand the session to another site.
        return redirect(safe_next(request.args.get("next"), url_for("console.home")))
    return render_template("login.html")


@bp.post("/logout")
def logout():  # noqa: ANN201
    if current_user.is_authenticated:
        # Server side: a copy of this cookie (or any other session of the person) is dead from now on.
        db = db_session()
        person = db.get(StaffUser if current_user.kind == "staff" else Contact, current_user.record_id)
        if person is not None:
            end_sessions(person)
            db.commit()
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
