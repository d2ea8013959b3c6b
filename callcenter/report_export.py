"""The quarterly SLA report as CSV and PDF files (reportlab draws the PDF; no network, no browser)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from .reports import WEEKDAY_NAMES, CategoryFigures, HotlineStats, QuarterlyReport


def _hours(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def _share(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.1f}%"


def _local(t: datetime | None, zone: str) -> str:
    return "" if t is None else t.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")


def _category_row(f: CategoryFigures) -> list[str]:
    return [f.category, str(f.tickets), str(f.with_target),
            "" if f.target_minutes is None else _hours(f.target_minutes / 60),
            str(f.measured), str(f.within), _share(f.share_within), _hours(f.median_hours), _hours(f.worst_hours),
            str(f.breached), str(f.pending)]


CATEGORY_HEADER = ["category", "tickets", "with_target", "target_hours", "measured", "within_target",
                   "share_within", "median_response_hours", "worst_response_hours", "breached", "pending"]
BREACH_HEADER = ["ticket", "category", "subject", "created", "due", "responded", "response_hours", "target_hours"]


def quarterly_csv(report: QuarterlyReport) -> str:
    """Two tables in one file: figures per category (with a total row), then every breach."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["report", "quarterly SLA compliance"])
    w.writerow(["company", report.company_name])
    w.writerow(["quarter", report.quarter.label])
    w.writerow(["contract", report.contract_name or "", report.package or ""])
    w.writerow(["time zone", report.timezone])
    w.writerow([])
    w.writerow(CATEGORY_HEADER)
    for f in report.categories:
        w.writerow(_category_row(f))
    w.writerow(_category_row(report.total))
    w.writerow([])
    w.writerow(BREACH_HEADER)
    for b in report.breaches:
        w.writerow([f"#{b.number}", b.category, b.subject, _local(b.created_at, report.timezone),
                    _local(b.due_at, report.timezone), _local(b.responded_at, report.timezone),
                    _hours(b.response_hours), _hours(b.target_hours)])
    return out.getvalue()


def hotline_csv(stats: HotlineStats) -> str:
    """Hotline statistics: the totals, the wait-time distribution, then calls per hour of week (local time)."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["report", "hotline statistics"])
    w.writerow(["company", stats.company_name or "all companies"])
    w.writerow(["from", _local(stats.start, stats.timezone)])
    w.writerow(["to", _local(stats.end, stats.timezone)])
    w.writerow(["time zone", stats.timezone])
    w.writerow([])
    w.writerow(["figure", "value"])
    for name, value in (("calls", stats.calls), ("queued", stats.queued), ("answered", stats.answered),
                        ("answered_within_threshold", stats.answered_within),
                        ("answered_within_share", _share(stats.answered_within_share)),
                        ("abandoned", stats.abandoned), ("abandoned_share", _share(stats.abandoned_share)),
                        ("unanswered", stats.unanswered), ("waiting", stats.waiting),
                        ("mean_wait_seconds", "" if stats.mean_wait_seconds is None
                         else f"{stats.mean_wait_seconds:.1f}"),
                        ("max_wait_seconds", "" if stats.max_wait_seconds is None else stats.max_wait_seconds)):
        w.writerow([name, value])
    w.writerow([])
    w.writerow(["wait", "calls"])
    w.writerows(stats.wait_buckets)
    w.writerow([])
    w.writerow(["outcome", "calls"])
    w.writerows(stats.by_outcome)
    w.writerow([])
    w.writerow(["weekday", *[f"{h:02d}" for h in range(24)]])
    for day, row in zip(WEEKDAY_NAMES, stats.hour_of_week, strict=True):
        w.writerow([day, *row])
    return out.getvalue()


FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/TTF", "/usr/local/share/fonts")


def pdf_fonts() -> tuple[str, str]:
    """A regular and a bold font with Greek and Hungarian letters (DejaVu Sans), registered once.

    reportlab's built-in Helvetica has no Greek glyphs; without DejaVu the PDF falls back to it and
    Greek text prints as boxes, so CI installs fonts-dejavu-core.
    """
    from pathlib import Path

    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if "DejaVuSans" in pdfmetrics.getRegisteredFontNames():
        return "DejaVuSans", "DejaVuSans-Bold"
    for folder in FONT_DIRS:
        regular, bold = Path(folder) / "DejaVuSans.ttf", Path(folder) / "DejaVuSans-Bold.ttf"
        if regular.exists() and bold.exists():
            pdfmetrics.registerFont(TTFont("DejaVuSans", str(regular)))
            pdfmetrics.registerFont(TTFont("DejaVuSans-Bold", str(bold)))
            return "DejaVuSans", "DejaVuSans-Bold"
    import logging

    logging.getLogger(__name__).warning("DejaVu Sans not found: Greek text in PDF reports will not print")
    return "Helvetica", "Helvetica-Bold"


# The PDF's words in English; the console passes the same keys in the customer's language
# (web.report_views.pdf_words), so the report a customer downloads reads like the page they saw.
PDF_TEXT = {
    "title": "Quarterly SLA report — %(company)s",
    "period": "Quarter %(quarter)s (%(start)s – %(end)s, %(zone)s); figures as of %(as_of)s",
    "contract": "Contract: %(contract)s (%(package)s)",
    "category": "Category", "tickets": "Tickets", "target_h": "Target (h)", "measured": "Measured",
    "within": "Within target", "share": "Share", "median_h": "Median (h)", "worst_h": "Worst (h)",
    "breached": "Breached", "pending": "Pending", "total": "Total",
    "chart": "Share of tickets responded within target",
    "breaches": "Breaches (%(n)d)", "ticket": "Ticket", "subject": "Subject", "created": "Reported", "due": "Due",
    "responded": "Responded", "response_h": "Response (h)", "not_yet": "not yet",
    "more": "… and %(n)d more (see the CSV export).",
    "none": "None: every measured ticket was responded to within its target.",
}


@dataclass(frozen=True)
class PdfWords:
    """The language of one PDF: its words (PDF_TEXT's keys), the names of stored codes, the number format."""
    locale: str = "en"
    text: Mapping[str, str] = field(default_factory=lambda: dict(PDF_TEXT))
    label: Callable[[object], str] = str

    def t(self, key: str, **values: object) -> str:
        return self.text.get(key, PDF_TEXT[key]) % values if values else self.text.get(key, PDF_TEXT[key])

    def number(self, value: float | None, digits: int = 2) -> str:
        from babel.numbers import format_decimal

        return "" if value is None else format_decimal(value, format="#,##0." + "0" * digits, locale=self.locale)

    def percent(self, share: float | None) -> str:
        from babel.numbers import format_percent

        return "" if share is None else format_percent(share, format="#,##0.0%", locale=self.locale)


def quarterly_pdf(report: QuarterlyReport, breach_limit: int = 500, words: PdfWords | None = None) -> bytes:
    """The quarterly report as an A4 PDF in `words`' language (English when not given)."""
    from reportlab.graphics.charts.barcharts import HorizontalBarChart
    from reportlab.graphics.shapes import Drawing
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.pdfbase.pdfmetrics import stringWidth
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    w = words or PdfWords()
    zone = report.timezone
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, title=w.t("title", company=report.company_name),
                            leftMargin=15 * mm, rightMargin=15 * mm, topMargin=15 * mm, bottomMargin=15 * mm)
    styles = getSampleStyleSheet()
    regular, bold = pdf_fonts()
    for style in styles.byName.values():
        if not hasattr(style, "fontName"):
            continue  # list styles carry no font of their own
        style.fontName = bold if "Bold" in style.fontName or style.name.startswith(("Heading", "Title")) else regular
    # Column heads wrap inside their cell: Hungarian and Greek heads are longer than the English ones.
    head = ParagraphStyle("head", parent=styles["BodyText"], fontName=bold, fontSize=6.5, leading=8,
                          textColor=colors.white)
    cell = ParagraphStyle("cell", parent=styles["BodyText"], fontName=regular, fontSize=7, leading=8.5)
    story = [
        Paragraph(_esc(w.t("title", company=report.company_name)), styles["Title"]),
        Paragraph(_esc(w.t("period", quarter=report.quarter.label, start=_local(report.start, zone),
                           end=_local(report.end, zone), zone=zone, as_of=_local(report.as_of, zone))),
                  styles["Normal"]),
        Paragraph(_esc(w.t("contract", contract=report.contract_name or "—",
                           package=w.label(report.package) if report.package else "—")), styles["Normal"]),
        Spacer(1, 5 * mm),
    ]
    keys = ["category", "tickets", "target_h", "measured", "within", "share", "median_h", "worst_h", "breached",
            "pending"]
    rows: list[list[object]] = [[Paragraph(_esc(w.t(k)), head) for k in keys]]
    for f in [*report.categories, report.total]:
        rows.append([Paragraph(_esc(w.t("total") if f is report.total else w.label(f.category)), cell),
                     str(f.tickets), "" if f.target_minutes is None else w.number(f.target_minutes / 60),
                     str(f.measured), str(f.within), w.percent(f.share_within), w.number(f.median_hours),
                     w.number(f.worst_hours), str(f.breached), str(f.pending)])
    # Each figure column is as wide as the longest word of its head (a word is never split); the
    # category column takes the rest of the line.
    pad = 2.5
    widths = [max(12 * mm, max(stringWidth(word, bold, 6.5) for word in w.t(k).split()) + 2 * pad + 2)
              for k in keys[1:]]
    table = Table(rows, repeatRows=1, colWidths=[max(28 * mm, 180 * mm - sum(widths)), *widths])
    table.setStyle(TableStyle([
        ("LEFTPADDING", (0, 0), (-1, -1), pad), ("RIGHTPADDING", (0, 0), (-1, -1), pad),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#1f4e79")),
        ("TEXTCOLOR", (0, 0), (-1, 0), colors.white),
        ("FONTSIZE", (0, 0), (-1, -1), 8),
        ("ALIGN", (1, 1), (-1, -1), "RIGHT"),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("LINEBELOW", (0, -2), (-1, -2), 0.5, colors.black),
        ("FONTNAME", (0, 0), (-1, -1), regular),
        ("FONTNAME", (0, -1), (-1, -1), bold),
        ("ROWBACKGROUNDS", (0, 1), (-1, -2), [colors.white, colors.HexColor("#eef3f8")]),
    ]))
    story += [table, Spacer(1, 6 * mm)]

    measured = [f for f in report.categories if f.measured]
    if measured:
        story.append(Paragraph(_esc(w.t("chart")), styles["Heading3"]))
        names = [w.label(f.category) for f in measured]
        # The category axis is as wide as its longest translated name, so no label is cut off.
        axis = max(stringWidth(n, regular, 8) for n in names) + 10
        width = 170 * mm
        height = 20 + 18 * len(measured)
        drawing = Drawing(width, height)
        chart = HorizontalBarChart()
        chart.x, chart.y, chart.width, chart.height = axis, 10, width - axis - 40, height - 20
        chart.data = [[100 * (f.share_within or 0) for f in measured]]
        chart.categoryAxis.categoryNames = names
        chart.valueAxis.valueMin, chart.valueAxis.valueMax, chart.valueAxis.valueStep = 0, 100, 20
        chart.bars[0].fillColor = colors.HexColor("#2e7d32")
        chart.barLabelFormat = lambda v: w.number(v, 0) + " %"
        chart.barLabels.nudge = 14
        chart.barLabels.fontName = regular
        chart.categoryAxis.labels.fontSize = chart.valueAxis.labels.fontSize = chart.barLabels.fontSize = 8
        chart.categoryAxis.labels.fontName = chart.valueAxis.labels.fontName = regular
        drawing.add(chart)
        story += [drawing, Spacer(1, 4 * mm)]

    story.append(Paragraph(_esc(w.t("breaches", n=report.breach_count)), styles["Heading3"]))
    if report.breaches:
        rows = [[Paragraph(_esc(w.t(k)), head) for k in ("ticket", "category", "subject", "created", "due",
                                                          "responded", "response_h", "target_h")]]
        for b in report.breaches[:breach_limit]:
            rows.append([f"#{b.number}", Paragraph(_esc(w.label(b.category)), cell),
                         Paragraph(_esc(b.subject[:80]), cell), _local(b.created_at, zone), _local(b.due_at, zone),
                         _local(b.responded_at, zone) or w.t("not_yet"), w.number(b.response_hours),
                         w.number(b.target_hours)])
        t = Table(rows, repeatRows=1, colWidths=[15 * mm, 24 * mm, 41 * mm, 24 * mm, 24 * mm, 24 * mm,
                                                 14 * mm, 14 * mm])
        t.setStyle(TableStyle([("FONTNAME", (0, 0), (-1, -1), regular),
                               ("FONTSIZE", (0, 0), (-1, -1), 7), ("VALIGN", (0, 0), (-1, -1), "TOP"),
                               ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#1f4e79"))]))
        story.append(t)
        if report.breach_count > breach_limit:
            story.append(Paragraph(_esc(w.t("more", n=report.breach_count - breach_limit)), styles["Normal"]))
    else:
        story.append(Paragraph(_esc(w.t("none")), styles["Normal"]))
    doc.build(story)
    return buf.getvalue()


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
