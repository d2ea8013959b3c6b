"""`callcenter serve`, `web`, `agi`, `worker`, `metrics serve`: the long-running processes."""

from __future__ import annotations

import click

from .context import Context, log, pass_ctx


@click.command("web")
@click.option("--host", default=None)
@click.option("--port", type=int, default=None)
@click.option("--threads", type=int, default=16, show_default=True)
@pass_ctx
def web(ctx: Context, host: str | None, port: int | None, threads: int) -> None:
    """Serve the web console, API and Twilio webhooks only."""
    from waitress import serve

    from .. import metrics
    from ..app import create_app
    from ..runtime import tune_interpreter

    metrics.configure(ctx.settings)
    app = create_app(ctx.settings, ctx.engine)
    host, port = host or ctx.settings.web_host, port or ctx.settings.web_port
    log.info("web on http://%s:%s", host, port)
    tune_interpreter(ctx.settings)
    serve(app, host=host, port=port, threads=threads, ident="hotline")


@click.command("worker")
@pass_ctx
def worker(ctx: Context) -> None:
    """Run the scheduler ticker only: timers, outbox, periodic jobs (run as many as you like)."""
    from .. import metrics
    from ..runtime import tune_interpreter
    from ..scheduler import Ticker

    metrics.configure(ctx.settings)
    ticker = Ticker(ctx.settings, ctx.engine)
    tune_interpreter(ctx.settings)
    ticker.run_forever()


@click.command("agi")
@click.option("--host", default=None)
@click.option("--port", type=int, default=None)
@pass_ctx
def agi(ctx: Context, host: str | None, port: int | None) -> None:
    """Serve the FastAGI hotline only (AGI(agi://HOST:4573/hotline))."""
    from webhooks.fastagi import serve_agi

    from .. import metrics
    from ..runtime import tune_interpreter

    ctx.settings.agi_host = host or ctx.settings.agi_host
    ctx.settings.agi_port = port or ctx.settings.agi_port
    log.info("FastAGI hotline on %s:%s", ctx.settings.agi_host, ctx.settings.agi_port)
    metrics.configure(ctx.settings)
    tune_interpreter(ctx.settings)
    serve_agi(ctx.settings, ctx.engine)


@click.command("serve")
@click.option("--host", default=None)
@click.option("--port", type=int, default=None)
@pass_ctx
def serve_all(ctx: Context, host: str | None, port: int | None) -> None:
    """Web, FastAGI and the scheduler in one process (the embedded default)."""
    from waitress import serve

    from .. import metrics
    from ..app import create_app
    from ..runtime import start_background_services, tune_interpreter

    metrics.configure(ctx.settings)
    stop = start_background_services(ctx.settings, ctx.engine)
    app = create_app(ctx.settings, ctx.engine)
    host, port = host or ctx.settings.web_host, port or ctx.settings.web_port
    log.info("web on http://%s:%s", host, port)
    tune_interpreter(ctx.settings)
    try:
        serve(app, host=host, port=port, threads=16, ident="hotline")
    finally:
        stop()


@click.group("metrics")
def metrics_group() -> None:
    """Prometheus metrics."""


@metrics_group.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=9464, show_default=True)
@pass_ctx
def metrics_serve(ctx: Context, host: str, port: int) -> None:
    """Serve /metrics alone: this machine's agi and worker processes (CALLCENTER_METRICS_DIR) and the database's
    figures, where no `callcenter web` runs."""
    from waitress import serve

    from .. import metrics

    metrics.configure(ctx.settings)
    log.info("metrics on http://%s:%s/metrics", host, port)
    serve(metrics.wsgi_app(ctx.settings, ctx.engine), host=host, port=port, threads=2, ident="hotline-metrics")
