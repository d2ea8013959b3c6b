"""What a page says and how it is sent: SMS text and voice-call outbox rows, in the engineer's language.

Callback URLs are stored as paths; the Twilio provider resolves them against CALLCENTER_PUBLIC_URL
when it sends, so the services need no settings.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from .. import outbox
from ..alert_text import summary_in
from ..models import Alert, OutboxMessage, Page, StaffUser

SOURCE_KIND = "notification"
SMS_STATUS_PATH = "/twilio/page/sms-status"
CALL_STATUS_PATH = "/twilio/page/call-status"
VOICE_PATH = "/twilio/page/voice"
CALL_TIMEOUT_SECONDS = 25

# Twilio <Say> voices per language (Google voices: Polly has none for Hungarian or Greek).
VOICES = {
    "hu": ("Google.hu-HU-Standard-A", "hu-HU"),
    "el": ("Google.el-GR-Standard-A", "el-GR"),
    "en": ("Polly.Amy", "en-GB"),
}

TEXTS = {
    "en": {
        "sms": "HOTLINE {ref}: {customer} - {summary}. Reply ACK {number} (or 1) to acknowledge, "
               "ESC {number} to escalate, RES {number} to resolve.",
        "say": "Hotline alert {ref}. Customer: {customer}. {summary}.",
        "menu": "Press 4 to acknowledge. Press 5 to escalate. Press 6 to resolve. Press star to repeat.",
        "acked": "Acknowledged. Thank you.",
        "escalated": "Escalated to the next step.",
        "resolved": "Resolved.",
        "closed": "This alert is already {status}.",
        "not_allowed": "You may not act on this alert.",
        "bye": "No key pressed. Goodbye.",
        "machine": "Hotline alert {ref}. Please call back or check your messages.",
        "no_customer": "no customer",
    },
    "hu": {
        "sms": "HOTLINE {ref}: {customer} - {summary}. Nyugtazas: ACK {number} (vagy 1), "
               "tovabbitas: ESC {number}, lezaras: RES {number}.",
        "say": "Hotline riasztás, {ref}. Ügyfél: {customer}. {summary}.",
        "menu": "Nyugtázáshoz nyomja meg a 4-est. Továbbításhoz az 5-öst. Lezáráshoz a 6-ost. "
                "Ismétléshez a csillagot.",
        "acked": "Nyugtázva. Köszönjük.",
        "escalated": "Továbbítva a következő szintre.",
        "resolved": "Lezárva.",
        "closed": "Ez a riasztás már nem aktív.",
        "not_allowed": "Ezt a riasztást nem kezelheti.",
        "bye": "Nem nyomott gombot. Viszonthallásra.",
        "machine": "Hotline riasztás, {ref}. Kérjük, nézze meg az üzeneteit.",
        "no_customer": "ismeretlen ügyfél",
    },
    "el": {
        "sms": "HOTLINE {ref}: {customer} - {summary}. Apantiste ACK {number} (i 1) gia epivevaiosi, "
               "ESC {number} gia klimakosi, RES {number} gia epilysi.",
        "say": "Ειδοποίηση Hotline {ref}. Πελάτης: {customer}. {summary}.",
        "menu": "Πατήστε 4 για επιβεβαίωση. Πατήστε 5 για κλιμάκωση. Πατήστε 6 για επίλυση. "
                "Πατήστε αστερίσκο για επανάληψη.",
        "acked": "Επιβεβαιώθηκε. Ευχαριστούμε.",
        "escalated": "Κλιμακώθηκε στο επόμενο βήμα.",
        "resolved": "Επιλύθηκε.",
        "closed": "Αυτή η ειδοποίηση δεν είναι πλέον ενεργή.",
        "not_allowed": "Δεν επιτρέπεται να χειριστείτε αυτή την ειδοποίηση.",
        "bye": "Δεν πατήθηκε πλήκτρο. Αντίο.",
        "machine": "Ειδοποίηση Hotline {ref}. Παρακαλούμε ελέγξτε τα μηνύματά σας.",
        "no_customer": "άγνωστος πελάτης",
    },
}

SMS_SUMMARY_CHARS = 80


def texts(language: str | None) -> dict[str, str]:
    return TEXTS.get((language or "en")[:2], TEXTS["en"])


def voice(language: str | None) -> tuple[str, str]:
    return VOICES.get((language or "en")[:2], VOICES["en"])


def _fields(alert: Alert, language: str | None) -> dict[str, str]:
    t = texts(language)
    # What the system wrote itself (hotline unanswered, SLA deadline) is said in the engineer's language.
    summary = " ".join(summary_in(alert.summary, language).split())
    if len(summary) > SMS_SUMMARY_CHARS:
        summary = summary[: SMS_SUMMARY_CHARS - 1] + "…"
    ref = f"#{alert.ticket_number}" if alert.ticket_number else f"alert {alert.id}"
    return {"ref": ref, "number": str(alert.reference), "customer": alert.customer or t["no_customer"],
            "summary": summary}


def sms_text(alert: Alert, language: str | None) -> str:
    return texts(language)["sms"].format(**_fields(alert, language))


def spoken_alert(alert: Alert, language: str | None) -> str:
    return texts(language)["say"].format(**_fields(alert, language))


def phrase(language: str | None, key: str, **values: str) -> str:
    return texts(language)[key].format(**values)


def notification_key(page_id: int, rule_index: int, channel: str) -> str:
    return f"page:{page_id}:rule:{rule_index}:{channel}"


def notification_values(alert: Alert, page_id: int, destination: str, language: str | None, rule_index: int,
                        channel: str, now: datetime, validity_seconds: int) -> dict:
    """The outbox row of one SMS or call to one person for one rule of one page (voice: its TwiML URL
    names the row, so it is added once the row has an id)."""
    if channel == "sms":
        payload = {"body": sms_text(alert, language), "status_callback": SMS_STATUS_PATH,
                   # A stale page is worse than none: Twilio drops it after the step's length.
                   "validity_period": max(validity_seconds, 60)}
        max_attempts = 4
    else:
        payload = {"url": None, "language": url_language(language), "status_callback": CALL_STATUS_PATH,
                   "status_callback_events": ["initiated", "ringing", "answered", "completed"],
                   "machine_detection": "Enable", "timeout": CALL_TIMEOUT_SECONDS}
        max_attempts = 3
    payload.update({"alert_id": alert.id, "page_id": page_id, "rule": rule_index})
    return outbox.new_row(key=notification_key(page_id, rule_index, channel), channel=channel,
                          destination=destination, payload=payload, now=now, source_kind=SOURCE_KIND,
                          source_id=page_id, max_attempts=max_attempts)


def voice_url(message_id: int, language: str | None = None, path: str = VOICE_PATH) -> str:
    """A TwiML URL of the page call. Its language rides along (`l`) so that a turn the database cannot
    take is still answered in the engineer's language (webhooks/twilio_paging.py)."""
    lang = url_language(language)
    return f"{path}?n={message_id}" + (f"&l={lang}" if lang else "")


def url_language(value: str | None) -> str | None:
    """`value` if it is a language the pager speaks, else None (the `l` of a URL is the caller's text)."""
    lang = (value or "")[:2]
    return lang if lang in VOICES else None


# The languages spoken in the countries our engineers' numbers come from (phonenumbers' region codes).
COUNTRY_LANGUAGES = {"HU": "hu", "GR": "el", "CY": "el"}


def language_of_number(number: str) -> str | None:
    """The language of the country of an E.164 number, when that is one the pager speaks: the only
    hint of a sender's language when the database (and so the person) cannot be read."""
    import phonenumbers

    try:
        region = phonenumbers.region_code_for_number(phonenumbers.parse(number, None))
    except phonenumbers.NumberParseException:
        return None
    return COUNTRY_LANGUAGES.get(region or "")


def enqueue_notification(session: Session, alert: Alert, page: Page, staff: StaffUser, rule_index: int,
                         channel: str, now: datetime, validity_seconds: int) -> OutboxMessage:
    """One SMS or call to one person for one rule of one page; enqueueing it twice sends it once."""
    row = notification_values(alert, page.id, page.destination, staff.language, rule_index, channel, now,
                              validity_seconds)
    msg = outbox.enqueue(session, key=row["idempotency_key"], channel=channel, destination=page.destination,
                         payload=row["payload"], now=now, source_kind=SOURCE_KIND, source_id=page.id,
                         max_attempts=row["max_attempts"])
    if channel == "voice" and msg.payload.get("url") is None:
        msg.payload = {**msg.payload, "url": voice_url(msg.id, staff.language)}
    return msg
