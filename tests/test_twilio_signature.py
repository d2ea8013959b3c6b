"""Every Twilio webhook checks X-Twilio-Signature against CALLCENTER_PUBLIC_URL."""

from fake_twilio import compute_signature
from flask import Flask

from callcenter.config import Settings
from webhooks.twilio_signature import twilio_signed


def make_app(token="secret-token"):
    app = Flask(__name__)
    s = Settings()
    s.twilio_auth_token, s.public_url = token, "https://hotline.example.com"
    app.config["SETTINGS"] = s

    @app.post("/twilio/x")
    @twilio_signed
    def x():
        return "ok"

    return app.test_client()


def test_valid_forged_and_missing_signatures():
    client = make_app()
    params = {"CallSid": "CA1", "From": "+3615550101"}
    good = compute_signature("secret-token", "https://hotline.example.com/twilio/x?step=menu", params)
    assert client.post("/twilio/x?step=menu", data=params, headers={"X-Twilio-Signature": good}).status_code == 200
    assert client.post("/twilio/x?step=other", data=params, headers={"X-Twilio-Signature": good}).status_code == 403
    assert client.post("/twilio/x?step=menu", data={**params, "Digits": "1"},
                       headers={"X-Twilio-Signature": good}).status_code == 403
    assert client.post("/twilio/x?step=menu", data=params).status_code == 403


def test_no_token_configured_rejects_everything():
    client = make_app(token="")
    sig = compute_signature("", "https://hotline.example.com/twilio/x", {})
    assert client.post("/twilio/x", data={}, headers={"X-Twilio-Signature": sig}).status_code == 403
