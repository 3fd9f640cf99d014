"""Settings from `CPQ_*` environment variables, with defaults that serve the repository's own files."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _path(name: str, default: Path) -> str:
    return str(Path(os.environ.get(name, default)))


def from_environment() -> dict:
    """The app settings as a dict, read now (so tests can set variables before create_app)."""
    return {
        "RULES_DIR": _path("CPQ_RULES_DIR", PROJECT_ROOT / "rules"),
        "PRICEBOOKS_DIR": _path("CPQ_PRICEBOOKS_DIR", PROJECT_ROOT / "pricebooks"),
        "TEMPLATES_DIR": _path("CPQ_TEMPLATES_DIR", PROJECT_ROOT / "templates"),
        "DATABASE_URL": os.environ.get("CPQ_DATABASE_URL", f"sqlite:///{PROJECT_ROOT / 'instance' / 'cpq.db'}"),
        "SECRET_KEY": os.environ.get("CPQ_SECRET_KEY", "dev-only-change-me"),
        # request bodies above this many bytes are refused with 413 before they are read
        "MAX_CONTENT_LENGTH": int(os.environ.get("CPQ_MAX_BODY_BYTES", 2 * 1024 * 1024)),
        # flask-smorest / OpenAPI
        "API_TITLE": "cpq",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.1.0",
        "OPENAPI_URL_PREFIX": "/api",
        "OPENAPI_JSON_PATH": "openapi.json",
    }
