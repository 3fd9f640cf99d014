"""The orders settings: which order management, how to reach it, and how the outbox worker retries."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cpq import config
from cpq.errors import InvalidInput
from cpq.orders.contract import SPLIT_FIELDS

CONNECTORS = ("builtin", "http")


@dataclass(frozen=True)
class OrderSettings:
    connector: str = "builtin"
    oms_url: str = ""
    oms_token: str = ""
    oms_ca_bundle: str = ""
    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    order_on_accept: bool = True
    split_by: str = ""
    max_attempts: int = 8
    backoff_seconds: float = 2.0
    backoff_max_seconds: float = 300.0
    lease_seconds: float = 60.0
    poll_seconds: float = 1.0

    @classmethod
    def from_config(cls, settings: Mapping) -> OrderSettings:
        """From an app config (or `config.from_environment()`); `check()` before sending with them."""
        return cls(
            connector=str(settings.get("OMS_CONNECTOR", "builtin")).strip().lower(),
            oms_url=str(settings.get("OMS_URL", "")).rstrip("/"),
            oms_token=str(settings.get("OMS_TOKEN", "")),
            oms_ca_bundle=str(settings.get("OMS_CA_BUNDLE", "")),
            connect_timeout=float(settings.get("OMS_CONNECT_TIMEOUT", 5)),
            read_timeout=float(settings.get("OMS_READ_TIMEOUT", 15)),
            order_on_accept=bool(settings.get("ORDER_ON_ACCEPT", True)),
            split_by=str(settings.get("ORDER_SPLIT_BY", "") or ""),
            max_attempts=int(settings.get("OUTBOX_MAX_ATTEMPTS", 8)),
            backoff_seconds=float(settings.get("OUTBOX_BACKOFF_SECONDS", 2)),
            backoff_max_seconds=float(settings.get("OUTBOX_BACKOFF_MAX_SECONDS", 300)),
            lease_seconds=float(settings.get("OUTBOX_LEASE_SECONDS", 60)),
            poll_seconds=float(settings.get("WORKER_POLL_SECONDS", 1)),
        )

    def check_ordering(self) -> None:
        """Refuse a split field that does not exist (checked when the app starts, not when a buyer accepts)."""
        if self.split_by and self.split_by not in SPLIT_FIELDS:
            raise InvalidInput(f"CPQ_ORDER_SPLIT_BY is '{self.split_by}'; use one of {', '.join(SPLIT_FIELDS)}")

    def check(self) -> None:
        """Refuse settings the worker cannot send with, naming the variable (a typo fails at start)."""
        self.check_ordering()
        if self.connector not in CONNECTORS:
            raise InvalidInput(f"CPQ_OMS_CONNECTOR is '{self.connector}'; use one of {', '.join(CONNECTORS)}")
        if self.connector == "http" and not self.oms_url:
            raise InvalidInput("CPQ_OMS_CONNECTOR=http needs CPQ_OMS_URL, the order management API's base URL")
        if self.max_attempts < 1:
            raise InvalidInput("CPQ_OUTBOX_MAX_ATTEMPTS must be at least 1")
        if self.lease_seconds <= self.connect_timeout + self.read_timeout:
            # a claim must outlive the slowest send, or a second worker would send the same message meanwhile
            raise InvalidInput("CPQ_OUTBOX_LEASE_SECONDS must be longer than the connect plus read timeouts")


def current() -> OrderSettings:
    """The settings of the running app when there is one, else those of the environment (the worker)."""
    try:
        from flask import current_app, has_app_context
    except ImportError:  # pragma: no cover - Flask is a dependency; the worker does not need an app
        has_app_context = None
    if has_app_context is not None and has_app_context():
        return OrderSettings.from_config(current_app.config)
    return OrderSettings.from_config(config.from_environment())
