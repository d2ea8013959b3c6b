"""Run Alembic migrations programmatically (used by `callcenter db upgrade` and the tests)."""

from __future__ import annotations

from alembic.config import Config
from sqlalchemy import Engine

from alembic import command

from .config import PROJECT_ROOT


def alembic_config(url: str | None = None) -> Config:
    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "alembic"))
    cfg.attributes["configure_logger"] = False
    if url:
        cfg.attributes["url"] = url
    return cfg


def upgrade(engine_or_url: Engine | str, revision: str = "heads") -> None:
    if isinstance(engine_or_url, str):
        command.upgrade(alembic_config(engine_or_url), revision)
        return
    cfg = alembic_config()
    with engine_or_url.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)
