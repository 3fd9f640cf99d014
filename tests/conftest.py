"""Shared fixtures: the app on the sample rule files, its test client, and the `cpq` CLI runner."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from cpq import create_app
from cpq.cli import main as cpq_main

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_PATHS = [str(ROOT / "rules"), str(ROOT / "pricebooks")]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture
def app(tmp_path):
    return create_app({
        "TESTING": True,
        "RULES_DIR": str(ROOT / "rules"),
        "PRICEBOOKS_DIR": str(ROOT / "pricebooks"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'cpq.db'}",
    })


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def cli():
    """Invoke `cpq …` in-process; returns click's Result."""
    runner = CliRunner()

    def invoke(*args, env=None):
        return runner.invoke(cpq_main, list(args), env=env, catch_exceptions=False)

    return invoke


@pytest.fixture
def write_files(tmp_path):
    """Write {relative path: YAML text} under tmp_path and return the folder."""

    def write(files: dict[str, str], folder: str = "set") -> Path:
        base = tmp_path / folder
        for rel, text in files.items():
            path = base / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text).lstrip("\n"))
        return base

    return write


POSTGRES_ADMIN_URL = os.environ.get("CPQ_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(scope="session")
def postgres_url():
    """A fresh PostgreSQL database for this test run, dropped afterwards.

    Locally a missing server skips the PostgreSQL tests; with CI=true it fails them.
    """
    import uuid

    import sqlalchemy as sa

    try:
        admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text("select 1"))
    except Exception as exc:  # noqa: BLE001 - any failure to reach the server
        if IN_CI:
            pytest.fail(f"PostgreSQL is required in CI but not reachable at {POSTGRES_ADMIN_URL}: {exc}")
        pytest.skip(f"no PostgreSQL at {POSTGRES_ADMIN_URL}")
    name = f"cpq_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def reset_postgres(url: str) -> None:
    """Empty the test run's PostgreSQL database between tests (cheaper than a new database)."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    engine.dispose()


@pytest.fixture
def clean_postgres_url(postgres_url):
    """The run's PostgreSQL database, emptied after the test."""
    yield postgres_url
    reset_postgres(postgres_url)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path):
    """Each persistence test runs on the embedded SQLite file and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'cpq.db'}"
    return request.getfixturevalue("clean_postgres_url")


def _migrate_and_seed(url: str) -> dict[str, str]:
    from cpq import store
    from cpq.cli_people import seed

    store.upgrade(url)
    engine = store.make_engine(url)
    with engine.begin() as conn:
        keys = dict(seed(conn))
    engine.dispose()
    return keys


@pytest.fixture(scope="session")
def seeded_sqlite_template(tmp_path_factory):
    """A migrated, seeded SQLite file made once per run; each test gets a copy (migrating and
    seeding took ~1 s per test)."""
    path = tmp_path_factory.mktemp("seeded") / "cpq.db"
    return path, _migrate_and_seed(f"sqlite:///{path}")


@pytest.fixture(scope="session")
def seeded_postgres_template(postgres_url):
    """The same for PostgreSQL: a seeded database that each test's database is created from."""
    import sqlalchemy as sa

    base, name = postgres_url.rsplit("/", 1)
    template = f"{name}_seeded"
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{template}"'))
    keys = _migrate_and_seed(f"{base}/{template}")
    yield admin, name, template, keys
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def seeded(request, database_url):
    """An app on a migrated database with the sample partner, accounts and users; keys by email."""
    import shutil

    import sqlalchemy as sa

    if database_url.startswith("sqlite:///"):
        template, keys = request.getfixturevalue("seeded_sqlite_template")
        shutil.copyfile(template, database_url.removeprefix("sqlite:///"))
    else:  # this run's database, made anew from the seeded one
        admin, name, template, keys = request.getfixturevalue("seeded_postgres_template")
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    app = create_app({"TESTING": True, "RULES_DIR": SAMPLE_PATHS[0], "PRICEBOOKS_DIR": SAMPLE_PATHS[1],
                      "DATABASE_URL": database_url})
    yield app, dict(keys)
    app.extensions["cpq.engine"].dispose()


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}
