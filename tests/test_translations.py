"""Every word in the user's language (issue 12 item 9).

1. The catalogs: every message the sources ask for (extracted afresh, so a template string added without
   `make translations` fails here) has a Hungarian and a Greek translation that keeps its placeholders
   and is not the English text, except the few words both languages write the same way.
2. The pages: the main console and portal pages, crawled as each role in hu and el with Flask's test
   client, show no stored code (the enums of callcenter/models, the codes of web/labels.py) and no
   English message text.
3. Numbers, times and the PDF report follow the reader's language.
"""

from __future__ import annotations

import re
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.support import Translations
from test_console import TOKEN, login

from callcenter import models
from callcenter import tickets as svc
from callcenter.web.labels import CONTEXT_LABELS, LABELS

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "callcenter" / "translations"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "pgettext": ((1, "c"), 2), "_l": None,
            "lazy_gettext": None, "lazy_pgettext": ((1, "c"), 2), "N_": None}

# Written the same way in Hungarian or Greek (names, abbreviations, product words).
SAME_IN = {
    "hu": {"Web", "API", "E-mail", "SMS", "Hotline", "Twilio", "Asterisk", "OK", "PDF", "CSV", "Fax"},
    "el": {"Web", "API", "E-mail", "SMS", "Twilio", "Asterisk", "OK", "PDF", "CSV"},
}
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|%[sd]")


def source_messages() -> set[tuple[str | None, str]]:
    """(context, msgid) of every message in the console's sources, extracted as `make translations` does."""
    with open(ROOT / "babel.cfg") as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    found = set()
    for _file, _line, message, _comments, context in extract_from_dir(
            str(ROOT), method_map, options_map, keywords=KEYWORDS):
        msgid = message[0] if isinstance(message, tuple) else message
        if msgid:
            found.add((context, msgid))
    return found


@pytest.fixture(scope="module")
def messages() -> set[tuple[str | None, str]]:
    return source_messages()


@pytest.mark.parametrize("lang", ["hu", "el"])
def test_every_message_is_translated(messages, lang) -> None:  # noqa: ANN001
    catalog = Translations.load(str(TRANSLATIONS), [lang])
    problems = []
    for context, msgid in sorted(messages, key=lambda m: (m[0] or "", m[1])):
        text = catalog.upgettext(context, msgid) if context else catalog.ugettext(msgid)
        if text == msgid and msgid not in SAME_IN[lang] and re.search(r"[A-Za-z]{2}", PLACEHOLDER.sub("", msgid)):
            problems.append(f"untranslated: {msgid!r}" + (f" ({context})" if context else ""))
        elif sorted(PLACEHOLDER.findall(text)) != sorted(PLACEHOLDER.findall(msgid)):
            problems.append(f"placeholders differ: {msgid!r} -> {text!r}")
    assert not problems, (f"{len(problems)} {lang} catalog problems; add the words to "
                          "callcenter/translations/catalog_*.py and run `make translations`:\n" + "\n".join(problems))


@pytest.mark.parametrize("lang", ["hu", "el"])
def test_committed_catalog_has_no_empty_entry(lang) -> None:  # noqa: ANN001
    from babel.messages.pofile import read_po

    with open(TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po", "rb") as fh:
        catalog = read_po(fh, locale=lang)
    empty = [m.id for m in catalog if m.id and not m.string]
    assert not empty, f"empty msgstr in {lang}: {empty}"


def test_every_stored_code_has_a_label() -> None:
    """A code without a label would be shown raw: every enum value of the models has one."""
    codes = enum_codes() - {"twilio", "asterisk"}  # provider names are names
    assert not sorted(c for c in codes if c not in LABELS), "codes without a label in web/labels.py"
    assert all(code in LABELS for place in CONTEXT_LABELS.values() for code in place)


def enum_codes() -> set[str]:
    from enum import StrEnum

    codes = {str(v.value) for obj in vars(models).values()
             if isinstance(obj, type) and issubclass(obj, StrEnum) and obj is not StrEnum for v in obj}
    from callcenter.paging.alerts import SEVERITIES
    from callcenter.web.console import LINK_KINDS, RESOLUTIONS

    return codes | set(RESOLUTIONS) | set(LINK_KINDS) | set(SEVERITIES)


# ------------------------------------------------------------------------------------------ the pages


class _Text(HTMLParser):
    """What a reader sees: text outside script/style, and the words of titles, placeholders and labels."""

    def __init__(self) -> None:
        super().__init__()
        self.out: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in ("script", "style", "template"):
            self._skip += 1
        for name, value in attrs:
            if name in ("title", "placeholder", "aria-label", "alt") and value:
                self.out.append(value.strip())

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "template"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip():
            self.out.append(data.strip())


def visible_texts(html: str) -> list[str]:
    parser = _Text()
    parser.feed(html)
    return parser.out


@pytest.fixture
def world(app, session, demo, now, settings):  # noqa: ANN001, ANN201
    """A ticket through its whole life, one waiting for approval, a reviewed recorded call, an alert paged."""
    from call_data import make_call, store_recording

    from callcenter.call_review import submit_review
    from callcenter.models import CallOutcome, EscalationPolicy, StaffUser
    from callcenter.paging import alerts
    from callcenter.scheduler import Ticker

    app.config["CLOCK"] = lambda: now
    staff = {u.username: u for u in session.query(StaffUser)}
    agent = svc.Actor.staff(staff["agent1"])
    t0 = now - timedelta(days=2)
    done = svc.create_ticket(session, svc.NewTicket(subject="Printer offline", channel="phone", category="user",
                                                    reporter_contact_id=demo.anna.id), now=t0)
    svc.start_work(session, done, actor=agent, now=t0 + timedelta(minutes=20))
    svc.log_time(session, done, 35, actor=agent, now=t0 + timedelta(hours=1))
    svc.escalate(session, done, "L2", actor=agent, now=t0 + timedelta(hours=2), reason="needs an engineer")
    svc.assign(session, done, staff["eng2"].id, actor=agent, now=t0 + timedelta(hours=2))
    svc.change_status(session, done, "resolved", actor=agent, now=t0 + timedelta(hours=3), note="Fixed.",
                      resolution="solved")
    order = svc.create_ticket(session, svc.NewTicket(subject="New handset", channel="email", category="device_order",
                                                     reporter_contact_id=demo.anna.id), now=now - timedelta(hours=3))
    svc.link_tickets(session, order, done, kind="follow_up", actor=agent, now=now - timedelta(hours=2))
    svc.request_approval(session, order, kind="device_order", summary="One handset", actor=agent,
                         now=now - timedelta(hours=2), approver_contact_id=demo.anna.id)
    pbx = svc.create_ticket(session, svc.NewTicket(subject="PBX trunk down", channel="phone",
                                                   category="infrastructure", reporter_contact_id=demo.nikos.id,
                                                   asset_id=demo.pbx.id), now=now - timedelta(hours=1))
    call = make_call(session, now - timedelta(hours=1), company=demo.athens, contact=demo.nikos, asset=demo.pbx,
                     wait=75, answered=True, outcome=CallOutcome.ANSWERED, ticket_id=pbx.id)
    make_call(session, now - timedelta(minutes=50), company=demo.budapest, contact=demo.anna, wait=400,
              outcome=CallOutcome.ABANDONED_IN_QUEUE)
    store_recording(session, settings.recordings_path, call)
    submit_review(session, call, staff["qa"], {"greeting": 5, "identification": 4, "problem_capture": 4,
                                               "solution": 3, "courtesy": 5}, "Good.", now=now)
    policy = session.query(EscalationPolicy).filter_by(name="Default").one()
    alert, _new = alerts.raise_alert(session, source="hotline", dedup_key="i18n", summary="PBX down", details="",
                               policy=policy, ticket=pbx, now=now - timedelta(minutes=30))
    session.commit()
    Ticker(settings, app.extensions["engine"], clock=lambda: now).tick()
    return {"done": done.number, "order": order.number, "pbx": pbx.number, "call": call.id,
            "alert": alert.id, "athens": demo.athens.id, "asset": demo.pbx.id}


def pages_for(w: dict) -> dict[str, list]:
    """Each role's main pages (a path, or a path and the error status its themed page answers with)."""
    quarter = "2026Q4"
    staff_common = ["/console/queue", "/console/tickets", f"/console/tickets/{w['done']}",
                    f"/console/tickets/{w['order']}", f"/console/tickets/{w['pbx']}"]
    return {
        "admin": [*staff_common, "/console/tickets/new", "/console/companies", f"/console/companies/{w['athens']}",
                  f"/console/assets/{w['asset']}", f"/console/assets/{w['asset']}/faults", "/console/faults",
                  "/console/oncall", f"/console/alerts/{w['alert']}"],
        "agent1": [*staff_common, "/agent", "/console/calls", f"/console/calls/{w['call']}",
                   "/console/queue?view=mine", ("/console/tickets/999999", 404)],
        "eng2": [*staff_common, "/console/oncall", f"/console/alerts/{w['alert']}"],
        "manager": ["/console/reports/", f"/console/reports/quarterly?company={w['athens']}&quarter={quarter}",
                    f"/console/reports/helpdesk?quarter={quarter}", f"/console/reports/hotline?quarter={quarter}",
                    "/wallboard", "/console/calls/reviews", "/console/recordings/audit"],
        "qa": ["/console/calls", f"/console/calls/{w['call']}", "/console/calls/reviews"],
        "anna@budapest-demo.example": ["/portal/", f"/portal/tickets/{w['done']}", f"/portal/tickets/{w['order']}",
                                       "/portal/calls", ("/console/queue", 403)],
        "pbx@athens-demo.example": ["/portal/", f"/portal/tickets/{w['pbx']}", "/portal/calls",
                                    f"/console/reports/quarterly?quarter={quarter}"],
    }


def english_messages(lang: str, messages: set) -> set[str]:
    """The English texts the reader must not meet: every message whose translation differs from it."""
    catalog = Translations.load(str(TRANSLATIONS), [lang])
    return {msgid for context, msgid in messages if not context and catalog.ugettext(msgid) != msgid
            and "%" not in msgid and len(msgid) > 2}


@pytest.mark.parametrize("lang", ["hu", "el"])
def test_no_raw_code_or_english_on_the_pages(app, world, messages, lang) -> None:  # noqa: ANN001
    codes = enum_codes() | {c for c in LABELS if not c[:1].isupper()}
    english = english_messages(lang, messages)
    found: dict[str, set[str]] = {}
    # Before logging in, the browser's language decides.
    login_page = app.test_client().get("/login", headers={"Accept-Language": f"{lang},en;q=0.5"})
    assert f'lang="{lang}"' in login_page.get_data(as_text=True)
    for text in visible_texts(login_page.get_data(as_text=True)):
        if text in codes or text in english:
            found.setdefault(text, set()).add("anonymous /login")
    for user, pages in pages_for(world).items():
        client = app.test_client()
        assert login(client, user).status_code == 302, user
        home = client.get("/", follow_redirects=True).get_data(as_text=True)
        client.post("/language", data={"lang": lang, "next": "/", "csrf_token": TOKEN.search(home).group(1)})
        for entry in pages:
            page, expected = (entry, 200) if isinstance(entry, str) else entry
            r = client.get(page)
            assert r.status_code == expected, (user, page, r.status_code)
            html = r.get_data(as_text=True)
            assert f'lang="{lang}"' in html, (user, page)
            for text in visible_texts(html):
                for piece in {text, *(p.strip() for p in re.split(r"[·:|,()\[\]→—/]", text))}:
                    if piece in codes or piece in english:
                        found.setdefault(piece, set()).add(f"{user} {page.split('?')[0]}")
    assert not found, f"raw codes or English on {lang} pages:\n" + "\n".join(
        f"  {piece!r}: {sorted(where)[:3]}" for piece, where in sorted(found.items()))


# ------------------------------------------------------------------------------- numbers, times, the PDF


def test_numbers_hours_and_life_cycle_values_follow_the_reader(app) -> None:  # noqa: ANN001
    from datetime import UTC, datetime

    from flask_babel import force_locale

    from callcenter.web.formats import change_value, hours, minutes, number, percent

    with app.test_request_context():
        with force_locale("hu"):
            assert (number(1.5), hours(1.5), minutes(79), percent(0.125)) == ("1,50", "1,50 ó", "79 perc", "12,5%")
            assert change_value("79 min = 1.50 h (quick phone answer)", "time") == \
                "79 perc = 1,50 ó (gyors telefonos válasz)"
            assert change_value("follow_up #15001", "link") == "Folytatás #15001"
            assert change_value("2026-08-08T12:41:00+00:00", "responded_at", "Europe/Athens") == "2026-08-08 15:41"
        with force_locale("el"):
            assert (number(1234.5), hours(2), percent(0.5)) == ("1.234,50", "2,00 ώ.", "50,0%")
        with force_locale("en"):
            assert (number(1234.5), hours(2)) == ("1,234.50", "2.00 h")
        # Staff read the desk's zone with a 24-hour clock, whatever the browser's clock says.
        from callcenter.web.formats import local_time

        assert local_time(datetime(2026, 10, 6, 13, 5, tzinfo=UTC), fmt="%H:%M:%S") == "15:05:00"


def test_the_pdf_report_is_in_the_customers_language_with_the_pending_column(
        app, client, demo, monkeypatch) -> None:  # noqa: ANN001
    from reportlab import rl_config

    from callcenter import report_export
    from callcenter.web import report_views

    seen = []
    real = report_export.quarterly_pdf

    def spy(report, breach_limit=500, words=None):  # noqa: ANN001, ANN202
        seen.append(words)
        return real(report, breach_limit, words)

    monkeypatch.setattr(report_views, "quarterly_pdf", spy)
    # Nikos reads Greek: his company's report comes in Greek, numbers with a decimal comma.
    assert login(client, "pbx@athens-demo.example").status_code == 302
    r = client.get("/console/reports/quarterly.pdf?quarter=2026Q4")
    assert r.status_code == 200 and r.data.startswith(b"%PDF") and "-el.pdf" in r.headers["Content-Disposition"]
    words = seen[-1]
    assert (words.t("pending"), words.label("infrastructure"), words.number(4.5)) == \
        ("Εκκρεμεί", "Πρόβλημα υποδομής", "4,50")
    # A manager downloading Budapest's report gets it in Hungarian, the language Budapest's contacts read;
    # `lang` asks for another.
    client.post("/logout", data={"csrf_token": TOKEN.search(client.get("/portal/").get_data(as_text=True))[1]})
    assert login(client, "admin").status_code == 302
    assert "-hu.pdf" in client.get(f"/console/reports/quarterly.pdf?company={demo.budapest.id}&quarter=2026Q4")\
        .headers["Content-Disposition"]
    assert seen[-1].t("pending") == "Függőben" and seen[-1].percent(0.5) == "50,0%"
    # The English PDF, uncompressed and in a built-in font so its words can be read back: every column is there.
    monkeypatch.setattr(rl_config, "pageCompression", 0)
    monkeypatch.setattr(report_export, "pdf_fonts", lambda: ("Helvetica", "Helvetica-Bold"))
    pdf = client.get(f"/console/reports/quarterly.pdf?company={demo.budapest.id}&quarter=2026Q4&lang=en").data
    for word in (b"Pending", b"Breached", b"Within", b"Worst \\(h\\)", b"Business hours support \\(Business hours\\)"):
        assert word in pdf, word


def test_tickets_the_hotline_opens_carry_a_subject_in_the_callers_language() -> None:
    """The subject reaches the customer (auto-reply, status mails, portal): Anna reads it in Hungarian."""
    from callcenter.ivr.flow import load_flow

    flow = load_flow()
    for spec in flow.tickets.values():
        assert {"hu", "el"} <= set(spec.subjects), spec.subject
        assert spec.subject_in("hu") != spec.subject and spec.subject_in("el") != spec.subject
        assert spec.subject_in("en") == spec.subject_in(None) == spec.subject
    assert flow.tickets["critical_fault"].subject_in("hu") == "Telefonon bejelentett kritikus hiba"


def test_live_pages_stamp_the_servers_time_in_the_readers_zone(app, client, demo, now) -> None:  # noqa: ANN001
    """The queue, the pager and the wallboard write "updated 10:00:00" from the server: 24-hour, in the
    reader's zone (Budapest for staff), not from the browser's clock and its 12-hour format."""
    app.config["CLOCK"] = lambda: now  # 08:00 UTC: 10:00 in Budapest
    assert login(client, "manager").status_code == 302
    assert client.get("/console/queue.json").get_json()["at_local"] == "10:00:00"
    assert client.get("/console/oncall/alerts").headers["X-Local-Time"] == "10:00:00"
    assert client.get("/wallboard.json").get_json()["updated"] == "10:00:00"
    # Dimitris is on call from Athens: his console writes Athens time.
    athens = app.test_client()
    assert login(athens, "eng3").status_code == 302
    assert athens.get("/console/queue.json").get_json()["at_local"] == "11:00:00"


def test_the_alert_trail_reads_in_the_viewers_language(app) -> None:  # noqa: ANN001
    from flask_babel import force_locale

    from callcenter.web.alert_trail import alert_detail, alert_summary

    with app.test_request_context(), force_locale("hu"):
        assert alert_detail("loop 1, step 2: Dimitris Alexiou") == "1. kör, 2. lépés: Dimitris Alexiou"
        assert alert_detail("sms to +302105550183 (rule 1, outbox 488)") == \
            "SMS ide: +302105550183 (1. szabály, kimenő üzenet 488)"
        assert alert_detail("hotline i18n; policy Default") == "Ügyfélszolgálati hívás i18n; eszkalációs rend: Default"
        assert alert_detail("something the engine never wrote") == "something the engine never wrote"
        assert alert_summary("Hotline call not answered for 15 min: PBX trunk down") == \
            "Hotline-hívás 15 perce fogadatlan: PBX trunk down"
        assert alert_summary("SLA response deadline at 2026-10-06T10:00:00+00:00: VPN slow") == \
            "SLA reakció-határidő 2026-10-06 12:00: VPN slow"
        assert alert_summary("PBX trunk down") == "PBX trunk down"  # written by a person: as written
    with app.test_request_context(), force_locale("el"):
        assert alert_detail("by Eleni Georgiou: paging starts over") == \
            "από Eleni Georgiou: η ειδοποίηση ξεκινά από την αρχή"


def test_every_word_a_customer_mail_can_carry_is_in_hungarian_and_greek() -> None:
    """Status mails name fields and values (customer_portal.CUSTOMER_FIELDS): each has its word in every language."""
    from callcenter.customer_portal import CUSTOMER_FIELDS
    from callcenter.mail import templates
    from callcenter.models import Category, Priority, Status
    from callcenter.web.console import RESOLUTIONS

    words = {*CUSTOMER_FIELDS, *Category, *Priority, *Status, *RESOLUTIONS}
    for lang in ("en", "hu", "el"):
        missing = sorted(str(w) for w in words if str(w) not in templates.LABELS[lang])
        assert not missing, (lang, missing)
        assert set(templates.TEXTS[lang]) == set(templates.TEXTS["en"]) and set(templates.WHAT[lang]) == \
            set(templates.WHAT["en"])
    for lang in ("hu", "el"):
        same = sorted(w for w in templates.LABELS[lang] if templates.LABELS[lang][w] == templates.LABELS["en"][w])
        assert not same, (lang, same)


def test_the_pager_says_a_system_summary_in_the_engineers_language(session, demo, now) -> None:  # noqa: ANN001
    from callcenter.alert_text import summary_in
    from callcenter.paging import alerts, notify

    alert, _new = alerts.raise_alert(session, source="hotline", dedup_key="sms-lang", now=now,
                                     summary="Hotline call not answered for 15 min: PBX trunk down")
    assert "Hotline-hívás 15 perce fogadatlan: PBX trunk down" in notify.sms_text(alert, "hu")
    assert "Αναπάντητη κλήση γραμμής υποστήριξης για 15 λεπ." in notify.spoken_alert(alert, "el")
    assert "Hotline call not answered for 15 min" in notify.sms_text(alert, "en")
    assert summary_in("SLA response deadline at 2026-10-06T08:00:00+00:00: VPN slow", "hu") == \
        "SLA reakció-határidő 2026-10-06 10:00: VPN slow"
