"""A Twilio caller whose turn the database cannot take in the middle of the call hears "we are connecting
you to the on-call line" in the language the call was in, not the installation's default: the call's
language travels in its step URLs (`lang=`), since the call's row cannot be read then."""

from __future__ import annotations

from hotline_helpers import HOTLINE_NUMBER, NIKOS, unavailable

GREEK_EMERGENCY = "Για τεχνικούς λόγους σας συνδέουμε με την εφημερία."


def test_the_emergency_route_mid_call_speaks_the_callers_language(app, settings, fake, demo, engine) -> None:  # noqa: ANN001
    settings.twilio_auth_token = fake.auth_token
    fake.attach_app(app, settings.public_url)
    call = fake.start_inbound_call(settings.public_url, NIKOS, HOTLINE_NUMBER,
                                   status_callback=settings.public_url + "/twilio/voice/status")
    assert call.state == "gather" and call.heard[-1].language == "el-GR", call.transcript
    with unavailable(engine):
        call.press("3")
    assert call.state == "dial" and call.heard[-1].text == settings.emergency_number, call.transcript
    said = call.heard[-2]
    assert said.text == GREEK_EMERGENCY and said.language == "el-GR", call.transcript
    call.hangup()
