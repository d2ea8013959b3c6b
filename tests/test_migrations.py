"""The migrated schema must be exactly what the models describe."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from callcenter.models import Base
from callcenter.models.search import include_name


def test_upgrade_head_matches_models(engine):
    with engine.connect() as conn:
        # The search index's FTS5 table / GIN index are created by migration 0055 beside the models.
        diff = compare_metadata(MigrationContext.configure(conn, opts={"include_name": include_name}), Base.metadata)
    assert diff == [], f"models and migrations differ: {diff}"


def test_every_model_table_exists(engine):
    tables = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
