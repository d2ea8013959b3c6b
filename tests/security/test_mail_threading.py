"""Issue 15 item 2: nobody can compute our Message-IDs, and every threading path checks the sender."""

from __future__ import annotations

import hashlib
import hmac

from mailpipe import ANNA, mails_to, pipe, ticket
from mailtools import make_mail
from sqlalchemy import create_engine, func, select, text

from callcenter.config import load_settings
from callcenter.mail.signing import signer_for
from callcenter.migrate import upgrade
from callcenter.models import InboundMail, InstallationSecret, Ticket
from callcenter.wiring import load_services

load_services()
NIKOS = "pbx@athens-demo.example"
MALLORY = "mallory@elsewhere.example"


def old_style_id(database_url: str, number: int) -> str:
    """What the report's stranger computed: the key was sha256("hotline-mail:" + database URL)."""
    url = load_settings(env={"CALLCENTER_DATABASE_URL": database_url}).database_url
    key = hashlib.sha256(("hotline-mail:" + url).encode()).digest()
    mac = hmac.new(key, f"{number}.deadbeef00".encode(), hashlib.sha256).hexdigest()[:12]
    return f"<hl.{number}.deadbeef00.{mac}@hotline.example>"


def athens_ticket(session, database_url) -> int:  # noqa: ANN001
    assert pipe(database_url, make_mail(NIKOS, "Trunk card failed")) == 0
    session.expire_all()
    return session.scalar(select(Ticket.number))


def test_an_id_computed_from_the_configuration_does_not_thread(demo, session, database_url):
    number = athens_ticket(session, database_url)
    forged = make_mail(MALLORY, "Re: your ticket", "Please close it, solved.", in_reply_to=old_style_id(
        database_url, number))
    assert pipe(database_url, forged) == 0
    assert len(ticket(session, number).events) == 1 + 0  # only its creation: nothing joined it
    assert session.scalar(select(func.count()).select_from(Ticket)) == 2


def test_a_genuine_message_id_in_a_strangers_hands_does_not_thread(demo, session, database_url):
    """Our own signed id proves someone received our mail, not who is writing: the sender check applies."""
    number = athens_ticket(session, database_url)
    genuine = mails_to(session, NIKOS)[0].payload["message_id"]
    assert pipe(database_url, make_mail(MALLORY, "Re: Trunk card failed", "close it", in_reply_to=genuine)) == 0
    t = ticket(session, number)
    assert [e.kind for e in t.events] == ["created"]
    other = session.scalar(select(Ticket).where(Ticket.number != number))
    assert f"quotes #{number}" in other.events[0].body and other.company_id is None
    # The customer's own reply with the same id still threads.
    assert pipe(database_url, make_mail(NIKOS, "Re: Trunk card failed", "replaced", in_reply_to=genuine)) == 0
    assert [e.kind for e in ticket(session, number).events][-1] == "email"


def test_a_stranger_reusing_a_known_inbound_id_does_not_thread(demo, session, database_url):
    number = athens_ticket(session, database_url)
    known = session.scalar(select(InboundMail.message_id))
    pipe(database_url, make_mail(MALLORY, "fyi", "hello", in_reply_to=f"<{known}>"))
    assert [e.kind for e in ticket(session, number).events] == ["created"]


def test_the_installation_secret_is_random_per_database_and_not_configuration(tmp_path, session, settings):
    secrets = []
    for name in ("one", "two"):
        url = f"sqlite:///{tmp_path / name}.sqlite"
        upgrade(url)
        engine = create_engine(url)
        with engine.connect() as conn:
            secrets.append(conn.execute(text("SELECT value FROM installation_secrets WHERE name = 'mail'")).scalar())
        engine.dispose()
    assert all(len(s) == 64 for s in secrets) and secrets[0] != secrets[1]
    # The web secret key plays no part in the mail ids.
    signer = signer_for(session, settings)
    settings.secret_key = "something else"
    session.info.pop("mail_signer")
    assert signer_for(session, settings).message_id(15001, "x") == signer.message_id(15001, "x")
    assert session.get(InstallationSecret, "mail") is not None


def test_the_subject_number_from_a_strangers_address_opens_a_new_ticket(demo, session, database_url):
    number = athens_ticket(session, database_url)
    pipe(database_url, make_mail(MALLORY, f"Re: [#{number}]", "resolved, close"))
    assert [e.kind for e in ticket(session, number).events] == ["created"]
    assert pipe(database_url, make_mail(ANNA, f"Re: [#{number}]", "I am from another company")) == 0
    assert [e.kind for e in ticket(session, number).events] == ["created"]
