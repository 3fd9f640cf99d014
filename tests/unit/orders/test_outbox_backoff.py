"""Retry delays: exponential, capped, with half of each step random ("equal jitter")."""

from __future__ import annotations

import json
import logging

import pytest

from cpq.orders.worker import JsonLogFormatter, backoff_delay


@pytest.mark.parametrize(("attempt", "low", "high"), [(1, 1.0, 2.0), (2, 2.0, 4.0), (3, 4.0, 8.0), (10, 30.0, 60.0)])
def test_the_delay_doubles_per_attempt_until_the_cap(attempt, low, high):
    assert backoff_delay(attempt, 2.0, 60.0, rng=lambda: 0.0) == low
    assert backoff_delay(attempt, 2.0, 60.0, rng=lambda: 1.0) == high


def test_jitter_spreads_retries_within_the_step():
    delays = {backoff_delay(3, 1.0, 100.0, rng=lambda r=r: r / 10) for r in range(11)}
    assert min(delays) == 2.0 and max(delays) == 4.0 and len(delays) == 11


def test_log_lines_are_json_with_the_records_fields():
    record = logging.LogRecord("cpq.orders.worker", logging.WARNING, __file__, 1, "outbox.attempt", None, None)
    record.fields = {"attempt": 2, "outcome": "retry", "http_status": 503}
    line = json.loads(JsonLogFormatter().format(record))
    assert line["event"] == "outbox.attempt"
    assert (line["level"], line["attempt"], line["outcome"], line["http_status"]) == ("warning", 2, "retry", 503)
    assert line["ts"].endswith("+00:00")
