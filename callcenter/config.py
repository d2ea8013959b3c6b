"""Settings: config/default.toml, then an optional overlay file, then environment variables.

Every setting has an environment variable so that several processes on several machines can
share one configuration without editing files.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_FILE = PROJECT_ROOT / "config" / "default.toml"

# (section, key) in the TOML file -> environment variable
ENVIRONMENT = {
    "database_url": ("database", "url", "CALLCENTER_DATABASE_URL"),
    "db_connect_timeout": ("database", "connect_timeout", "CALLCENTER_DB_CONNECT_TIMEOUT"),
    "db_statement_timeout": ("database", "statement_timeout", "CALLCENTER_DB_STATEMENT_TIMEOUT"),
    "db_pool_timeout": ("database", "pool_timeout", "CALLCENTER_DB_POOL_TIMEOUT"),
    "web_host": ("web", "host", "CALLCENTER_WEB_HOST"),
    "web_port": ("web", "port", "CALLCENTER_WEB_PORT"),
    "public_url": ("web", "public_url", "CALLCENTER_PUBLIC_URL"),
    "secret_key": ("web", "secret_key", "CALLCENTER_SECRET_KEY"),
    "session_hours": ("web", "session_hours", "CALLCENTER_SESSION_HOURS"),
    "agi_host": ("agi", "host", "CALLCENTER_AGI_HOST"),
    "agi_port": ("agi", "port", "CALLCENTER_AGI_PORT"),
    "agi_max_sessions": ("agi", "max_sessions", "CALLCENTER_AGI_MAX_SESSIONS"),
    "twilio_account_sid": ("twilio", "account_sid", "TWILIO_ACCOUNT_SID"),
    "twilio_auth_token": ("twilio", "auth_token", "TWILIO_AUTH_TOKEN"),
    "twilio_from_number": ("twilio", "from_number", "TWILIO_FROM_NUMBER"),
    "twilio_api_url": ("twilio", "api_url", "CALLCENTER_TWILIO_API_URL"),
    "smtp_url": ("mail", "smtp_url", "CALLCENTER_SMTP_URL"),
    "mail_from": ("mail", "from_address", "CALLCENTER_MAIL_FROM"),
    "imap_url": ("mail", "imap_url", "CALLCENTER_IMAP_URL"),
    "mail_closed_reply": ("mail", "closed_reply", "CALLCENTER_MAIL_CLOSED_REPLY"),
    "mail_max_message_bytes": ("mail", "max_message_bytes", "CALLCENTER_MAIL_MAX_MESSAGE_BYTES"),
    "mail_max_attachment_bytes": ("mail", "max_attachment_bytes", "CALLCENTER_MAIL_MAX_ATTACHMENT_BYTES"),
    "mail_listen_host": ("mail", "listen_host", "CALLCENTER_MAIL_LISTEN_HOST"),
    "mail_listen_port": ("mail", "listen_port", "CALLCENTER_MAIL_LISTEN_PORT"),
    "mail_lmtp_port": ("mail", "lmtp_port", "CALLCENTER_MAIL_LMTP_PORT"),
    "recordings_dir": ("recordings", "dir", "CALLCENTER_RECORDINGS_DIR"),
    "recording_retention_days": ("recordings", "retention_days", "CALLCENTER_RECORDING_RETENTION_DAYS"),
    "ticket_number_start": ("tickets", "number_start", "CALLCENTER_TICKET_NUMBER_START"),
    "emergency_number": ("hotline", "emergency_number", "CALLCENTER_EMERGENCY_NUMBER"),
    "sales_number": ("hotline", "sales_number", "CALLCENTER_SALES_NUMBER"),
    "default_language": ("hotline", "default_language", "CALLCENTER_DEFAULT_LANGUAGE"),
    "hotline_queue": ("hotline", "queue", "CALLCENTER_HOTLINE_QUEUE"),
    "prompts_dir": ("hotline", "prompts_dir", "CALLCENTER_PROMPTS_DIR"),
    "asterisk_dial": ("hotline", "asterisk_dial", "CALLCENTER_ASTERISK_DIAL"),
    "asterisk_agent_dial": ("agents", "asterisk_dial", "CALLCENTER_ASTERISK_AGENT_DIAL"),
    "asterisk_agent_confirm": ("agents", "asterisk_confirm_context", "CALLCENTER_ASTERISK_AGENT_CONFIRM"),
    "asterisk_hold_seconds": ("agents", "asterisk_hold_seconds", "CALLCENTER_ASTERISK_HOLD_SECONDS"),
    "ami_url": ("agents", "ami_url", "CALLCENTER_AMI_URL"),
    "asterisk_queue_member": ("agents", "asterisk_queue_member", "CALLCENTER_ASTERISK_QUEUE_MEMBER"),
    "agent_offer_seconds": ("agents", "offer_seconds", "CALLCENTER_AGENT_OFFER_SECONDS"),
    "agent_skip_seconds": ("agents", "skip_after_missed_seconds", "CALLCENTER_AGENT_SKIP_SECONDS"),
    "agent_wrap_up_seconds": ("agents", "wrap_up_seconds", "CALLCENTER_AGENT_WRAP_UP_SECONDS"),
    "twilio_voice_hu": ("hotline", "twilio_voice_hu", "CALLCENTER_TWILIO_VOICE_HU"),
    "twilio_voice_el": ("hotline", "twilio_voice_el", "CALLCENTER_TWILIO_VOICE_EL"),
    "twilio_voice_en": ("hotline", "twilio_voice_en", "CALLCENTER_TWILIO_VOICE_EN"),
    "switch_interval_ms": ("runtime", "switch_interval_ms", "CALLCENTER_SWITCH_INTERVAL_MS"),
    "metrics_dir": ("metrics", "dir", "CALLCENTER_METRICS_DIR"),
    "metrics_token": ("metrics", "token", "CALLCENTER_METRICS_TOKEN"),
    "log_format": ("logging", "format", "CALLCENTER_LOG_FORMAT"),
    "voice_turn_seconds": ("hotline", "turn_seconds", "CALLCENTER_VOICE_TURN_SECONDS"),
    "call_lost_seconds": ("hotline", "lost_seconds", "CALLCENTER_CALL_LOST_SECONDS"),
}

# Settings whose empty value means something (README: "empty: ..."): an empty environment variable
# sets them empty. For the others an empty variable is the same as an unset one.
EMPTY_MEANS_OFF = {"asterisk_agent_dial", "asterisk_agent_confirm", "smtp_url", "imap_url", "twilio_account_sid",
                   "twilio_auth_token", "twilio_from_number"}


class Settings:
    """Every setting, with its default (config/default.toml says the same). A plain class, not a
    dataclass: `dataclasses` costs more to import than the rest of a `mail-ingest` run (the MTA starts
    one process per message), and the class needs none of its features beyond these few methods."""

    database_url: str = "sqlite:///var/hotline.sqlite"
    db_connect_timeout: float = 3.0
    db_statement_timeout: float = 15.0
    db_pool_timeout: float = 3.0
    web_host: str = "127.0.0.1"
    web_port: int = 8080
    public_url: str = "http://127.0.0.1:8080"
    secret_key: str = ""
    session_hours: int = 8
    agi_host: str = "127.0.0.1"
    agi_port: int = 4573
    agi_max_sessions: int = 800
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_from_number: str = ""
    twilio_api_url: str = "https://api.twilio.com"
    smtp_url: str = ""
    mail_from: str = "helpdesk@hotline.example"
    imap_url: str = ""
    mail_closed_reply: str = "new"
    mail_max_message_bytes: int = 25 * 1024 * 1024
    mail_max_attachment_bytes: int = 10 * 1024 * 1024
    mail_listen_host: str = "127.0.0.1"
    mail_listen_port: int = 2525
    mail_lmtp_port: int = 2424
    recordings_dir: str = "var/recordings"
    recording_retention_days: int = 90  # calls without a contract (the contract says it otherwise)
    ticket_number_start: int = 15000
    emergency_number: str = ""
    sales_number: str = ""
    default_language: str = "en"
    hotline_queue: str = "hotline"
    agent_offer_seconds: int = 20
    agent_skip_seconds: int = 300
    agent_wrap_up_seconds: int = 120
    prompts_dir: str = "var/prompts"
    asterisk_dial: str = "PJSIP/{number}@hotline-trunk"
    # Empty: Asterisk callers wait in Queue() for members configured in Asterisk (no distribution).
    asterisk_agent_dial: str = "PJSIP/{phone}@hotline-trunk"
    asterisk_agent_confirm: str = "hotline-agent-offer"
    asterisk_hold_seconds: int = 10
    ami_url: str = ""  # empty: no AMI; queue members are what queues.conf lists
    asterisk_queue_member: str = "PJSIP/{phone}@hotline-trunk"
    twilio_voice_hu: str = "Google.hu-HU-Standard-A"
    twilio_voice_el: str = "Google.el-GR-Standard-A"
    twilio_voice_en: str = "Polly.Joanna"
    switch_interval_ms: float = 1.0
    # Empty: each process keeps its own figures (fine for `serve`); set for several processes per machine.
    metrics_dir: str = ""
    metrics_token: str = ""  # empty: /metrics answers loopback callers only
    log_format: str = "text"
    # A voice turn not done in this many seconds routes the caller to the emergency number.
    voice_turn_seconds: float = 3.0
    # An AGI process that has not beaten for this long is dead and its calls lost; a Twilio call
    # nothing was heard of for this long (or two queue polls) is checked with Twilio's REST API.
    call_lost_seconds: float = 30.0
    extra: dict

    def __init__(self, **values: object) -> None:
        self.extra = {}
        for name, value in values.items():
            if name not in _KINDS:
                raise TypeError(f"Settings has no setting {name!r}")
            setattr(self, name, value)

    def _values(self) -> tuple:
        return tuple(getattr(self, name) for name in _KINDS)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()  # type: ignore[attr-defined]

    __hash__ = None  # type: ignore[assignment]  # mutable, as a dataclass with eq

    def __repr__(self) -> str:
        return f"Settings({', '.join(f'{name}={getattr(self, name)!r}' for name in _KINDS)})"

    @property
    def twilio_enabled(self) -> bool:
        return bool(self.twilio_account_sid and self.twilio_auth_token)

    @property
    def recordings_path(self) -> Path:
        path = Path(self.recordings_dir)
        return path if path.is_absolute() else PROJECT_ROOT / path

    @property
    def prompts_path(self) -> Path:
        path = Path(self.prompts_dir)
        return path if path.is_absolute() else PROJECT_ROOT / path


# Setting name -> its type's name, in declaration order (annotations are strings here).
_KINDS: dict[str, str] = dict(Settings.__annotations__)


def _coerce(name: str, value: object) -> object:
    kind = _KINDS[name]
    if kind == "int":
        return int(value)  # type: ignore[arg-type]
    if kind == "float":
        return float(value)  # type: ignore[arg-type]
    return str(value)


def load_settings(overlay: str | Path | None = None, env: dict[str, str] | None = None) -> Settings:
    """Read the defaults, an overlay file (CALLCENTER_CONFIG) and the environment, in that order."""
    env = dict(os.environ) if env is None else env
    data: dict[str, dict] = {}
    files = [DEFAULT_FILE]
    overlay = overlay or env.get("CALLCENTER_CONFIG")
    if overlay:
        files.append(Path(overlay))
    for path in files:
        with open(path, "rb") as fh:
            for section, values in tomllib.load(fh).items():
                data.setdefault(section, {}).update(values)
    settings = Settings()
    for name, (section, key, variable) in ENVIRONMENT.items():
        if key in data.get(section, {}):
            setattr(settings, name, _coerce(name, data[section][key]))
        if variable in env and (env[variable] != "" or name in EMPTY_MEANS_OFF):
            setattr(settings, name, _coerce(name, env[variable]))
    settings.database_url = _absolute_sqlite(settings.database_url)
    return settings


def _absolute_sqlite(url: str) -> str:
    # A relative SQLite path would depend on the working directory of each process.
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and url != prefix + ":memory:":
        return prefix + str(PROJECT_ROOT / url[len(prefix):])
    return url
