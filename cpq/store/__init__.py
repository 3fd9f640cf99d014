"""Persistence at the edge: SQLAlchemy engine, tables and Alembic migrations (SQLite or PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from flask import Flask, current_app

from cpq.store.tables import metadata  # noqa: F401  (re-exported for migrations)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def make_engine(url: str, **options) -> sa.Engine:
    """An engine for `url`; SQLite files get their folder, a busy timeout and foreign keys on."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30}, **options)

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

        return engine
    return sa.create_engine(url, **options)


def init_store(app: Flask) -> None:
    app.extensions["cpq.engine"] = make_engine(app.config["DATABASE_URL"])


def engine() -> sa.Engine:
    return current_app.extensions["cpq.engine"]


def alembic_config(url: str):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url)
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at `url` to the newest schema."""
    from alembic import command

    make_engine(url).dispose()  # creates the SQLite folder if needed
    command.upgrade(alembic_config(url), revision)


def current_revision(url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with make_engine(url).connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
