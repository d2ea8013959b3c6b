"""Report figures against a small data set whose answers were worked out by hand.

Budapest Demo Kft.: Mon–Fri 08:00–17:00 Europe/Budapest; targets user 8 h, system 4 h,
infrastructure 2 h, complaint 4 h, all in working time. Quarter 2026Q3.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from callcenter import tickets as svc
from callcenter.models import Ticket
from callcenter.report_export import quarterly_csv, quarterly_pdf
from callcenter.reports import CumulativeClock, Quarter, ReportError, quarter_stats, quarterly_report
from callcenter.sla import clock_calendar, working_minutes_to_respond

BUD = ZoneInfo("Europe/Budapest")
ATH = ZoneInfo("Europe/Athens")


def bud(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=BUD)


@pytest.fixture
def known(session, demo):  # noqa: ANN001, ANN201
    staff = svc.Actor.staff(demo.staff["agent1"])
    made: dict[str, Ticket] = {}

    def new(key: str, category: str, at: datetime, company=None, channel: str = "phone") -> Ticket:  # noqa: ANN001
        t = svc.create_ticket(session, svc.NewTicket(subject=f"ticket {key}", channel=channel, category=category,
                                                     company_id=(company or demo.budapest).id), now=at)
        made[key] = t
        return t

    def respond(t: Ticket, at: datetime) -> None:
        svc.change_status(session, t, "in_progress", actor=staff, now=at)

    respond(new("t1", "user", bud(7, 6, 9)), bud(7, 6, 11))                 # 2.0 h
    respond(new("t2", "user", bud(7, 6, 16)), bud(7, 7, 10))                # 1 h + 2 h = 3.0 h
    respond(new("t3", "system", bud(7, 8, 8)), bud(7, 8, 14))               # 6.0 h > 4 h: breach
    respond(new("t4", "system", bud(7, 10, 15)), bud(7, 13, 9))             # Fri 2 h + Mon 1 h = 3.0 h
    t5 = new("t5", "infrastructure", bud(7, 14, 10))
    svc.change_status(session, t5, "waiting_customer", actor=staff, now=bud(7, 14, 10, 30))
    respond(t5, bud(7, 14, 12, 30))                                         # 0.5 h, 2 h paused
    new("t6", "infrastructure", bud(7, 15, 9))                              # never answered: breach
    respond(new("t7", "complaint", bud(7, 16, 9), channel="email"), bud(7, 16, 9, 30))  # 0.5 h
    new("t9", "user", bud(9, 30, 16))                                       # due Oct 1: pending at quarter end
    new("q4", "user", bud(10, 5, 10))                                       # next quarter: not counted

    athens = new("ath", "user", datetime(2026, 7, 7, 10, tzinfo=ATH), company=demo.athens, channel="web")
    svc.start_work(session, athens, actor=staff, now=datetime(2026, 7, 7, 11, tzinfo=ATH))
    svc.change_status(session, athens, "resolved", actor=staff, now=datetime(2026, 7, 7, 12, tzinfo=ATH))
    svc.reopen(session, athens, actor=staff, now=datetime(2026, 7, 8, 10, tzinfo=ATH))

    svc.log_time(session, made["t1"], 20, actor=staff, now=bud(7, 6, 11, 30))
    svc.log_time(session, made["t2"], 10, actor=staff, now=bud(7, 7, 10, 10), quick_phone_answer=True)
    svc.escalate(session, made["t3"], "L2", actor=staff, now=bud(7, 8, 15))
    svc.escalate(session, made["t3"], "L3", actor=staff, now=bud(7, 8, 16))
    session.commit()
    return made


def by_category(report) -> dict:  # noqa: ANN001
    return {f.category: f for f in report.categories}


def test_quarterly_figures_match_hand_computed_values(session, demo, known, now) -> None:  # noqa: ANN001
    report = quarterly_report(session, "Budapest Demo Kft.", "2026Q3", now=now)
    cats = by_category(report)
    assert set(cats) == {"user", "system", "infrastructure", "complaint"}

    user = cats["user"]
    assert (user.tickets, user.measured, user.within, user.breached, user.pending) == (3, 2, 2, 0, 1)
    assert user.share_within == 1.0
    assert user.median_hours == pytest.approx(2.5)
    assert user.worst_hours == pytest.approx(3.0)

    system = cats["system"]
    assert (system.tickets, system.measured, system.within, system.breached) == (2, 2, 1, 1)
    assert system.share_within == 0.5
    assert system.median_hours == pytest.approx(4.5)
    assert system.worst_hours == pytest.approx(6.0)

    infra = cats["infrastructure"]
    assert (infra.tickets, infra.measured, infra.within, infra.breached) == (2, 2, 1, 1)
    assert infra.median_hours == pytest.approx(0.5)  # the two paused hours do not count

    complaint = cats["complaint"]
    assert (complaint.tickets, complaint.within, complaint.median_hours) == (1, 1, pytest.approx(0.5))

    total = report.total
    assert (total.tickets, total.measured, total.within, total.breached, total.pending) == (8, 7, 5, 2, 1)
    assert total.median_hours == pytest.approx(2.5)
    assert total.worst_hours == pytest.approx(6.0)

    assert [b.number for b in report.breaches] == [known["t3"].number, known["t6"].number]
    assert report.breaches[0].response_hours == pytest.approx(6.0)
    assert report.breaches[1].response_hours is None


def test_fast_response_times_equal_the_sla_service(session, demo, known) -> None:  # noqa: ANN001
    contract = demo.budapest.contracts[0]
    clock = CumulativeClock(clock_calendar(contract, "working"), Quarter.parse("2026Q3").first_day)
    for key in ("t1", "t2", "t3", "t4", "t7"):
        t = known[key]
        assert clock.minutes_between(t.sla_started_at, t.responded_at) == pytest.approx(
            working_minutes_to_respond(t, session))


def test_other_quarters_and_companies_are_separate(session, demo, known, now) -> None:  # noqa: ANN001
    q4 = quarterly_report(session, demo.budapest.id, "2026Q4", now=now)
    # Due Tue 09:00 local, unanswered at `now` (Tue 10:00): a breach already.
    assert (q4.total.tickets, q4.total.breached, q4.total.pending) == (1, 1, 0)
    athens = quarterly_report(session, "athens demo a.e.", "2026Q3", now=now)
    assert athens.total.tickets == 1
    assert athens.timezone == "Europe/Athens"


def test_helpdesk_statistics(session, demo, known, now) -> None:  # noqa: ANN001
    stats = quarter_stats(session, "2026Q3", now=now)
    assert stats.tickets == 9
    assert dict(stats.by_channel) == {"phone": 7, "email": 1, "web": 1}
    assert dict(stats.by_category) == {"user": 4, "system": 2, "infrastructure": 2, "complaint": 1}
    assert dict(stats.by_level) == {"L1": 8, "L3": 1}
    assert stats.reopened == 1 and stats.reopen_rate == pytest.approx(1 / 9)
    assert (stats.time_entries, stats.minutes_worked, stats.billable_hours, stats.quick_answers) == (2, 30, 0.5, 1)
    assert stats.escalations == 2 and dict(stats.escalations_by_level) == {"L2": 1, "L3": 1}
    assert dict(stats.backlog) == {"< 1 d": 0, "1–3 d": 1, "3–7 d": 1, "7–30 d": 0, "> 30 d": 8}

    only_athens = quarter_stats(session, "2026Q3", now=now, company_id=demo.athens.id)
    assert only_athens.tickets == 1 and only_athens.escalations == 0 and only_athens.time_entries == 0


def test_csv_and_pdf_exports(session, demo, known, now) -> None:  # noqa: ANN001
    report = quarterly_report(session, "Budapest Demo Kft.", "2026Q3", now=now)
    rows = list(csv.reader(io.StringIO(quarterly_csv(report))))
    header = rows.index(["category", "tickets", "with_target", "target_hours", "measured", "within_target",
                         "share_within", "median_response_hours", "worst_response_hours", "breached", "pending"])
    system = next(r for r in rows[header:] if r[0] == "system")
    assert system[1:] == ["2", "2", "4.00", "2", "1", "50.0%", "4.50", "6.00", "1", "0"]
    assert f"#{known['t6'].number}" in [r[0] for r in rows if r]
    pdf = quarterly_pdf(report)
    assert pdf.startswith(b"%PDF") and len(pdf) > 1500


def test_quarter_parsing() -> None:
    q = Quarter.parse("2026Q3")
    assert (q.first_day.isoformat(), q.end_day.isoformat()) == ("2026-07-01", "2026-10-01")
    assert Quarter.parse("2026q4").end_day.isoformat() == "2027-01-01"
    start, end = q.bounds("Europe/Budapest")
    assert start == datetime(2026, 6, 30, 22, tzinfo=UTC) and end == datetime(2026, 9, 30, 22, tzinfo=UTC)
    with pytest.raises(ReportError):
        Quarter.parse("2026Q5")


def test_report_cli_writes_csv_and_pdf(settings, demo, known, tmp_path, monkeypatch) -> None:  # noqa: ANN001
    from click.testing import CliRunner

    from callcenter.cli import cli

    monkeypatch.setenv("CALLCENTER_DATABASE_URL", settings.database_url)
    out = tmp_path / "r.csv"
    result = CliRunner().invoke(cli, ["report", "quarterly", "--company", "Budapest Demo Kft.", "--quarter",
                                      "2026Q3", "--format", "csv", "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert "Budapest Demo Kft." in out.read_text()
    pdf = tmp_path / "r.pdf"
    result = CliRunner().invoke(cli, ["report", "quarterly", "--company", "Budapest Demo Kft.", "--quarter",
                                      "2026Q3", "--format", "pdf", "--output", str(pdf)])
    assert result.exit_code == 0, result.output
    assert pdf.read_bytes().startswith(b"%PDF")
    bad = CliRunner().invoke(cli, ["report", "quarterly", "--company", "Nobody Ltd", "--quarter", "2026Q3",
                                   "--output", str(pdf)])
    assert bad.exit_code != 0 and "unknown company" in bad.output


def test_pdf_uses_a_font_with_greek_letters(session, demo, known, now) -> None:  # noqa: ANN001
    from callcenter.report_export import pdf_fonts

    if pdf_fonts()[0] != "DejaVuSans":
        pytest.skip("DejaVu Sans is not installed (CI installs fonts-dejavu-core)")
    report = quarterly_report(session, "Budapest Demo Kft.", "2026Q3", now=now)
    report.company_name = "Αθήνα Demo Α.Ε."
    pdf = quarterly_pdf(report)
    assert b"+DejaVuSans" in pdf and b"+DejaVuSans-Bold" in pdf  # embedded subsets with Greek glyphs
