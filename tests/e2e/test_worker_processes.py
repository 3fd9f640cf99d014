"""`cpq worker` as real processes: killed mid-send and restarted, and three of them sharing PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import date, timedelta

import pytest

from tests.conftest import ROOT, SAMPLE_PATHS
from tests.integration.test_orders_support import (
    HANG_AFTER_COMMIT,
    OK,
    SERVER,
    TOKEN,
    FakeOMS,
    OrdersApi,
)


def worker(database_url: str, oms: FakeOMS, *extra: str, **settings: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CPQ_DATABASE_URL": database_url, "CPQ_RULES_DIR": SAMPLE_PATHS[0],
           "CPQ_PRICEBOOKS_DIR": SAMPLE_PATHS[1], "CPQ_OMS_CONNECTOR": "http", "CPQ_OMS_URL": oms.url,
           "CPQ_OMS_TOKEN": TOKEN, "CPQ_OMS_CONNECT_TIMEOUT": "0.5", "CPQ_OMS_READ_TIMEOUT": "2",
           "CPQ_OUTBOX_LEASE_SECONDS": "3", "CPQ_OUTBOX_BACKOFF_SECONDS": "0.05", "CPQ_WORKER_POLL_SECONDS": "0.1",
           **{f"CPQ_{k.upper()}": v for k, v in settings.items()}}
    return subprocess.Popen([sys.executable, "-m", "cpq.cli", "worker", *extra], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def log_lines(stderr: str) -> list[dict]:
    return [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_worker_killed_mid_send_and_restarted_still_makes_exactly_one_order(seeded):
    api = OrdersApi(*seeded)
    number, _ = api.accepted_quote()
    with FakeOMS(lambda key, attempt: HANG_AFTER_COMMIT if attempt == 1 else OK, hang_seconds=10) as oms:
        first = worker(api.url, oms)
        assert oms.received.wait(30), first.stderr.read() if first.poll() is not None else "no request"
        first.send_signal(signal.SIGKILL)  # the order is committed at the OMS; the worker never hears back
        first.wait(10)
        assert api.quote(number)["state"] == "ordering"
        second = worker(api.url, oms, "--until-idle")
        _, stderr = second.communicate(timeout=60)
    assert second.returncode == 0, stderr
    assert oms.created == 1
    assert list(oms.attempts.values()) == [2], "the restarted worker resent the same idempotency key"
    quote = api.quote(number)
    assert quote["state"] == "ordered"
    (attempt,) = [line for line in log_lines(stderr) if line["event"] == "outbox.attempt"]
    assert (attempt["attempt"], attempt["outcome"], attempt["replayed"]) == (2, "sent", True)
    assert attempt["order_number"] == quote["order_id"]


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_three_workers_on_postgresql_send_fifty_orders_each_exactly_once(seeded):
    api = OrdersApi(*seeded)
    api.app.config["ORDER_ON_ACCEPT"] = False
    number, etag = api.accepted_quote(lines=[{**SERVER, "id": "rack", "quantity": 50}])
    days = [(date.today() + timedelta(days=n)).isoformat() for n in range(1, 51)]
    ordered = api("POST", f"/api/v1/quotes/{number}/order", "sales@example.com", etag=etag, json={
        "split_by": "requested_date", "lines": [{"line_id": "rack", "quantity": 1, "requested_date": d} for d in days]})
    assert ordered.status_code == 200, ordered.json
    with FakeOMS(delay_seconds=0.01, together=3) as oms:
        # long timeouts: the first three requests wait for each other, and a timeout would be a (legal) resend
        workers = [worker(api.url, oms, "--until-idle", "--name", f"w{n}", oms_read_timeout="20",
                          outbox_lease_seconds="30") for n in range(3)]
        outputs = [w.communicate(timeout=120)[1] for w in workers]
    assert [w.returncode for w in workers] == [0, 0, 0], outputs
    assert oms.created == 50
    assert set(oms.attempts.values()) == {1}, "no message was sent twice"
    assert len(oms.orders_by_number()) == 50
    sent_by = {f"w{n}": sum(1 for line in log_lines(out) if line["event"] == "outbox.attempt"
                            and line["outcome"] == "sent") for n, out in enumerate(outputs)}
    assert sum(sent_by.values()) == 50
    errors = [line for out in outputs for line in log_lines(out) if line["level"] == "error"]
    assert errors == [], "workers recording outcomes of one quote must not deadlock"
    assert all(sent_by.values()), f"every worker took part: {sent_by}"
    assert api.quote(number)["state"] == "ordered"
    assert {o["delivery"] for o in api.ordering(number)["orders"]} == {"sent"}
