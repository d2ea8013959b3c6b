"""Every Twilio webhook checks X-Twilio-Signature against CALLCENTER_PUBLIC_URL."""

from fake_twilio import compute_signature
from flask import Flask
from werkzeug.datastructures import MultiDict

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


def test_url_signed_with_the_default_port_is_accepted():
    # Twilio sometimes signs https://host:443/...: the fast exact-URL check fails, the full check accepts.
    client = make_app()
    params = {"CallSid": "CA1", "From": "+3615550101"}
    with_port = compute_signature("secret-token", "https://hotline.example.com:443/twilio/x", params)
    assert client.post("/twilio/x", data=params, headers={"X-Twilio-Signature": with_port}).status_code == 200
    wrong_port = compute_signature("secret-token", "https://hotline.example.com:8443/twilio/x", params)
    assert client.post("/twilio/x", data=params, headers={"X-Twilio-Signature": wrong_port}).status_code == 403


def test_repeated_parameters_are_all_signed():
    client = make_app()
    params = MultiDict([("CallSid", "CA1"), ("StirVerstat", "A"), ("StirVerstat", "B")])
    good = compute_signature("secret-token", "https://hotline.example.com/twilio/x", params)
    assert client.post("/twilio/x", data=params, headers={"X-Twilio-Signature": good}).status_code == 200
    dropped = compute_signature("secret-token", "https://hotline.example.com/twilio/x",
                                [("CallSid", "CA1"), ("StirVerstat", "A")])
    assert client.post("/twilio/x", data=params, headers={"X-Twilio-Signature": dropped}).status_code == 403
