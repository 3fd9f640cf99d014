"""Hot-reload benchmark: what checking the database's active ruleset version costs a request, and
what loading a stored version costs compared with loading the folders.

    PYTHONPATH=. python bench/ruleset_reload.py [--requests N] [--database-url URL]

On a fresh database (SQLite file by default) the sample files are published once, then:

1. `GET /health` through the Flask test client, N requests each, in the same run:
   - baseline: the process never looks at the database (no engine);
   - the default: a check at most every 0.5 s (what production does);
   - worst case: a check on every request (poll interval 0);
   and the cost of one check alone (the two small selects), averaged over N calls.
2. Loading the sample ruleset: from the folders (load_ruleset, cache cleared) against from its
   stored files in the database (load_files + load), best of 3 each.

Figures go to stdout; docs/benchmarks.md ("Rule administration") records a run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cpq import create_app, store  # noqa: E402
from cpq.admin import service  # noqa: E402
from cpq.admin.files import from_folders  # noqa: E402
from cpq.ruleset import loader  # noqa: E402
from cpq.store import rulesets as repo  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PATHS = [str(ROOT / "rules"), str(ROOT / "pricebooks")]


def timed_requests(client, n: int) -> list[float]:
    out = []
    for _ in range(n):
        start = time.perf_counter()
        response = client.get("/health")
        out.append(time.perf_counter() - start)
        assert response.status_code == 200
    return out


def summary(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[int(len(ordered) * 0.95) - 1]
    return f"p50 {statistics.median(ordered) * 1e3:7.3f} ms  p95 {p95 * 1e3:7.3f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="cpq-bench-")
    url = args.database_url or f"sqlite:///{folder}/cpq.db"
    store.upgrade(url)
    engine = store.make_engine(url)
    files = from_folders(PATHS)
    with engine.begin() as conn:
        done = service.publish(conn, files, actor="bench", user_id=None, now=datetime.now(UTC),
                               ruleset_of=lambda v: files.load())
    print(f"database {url.split('@')[-1]}; published {done.ruleset.summary_line()}")

    app = create_app({"TESTING": True, "RULES_DIR": PATHS[0], "PRICEBOOKS_DIR": PATHS[1], "DATABASE_URL": url})
    live = app.extensions["cpq.ruleset"]
    client = app.test_client()
    timed_requests(client, 50)  # warm up: first check switches the process to the published version
    assert live.source == "database"

    results = {}
    for label, poll, use_db in (("no database check (baseline)", 0.5, False),
                                ("check at most every 0.5 s (default)", 0.5, True),
                                ("check on every request", 0.0, True)):
        live.poll_seconds = poll
        live.engine = (lambda: app.extensions["cpq.engine"]) if use_db else None
        results[label] = timed_requests(client, args.requests)
    base = statistics.median(results["no database check (baseline)"])
    print(f"\nGET /health, {args.requests} requests each (Flask test client, one thread)")
    for label, samples in results.items():
        print(f"  {label:<38} {summary(samples)}  ×{statistics.median(samples) / base:.2f} of baseline")

    now = datetime.now(UTC)
    checks = []
    with engine.connect() as conn:
        for _ in range(args.requests):
            start = time.perf_counter()
            repo.active_version(conn, now)
            repo.upcoming_versions(conn, now, now + timedelta(seconds=60))
            checks.append(time.perf_counter() - start)
    print(f"  one check alone (2 selects, open connection) {summary(checks)}")

    def best_of(fn, runs=3) -> float:
        times = []
        for _ in range(runs):
            loader._CACHE.clear()
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return min(times)

    def from_database():
        with engine.connect() as conn:
            return repo.load_files(conn, done.ruleset.version).load()

    disk = best_of(lambda: loader.load_ruleset(PATHS))
    stored = best_of(from_database)
    print(f"\nloading the sample ruleset, best of 3 (compile cache cleared)\n"
          f"  from the folders        {disk:6.2f} s\n"
          f"  from its stored files   {stored:6.2f} s  ×{stored / disk:.2f} of the folders")
    engine.dispose()
    app.extensions["cpq.engine"].dispose()


if __name__ == "__main__":
    main()
