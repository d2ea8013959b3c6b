"""Fixtures for the real-Asterisk suite: one Asterisk per test module (our deploy/asterisk/ files,
unchanged), the actors' FastAGI server, and per test a hotline FastAGI server on a fresh database.
Test modules import them (`from pbx_fixtures import *`): a conftest.py here would shadow
tests/conftest.py for the modules that import from it.

Without an Asterisk build the suite is skipped with the reason; `.ci/run` sets
HOTLINE_ASTERISK_REQUIRED=1 (and unpacks ../shared/asterisk/) so that CI fails instead of skipping.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from actors import TEST_CONTEXTS, Actors, Observed, Placed, Step
from pbx import AsteriskMissing, AsteriskPBX, CallFile, find_asterisk

from callcenter.config import PROJECT_ROOT, Settings
from webhooks.agi_server import FastAGIServer
from webhooks.fastagi import HotlineAGI

__all__ = ["actors", "asterisk_root", "built_prompts", "make_hotline", "observed", "pbx"]

PROMPTS_CACHE = PROJECT_ROOT / "var" / "test-prompts"


@pytest.fixture(scope="module")
def asterisk_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    try:
        return find_asterisk(tmp_path_factory.mktemp("asterisk-tree"))
    except AsteriskMissing as exc:
        if os.environ.get("HOTLINE_ASTERISK_REQUIRED"):
            pytest.fail(f"HOTLINE_ASTERISK_REQUIRED is set but {exc}")
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def built_prompts() -> Path:
    """`callcenter prompts build` output, kept between runs (the manifest rebuilds only what changed)."""
    from callcenter.ivr.flow import load_flow
    from callcenter.ivr.prompts import PromptToolMissing, build_prompts

    try:
        build_prompts(load_flow("hotline"), PROMPTS_CACHE)
    except PromptToolMissing as exc:
        pytest.skip(str(exc))
    return PROMPTS_CACHE


@pytest.fixture(scope="module")
def observed() -> Observed:
    return Observed()


@pytest.fixture(scope="module")
def actors(observed: Observed) -> Iterator[tuple[Actors, int]]:
    cast = Actors(observed)
    server = FastAGIServer(cast, port=0)
    _, port = server.start_in_thread()
    yield cast, port
    server.stop_thread()


@pytest.fixture(scope="module")
def pbx(asterisk_root: Path, actors, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AsteriskPBX]:  # noqa: ANN001
    _, port = actors
    local = ("[globals]\n"
             f"TEST_AGI=agi://127.0.0.1:{port}\n"
             "HOTLINE_FALLBACK=Local/s@test-fallback\n" + TEST_CONTEXTS.format())
    server = AsteriskPBX(asterisk_root, tmp_path_factory.mktemp("asterisk-home"), local_extensions=local)
    server.start()
    yield server
    server.stop()


class OffsetClock:
    """Real time, shifted to a chosen moment (so that contracts' hours apply) and running on."""

    def __init__(self, start: datetime) -> None:
        self.start, self.t0 = start, time.monotonic()

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self.t0)


@dataclass
class Hotline:
    pbx: AsteriskPBX
    actors: Actors
    observed: Observed
    server: FastAGIServer
    agi: HotlineAGI
    settings: Settings

    def call(self, caller: str | None, steps: list[Step]) -> Placed:
        placed = self.actors.new_call(steps)
        callerid = f'"Caller" <{caller}>' if caller else None
        self.pbx.originate(CallFile("Local/s@hotline", "test-caller", callerid=callerid,
                                    variables={"TEST_CALL": placed.name}), placed.name)
        return placed

    def uniqueid(self, placed: Placed, timeout: float = 60) -> str:
        """The hotline leg's unique id (the call row's provider_call_id)."""
        leg = self.wait_leg(placed, timeout)
        return leg.session.env.uniqueid

    def wait_leg(self, placed: Placed, timeout: float = 60):  # noqa: ANN201
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if placed.base is not None:
                leg = self.observed.leg(placed.base)
                if leg is not None:
                    return leg
            time.sleep(0.02)
        raise AssertionError(f"{placed.name}: the hotline never saw the call")

    def wait_done(self, placed: Placed, timeout: float = 120) -> None:
        leg = self.wait_leg(placed, timeout)
        deadline = time.monotonic() + timeout
        while not (leg.done and placed.caller_done):
            if time.monotonic() > deadline:
                raise AssertionError(f"{placed.name}: not over after {timeout} s; hotline commands {leg.commands}")
            time.sleep(0.05)


@pytest.fixture
def make_hotline(pbx: AsteriskPBX, actors, observed: Observed, settings: Settings, engine,  # noqa: ANN001
                 built_prompts: Path) -> Iterator:
    cast, _ = actors
    servers: list[FastAGIServer] = []

    def make(at: datetime, **overrides: object) -> Hotline:
        settings.prompts_dir = str(built_prompts)
        settings.asterisk_dial = "Local/{number}@test-phone"
        settings.asterisk_agent_dial = "Local/{username}@test-agent/n"
        for name, value in overrides.items():
            setattr(settings, name, value)
        agi = HotlineAGI(settings, engine, clock=OffsetClock(at))
        server = FastAGIServer(observed.wrap(agi), port=0)
        _, port = server.start_in_thread()
        servers.append(server)
        pbx.set_global("HOTLINE_AGI", f"agi://127.0.0.1:{port}/hotline")
        pbx.set_global("HOTLINE_AGENT_AGI", f"agi://127.0.0.1:{port}/agent-offer")
        pbx.set_global("HOTLINE_CALLBACK_AGI", f"agi://127.0.0.1:{port}/callback")
        return Hotline(pbx, cast, observed, server, agi, settings)

    yield make
    for server in servers:
        server.stop_thread()
