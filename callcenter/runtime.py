"""Background parts of `callcenter serve`: the FastAGI server and the scheduler ticker."""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import Engine

from .config import Settings

log = logging.getLogger(__name__)

# Each entry starts one background service and returns its stop function.
STARTERS: list[Callable[[Settings, Engine], Callable[[], None]]] = []


def start_background_services(settings: Settings, engine: Engine) -> Callable[[], None]:
    stops = [start(settings, engine) for start in STARTERS]

    def stop_all() -> None:
        for stop in reversed(stops):
            try:
                stop()
            except Exception:  # keep stopping the others
                log.exception("stopping a background service failed")

    return stop_all
