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
