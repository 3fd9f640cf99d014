"""`cpq db upgrade` prepares the database (SQLite and PostgreSQL) and records the ruleset version."""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from cpq import store
from cpq.ruleset.loader import load_ruleset
from tests.conftest import SAMPLE_PATHS


def test_db_upgrade_creates_the_schema_and_records_the_ruleset_version(cli, database_url):
    env = {"CPQ_DATABASE_URL": database_url, "CPQ_RULES_DIR": SAMPLE_PATHS[0], "CPQ_PRICEBOOKS_DIR": SAMPLE_PATHS[1]}
    result = cli("db", "upgrade", env=env)
    assert result.exit_code == 0, result.output
    head = ScriptDirectory.from_config(store.alembic_config(database_url)).get_current_head()
    assert f"database at revision {head}" in result.output
    assert store.current_revision(database_url) == head
    ruleset = load_ruleset(SAMPLE_PATHS)
    engine = store.make_engine(database_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("select version, summary from ruleset_versions")).all()
    engine.dispose()
    assert [r.version for r in rows] == [ruleset.version]
    assert json.loads(rows[0].summary) == ruleset.summary()


def test_db_upgrade_twice_is_harmless(cli, database_url):
    env = {"CPQ_DATABASE_URL": database_url, "CPQ_RULES_DIR": SAMPLE_PATHS[0], "CPQ_PRICEBOOKS_DIR": SAMPLE_PATHS[1]}
    assert cli("db", "upgrade", env=env).exit_code == 0
    assert cli("db", "upgrade", env=env).exit_code == 0
    engine = store.make_engine(database_url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from ruleset_versions")).scalar_one() == 1
    engine.dispose()


def test_migrations_build_exactly_the_tables_the_code_declares(database_url):
    store.upgrade(database_url)
    engine = store.make_engine(database_url)
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), store.metadata)
    engine.dispose()
    assert differences == []
