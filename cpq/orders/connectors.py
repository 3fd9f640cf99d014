"""One interface, two order managements: `builtin` (this service's own tables) and `http` (CPQ_OMS_URL).

The worker only ever calls `create_order(payload, idempotency_key)`. Either it returns an
`OrderReceipt`, or it raises `TemporaryFailure` (try again later: timeouts, connection errors, 5xx,
408/425/429) or `PermanentFailure` (the order is refused: any other 4xx, or an answer that is not
the contract). The builtin connector keeps the order in its own transaction, exactly as an external
system would, so the worker's path — resend with the same key, replay answered with the same order —
is the same for both.
"""

from __future__ import annotations

import ipaddress
from abc import ABC, abstractmethod
from dataclasses import dataclass
from urllib.parse import urlsplit

import sqlalchemy as sa

from cpq.errors import CPQError, InvalidInput
from cpq.orders import records
from cpq.orders.settings import OrderSettings

RETRYABLE_4XX = frozenset({408, 425, 429})  # "not now", not "no": a timeout, too early, too many requests


@dataclass(frozen=True)
class OrderReceipt:
    """Order management has the order: its id there, its status, and whether this call created it."""

    order_id: str
    status: str
    created: bool
    http_status: int | None = None


class SendFailed(Exception):
    retryable = False

    def __init__(self, reason: str, http_status: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.http_status = http_status


class TemporaryFailure(SendFailed):
    """It may work later: the worker retries with backoff, then dead-letters."""

    retryable = True


class PermanentFailure(SendFailed):
    """Order management refused the order: retrying the same order cannot help."""


class OrderManagement(ABC):
    """Where accepted quotes become orders."""

    name: str

    @abstractmethod
    def create_order(self, payload: dict, idempotency_key: str) -> OrderReceipt:
        """Create the order once: a repeat with the same key answers with the order already there."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


class BuiltinOrderManagement(OrderManagement):
    """The service's own order management: the orders and order_lines tables of this database."""

    name = "builtin"

    def __init__(self, engine: sa.Engine):
        self.engine = engine

    def create_order(self, payload: dict, idempotency_key: str) -> OrderReceipt:
        for attempt in range(2):
            try:
                with self.engine.begin() as conn:
                    order, created = records.keep_order(conn, payload, idempotency_key, self.name)
                return OrderReceipt(order.number, order.status, created, 201 if created else 200)
            except CPQError as exc:
                raise PermanentFailure(f"HTTP {exc.status} {exc.code}: {exc.detail}", exc.status) from exc
            except sa.exc.IntegrityError:
                if attempt:  # a concurrent keep of the same key won: the second pass reads its order
                    raise PermanentFailure("the order conflicts with one already kept", 409) from None
            except sa.exc.DBAPIError as exc:
                raise TemporaryFailure(f"database unavailable: {exc.orig}") from exc
        raise AssertionError("unreachable")  # pragma: no cover


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class HttpOrderManagement(OrderManagement):
    """An external order management at CPQ_OMS_URL, called with the contract of docs/order-management.md."""

    name = "http"

    def __init__(self, settings: OrderSettings, session=None):
        import requests

        parts = urlsplit(settings.oms_url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise InvalidInput(f"CPQ_OMS_URL '{settings.oms_url}' is not an http(s) URL")
        if parts.scheme == "http" and not _loopback(parts.hostname):
            # the token and the orders would cross the network in clear text
            raise InvalidInput("CPQ_OMS_URL must use https (plain http only to this machine, for tests)")
        self.url = settings.oms_url.rstrip("/") + "/orders"
        self.timeout = (settings.connect_timeout, settings.read_timeout)
        self.session = session or requests.Session()
        self.session.verify = settings.oms_ca_bundle or True  # never off: a private CA is a bundle, not verify=False
        self.session.headers["User-Agent"] = "cpq-order-worker"
        if settings.oms_token:
            self.session.headers["Authorization"] = f"Bearer {settings.oms_token}"
        self._requests = requests

    def create_order(self, payload: dict, idempotency_key: str) -> OrderReceipt:
        errors = self._requests.exceptions
        try:
            response = self.session.post(self.url, json=payload, headers={"Idempotency-Key": idempotency_key},
                                         timeout=self.timeout, allow_redirects=False)
        except errors.SSLError as exc:
            raise TemporaryFailure(f"TLS verification failed for {self.url}: {exc}") from exc
        except errors.Timeout as exc:
            raise TemporaryFailure(f"timed out after {self.timeout[0]}s connect / {self.timeout[1]}s read: {exc}") from exc
        except (errors.ConnectionError, errors.ChunkedEncodingError) as exc:
            raise TemporaryFailure(f"connection failed: {exc}") from exc
        except errors.RequestException as exc:
            raise PermanentFailure(f"request could not be made: {exc}") from exc
        code = response.status_code
        if code in (200, 201):
            try:
                body = response.json()
                order_id = str(body.get("id") or body["number"])
                status = str(body.get("status") or "received")
            except (ValueError, KeyError, TypeError, AttributeError):
                # it may well have the order: the replay with the same key will tell its id
                raise TemporaryFailure(f"HTTP {code} without an order id in the body", code) from None
            return OrderReceipt(order_id, status, code == 201, code)
        reason = f"HTTP {code}: {_detail(response)}"
        if code >= 500 or code in RETRYABLE_4XX:
            raise TemporaryFailure(reason, code)
        raise PermanentFailure(reason, code)

    def close(self) -> None:
        self.session.close()


def _detail(response) -> str:
    """The problem's detail (RFC 9457) or the start of the body."""
    try:
        body = response.json()
        if isinstance(body, dict):
            return str(body.get("detail") or body.get("title") or body)[:500]
    except ValueError:
        pass
    return (response.text or response.reason or "")[:500]


def make_connector(settings: OrderSettings, engine: sa.Engine) -> OrderManagement:
    """The order management the settings name."""
    settings.check()
    if settings.connector == "http":
        return HttpOrderManagement(settings)
    return BuiltinOrderManagement(engine)
