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
        # orders (docs/order-management.md): which order management receives orders, and how the
        # outbox worker sends them
        "OMS_CONNECTOR": os.environ.get("CPQ_OMS_CONNECTOR", "builtin"),  # builtin | http
        "OMS_URL": os.environ.get("CPQ_OMS_URL", ""),
        "OMS_TOKEN": os.environ.get("CPQ_OMS_TOKEN", ""),
        "OMS_CA_BUNDLE": os.environ.get("CPQ_OMS_CA_BUNDLE", ""),  # a private CA; verification stays on
        "OMS_CONNECT_TIMEOUT": float(os.environ.get("CPQ_OMS_CONNECT_TIMEOUT", 5)),
        "OMS_READ_TIMEOUT": float(os.environ.get("CPQ_OMS_READ_TIMEOUT", 15)),
        "ORDER_ON_ACCEPT": os.environ.get("CPQ_ORDER_ON_ACCEPT", "true").lower() in ("1", "true", "yes"),
        "ORDER_SPLIT_BY": os.environ.get("CPQ_ORDER_SPLIT_BY", ""),  # a line field; empty = one order
        "OUTBOX_MAX_ATTEMPTS": int(os.environ.get("CPQ_OUTBOX_MAX_ATTEMPTS", 8)),
        "OUTBOX_BACKOFF_SECONDS": float(os.environ.get("CPQ_OUTBOX_BACKOFF_SECONDS", 2)),
        "OUTBOX_BACKOFF_MAX_SECONDS": float(os.environ.get("CPQ_OUTBOX_BACKOFF_MAX_SECONDS", 300)),
        "OUTBOX_LEASE_SECONDS": float(os.environ.get("CPQ_OUTBOX_LEASE_SECONDS", 60)),
        "WORKER_POLL_SECONDS": float(os.environ.get("CPQ_WORKER_POLL_SECONDS", 1)),
        # rule administration (docs/rule-administration.md): a publication "now" waits at most this
        # long for every serving process to compile it, then takes effect for all of them at once
        "RULESET_PUBLISH_WAIT_SECONDS": float(os.environ.get("CPQ_RULESET_PUBLISH_WAIT_SECONDS", 15)),
        # flask-smorest / OpenAPI
        "API_TITLE": "cpq",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.1.0",
        "OPENAPI_URL_PREFIX": "/api",
        "OPENAPI_JSON_PATH": "openapi.json",
    }
