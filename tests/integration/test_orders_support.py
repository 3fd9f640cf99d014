"""Shared by the order tests: a real HTTP order management on 127.0.0.1 that fails on purpose, and helpers.

No tests here. `FakeOMS` implements the contract of docs/order-management.md (201 created, 200 the
same Idempotency-Key again, 409 the key with another order) and, per idempotency key and attempt,
can time out, answer 5xx or drop the connection — before or after it has committed the order.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cpq import store
from cpq.orders.connectors import BuiltinOrderManagement, HttpOrderManagement
from cpq.orders.settings import OrderSettings
from cpq.orders.worker import OutboxWorker
from cpq.store import people
from tests.conftest import bearer

TOKEN = "oms-test-token"
SERVER = {"product": "SRV-2U", "quantity": 2, "options": [
    {"id": "CPU-16C"}, {"id": "MEM-64"}, {"id": "SSD-960", "quantity": 2}, {"id": "PSU-800W"}]}

# What the fake does with one request: answer normally, or fail in one of these ways.
OK = "ok"
TIMEOUT_AFTER_COMMIT = "timeout_after_commit"  # keeps the order, answers too late
ERROR_AFTER_COMMIT = "500_after_commit"  # keeps the order, answers 500
DROP_AFTER_COMMIT = "drop_after_commit"  # keeps the order, closes the connection without an answer
ERROR_BEFORE_COMMIT = "500_before_commit"
UNAVAILABLE = "503"
REFUSE = "422"
HANG_AFTER_COMMIT = "hang_after_commit"  # keeps the order and answers only after `hang_seconds` (kill tests)


class FakeOMS:
    """An order management over real HTTP; `script(key, attempt)` picks what each request gets."""

    def __init__(self, script: Callable[[str, int], str] | None = None, *, hang_seconds: float = 1.0,
                 delay_seconds: float = 0.0, together: int = 0):
        self.script = script or (lambda key, attempt: OK)
        # the first `together` requests wait for each other: proof that that many senders work at once
        self.together = threading.Barrier(together, timeout=30) if together else None
        self.hang_seconds = hang_seconds
        self.delay_seconds = delay_seconds
        self.lock = threading.Lock()
        self.orders: dict[str, dict] = {}  # idempotency key → {"id", "hash", "body"}
        self.attempts: Counter[str] = Counter()
        self.created = 0
        self.seen: list[tuple[str, str]] = []  # (key, what it got), in arrival order
        self.received = threading.Event()  # set on the first request that reaches the handler
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.server.block_on_close = False
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeOMS:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def orders_by_number(self) -> Counter[str]:
        return Counter(order["body"]["order_number"] for order in self.orders.values())

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _answer(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                with contextlib.suppress(OSError):  # the client may have given up waiting (a timeout on purpose)
                    self.wfile.write(data)

            def do_POST(self):  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length)
                if self.path != "/orders":
                    return self._answer(404, {"detail": "no such resource"})
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    return self._answer(401, {"detail": "bad credentials"})
                key = self.headers.get("Idempotency-Key")
                if not key:
                    return self._answer(422, {"detail": "Idempotency-Key required"})
                body = json.loads(raw)
                digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
                with fake.lock:
                    fake.attempts[key] += 1
                    behaviour = fake.script(key, fake.attempts[key])
                    fake.seen.append((key, behaviour))
                    arrival = len(fake.seen)
                fake.received.set()
                if fake.together is not None and arrival <= fake.together.parties:
                    fake.together.wait()
                if fake.delay_seconds:
                    time.sleep(fake.delay_seconds)
                if behaviour == ERROR_BEFORE_COMMIT:
                    return self._answer(500, {"detail": "database down"})
                if behaviour == UNAVAILABLE:
                    return self._answer(503, {"detail": "maintenance"})
                if behaviour == REFUSE:
                    return self._answer(422, {"title": "Invalid order", "detail": "product SRV-2U is discontinued"})
                with fake.lock:  # commit: one order per idempotency key
                    kept = fake.orders.get(key)
                    if kept is not None and kept["hash"] != digest:
                        return self._answer(409, {"detail": "Idempotency-Key reused with another order"})
                    created = kept is None
                    if created:
                        fake.created += 1
                        kept = fake.orders[key] = {"id": f"OMS-{fake.created}", "hash": digest, "body": body}
                if behaviour in (TIMEOUT_AFTER_COMMIT, HANG_AFTER_COMMIT):
                    time.sleep(fake.hang_seconds)
                elif behaviour == ERROR_AFTER_COMMIT:
                    return self._answer(500, {"detail": "crashed after commit"})
                elif behaviour == DROP_AFTER_COMMIT:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return None
                return self._answer(201 if created else 200, {"id": kept["id"], "status": "received",
                                                              "order_number": body["order_number"]})

        return Handler


def fast_settings(**changes) -> OrderSettings:
    """Short timeouts and backoffs so that failure tests take well under a second each."""
    base = {"connector": "builtin", "connect_timeout": 1.0, "read_timeout": 0.3, "max_attempts": 5,
            "backoff_seconds": 0.01, "backoff_max_seconds": 0.05, "lease_seconds": 2.0, "poll_seconds": 0.02}
    return OrderSettings(**{**base, **changes})


def http_settings(oms: FakeOMS, **changes) -> OrderSettings:
    return fast_settings(**{"connector": "http", "oms_url": oms.url, "oms_token": TOKEN, **changes})


def run_worker(database_url: str, settings: OrderSettings, *, max_seconds: float = 30, name: str | None = None
               ) -> OutboxWorker:
    """Run one worker in this process until no order is pending (or `max_seconds`)."""
    engine = store.make_engine(database_url)
    connector = HttpOrderManagement(settings) if settings.connector == "http" else BuiltinOrderManagement(engine)
    worker = OutboxWorker(engine, connector, settings, name=name, rng=lambda: 0.5)
    try:
        worker.run(until_idle=True, max_seconds=max_seconds)
    finally:
        connector.close()
        engine.dispose()
    return worker


class OrdersApi:
    """The API as each sample role calls it, plus UMBRELLA: a direct account with its own buyer."""

    def __init__(self, app, keys: dict[str, str]):
        self.app = app
        self.url = app.config["DATABASE_URL"]
        engine = store.make_engine(self.url)
        with engine.begin() as conn:
            sales = people.find_user_by_email(conn, "sales@example.com")
            if "buyer@umbrella.example" not in keys:
                people.create_account(conn, "UMBRELLA", "Umbrella Corp", owner_id=sales.id, segment="smb",
                                      country="US", currency="USD", tax_id="US-1", address="1 Umbrella Way")
                buyer = people.create_user(conn, "buyer@umbrella.example", "Alice Buyer", "buyer",
                                           account_id="UMBRELLA")
                keys["buyer@umbrella.example"] = people.create_api_key(conn, buyer.id)[1]
                oms = people.create_user(conn, "oms@example.com", "Order Desk", "order_manager")
                keys["oms@example.com"] = people.create_api_key(conn, oms.id)[1]
                manager = people.find_user_by_email(conn, "manager@example.com")
                keys["manager@example.com"] = people.create_api_key(conn, manager.id)[1]
        engine.dispose()
        self.keys = keys
        self.client = app.test_client()

    def __call__(self, method: str, path: str, who: str, json=None, etag=None, headers=None):
        extra = dict(bearer(self.keys[who]))
        if etag:
            extra["If-Match"] = etag
        extra.update(headers or {})
        return self.client.open(path, method=method, json=json, headers=extra)

    def sent_quote(self, lines=None, **terms):
        created = self("POST", "/api/v1/quotes", "sales@example.com",
                       json={"account_id": "UMBRELLA", "lines": lines or [SERVER], **terms})
        assert created.status_code == 201, created.json
        number, etag = created.json["number"], created.headers["ETag"]
        if created.json["priced"]["approvals"]:  # a big quote: a manager approves it first
            submitted = self("POST", f"/api/v1/quotes/{number}/submit", "sales@example.com", etag=etag)
            approved = self("POST", f"/api/v1/quotes/{number}/approve", "manager@example.com",
                            etag=submitted.headers["ETag"], json={})
            assert approved.status_code == 200, approved.json
            etag = approved.headers["ETag"]
        sent = self("POST", f"/api/v1/quotes/{number}/send", "sales@example.com", etag=etag)
        assert sent.status_code == 200, sent.json
        return sent

    def accepted_quote(self, lines=None, **terms) -> tuple[str, str]:
        """A quote the buyer accepted; returns (number, ETag)."""
        sent = self.sent_quote(lines, **terms)
        number = sent.json["number"]
        accepted = self("POST", f"/api/v1/quotes/{number}/accept", "buyer@umbrella.example", etag=sent.headers["ETag"],
                        json={"name": "Alice Buyer", "document_hash": sent.json["document_hash"]})
        assert accepted.status_code == 200, accepted.json
        return number, accepted.headers["ETag"]

    def quote(self, number: str) -> dict:
        return self("GET", f"/api/v1/quotes/{number}", "sales@example.com").json

    def ordering(self, number: str) -> dict:
        return self("GET", f"/api/v1/quotes/{number}/orders", "sales@example.com").json
