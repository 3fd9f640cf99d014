"""The http connector against cpq's own order management served by gunicorn: one contract, both sides."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT, SAMPLE_PATHS
from tests.integration.test_orders_support import OrdersApi


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(seeded):
    """The seeded database served by gunicorn over real HTTP; yields (api, base URL)."""
    api = OrdersApi(*seeded)
    port = free_port()
    env = {**os.environ, "CPQ_DATABASE_URL": api.url, "CPQ_RULES_DIR": SAMPLE_PATHS[0],
           "CPQ_PRICEBOOKS_DIR": SAMPLE_PATHS[1]}
    gunicorn = Path(sys.executable).with_name("gunicorn")
    proc = subprocess.Popen([str(gunicorn), "--bind", f"127.0.0.1:{port}", "--workers", "1", "wsgi:app"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{base}/health", timeout=1)
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail("gunicorn did not start")
            time.sleep(0.2)
    yield api, base
    proc.terminate()
    proc.wait(timeout=10)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_worker_with_the_http_connector_orders_from_cpqs_own_contract_endpoint(served):
    api, base = served
    number, _ = api.accepted_quote()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CPQ_DATABASE_URL": api.url, "CPQ_OMS_CONNECTOR": "http",
           "CPQ_OMS_URL": f"{base}/api/v1", "CPQ_OMS_TOKEN": api.keys["oms@example.com"],
           "CPQ_WORKER_POLL_SECONDS": "0.1"}
    worker = subprocess.run([sys.executable, "-m", "cpq.cli", "worker", "--until-idle"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert worker.returncode == 0, worker.stderr
    assert '"outcome": "sent"' in worker.stderr
    quote = api.quote(number)
    assert quote["state"] == "ordered"
    order = api("GET", f"/api/v1/orders/{quote['order_id']}", "sales@example.com").json
    assert order["status"] == "received"
    assert order["quote"]["number"] == number
    assert api("GET", f"/api/v1/orders?quote={number}", "sales@example.com").json["total"] == 1
