""""Not recorded, send again" in the on-call engineer's language while the database is unavailable.

Nothing can be read then, not even who is writing: a page call's language travels in its TwiML URLs
(`l=`), as its message id does; an SMS reply's language is that of the sender's number's country, with
the English text after it when that is a guess other than English (an English speaker may carry a
Hungarian number)."""

from __future__ import annotations

from hotline_helpers import unavailable

ENG2, ENG3, STRANGER = "+3615550182", "+302105550183", "+447700900123"
HU_SMS, EL_SMS = "A válaszát nem rögzítettük", "Η απάντησή σας δεν καταγράφηκε"
EN_SMS = "Your reply was not recorded"


def test_an_sms_reply_is_answered_in_the_language_of_the_senders_number(pager, engine) -> None:  # noqa: ANN001
    _, number = pager.raise_alert()
    with unavailable(engine):
        hungarian = pager.sms_reply(ENG2, f"ACK {number}")
        greek = pager.sms_reply(ENG3, f"ACK {number}")
        english = pager.sms_reply(STRANGER, f"ACK {number}")
    assert hungarian.status_code == greek.status_code == english.status_code == 200
    assert HU_SMS in hungarian.text and EN_SMS in hungarian.text, hungarian.text
    assert hungarian.text.index(HU_SMS) < hungarian.text.index(EN_SMS)
    assert EL_SMS in greek.text and EN_SMS in greek.text, greek.text
    assert EN_SMS in english.text and HU_SMS not in english.text and EL_SMS not in english.text


def test_a_page_call_says_it_in_the_engineers_language(pager, fake, engine) -> None:  # noqa: ANN001
    pager.raise_alert()
    pager.tick()
    fake.wait_for_message(to=ENG2)
    pager.advance(minutes=2)
    call = fake.wait_for_call(to=ENG2)
    session = fake.answer_call(call.sid, answered_by="human")
    assert session.state == "gather"
    with unavailable(engine):
        session.press("4")
    assert session.ended, session.transcript
    said = session.heard[-1]
    assert said.language == "hu-HU" and "nem rögzítettük" in said.text, session.transcript
    session.hangup()
