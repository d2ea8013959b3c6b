"""Console languages: Hungarian, Greek, English; the logged-in user's choice wins."""

from __future__ import annotations

from flask import Blueprint, redirect, request, session, url_for
from flask_babel import Babel
from flask_login import current_user

from ..customers import contract_at
from ..models import Company, Contact, StaffUser
from .db import db_session
from .login import csrf_check, safe_next

LANGUAGES = {"en": "English", "hu": "Magyar", "el": "Ελληνικά"}
# The help desk works in Budapest: staff read times in its zone, customers in their contract's zone.
DESK_ZONE = "Europe/Budapest"

babel = Babel()
bp = Blueprint("i18n", __name__)
bp.before_request(csrf_check)


def select_locale() -> str:
    if current_user and current_user.is_authenticated and current_user.language in LANGUAGES:
        return current_user.language
    if session.get("lang") in LANGUAGES:
        return session["lang"]
    return request.accept_languages.best_match(list(LANGUAGES)) or "en"


def select_timezone() -> str:
    """The zone every time on the page is written in (24-hour clock, never the browser's own clock)."""
    if not (current_user and current_user.is_authenticated):
        return DESK_ZONE
    if current_user.kind == "staff":
        user = db_session().get(StaffUser, current_user.record_id)
        return user.timezone if user is not None and user.timezone else DESK_ZONE
    if current_user.company_id is not None:
        from .common import now

        company = db_session().get(Company, current_user.company_id)
        contract = contract_at(company, now()) if company is not None else None
        if contract is not None and contract.timezone:
            return contract.timezone
    return DESK_ZONE


@bp.post("/language")
def set_language():  # noqa: ANN201
    lang = request.form.get("lang", "")
    if lang in LANGUAGES:
        session["lang"] = lang
        if current_user.is_authenticated:
            db = db_session()
            model = StaffUser if current_user.kind == "staff" else Contact
            record = db.get(model, current_user.record_id)
            if record is not None:
                record.language = lang
                db.commit()
    return redirect(safe_next(request.form.get("next"), url_for("console.home")))
