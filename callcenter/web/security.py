"""Security headers on every response, and cookies that follow the public URL's scheme."""

from __future__ import annotations

from flask import Flask, Request, Response
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer

# No inline script or style anywhere (templates load /static files only), nothing framed, nothing
# fetched from another site; `form-action 'self'` keeps a stolen form from posting elsewhere.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "media-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])

HEADERS: dict[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, minus work for requests that carry no session cookie (webhooks,
    the token-authenticated API, the first page of a visit): Flask builds a signing serializer (and
    test-serializes an empty dict) on every request before it even looks for the cookie."""

    _cached: tuple[tuple, URLSafeTimedSerializer | None] | None = None

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        # Built once per key set: a changed SECRET_KEY or fallback list builds a new one.
        key = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        cached = self._cached
        if cached is None or cached[0] != key:
            cached = self._cached = (key, super().get_signing_serializer(app))
        return cached[1]

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)


def _add_missing(response: Response, wanted: list[tuple[str, str, str]]) -> None:
    # One pass over the response's few headers instead of a lookup (and a KeyError) per wanted header.
    present = {name.lower() for name, _ in response.headers.items()}
    missing = [(name, value) for lower, name, value in wanted if lower not in present]
    if missing:
        response.headers.extend(missing)


def init_security(app: Flask) -> None:
    """Headers on every response (console, API, webhooks, errors); `Secure` cookies behind https."""
    https = app.config["SETTINGS"].public_url.lower().startswith("https://")
    app.config["SESSION_COOKIE_SECURE"] = https
    app.config["REMEMBER_COOKIE_SECURE"] = https
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"

    app.session_interface = CookieSessions()
    wanted = [(name.lower(), name, value) for name, value in HEADERS.items()]
    if https:
        wanted.append(("strict-transport-security", "Strict-Transport-Security", "max-age=31536000"))

    @app.after_request
    def _security_headers(response: Response) -> Response:
        _add_missing(response, wanted)
        return response
