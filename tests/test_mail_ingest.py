"""The mail ingestion service: identification, threading, duplicates, loops, quarantine, approvals."""

from __future__ import annotations

from datetime import timedelta

import pytest
from mailtools import make_mail
from sqlalchemy import func, select

from callcenter import tickets
from callcenter.mail import threading as th
from callcenter.mail.ingest import approval_decision, ingest
from callcenter.mail.signing import signer_for
from callcenter.models import (
    Approval,
    InboundMail,
    MailAttachment,
    OutboxMessage,
    Status,
    Ticket,
    TicketEvent,
)
from callcenter.wiring import load_services

load_services()
ANNA = "Kovács Anna <anna@budapest-demo.example>"
NIKOS = "pbx@athens-demo.example"


def run(session, settings, raw, now, **kw):
    # Committed, as every intake does: the auto-replies are after-commit handlers (callcenter/handlers.py).
    result = ingest(session, raw, settings=settings, now=now, **kw)
    session.commit()
    session.expire_all()  # the handlers wrote in their own transactions
    return result


def mails_to(session, address):
    return list(session.scalars(select(OutboxMessage).where(OutboxMessage.channel == "email",
                                                            OutboxMessage.destination == address)
                                .order_by(OutboxMessage.id)))


def test_prefixes_and_numbers():
    assert th.strip_prefixes("Re: AW: Vá: ΑΠ: Fwd: Nyomtató") == "Nyomtató"
    assert th.strip_prefixes("απ: ΣΧΕΤ: ΠΡΘ: Τηλέφωνα") == "Τηλέφωνα"
    assert th.strip_prefixes("RE[2]: WG: Továbbítás: x") == "x"
    assert th.strip_prefixes("Recovery plan") == "Recovery plan"
    assert th.subject_numbers("Vá: [#15001] Nyomtató, see #15002") == [15001, 15002]
    assert th.subject_numbers("order 15001 abc#15003") == []


def test_message_id_hmac(session, settings):
    signer = signer_for(session, settings)
    mid = signer.message_id(15789)
    assert signer.decode(mid).number == 15789
    forged = mid.replace("hl.15789.", "hl.15790.")
    assert signer.decode(forged) is None


def test_new_ticket_from_contact_auto_reply_in_hungarian(session, settings, demo, now):
    raw = make_mail(ANNA, "Nem működik a nyomtató", "A 2. emeleti nyomtató nem nyomtat.", encode_subject="utf-8",
                    attachment=("screen.png", "image/png", b"\x89PNG fake"))
    assert b"=?utf-8?" in raw
    r = run(session, settings, raw, now)
    assert r.outcome == "new_ticket"
    t = session.scalar(select(Ticket).where(Ticket.number == r.ticket_number))
    assert t.subject == "Nem működik a nyomtató" and t.channel == "email"
    assert t.company_id == demo.budapest.id and t.reporter_contact_id == demo.anna.id
    assert t.reporter_role == "IT manager" and t.reporter_phone == "+3615550101"
    att = session.scalar(select(MailAttachment))
    assert att.filename == "screen.png" and att.data == b"\x89PNG fake" and att.ticket_id == t.id
    inbound = session.get(InboundMail, r.inbound_id)
    assert inbound.raw == raw and inbound.event_id == t.events[0].id
    [reply] = mails_to(session, "anna@budapest-demo.example")
    p = reply.payload
    assert p["subject"].startswith(f"[#{t.number}]")
    assert "Kategória: felhasználói probléma" in p["text"]
    assert "Válaszidő határideje: 2026-10-07 09:00 (Europe/Budapest)" in p["text"]
    assert p["headers"]["Auto-Submitted"] == "auto-replied" and p["headers"]["X-Loop"] == settings.mail_from
    assert p["headers"]["In-Reply-To"] == f"<{inbound.message_id}>"


def test_greek_subject_reply_threads_by_number_and_ends_waiting(session, settings, demo, now):
    r = run(session, settings, make_mail(NIKOS, "Πρόβλημα με το τηλεφωνικό κέντρο", encode_subject="utf-8"), now)
    t = session.scalar(select(Ticket).where(Ticket.number == r.ticket_number))
    assert t.subject == "Πρόβλημα με το τηλεφωνικό κέντρο" and t.company_id == demo.athens.id
    assert "Κατηγορία" in mails_to(session, NIKOS)[0].payload["text"]
    tickets.change_status(session, t, Status.WAITING_CUSTOMER, actor=tickets.SYSTEM, now=now)
    later = now + timedelta(hours=1)
    r2 = run(session, settings, make_mail(NIKOS, f"ΑΠ: [#{t.number}] Πρόβλημα", "Η κάρτα αλλάχτηκε.",
                                          encode_subject="utf-8"), later)
    assert r2.outcome == "threaded" and r2.ticket_number == t.number
    assert t.status == Status.ACKNOWLEDGED
    assert t.events[-2].kind == "email" and "Η κάρτα αλλάχτηκε." in t.events[-2].body


@pytest.mark.parametrize("prefix", ["Vá:", "AW:", "ΑΠ:", "Re: Fwd:"])
def test_reply_prefixes_thread_without_headers(session, settings, demo, now, prefix):
    r = run(session, settings, make_mail(ANNA, "VPN down"), now)
    r2 = run(session, settings, make_mail(ANNA, f"{prefix} [#{r.ticket_number}] VPN down", "still down"), now)
    assert r2.outcome == "threaded" and r2.ticket_number == r.ticket_number


def test_reply_threads_by_our_message_id_without_number(session, settings, demo, now):
    r = run(session, settings, make_mail(ANNA, "Switch dead"), now)
    ours = mails_to(session, "anna@budapest-demo.example")[0].payload["message_id"]
    r2 = run(session, settings, make_mail(ANNA, "Re: Switch dead", "more", in_reply_to=ours), now)
    assert r2.outcome == "threaded" and r2.ticket_number == r.ticket_number


def test_stranger_quoting_someone_elses_number_gets_a_new_ticket(session, settings, demo, now):
    r = run(session, settings, make_mail(ANNA, "Server room too hot"), now)
    r2 = run(session, settings, make_mail("mallory@elsewhere.example", f"Re: [#{r.ticket_number}] close it"), now)
    assert r2.outcome == "new_ticket" and r2.ticket_number != r.ticket_number
    t2 = session.scalar(select(Ticket).where(Ticket.number == r2.ticket_number))
    assert t2.company_id is None
    assert f"quotes #{r.ticket_number}" in t2.events[0].body
    assert session.get(InboundMail, r2.inbound_id).triage == "triage"
    # An unknown sender is never dropped, and still gets the auto-reply with the new number.
    assert mails_to(session, "mallory@elsewhere.example")[0].payload["subject"].startswith(f"[#{t2.number}]")


def test_duplicate_delivery_and_no_message_id(session, settings, demo, now):
    raw = make_mail(ANNA, "Printer jam")
    assert run(session, settings, raw, now).outcome == "new_ticket"
    assert run(session, settings, raw, now).outcome == "duplicate"
    no_id = make_mail(ANNA, "No id here", message_id=None)
    first = run(session, settings, no_id, now)
    assert first.outcome == "new_ticket"
    assert session.get(InboundMail, first.inbound_id).message_id.startswith("raw-sha256:")
    # The same bytes with different line endings are the same message.
    assert run(session, settings, no_id.replace(b"\n", b"\r\n"), now).outcome == "duplicate"
    # Another mailbox legitimately gets its own ticket.
    assert run(session, settings, raw, now, mailbox="sales@hotline.example").outcome == "new_ticket"
    assert session.scalar(select(func.count()).select_from(Ticket)) == 3


def test_auto_responder_loop_is_recorded_without_reply(session, settings, demo, now):
    r = run(session, settings, make_mail(ANNA, "Backup failed"), now)
    assert len(mails_to(session, "anna@budapest-demo.example")) == 1
    ooo = make_mail(ANNA, f"Automatic reply: [#{r.ticket_number}] Backup failed", "I am out of office",
                    headers={"Auto-Submitted": "auto-replied"})
    r2 = run(session, settings, ooo, now)
    assert r2.outcome == "threaded"
    assert session.get(InboundMail, r2.inbound_id).auto_reply_suppressed.startswith("Auto-Submitted")
    bulk = run(session, settings, make_mail(ANNA, "Newsletter", headers={"Precedence": "bulk"}), now)
    assert bulk.outcome == "new_ticket"
    daemon = run(session, settings, make_mail("MAILER-DAEMON@mx.example", "Undelivered Mail"), now)
    assert session.get(InboundMail, daemon.inbound_id).auto_reply_suppressed.startswith("robot sender")
    assert len(mails_to(session, "anna@budapest-demo.example")) == 1
    assert mails_to(session, "mailer-daemon@mx.example") == []


def test_per_sender_rate_limit(session, settings, demo, now):
    for i in range(12):
        run(session, settings, make_mail("loopy@elsewhere.example", f"Ticket {i}"), now + timedelta(minutes=i))
    assert len(mails_to(session, "loopy@elsewhere.example")) == 10
    run(session, settings, make_mail("loopy@elsewhere.example", "Ticket 99"), now + timedelta(hours=4))
    assert len(mails_to(session, "loopy@elsewhere.example")) == 11


def test_broken_mime_and_bad_charset_are_quarantined(session, settings, demo, now):
    broken = (b"From: anna@budapest-demo.example\r\nSubject: broken\r\nMessage-ID: <broken-1@x>\r\n"
              b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"XYZ\"\r\n\r\n"
              b"no boundary ever appears here\r\n")
    r = run(session, settings, broken, now)
    assert r.outcome == "quarantined" and "broken MIME" in r.reason
    row = session.get(InboundMail, r.inbound_id)
    assert row.raw == broken and row.ticket_id is None and row.subject == "broken"
    assert run(session, settings, broken, now).outcome == "duplicate"
    charset = (b"From: anna@budapest-demo.example\r\nSubject: cs\r\nMessage-ID: <cs-1@x>\r\n"
               b"Content-Type: text/plain; charset=x-klingon\r\n\r\nqapla\r\n")
    r = run(session, settings, charset, now)
    assert r.outcome == "quarantined" and "charset" in r.reason
    settings.mail_max_message_bytes = 1000
    r = run(session, settings, make_mail(ANNA, "big", "x" * 2000), now)
    assert r.outcome == "quarantined" and "larger" in r.reason
    assert session.scalar(select(func.count()).select_from(Ticket)) == 0


def test_attachment_limits(session, settings, demo, now):
    settings.mail_max_attachment_bytes = 100
    r = run(session, settings, make_mail(ANNA, "files", attachment=("big.png", "image/png", b"x" * 500)), now)
    r2 = run(session, settings, make_mail(ANNA, "exe", attachment=("x.exe", "application/x-msdownload", b"MZ")), now)
    rows = list(session.scalars(select(MailAttachment).order_by(MailAttachment.id)))
    assert [a.rejected for a in rows] == ["larger than 100 bytes", "content type application/x-msdownload is not "
                                          "accepted"]
    assert all(a.data is None for a in rows) and r.outcome == r2.outcome == "new_ticket"


def test_closed_ticket_reply_rule(session, settings, demo, now):
    r = run(session, settings, make_mail(ANNA, "Disk full"), now)
    t = session.scalar(select(Ticket).where(Ticket.number == r.ticket_number))
    tickets.start_work(session, t, actor=tickets.SYSTEM, now=now)
    tickets.change_status(session, t, Status.RESOLVED, actor=tickets.SYSTEM, now=now)
    tickets.change_status(session, t, Status.CLOSED, actor=tickets.SYSTEM, now=now)
    r2 = run(session, settings, make_mail(ANNA, f"Re: [#{t.number}] Disk full", "full again"), now)
    assert r2.outcome == "new_ticket" and r2.ticket_number != t.number
    assert [k for k, _ in tickets.linked_tickets(session, t)] == ["follow_up"]
    settings.mail_closed_reply = "reopen"
    r3 = run(session, settings, make_mail(ANNA, f"Re: [#{t.number}] Disk full", "and again"), now)
    assert r3.outcome == "threaded" and r3.ticket_number == t.number and t.status == Status.NEW


def test_phase_mails(session, settings, demo, now):
    session.info["settings"] = settings
    r = run(session, settings, make_mail(NIKOS, "Trunk down"), now)
    t = session.scalar(select(Ticket).where(Ticket.number == r.ticket_number))
    eng = demo.staff["eng2"]
    tickets.assign(session, t, eng.id, actor=tickets.SYSTEM, now=now)
    tickets.escalate(session, t, "L2", actor=tickets.SYSTEM, now=now, reason="needs a PBX engineer")
    tickets.add_note(session, t, "internal only", actor=tickets.SYSTEM, now=now)
    tickets.add_note(session, t, "We replaced the trunk card.", actor=tickets.SYSTEM, now=now, public=True)
    tickets.start_work(session, t, actor=tickets.SYSTEM, now=now)
    tickets.change_status(session, t, Status.RESOLVED, actor=tickets.SYSTEM, now=now)
    session.commit()  # the phase mails are queued after the commit
    subjects = [m.payload["subject"] for m in mails_to(session, NIKOS)]
    assert subjects[0].startswith(f"[#{t.number}] Καταχώριση")
    # Assignment and escalation are internal (who works it, and why): no mail, the reason never leaves.
    assert subjects[1:] == [f"[#{t.number}] {w}: Trunk down" for w in
                            ["Νέο μήνυμα", "Αλλαγή κατάστασης", "Αλλαγή κατάστασης", "Επιλύθηκε"]]
    texts = "\n".join(m.payload["text"] for m in mails_to(session, NIKOS))
    assert "needs a PBX engineer" not in texts and "internal only" not in texts and "Tóth" not in texts
    last = mails_to(session, NIKOS)[-1].payload
    assert "κατάσταση: σε εξέλιξη -> επιλύθηκε" in last["text"]
    assert f"<ticket-{t.number}@hotline.example>" in last["headers"]["References"]
    assert last["headers"]["Auto-Submitted"] == "auto-generated"


def test_written_permission_change_and_approval_by_reply(session, settings, demo, now):
    session.info["settings"] = settings
    r = run(session, settings, make_mail(ANNA, "Jogosultság: Kiss Péter kapjon hozzáférést a CRM-hez"), now)
    t = session.scalar(select(Ticket).where(Ticket.number == r.ticket_number))
    assert t.category == "permission_change" and t.status == Status.WAITING_APPROVAL
    requests = [m for m in mails_to(session, "anna@budapest-demo.example")
                if "Jóváhagyása szükséges" in m.payload["subject"]]
    assert len(requests) == 1 and "JÓVÁHAGYOM" in requests[0].payload["text"]
    # A stranger cannot approve, even quoting the number.
    run(session, settings, make_mail("mallory@elsewhere.example", f"Re: [#{t.number}]", "Jóváhagyom"), now)
    assert session.scalar(select(Approval)).status == "pending"
    reply = make_mail(ANNA, f"Vá: [#{t.number}] Jóváhagyása szükséges", "Jóváhagyom.\n\n> idézett szöveg",
                      in_reply_to=requests[0].payload["message_id"], message_id="<anna-ok-1@budapest-demo.example>")
    run(session, settings, reply, now)
    approval = session.scalar(select(Approval))
    assert approval.status == "approved" and approval.decision_channel == "email"
    assert "<anna-ok-1@budapest-demo.example>" in approval.evidence and "Jóváhagyom." in approval.evidence
    assert t.status == Status.ACKNOWLEDGED
    assert any("jóváhagyva" in m.payload["subject"] for m in mails_to(session, "anna@budapest-demo.example"))


def test_approval_keywords():
    assert approval_decision("APPROVE\n> deny") is True
    assert approval_decision("Nem hagyom jóvá.") is False
    assert approval_decision("Δεν εγκρίνω") is False
    assert approval_decision("Εγκρίνω") is True
    assert approval_decision("Let me think about it") is None


def test_events_kept_per_mail(session, settings, demo, now):
    r = run(session, settings, make_mail(ANNA, "HTML only", "plain", html="<p>Hello <b>there</b></p>"), now)
    r2 = run(session, settings, make_mail(ANNA, f"Re: [#{r.ticket_number}]", "second"), now)
    rows = list(session.scalars(select(InboundMail).order_by(InboundMail.id)))
    assert [x.event_id for x in rows] == [
        session.scalar(select(TicketEvent.id).where(TicketEvent.kind == "created")),
        session.scalar(select(TicketEvent.id).where(TicketEvent.kind == "email")),
    ]
    assert r2.ticket_number == r.ticket_number


def test_reply_that_lost_headers_and_subject_threads_by_the_body_marker(session, settings, demo, now):
    r = run(session, settings, make_mail(ANNA, "Scanner offline"), now)
    auto_reply = mails_to(session, "anna@budapest-demo.example")[0].payload["text"]
    marker = signer_for(session, settings).body_marker(r.ticket_number)
    assert auto_reply.rstrip().endswith(marker)
    # A client that drops In-Reply-To/References and rewrites the subject, but quotes our mail.
    quoted = "Still offline.\n\n> " + "\n> ".join(auto_reply.splitlines())
    r2 = run(session, settings, make_mail(ANNA, "scanner", quoted), now)
    assert (r2.outcome, r2.ticket_number) == ("threaded", r.ticket_number)
    # The marker may also hide in the HTML part only.
    r3 = run(session, settings, make_mail(ANNA, "scanner again", "see below",
                                          html=f'<p>Hi</p><div style="display:none">{marker}</div>'), now)
    assert (r3.outcome, r3.ticket_number) == ("threaded", r.ticket_number)


def test_body_marker_needs_its_signature_and_the_sender_check(session, settings, demo, now):
    r = run(session, settings, make_mail(ANNA, "Badge reader broken"), now)
    forged = f"[ref:hl-{r.ticket_number}-0123456789]"
    assert forged != signer_for(session, settings).body_marker(r.ticket_number)
    assert run(session, settings, make_mail(ANNA, "other thing", forged), now).outcome == "new_ticket"
    # A stranger quoting a genuine marker is not threaded onto Anna's ticket.
    genuine = signer_for(session, settings).body_marker(r.ticket_number)
    r3 = run(session, settings, make_mail("mallory@elsewhere.example", "fyi", genuine), now)
    assert r3.outcome == "new_ticket" and r3.ticket_number != r.ticket_number


def test_a_directory_change_is_seen_by_the_next_mail_from_that_sender(session, session_factory, settings, demo,
                                                                       now):
    """Senders are identified from the process cache while the directory does not change: a contact's
    new company, a changed SLA target and a deactivated contact count from the next mail on. Each mail
    in a session of its own, as every intake has."""
    from callcenter.models import Company, Contact, SlaTarget

    def deliver(subject: str) -> Ticket:
        with session_factory() as own:
            number = ingest(own, make_mail(ANNA, subject), settings=settings, now=now).ticket_number
            own.commit()
        session.expire_all()
        return session.scalar(select(Ticket).where(Ticket.number == number))

    first, cached = deliver("Printer one"), deliver("Printer two")  # the second from the cache
    assert (first.company_id, first.reporter_contact_id) == (demo.budapest.id, demo.anna.id)
    assert (cached.company_id, cached.reporter_contact_id, cached.response_due_at) == (
        demo.budapest.id, demo.anna.id, first.response_due_at)

    other = session.scalar(select(Company).where(Company.id != demo.budapest.id).order_by(Company.id))
    session.get(Contact, demo.anna.id).company_id = other.id
    session.commit()
    assert deliver("Printer three").company_id == other.id

    session.get(Contact, demo.anna.id).company_id = demo.budapest.id
    session.commit()
    assert deliver("Printer cached again").response_due_at == first.response_due_at
    target = session.scalar(select(SlaTarget).where(SlaTarget.contract_id == first.contract_id,
                                                    SlaTarget.category == "user"))
    target.response_minutes += 60  # the target alone changes, not its contract
    session.commit()
    assert deliver("Printer four").response_due_at > first.response_due_at

    session.get(Contact, demo.anna.id).active = False
    session.commit()
    assert deliver("Printer five").reporter_contact_id is None
