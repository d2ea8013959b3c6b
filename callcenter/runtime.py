"""Background parts of `callcenter serve`: the scheduler ticker and the FastAGI server."""

from __future__ import annotations

import logging
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
