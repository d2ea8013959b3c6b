"""Outbound providers behind one small interface (see base.Provider)."""

from __future__ import annotations

from ..config import Settings
from .base import PermanentError, Provider, SendResult, TemporaryError


def providers_for(settings: Settings) -> dict[str, Provider]:
    """Twilio when credentials are set, SMTP when a URL is set, otherwise the console provider."""
    from .console import ConsoleProvider
    from .download import DownloadProvider

    providers: dict[str, Provider] = {}
    if settings.twilio_enabled:
        from .twilio import TwilioProvider

        twilio = TwilioProvider(settings)
        providers["sms"] = providers["voice"] = twilio
        providers["callstatus"] = twilio  # is a hotline call still running? (callcenter.call_presence)
    else:
        providers["sms"] = providers["voice"] = ConsoleProvider()
    if settings.smtp_url:
        from .smtp import SmtpProvider

        providers["email"] = SmtpProvider(settings)
    else:
        providers["email"] = ConsoleProvider()
    providers["download"] = DownloadProvider(settings)
    if settings.ami_url:
        from .asterisk_ami import OriginateProvider

        providers["originate"] = OriginateProvider(settings)  # Call back on Asterisk
    return providers


__all__ = ["PermanentError", "Provider", "SendResult", "TemporaryError", "providers_for"]
