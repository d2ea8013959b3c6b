"""Finding work (issue 12, item 3): counts, pages, column sort, saved filters, full-text search kept
current at each commit (PostgreSQL tsvector + GIN, SQLite FTS5), bulk assign/status."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from callcenter import search
from callcenter import tickets as svc
from callcenter.models import Call, Ticket, TicketSearch

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf(client, path: str = "/login") -> str:  # noqa: ANN001
    return TOKEN.search(client.get(path).get_data(as_text=True)).group(1)


def login(client, name: str, password: str = "demo"):  # noqa: ANN001, ANN201
    return client.post("/login", data={"login": name, "password": password, "csrf_token": csrf(client)})


@pytest.fixture
def pinned(app, now):  # noqa: ANN001, ANN201
    app.config["CLOCK"] = lambda: now + timedelta(minutes=1)
    return app


def new(session, demo, now, subject: str, **kw):  # noqa: ANN001, ANN201
    kw.setdefault("reporter_contact_id", demo.anna.id)
    return svc.create_ticket(session, svc.NewTicket(subject=subject, channel=kw.pop("channel", "phone"),
                                                    category=kw.pop("category", "user"), **kw), now=now)


def numbers(client, query: str) -> list[int]:  # noqa: ANN001
    return [r["number"] for r in client.get(f"/console/queue.json?{query}").get_json()["rows"]]


def test_queue_counts_pages_and_sorts(client, pinned, session, demo, now) -> None:  # noqa: ANN001
    for i in range(57):
        new(session, demo, now + timedelta(seconds=i), f"Ticket {i:02d}")
    session.commit()
    login(client, "agent1")
    data = client.get("/console/queue.json").get_json()
    assert data["total"] == 57 and data["pages"] == 2 and len(data["rows"]) == 50
    second = client.get("/console/queue.json?page=2").get_json()["rows"]
    assert len(second) == 7 and not {r["number"] for r in second} & {r["number"] for r in data["rows"]}
    past = client.get("/console/queue.json?page=99").get_json()
    assert past["page"] == 2 and past["total"] == 57 and len(past["rows"]) == 7
    page = client.get("/console/queue").get_data(as_text=True)
    # agent1 reads Hungarian: "page 1 of 2"
    assert 'id="queue-total">57<' in page and "1. oldal / 2" in page and 'id="page-next"' in page
    by_subject = [r["subject"] for r in client.get("/console/queue.json?sort=subject").get_json()["rows"]]
    assert by_subject == sorted(by_subject) and by_subject[0] == "Ticket 00"
    down = client.get("/console/queue.json?sort=subject&dir=desc").get_json()["rows"]
    assert down[0]["subject"] == "Ticket 56"
    assert numbers(client, "sort=number&page=2") == sorted(numbers(client, "sort=number&page=2"))
    assert client.get("/console/queue.json?sort=bogus").status_code == 200  # falls back to the queue order
    lst = client.get("/console/tickets?sort=number&dir=desc").get_data(as_text=True)
    assert 'id="tickets-total">57<' in lst


def test_saved_filters(client, pinned, session, demo, now) -> None:  # noqa: ANN001
    mine = new(session, demo, now, "Mine", assignee_id=demo.staff["agent1"].id)
    l2 = new(session, demo, now, "Second level", level="L2")
    soon = new(session, demo, now - timedelta(hours=3), "Due soon", category="infrastructure")
    session.commit()
    login(client, "agent1")
    assert numbers(client, "view=mine") == [mine.number]
    assert l2.number not in numbers(client, "view=my_level")  # agent1 is L1
    client.post("/logout", data={"csrf_token": csrf(client, "/console/queue")})
    login(client, "eng2")
    assert numbers(client, "view=my_level") == [l2.number]
    client.post("/logout", data={"csrf_token": csrf(client, "/console/queue")})
    login(client, "manager")  # no level of their own: every level
    assert {mine.number, l2.number} <= set(numbers(client, "view=my_level"))
    session.expire_all()
    due = session.get(Ticket, soon.id).response_due_at
    assert due is not None
    breaching = numbers(client, "view=breaching")
    assert (soon.number in breaching) == (due <= now + timedelta(minutes=1) + timedelta(hours=1))
    for t in (mine, l2):
        session.expire_all()
        d = session.get(Ticket, t.id).response_due_at
        assert (t.number in breaching) == (d is not None and d <= now + timedelta(minutes=61))


def test_search_finds_subjects_bodies_mails_and_callers_and_stays_current(client, pinned, session, demo,
                                                                            now) -> None:  # noqa: ANN001
    printer = new(session, demo, now, "Nyomtató nem nyomtat", description="A HP LaserJet a 2. emeleten")
    other = new(session, demo, now, "VPN slow", reporter_contact_id=demo.nikos.id)
    greek = new(session, demo, now, "Ο ΕΚΤΥΠΩΤΉΣ δεν τυπώνει", reporter_contact_id=demo.nikos.id)
    session.commit()
    login(client, "agent1")
    assert numbers(client, "q=nyomtat") == [printer.number]        # a word prefix
    assert numbers(client, "q=NYOMTATÓ") == [printer.number]       # case and accents folded
    assert numbers(client, "q=emeleten") == [printer.number]
    assert numbers(client, "q=laserjet") == [printer.number]       # the description
    assert numbers(client, "q=vpn") == [other.number]
    assert numbers(client, "q=εκτυπωτης") == [greek.number]          # no tonos, final sigma
    assert numbers(client, "q=Εκτυπωτής") == [greek.number]
    assert numbers(client, f"q=%23{other.number}") == [other.number]  # the ticket number itself
    # A note added later is found at once: the index is rebuilt in the note's own commit.
    svc.add_note(session, session.get(Ticket, other.id), "tunnel MTU misconfigured", actor=svc.SYSTEM,
                 now=now, public=False)
    session.commit()
    assert numbers(client, "q=mtu+tunnel") == [other.number]
    # A call linked to the ticket: found by its caller's number, typed with or without spaces.
    session.add(Call(channel="twilio", provider_call_id="CA-search-1", caller_number="+36 30 999 1234",
                     arrived_at=now, ticket_id=printer.id))
    session.commit()
    assert numbers(client, "q=%2B36309991234") == [printer.number]
    assert numbers(client, "q=36+30+999+1234") == [printer.number]
    assert numbers(client, "q=anna") == [printer.number]  # the reporter's address
    assert numbers(client, "q=zzzznothing") == []
    assert numbers(client, "q=%22%27%29%28*%3A") is not None  # operators in the query are only text
    page = client.get("/console/tickets?q=nyomtat").get_data(as_text=True)
    assert 'id="tickets-total">1<' in page


def test_rebuild_all_repairs_the_index(session, demo, now) -> None:  # noqa: ANN001
    t = new(session, demo, now, "Fax machine jammed")
    session.commit()
    row = session.get(TicketSearch, t.id)
    row.document = ""
    session.flush()
    session.info.pop(search.PENDING, None)
    session.commit()
    assert search.rebuild_all(session) >= 1
    session.commit()
    assert "fax machine jammed" in session.get(TicketSearch, t.id).document  # folded for search
    ids = session.scalars(search.matching_ids(session.get_bind().dialect.name, "jammed")).all()
    assert ids == [t.id]


def test_bulk_assign_and_status_all_or_nothing(client, pinned, session, demo, now) -> None:  # noqa: ANN001
    a, b = new(session, demo, now, "Bulk A"), new(session, demo, now, "Bulk B")
    session.commit()
    login(client, "agent1")
    token = csrf(client, "/console/queue")
    r = client.post("/console/queue/bulk", data={"ticket": [str(a.number), str(b.number)], "assignee": "me",
                                                 "status": "acknowledged", "csrf_token": token,
                                                 "back": "/console/queue?view=mine"})
    assert r.status_code == 302 and r.location.endswith("/console/queue?view=mine")
    session.expire_all()
    for t in (a, b):
        got = session.get(Ticket, t.id)
        assert got.status == "acknowledged" and got.assignee_id == demo.staff["agent1"].id
    # new -> closed is not allowed: nothing changes, and the refusal names the ticket.
    r = client.post("/console/queue/bulk", data={"ticket": [str(a.number), str(b.number)], "assignee": "",
                                                 "status": "closed", "csrf_token": token}, follow_redirects=True)
    assert f"#{a.number}" in r.get_data(as_text=True) or str(a.number) in r.get_data(as_text=True)
    session.expire_all()
    assert session.get(Ticket, a.id).assignee_id == demo.staff["agent1"].id
    r = client.post("/console/queue/bulk", data={"ticket": [str(a.number)], "csrf_token": token,
                                                 "back": "https://evil.example/"})
    assert r.location.endswith("/console/queue")


def test_qa_may_not_bulk_change(client, pinned, session, demo, now) -> None:  # noqa: ANN001
    t = new(session, demo, now, "QA cannot")
    session.commit()
    login(client, "qa")
    assert 'id="bulk-bar"' not in client.get("/console/queue").get_data(as_text=True)
    r = client.post("/console/queue/bulk", data={"ticket": [str(t.number)], "status": "acknowledged",
                                                 "csrf_token": csrf(client, "/console/queue")})
    assert r.status_code == 403


def test_the_index_follows_a_ticket_created_through_the_service(session, demo, now) -> None:  # noqa: ANN001
    t = new(session, demo, now, "Scanner offline")
    session.commit()
    assert session.scalar(select(TicketSearch.document).where(TicketSearch.ticket_id == t.id)).startswith(
        "scanner offline")


def test_search_reindex_command(database_url, session, demo, now) -> None:  # noqa: ANN001
    from click.testing import CliRunner

    from callcenter.cli import cli

    t = new(session, demo, now, "Toner low")
    session.commit()
    session.execute(TicketSearch.__table__.update().values(document=""))
    session.commit()
    result = CliRunner().invoke(cli, ["search-reindex"], env={"CALLCENTER_DATABASE_URL": database_url},
                                catch_exceptions=False)
    assert result.exit_code == 0 and "search index: 1 tickets" in result.output
    session.expire_all()
    assert "toner low" in session.get(TicketSearch, t.id).document


def test_unicode_digits_are_text_not_numbers(client, pinned, session, demo, now) -> None:  # noqa: ANN001
    t = new(session, demo, now, "Superscript ²")
    session.commit()
    login(client, "agent1")
    for path in ("/console/queue?q=%C2%B2", "/console/queue.json?q=%C2%B2", "/console/tickets?q=%C2%B2"):
        assert client.get(path).status_code == 200
    r = client.post("/console/queue/bulk", data={"ticket": ["²", "١٢"], "status": "acknowledged",
                                                 "csrf_token": csrf(client, "/console/queue")})
    assert r.status_code == 302
    r = client.post(f"/console/tickets/{t.number}/field", data={"field": "asset_id", "value": "²",
                                                                "csrf_token": csrf(client, "/console/queue")},
                    headers={"Accept": "application/json"})
    assert r.status_code == 422


def test_a_rolled_back_savepoint_keeps_the_index_of_the_work_before_it(session, demo, now) -> None:  # noqa: ANN001
    """A savepoint that fails (a duplicate key, one bad mail of a batch) undoes only its own work: the
    tickets changed before it still get their documents at the commit."""
    kept = new(session, demo, now, "Plotter smudges")
    session.flush()
    try:
        with session.begin_nested():
            new(session, demo, now, "Rolled back scanner")
            raise RuntimeError("this part fails")
    except RuntimeError:
        pass
    session.commit()
    assert session.scalar(select(TicketSearch.document).where(TicketSearch.ticket_id == kept.id)).startswith(
        "plotter smudges")
    assert session.scalars(search.matching_ids(session.get_bind().dialect.name, "scanner")).all() == []


def test_a_new_tickets_document_built_in_hand_is_the_one_the_database_gives(session, settings, demo,
                                                                            now) -> None:  # noqa: ANN001
    """A ticket created in the committing transaction gets its document from the objects its flushes
    wrote; it must say what reading the rows back says (events in order, mails, callers, and an
    event that left for another ticket or a mail moved away no longer counted)."""
    from mailtools import make_mail

    from callcenter.mail.ingest import ingest
    from callcenter.wiring import load_services

    load_services()
    result = ingest(session, make_mail("stranger@nowhere.example", "Kávéfőző ég", "Füstöl a gép.\n"),
                    settings=settings, now=now)
    ticket = session.scalar(select(Ticket).where(Ticket.number == result.ticket_number))
    svc.add_note(session, ticket, "Called the stranger back: +30 210 555 0199", actor=svc.SYSTEM, now=now)
    other = new(session, demo, now, "Other ticket")
    moved = svc.add_note(session, ticket, "misfiled note", actor=svc.SYSTEM, now=now)
    session.add(Call(channel="twilio", provider_call_id="CA-fresh-1", caller_number="+36 30 111 2222",
                     arrived_at=now, ticket_id=ticket.id))
    session.flush()
    moved.ticket = other  # moved away in the same transaction
    session.commit()
    stored = {t: session.get(TicketSearch, t).document for t in (ticket.id, other.id)}
    session.expire_all()
    assert stored[ticket.id] == search.document(session, session.get(Ticket, ticket.id))
    assert stored[other.id] == search.document(session, session.get(Ticket, other.id))
    assert "misfiled" in stored[other.id] and "misfiled" not in stored[ticket.id]
    assert "36301112222" in stored[ticket.id] and "kavefozo eg" in stored[ticket.id]
