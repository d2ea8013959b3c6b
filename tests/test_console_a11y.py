"""Accessibility basics on the console's main pages: every form control has a name a screen reader
can read (a <label>, aria-label or aria-labelledby), a skip link to the content, a visible focus
style, and the palette's text colours at 4.5:1 or more against what they are written on."""

from __future__ import annotations

import re
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from call_data import make_call, store_recording
from sqlalchemy import select
from test_console import login

from callcenter import tickets as tsvc
from callcenter.models import CallOutcome, EscalationPolicy
from callcenter.paging import alerts

CSS = Path(__file__).resolve().parent.parent / "callcenter" / "static" / "console.css"


class Controls(HTMLParser):
    """Collects form controls and what names them."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: list[dict] = []
        self.label_for: set[str] = set()
        self.ids: set[str] = set()
        self.open_labels = 0
        self.skip_link = False
        self.main_id = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        if tag == "label":
            self.open_labels += 1
            if a.get("for"):
                self.label_for.add(a["for"])
        if tag == "a" and "skip" in (a.get("class") or "").split() and (a.get("href") or "").startswith("#"):
            self.skip_link = a["href"][1:]
        if tag == "main":
            self.main_id = a.get("id")
        if tag in {"input", "select", "textarea"}:
            if tag == "input" and a.get("type") in {"hidden", "submit", "button", "image", "reset"}:
                return
            self.controls.append({"tag": tag, "name": a.get("name"), "id": a.get("id"),
                                  "inside_label": self.open_labels > 0,
                                  "aria": a.get("aria-label") or a.get("aria-labelledby") or a.get("title")})

    def handle_endtag(self, tag: str) -> None:
        if tag == "label" and self.open_labels:
            self.open_labels -= 1


def unnamed(html: str) -> list[dict]:
    p = Controls()
    p.feed(html)
    return [c for c in p.controls if not (c["inside_label"] or c["aria"] or (c["id"] and c["id"] in p.label_for))]


def skip_link_ok(html: str) -> bool:
    p = Controls()
    p.feed(html)
    return bool(p.skip_link) and p.skip_link == p.main_id


@pytest.fixture
def pages(app, session, demo, settings, now):  # noqa: ANN001, ANN201
    app.config["CLOCK"] = lambda: now
    ticket = tsvc.create_ticket(session, tsvc.NewTicket(subject="PBX trunk down", channel="phone",
                                                        category="infrastructure", reporter_contact_id=demo.nikos.id,
                                                        asset_id=demo.pbx.id), now=now - timedelta(hours=1))
    call = make_call(session, now - timedelta(hours=1), company=demo.athens, contact=demo.nikos, wait=30,
                     answered=True, outcome=CallOutcome.ANSWERED, ticket_id=ticket.id)
    store_recording(session, settings.recordings_path, call)
    policy = session.scalar(select(EscalationPolicy).where(EscalationPolicy.name == "Default"))
    alert, _ = alerts.raise_alert(session, source="api", dedup_key="a11y", summary="PBX down", policy=policy, now=now)
    session.commit()
    return {
        "admin": ["/console/queue", "/console/tickets", f"/console/tickets/{ticket.number}", "/console/tickets/new",
                  "/console/companies", "/console/calls", f"/console/calls/{call.id}", "/console/oncall",
                  f"/console/alerts/{alert.id}", "/console/reports/", "/wallboard", "/console/nowhere"],
        "agent1": ["/agent", "/console/queue"],
        "qa": [f"/console/calls/{call.id}", "/console/calls/reviews"],
        "anna@budapest-demo.example": ["/portal/", "/console/reports/"],
    }


def test_every_control_is_named_and_every_page_has_a_skip_link(client, pages) -> None:  # noqa: ANN001
    problems = []
    for who, paths in pages.items():
        login(client, who)
        for path in paths:
            r = client.get(path)
            html = r.get_data(as_text=True)
            assert r.status_code in (200, 404), (who, path, r.status_code)
            problems += [(who, path, c["tag"], c["name"]) for c in unnamed(html)]
            if not skip_link_ok(html):
                problems.append((who, path, "no skip link to <main>", None))
        client.post("/logout", data={"csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', html)[1]})
    assert problems == [], "\n".join(map(str, problems))


def test_login_page_controls_are_named(client, demo) -> None:  # noqa: ANN001
    html = client.get("/login").get_data(as_text=True)
    assert unnamed(html) == []


def _rgb(hex_colour: str) -> tuple[float, float, float]:
    h = hex_colour.lstrip("#")
    if len(h) == 3:
        h = "".join(ch * 2 for ch in h)
    return tuple(int(h[i:i + 2], 16) / 255 for i in (0, 2, 4))  # type: ignore[return-value]


def contrast(fg: str, bg: str) -> float:
    def lum(c: str) -> float:
        r, g, b = (v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4 for v in _rgb(c))
        return 0.2126 * r + 0.7152 * g + 0.0722 * b
    hi, lo = sorted((lum(fg), lum(bg)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_palette_contrast_and_visible_focus() -> None:
    css = CSS.read_text()
    var = dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-fA-F]{3,6})", css.split("}", 1)[0]))
    pairs = [("fg", "bg"), ("fg", "#ffffff"), ("muted", "bg"), ("muted", "#ffffff"), ("muted", "#eef2f6"),
             ("accent", "#ffffff"), ("accent", "bg"), ("#ffffff", "accent"), ("#ffffff", "ok"), ("#ffffff", "bad"),
             ("warn-text", "#ffffff"), ("#ffffff", "warn-text"),
             ("#8a3c00", "#ffffff"), ("#8a3c00", "#fff3e0"), ("#5d2c00", "#fff3e0"), ("#1b4d1e", "#e8f5e9")]
    low = [(f, b, round(contrast(var.get(f, f), var.get(b, b)), 2)) for f, b in pairs
           if contrast(var.get(f, f), var.get(b, b)) < 4.5]
    assert low == []
    assert ":focus-visible" in css and "outline" in css.split(":focus-visible", 1)[1].split("}", 1)[0]
