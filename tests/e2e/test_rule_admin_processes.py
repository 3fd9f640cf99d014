"""Hot reload across real processes: two gunicorn workers and an order worker on PostgreSQL.

A changed pricebook is published for "now" while requests flow: the publication takes effect once
both gunicorn workers hold it compiled, and a second after that every response carries the new
version, none failed. A long request that started before a rollback finished on the version it
started with, and the rollback also reaches every process within a second.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from cpq import store
from cpq.cli_people import seed
from cpq.store import people
from tests.conftest import ROOT, SAMPLE_PATHS
from tests.e2e.test_served_by_gunicorn import free_port

LINE = {"product": "SRV-2U", "quantity": 2, "options": [{"id": "CPU-32C"}, {"id": "MEM-128"}, {"id": "SSD-960"}, {"id": "PSU-800W"}]}
OLD_CPU, NEW_CPU = "1560.00", "1620.00"
SWITCH_SECONDS = 1.0
LONG_LINES = 4000


def sample_files(new_cpu_price: str | None = None) -> dict[str, str]:
    files = {p.relative_to(ROOT).as_posix(): p.read_text()
             for root in ("rules", "pricebooks") for p in sorted((ROOT / root).rglob("*.yaml"))}
    if new_cpu_price:
        book = "pricebooks/list-eur.yaml"
        files[book] = files[book].replace(f'CPU-32C: {{unit: "{OLD_CPU}"', f'CPU-32C: {{unit: "{new_cpu_price}"', 1)
    return files


class Http:
    def __init__(self, base: str, token: str):
        self.base, self.token = base, token

    def __call__(self, method: str, path: str, body=None, timeout=60) -> tuple[int, dict, dict]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.base}{path}", data=data, method=method, headers={
            "Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, dict(response.headers), json.load(response)
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), json.load(exc)


def price(lines: int) -> dict:
    return {"currency": "EUR", "date": "2026-03-02", "context": {"country": "DE"},
            "lines": [{**LINE, "id": str(n)} for n in range(lines)]}


def cpu_net(body: dict) -> str:
    return next(i for i in body["lines"][0]["items"] if i["sku"] == "CPU-32C")["net"]


@pytest.fixture
def services(clean_postgres_url, tmp_path):
    store.upgrade(clean_postgres_url)
    engine = store.make_engine(clean_postgres_url)
    with engine.begin() as conn:
        keys = dict(seed(conn))
        pricing = people.find_user_by_email(conn, "pricing@example.com")
        keys["pricing@example.com"] = people.create_api_key(conn, pricing.id)[1]
    engine.dispose()
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CPQ_DATABASE_URL": clean_postgres_url,
           "CPQ_RULES_DIR": SAMPLE_PATHS[0], "CPQ_PRICEBOOKS_DIR": SAMPLE_PATHS[1], "CPQ_WORKER_POLL_SECONDS": "0.2"}
    gunicorn = Path(sys.executable).with_name("gunicorn")
    web = subprocess.Popen([str(gunicorn), "--bind", f"127.0.0.1:{port}", "--workers", "2", "--timeout", "120",
                            "wsgi:app"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    worker_log = (tmp_path / "worker.log").open("w")
    orders = subprocess.Popen([sys.executable, "-m", "cpq.cli", "worker"], cwd=ROOT, env=env,
                              stdout=worker_log, stderr=subprocess.STDOUT)
    sales = Http(f"http://127.0.0.1:{port}", keys["sales@example.com"])
    deadline = time.monotonic() + 60
    ready = 0
    while time.monotonic() < deadline and ready < 6:  # several answers: both workers have loaded the rules
        try:
            ready += sales("GET", "/health", timeout=5)[0] == 200
        except OSError:
            if web.poll() is not None:
                pytest.fail(f"gunicorn exited with {web.returncode}")
            time.sleep(0.3)
    assert ready >= 6, "gunicorn did not answer within 60 s"
    orders.log = tmp_path / "worker.log"
    yield sales, Http(sales.base, keys["pricing@example.com"]), orders
    for proc in (web, orders):
        proc.terminate()
        proc.wait(timeout=20)
    worker_log.close()


@pytest.mark.postgres
def test_a_published_pricebook_reaches_every_process_while_requests_flow(services):
    sales, admin, orders = services
    old = sales("GET", "/health")[1]["X-CPQ-Ruleset-Version"]  # the rule files: nothing published yet

    results: list[tuple[float, float, int, str | None, str | None, str | None]] = []
    stop = threading.Event()

    def flow():
        while not stop.is_set():
            started = time.monotonic()
            code, headers, body = sales("POST", "/api/v1/price", price(1))
            results.append((started, time.monotonic(), code, headers.get("X-CPQ-Ruleset-Version"),
                            body.get("ruleset_version"), cpu_net(body) if code == 200 else None))
            time.sleep(0.02)

    clients = [threading.Thread(target=flow) for _ in range(3)]
    for c in clients:
        c.start()
    long_request = {}

    def slow():
        started = time.monotonic()
        long_request["answer"] = sales("POST", "/api/v1/price", price(LONG_LINES), timeout=120)
        long_request["span"] = (started, time.monotonic())

    try:
        time.sleep(1)
        publishing = time.monotonic()
        status, _, second = admin("POST", "/api/v1/admin/rulesets", {"files": sample_files(NEW_CPU), "note": "CPU-32C up"})
        switch_at = time.monotonic()  # the answer comes once the version is active
        assert status == 201, second
        new = second["version"]
        # both gunicorn workers compiled it before it took effect (the order worker holds no rules)
        assert second["processes"]["live"] == second["processes"]["ready"] == 2, second["processes"]
        time.sleep(max(0.0, switch_at + SWITCH_SECONDS + 2 - time.monotonic()))

        # a long request under the new version; a rollback lands while it runs (it takes ~4 s on an
        # idle machine: 1,000 lines were done in under a second, before the rollback landed)
        slow_thread = threading.Thread(target=slow)
        slow_thread.start()
        time.sleep(0.5)
        rolling = time.monotonic()
        status, _, back = admin("POST", "/api/v1/admin/rulesets/rollback", {"version": old})
        assert status == 201, back
        rolled_at = time.monotonic()
        assert back["processes"]["live"] == back["processes"]["ready"] == 2, back["processes"]
        slow_thread.join(120)
        time.sleep(max(0.0, rolled_at + SWITCH_SECONDS + 1.5 - time.monotonic()))
    finally:
        stop.set()
        for c in clients:
            c.join(60)

    assert results, "no request was answered"
    assert [r for r in results if r[2] != 200] == [], "some requests failed"
    assert all(r[3] == r[4] for r in results), "a response's header and body name different versions"
    assert all((r[3] == old) == (r[5] == "3120.00") and (r[3] == new) == (r[5] == "3240.00") for r in results)
    before = [r for r in results if r[1] < publishing]
    after = [r for r in results if switch_at + SWITCH_SECONDS <= r[0] and r[1] < rolling]
    after_rollback = [r for r in results if r[0] >= rolled_at + SWITCH_SECONDS]
    assert before and after and after_rollback
    assert {r[3] for r in before} == {old}
    stale = [f"{r[0] - switch_at:+.2f}..{r[1] - switch_at:+.2f} s" for r in after if r[3] != new]
    assert not stale, f"answered from the old version a second after the switch: {stale}"
    assert {r[3] for r in after_rollback} == {old}, "a process did not follow the rollback within a second"

    code, headers, body = long_request["answer"]
    started, finished = long_request["span"]
    assert code == 200 and started < rolling and rolled_at < finished
    assert headers["X-CPQ-Ruleset-Version"] == body["ruleset_version"] == new
    assert cpu_net(body) == "3240.00"  # 2 × 1620.00: the whole request priced on the version it started with

    assert orders.poll() is None, "the order worker died"
    assert "Traceback" not in orders.log.read_text()
    first_new = min(r[0] for r in results if r[3] == new)
    last_old = max((r[0] for r in results if r[3] == old and r[0] < rolling), default=publishing)
    print(f"\n{len(results)} requests; publishing took {switch_at - publishing:.1f} s to the switch (waited "
          f"{second['processes']['waited_seconds']:.2f} s for the other worker); first answer on the new version "
          f"{first_new - switch_at:+.2f} s after it, the last on the old one started {last_old - switch_at:+.2f} s after "
          f"it; the long request took {finished - started:.1f} s")
