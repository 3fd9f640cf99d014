"""Exactly once under faults: 500 accepted quotes, an order management that fails on purpose, two
PostgreSQL workers of which one is killed mid-run and restarted → exactly 500 orders, none lost."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import tempfile
import time

import pytest
import sqlalchemy as sa

from cpq import store
from tests.conftest import ROOT, SAMPLE_PATHS
from tests.integration.test_orders_support import (
    DROP_AFTER_COMMIT,
    ERROR_AFTER_COMMIT,
    ERROR_BEFORE_COMMIT,
    OK,
    TIMEOUT_AFTER_COMMIT,
    TOKEN,
    UNAVAILABLE,
    FakeOMS,
    OrdersApi,
)

QUOTES = int(__import__("os").environ.get("CPQ_DELIVERY_QUOTES", 500))
FAULTS = [ERROR_BEFORE_COMMIT, UNAVAILABLE, TIMEOUT_AFTER_COMMIT, DROP_AFTER_COMMIT, ERROR_AFTER_COMMIT]
pytestmark = [pytest.mark.postgres, pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)]


def worker(database_url: str, oms: FakeOMS, *extra: str, **settings: str) -> subprocess.Popen:
    """`cpq worker` as a process; its JSON log goes to a file (a pipe nobody reads would fill and block it)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CPQ_DATABASE_URL": database_url, "CPQ_RULES_DIR": SAMPLE_PATHS[0],
           "CPQ_PRICEBOOKS_DIR": SAMPLE_PATHS[1], "CPQ_OMS_URL": oms.url, "CPQ_OMS_TOKEN": TOKEN,
           "CPQ_OMS_CONNECT_TIMEOUT": "0.5", "CPQ_OUTBOX_BACKOFF_SECONDS": "0.05", "CPQ_WORKER_POLL_SECONDS": "0.1",
           **{f"CPQ_{k.upper()}": v for k, v in settings.items()}}
    log = tempfile.TemporaryFile()  # noqa: SIM115 - the process writes to it after this returns
    return subprocess.Popen([sys.executable, "-m", "cpq.cli", "worker", *extra], cwd=ROOT, env=env,
                            stdout=log, stderr=log)


def by_seed(key: str, attempt: int) -> str:
    """Deterministic per message and attempt: about half the first two attempts fail, in every way."""
    if attempt > 2:
        return OK
    roll = hashlib.sha256(f"{key}:{attempt}".encode()).digest()[0] % (2 * len(FAULTS))
    return FAULTS[roll] if roll < len(FAULTS) else OK


def count(url: str, sql: str) -> int:
    engine = store.make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(sql)).scalar_one()
    finally:
        engine.dispose()


def wait_for(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def deliver(api: OrdersApi, connector: str, target: FakeOMS) -> None:
    """Two workers; the first is SIGKILLed once a fifth of the orders are out, then restarted."""
    settings = {"oms_connector": connector, "oms_read_timeout": "0.5", "outbox_lease_seconds": "2"}
    if connector == "http":
        def placed():
            return target.created
    else:
        def placed():
            return count(api.url, "select count(*) from orders")
    first = worker(api.url, target, "--name", "w1", **settings)
    second = worker(api.url, target, "--name", "w2", **settings)
    restarted = None
    try:
        wait_for(lambda: placed() >= QUOTES // 5, 120, "the first orders")
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        restarted = worker(api.url, target, "--name", "w1-again", **settings)
        try:
            wait_for(lambda: count(api.url, "select count(*) from quotes where state = 'ordered'") == QUOTES,
                     240, "every quote to be ordered")
        except AssertionError:
            states = count(api.url, "select string_agg(state || ':' || n, ',') from (select state, count(*) n "
                                    "from quotes group by state) s")
            outbox = count(api.url, "select string_agg(status || ':' || n, ',') from (select status, count(*) n "
                                    "from order_outbox group by status) s")
            raise AssertionError(f"not all ordered: quotes {states}; outbox {outbox}") from None
    finally:
        for process in (first, second, restarted):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in (second, restarted):
            if process is not None:
                process.wait(timeout=30)


def test_http_order_management_failing_on_purpose_still_gets_each_order_once(seeded):
    api = OrdersApi(*seeded)
    numbers = [api.accepted_quote()[0] for _ in range(QUOTES)]
    with FakeOMS(by_seed, hang_seconds=1.0) as oms:
        deliver(api, "http", oms)
        assert oms.created == QUOTES, "0 lost, 0 duplicates at the order management"
        assert len(oms.orders_by_number()) == QUOTES
        assert {what for _, what in oms.seen} >= set(FAULTS), "every kind of fault happened"
    assert count(api.url, "select count(*) from quotes where state = 'ordered'") == QUOTES
    assert len(set(numbers)) == QUOTES


def test_builtin_order_management_gets_each_order_once_through_a_killed_worker(seeded):
    api = OrdersApi(*seeded)
    for _ in range(QUOTES):
        api.accepted_quote()
    with FakeOMS() as unused:  # the builtin connector never calls it
        deliver(api, "builtin", unused)
        assert unused.created == 0
    assert count(api.url, "select count(*) from orders") == QUOTES
    assert count(api.url, "select count(distinct quote_id) from orders") == QUOTES
