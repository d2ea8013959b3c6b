"""Background parts of `callcenter serve`: the scheduler ticker and the FastAGI server."""

from __future__ import annotations

import gc
import logging
import sys
from collections.abc import Callable

from sqlalchemy import Engine

from .config import Settings

log = logging.getLogger(__name__)


def start_background_services(settings: Settings, engine: Engine, *, agi: bool = True,
                              scheduler: bool = True) -> Callable[[], None]:
    stops: list[Callable[[], None]] = []
    if scheduler:
        from .scheduler import Ticker

        stops.append(Ticker(settings, engine).start_background())
    if agi:
        from webhooks.fastagi import start_agi_in_thread

        stops.append(start_agi_in_thread(settings, engine))

    def stop_all() -> None:
        for stop in reversed(stops):
            try:
                stop()
            except Exception:  # keep stopping the others
                log.exception("stopping a background service failed")

    return stop_all


def tune_interpreter(settings: Settings) -> None:
    """Interpreter settings for a serving process (web, agi, serve, worker), once it has started up.

    The switch interval bounds how long a thread that is ready (say, one holding SQLite's write lock,
    or the AGI event loop with a reply to answer) waits for the GIL behind a busy one. Freezing what
    start-up allocated (modules, the flow, mapped classes) keeps the cyclic collector from walking
    it again on every full collection, which otherwise stalls every thread for milliseconds.
    """
    if settings.switch_interval_ms > 0:
        sys.setswitchinterval(settings.switch_interval_ms / 1000.0)
    gc.collect()
    gc.freeze()
