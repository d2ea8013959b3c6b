"""Prometheus metrics: what each process observes (latencies, sends) plus figures read from the database.

Two kinds of figures, so that any number of web, agi and worker processes on any number of machines
report correctly:

- Events a process sees (a webhook's latency, an AGI command's latency, an outbox send) are counters
  and histograms of prometheus-client. With `CALLCENTER_METRICS_DIR` set, every process of a machine
  writes them to files in that directory (prometheus-client's multiprocess mode) and `/metrics` on
  that machine's web process adds them all up. Without it they stay in the process (`serve`, tests).
- State that lives in the database (calls in progress and waiting, queue waits, answers within the
  threshold, outbox backlog, timer lag, SLA breaches, mail intake) is read from it when scraped
  (`metrics_db`), so it is the same whichever process answers and never double counts.

Recording a figure costs a few microseconds and never touches the database. Adapters, the outbox
drain and the ingest entry points record; domain services do not know this module.
"""

from __future__ import annotations

import hmac
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from . import logs
from .config import Settings

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
WEBHOOK_BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
AGI_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
WEBHOOK_PREFIX = "/twilio/"

_lock = threading.Lock()
_metrics: _ProcessMetrics | None = None
_multiprocess_dir: str | None = None


class _ProcessMetrics:
    """The counters and histograms this process records, created once per process."""

    def __init__(self, multiprocess_dir: str | None) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram, values

        if multiprocess_dir:
            # prometheus-client picks file-backed values from this variable; set it before any metric exists.
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = multiprocess_dir
            values.ValueClass = values.MultiProcessValue()
        self.registry = None if multiprocess_dir else CollectorRegistry(auto_describe=True)
        self.webhook_seconds = Histogram(
            "hotline_webhook_seconds", "Time to answer a Twilio webhook, by endpoint",
            ["endpoint"], buckets=WEBHOOK_BUCKETS, registry=self.registry)
        self.agi_command_seconds = Histogram(
            "hotline_agi_command_seconds",
            "FastAGI: time from Asterisk's reply (or the call's start) to our next command, by command",
            ["command"], buckets=AGI_BUCKETS, registry=self.registry)
        self.outbox_sent = Counter(
            "hotline_outbox_sent", "Messages a provider accepted (pages: source=page), by channel and source",
            ["channel", "source"], registry=self.registry)
        self.outbox_failed = Counter(
            "hotline_outbox_failed",
            "Messages that finally failed (refused, retries exhausted, undelivered), by channel and source",
            ["channel", "source"], registry=self.registry)


def configure(settings: Settings) -> None:
    """Choose where this process's figures go; serving commands call it once at start-up."""
    global _metrics, _multiprocess_dir
    directory = settings.metrics_dir.strip() if settings.metrics_dir else ""
    with _lock:
        if _metrics is not None:
            return  # figures already recorded stay where they are
        if directory:
            Path(directory).mkdir(parents=True, exist_ok=True)
            _multiprocess_dir = directory
        _metrics = _ProcessMetrics(_multiprocess_dir)


def _get() -> _ProcessMetrics:
    if _metrics is None:
        with _lock:
            if _metrics is None:
                globals()["_metrics"] = _ProcessMetrics(None)
    return _metrics  # type: ignore[return-value]


# --- recording (adapters, outbox, ingest) -------------------------------------------------------


def observe_webhook(endpoint: str, seconds: float) -> None:
    _get().webhook_seconds.labels(endpoint).observe(seconds)


def observe_agi_commands(timings: Iterable[Any]) -> None:
    """A finished AGI session's per-command timings (`CommandTiming`: command, gap), recorded at once so
    that the call itself pays nothing per command."""
    histogram = _get().agi_command_seconds
    for timing in timings:
        if timing.gap is not None:
            histogram.labels(timing.command).observe(timing.gap)


def outbox_sent(channel: str, source: str | None) -> None:
    _get().outbox_sent.labels(channel, source or "other").inc()


def outbox_failed(channel: str, source: str | None) -> None:
    _get().outbox_failed.labels(channel, source or "other").inc()


# --- exposition --------------------------------------------------------------------------------


def exposition(db_collector: object | None = None) -> bytes:
    """The Prometheus text format: this machine's process figures, then the database's."""
    from prometheus_client import CollectorRegistry, generate_latest

    metrics = _get()
    if _multiprocess_dir:
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=_multiprocess_dir)
        body = generate_latest(registry)
    else:
        body = generate_latest(metrics.registry)
    if db_collector is not None:
        db_registry = CollectorRegistry(auto_describe=False)
        db_registry.register(db_collector)
        body += generate_latest(db_registry)
    return body


_LOOPBACK = {"127.0.0.1", "::1", "::ffff:127.0.0.1"}
_PROXY_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-IP")


def scrape_allowed(token: str, remote_addr: str | None, headers: Any) -> bool:
    """With a token: only `Authorization: Bearer <token>`. Without: only loopback callers that did not
    come through a proxy (a reverse proxy on the same machine connects from loopback too)."""
    if token:
        given = headers.get("Authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())
    if any(name in headers for name in _PROXY_HEADERS):
        return False
    return remote_addr in _LOOPBACK


def init_app(app: Any, clock: Callable[[], Any] | None = None) -> None:
    """`/metrics` and the webhook latency histogram on a Flask app."""
    from flask import Response, g, request

    from .metrics_db import DatabaseCollector

    settings: Settings = app.config["SETTINGS"]
    collector = DatabaseCollector(app.extensions["engine"], clock=lambda: _app_now(app, clock))

    @app.before_request
    def _webhook_clock() -> None:
        if request.path.startswith(WEBHOOK_PREFIX):
            started = time.perf_counter()
            form = request.form
            # Every line logged while answering carries the provider's call (or message) id.
            g.webhook_log_ids = logs.push(call=form.get("CallSid"), sms=form.get("MessageSid"))
            g.webhook_started = started

    @app.teardown_request
    def _webhook_latency(_exc: BaseException | None) -> None:
        started = g.pop("webhook_started", None)
        if started is not None:
            observe_webhook(request.endpoint or "unknown", time.perf_counter() - started)
            logs.pop(g.pop("webhook_log_ids"))

    @app.get("/metrics")
    def metrics_endpoint():  # noqa: ANN202
        if not scrape_allowed(settings.metrics_token, request.remote_addr, request.headers):
            return Response("metrics: set CALLCENTER_METRICS_TOKEN or scrape from this machine\n", status=403,
                            mimetype="text/plain")
        return Response(exposition(collector), content_type=CONTENT_TYPE)


def wsgi_app(settings: Settings, engine: Any) -> Callable:
    """`/metrics` alone, for a machine that runs agi or worker processes but no web process
    (`callcenter metrics serve`): the same figures and the same token or loopback rule."""
    from datetime import UTC, datetime

    from werkzeug.wrappers import Request, Response

    from .metrics_db import DatabaseCollector

    collector = DatabaseCollector(engine, clock=lambda: datetime.now(UTC))

    @Request.application
    def app(request: Request) -> Response:
        if request.path != "/metrics":
            return Response("only /metrics here\n", status=404, mimetype="text/plain")
        if not scrape_allowed(settings.metrics_token, request.remote_addr, request.headers):
            return Response("metrics: set CALLCENTER_METRICS_TOKEN or scrape from this machine\n", status=403,
                            mimetype="text/plain")
        return Response(exposition(collector), content_type=CONTENT_TYPE)

    return app


def _app_now(app: Any, clock: Callable[[], Any] | None) -> Any:
    from datetime import UTC, datetime

    if clock is not None:
        return clock()
    test_clock = app.config.get("CLOCK")
    return test_clock() if test_clock else datetime.now(UTC)
