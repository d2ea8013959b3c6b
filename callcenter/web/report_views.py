"""Report pages and downloads over `callcenter.reports` (HTML with SVG charts, CSV, PDF)."""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from ..customers import UnknownCompany
from ..models import Company, Contact
from ..report_export import PdfWords, hotline_csv, quarterly_csv, quarterly_pdf
from ..reports import WEEKDAY_NAMES, Quarter, ReportError, quarter_hotline_stats, quarter_stats, quarterly_report
from .charts import bar_chart, heatmap
from .common import now
from .db import db_session
from .formats import number
from .i18n import LANGUAGES
from .labels import LABELS, label
from .login import REPORT_ROLES, csrf_check, roles_required
from .params import int_arg

bp = Blueprint("reports", __name__, url_prefix="/console/reports")
bp.before_request(csrf_check)

VIEW_ROLES = (*REPORT_ROLES, "customer")

# The bucket names of callcenter.reports (backlog age, wait time) in the viewer's language.
BUCKET_LABELS = {
    "< 1 d": _l("< 1 day"), "1–3 d": _l("1–3 days"), "3–7 d": _l("3–7 days"), "7–30 d": _l("7–30 days"),
    "> 30 d": _l("> 30 days"), "< 30 s": _l("< 30 s"), "30–60 s": _l("30–60 s"), "1–2 min": _l("1–2 min"),
    "2–5 min": _l("2–5 min"), "5–10 min": _l("5–10 min"), "10–15 min": _l("10–15 min"), "≥ 15 min": _l("≥ 15 min"),
}


def _buckets(items: list[tuple[str, int]]) -> list[tuple[str, int]]:
    return [(str(BUCKET_LABELS.get(name, name)), n) for name, n in items]


def _one_decimal(value: float) -> str:
    return number(value, 1)


def _two_decimals(value: float) -> str:
    return number(value, 2)


def _company_id() -> int:
    """The company asked for; a customer gets their own whatever the URL says."""
    if current_user.is_customer:
        return current_user.company_id
    company_id = int_arg("company")
    if company_id is None:
        abort(400, "choose a company")
    return company_id


def _quarter() -> Quarter:
    raw = request.args.get("quarter") or Quarter.containing(now().date()).label
    try:
        return Quarter.parse(raw)
    except ReportError:
        abort(400, f"quarter must look like 2026Q3, not {raw!r}")


@bp.get("/")
@roles_required(*VIEW_ROLES)
def index():  # noqa: ANN201
    db = db_session()
    if current_user.is_customer:
        companies = [db.get(Company, current_user.company_id)]
    else:
        companies = db.scalars(select(Company).order_by(Company.name)).all()
    current = Quarter.containing(now().date())
    quarters = [current, current.previous(), current.previous().previous(), current.previous().previous().previous()]
    return render_template("reports.html", companies=companies, quarters=quarters, chosen=request.args)


PAGE_BREACHES = 500  # the page and the PDF list this many; the CSV every breach


def _report(breach_limit: int | None = PAGE_BREACHES):  # noqa: ANN202
    try:
        return quarterly_report(db_session(), _company_id(), _quarter(), now=now(), breach_limit=breach_limit)
    except UnknownCompany:
        abort(404)


@bp.get("/quarterly")
@roles_required(*VIEW_ROLES)
def quarterly():  # noqa: ANN201
    report = _report()
    measured = [f for f in report.categories if f.measured]
    charts = {
        "tickets": bar_chart([(str(label(f.category)), f.tickets) for f in report.categories]),
        "share": bar_chart([(str(label(f.category)), round(100 * (f.share_within or 0), 1)) for f in measured],
                           unit=" %", max_value=100, value_format=_one_decimal),
        "median": bar_chart([(str(label(f.category)), round(f.median_hours or 0, 2)) for f in measured],
                            unit=" " + _("h"), value_format=_two_decimals),
    }
    return render_template("report_quarterly.html", r=report, charts=charts, breach_limit=PAGE_BREACHES)


@bp.get("/quarterly.csv")
@roles_required(*VIEW_ROLES)
def quarterly_csv_download():  # noqa: ANN201
    report = _report(breach_limit=None)
    name = f"sla-{report.company_id}-{report.quarter.label}.csv"
    return Response(quarterly_csv(report), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


# The PDF's words (report_export.PDF_TEXT's keys), translated like every other console string.
PDF_TEXT = {
    "title": _l("Quarterly SLA report — %(company)s"),
    "period": _l("Quarter %(quarter)s (%(start)s – %(end)s, %(zone)s); figures as of %(as_of)s"),
    "contract": _l("Contract: %(contract)s (%(package)s)"),
    "category": _l("Category"), "tickets": _l("Tickets"), "target_h": _l("Target (h)"), "measured": _l("Measured"),
    "within": _l("Within target"), "share": _l("Share"), "median_h": _l("Median (h)"), "worst_h": _l("Worst (h)"),
    "breached": _l("Breached"), "pending": _l("Pending"), "total": _l("Total"),
    "chart": _l("Share of tickets responded within target"),
    "breaches": _l("Breaches (%(n)d)"), "ticket": _l("Ticket"), "subject": _l("Subject"), "created": _l("Reported"),
    "due": _l("Due"), "responded": _l("Responded"), "response_h": _l("Response (h)"), "not_yet": _l("not yet"),
    "more": _l("… and %(n)d more (see the CSV export)."),
    "none": _l("None: every measured ticket was responded to within its target."),
}


def customer_language(company_id: int) -> str | None:
    """The language the customer reads: the one most of its active contacts chose, authorised ones first."""
    contacts = db_session().scalars(select(Contact).where(Contact.company_id == company_id,
                                                          Contact.active.is_(True))).all()
    votes: dict[str, int] = {}
    for c in contacts:
        if c.language in LANGUAGES:
            votes[c.language] = votes.get(c.language, 0) + (2 if c.can_authorize else 1)
    return max(sorted(votes), key=lambda lang: votes[lang]) if votes else None


def pdf_words(lang: str) -> PdfWords:
    """The PDF's words and code names in `lang`, resolved now: reportlab draws after the locale is gone."""
    with force_locale(lang):
        text = {k: str(v) for k, v in PDF_TEXT.items()}
        names = {code: str(name) for code, name in LABELS.items()}
    return PdfWords(locale=lang, text=text, label=lambda code: names.get(str(code), str(code)))


def standalone_pdf_words(lang: str) -> PdfWords:
    """The same words for the command line, which has no console running (callcenter report quarterly)."""
    from pathlib import Path

    from flask import Flask
    from flask_babel import Babel

    app = Flask(__name__)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(Path(__file__).resolve().parent.parent / "translations")
    Babel(app)
    with app.test_request_context():
        return pdf_words(lang)


@bp.get("/quarterly.pdf")
@roles_required(*VIEW_ROLES)
def quarterly_pdf_download():  # noqa: ANN201
    """The PDF in the customer's language: a customer's own, or the one its contacts read; `lang` overrides."""
    report = _report()
    lang = request.args.get("lang")
    if lang not in LANGUAGES:
        lang = (current_user.language if current_user.is_customer else None) or \
            customer_language(report.company_id) or str(get_locale())
    name = f"sla-{report.company_id}-{report.quarter.label}-{lang}.pdf"
    return Response(quarterly_pdf(report, breach_limit=PAGE_BREACHES, words=pdf_words(lang)),
                    mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.get("/helpdesk")
@roles_required(*REPORT_ROLES)
def helpdesk():  # noqa: ANN201
    quarter = _quarter()
    company_id = _optional_company()
    stats = quarter_stats(db_session(), quarter, now=now(), company_id=company_id)
    charts = {
        "channel": bar_chart([(str(label(k)), n) for k, n in stats.by_channel]),
        "category": bar_chart([(str(label(k)), n) for k, n in stats.by_category]),
        "level": bar_chart([(str(label(k)), n) for k, n in stats.by_level]),
        "escalations": bar_chart([(str(label(k)), n) for k, n in stats.escalations_by_level]),
        "backlog": bar_chart(_buckets(stats.backlog)),
    }
    companies = db_session().scalars(select(Company).order_by(Company.name)).all()
    return render_template("report_helpdesk.html", s=stats, quarter=quarter, charts=charts, companies=companies,
                           company_id=company_id)


def _optional_company() -> int | None:
    """The company filter of the staff reports: all companies when absent, 404 when unknown."""
    company_id = int_arg("company")
    if company_id is not None and db_session().get(Company, company_id) is None:
        abort(404)
    return company_id


def _hotline_stats():  # noqa: ANN202
    company_id = _optional_company()
    return quarter_hotline_stats(db_session(), _quarter(), now=now(), company_id=company_id), company_id


@bp.get("/hotline")
@roles_required(*REPORT_ROLES)
def hotline():  # noqa: ANN201
    stats, company_id = _hotline_stats()
    charts = {
        "buckets": bar_chart(_buckets(stats.wait_buckets)),
        "outcomes": bar_chart([(str(label(k)), n) for k, n in stats.by_outcome], width=520, label_width=210),
        "hours": heatmap(stats.hour_of_week, [str(_l_day(d)) for d in WEEKDAY_NAMES]),
        "answering": bar_chart([(str(_("Answered within threshold")), stats.answered_within),
                                (str(_("Answered later")), stats.answered - stats.answered_within),
                                (str(_("Abandoned")), stats.abandoned), (str(_("Unanswered")), stats.unanswered),
                                (str(_("Waiting now")), stats.waiting)], width=520, label_width=210),
    }
    companies = db_session().scalars(select(Company).order_by(Company.name)).all()
    return render_template("report_hotline.html", s=stats, quarter=_quarter(), charts=charts, companies=companies,
                           company_id=company_id)


@bp.get("/hotline.csv")
@roles_required(*REPORT_ROLES)
def hotline_csv_download():  # noqa: ANN201
    stats, company_id = _hotline_stats()
    name = f"hotline-{company_id or 'all'}-{_quarter().label}.csv"
    return Response(hotline_csv(stats), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _l_day(name: str) -> object:
    return {"Mon": _("Mon"), "Tue": _("Tue"), "Wed": _("Wed"), "Thu": _("Thu"), "Fri": _("Fri"), "Sat": _("Sat"),
            "Sun": _("Sun")}[name]


@bp.get("/go")
@roles_required(*VIEW_ROLES)
def go():  # noqa: ANN201
    """The Reports form: whatever it sends, the answer is a report or the form again with what to fix."""
    kind = request.args.get("kind", "quarterly")
    company, quarter = request.args.get("company", ""), request.args.get("quarter", "")
    problem = None
    if kind not in {"quarterly", "helpdesk", "hotline"} or (current_user.is_customer and kind != "quarterly"):
        problem = _("Choose a report from the list.")
    elif kind == "quarterly" and not current_user.is_customer and not company:
        problem = _("The quarterly SLA report is for one company: choose a company.")
    elif company and not (company.isascii() and company.isdigit()):
        problem = _("Choose a company from the list.")
    else:
        try:
            Quarter.parse(quarter or Quarter.containing(now().date()).label)
        except ReportError:
            problem = _("Choose a quarter from the list.")
    if problem:
        flash(problem, "error")
        return redirect(url_for("reports.index", kind=kind, company=company, quarter=quarter))
    return redirect(url_for(f"reports.{kind}", company=company, quarter=quarter))
