"""Exactly once through a real HTTP order management that fails on purpose (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import logging

import pytest

from tests.integration.test_orders_support import (
    DROP_AFTER_COMMIT,
    ERROR_AFTER_COMMIT,
    ERROR_BEFORE_COMMIT,
    OK,
    REFUSE,
    TIMEOUT_AFTER_COMMIT,
    UNAVAILABLE,
    FakeOMS,
    OrdersApi,
    http_settings,
    run_worker,
)


@pytest.fixture
def api(seeded):
    return OrdersApi(*seeded)


FAILURES = [TIMEOUT_AFTER_COMMIT, ERROR_AFTER_COMMIT, DROP_AFTER_COMMIT, ERROR_BEFORE_COMMIT]


def test_every_accepted_quote_becomes_exactly_one_order_when_the_first_sends_fail(api):
    numbers = [api.accepted_quote()[0] for _ in FAILURES]
    failure_of = {}

    def script(key, attempt):
        # each quote's order meets a different failure on its first two attempts, then gets through
        kind = failure_of.setdefault(key, FAILURES[len(failure_of) % len(FAILURES)])
        return kind if attempt <= 2 else OK

    with FakeOMS(script, hang_seconds=0.6) as oms:
        run_worker(api.url, http_settings(oms))

    assert oms.created == len(numbers)
    assert sorted(oms.orders_by_number().values()) == [1] * len(numbers)
    assert set(oms.attempts.values()) == {3}, "two failures, then the replay with the same key"
    assert {what for _, what in oms.seen} == {*FAILURES, OK}
    for number in numbers:
        quote = api.quote(number)
        assert quote["state"] == "ordered"
        assert quote["order_id"] == "O-" + number.removeprefix("Q-") + "-1"
        ordering = api.ordering(number)
        assert [o["delivery"] for o in ordering["orders"]] == ["sent"]
        assert ordering["orders"][0]["order_id"].startswith("OMS-")
        assert ordering["lines"][0]["remaining"] == 0


def test_a_replayed_order_keeps_the_order_id_order_management_gave_it(api):
    number, _ = api.accepted_quote()
    with FakeOMS(lambda key, attempt: ERROR_AFTER_COMMIT if attempt == 1 else OK) as oms:
        run_worker(api.url, http_settings(oms))
    (kept,) = oms.orders.values()
    order = api("GET", f"/api/v1/orders/{api.quote(number)['order_id']}", "sales@example.com").json
    assert order["external_id"] == kept["id"]
    assert order["connector"] == "http"
    assert order["status"] == "received"


def test_a_refusal_is_not_retried_and_the_quote_says_why(api):
    number, _ = api.accepted_quote()
    with FakeOMS(lambda key, attempt: REFUSE) as oms:
        run_worker(api.url, http_settings(oms))
    assert sum(oms.attempts.values()) == 1
    assert oms.created == 0
    quote = api.quote(number)
    assert quote["state"] == "order_failed"
    assert quote["allowed_actions"] == ["order"]
    ordering = api.ordering(number)
    assert ordering["orders"][0]["delivery"] == "failed"
    assert ordering["orders"][0]["last_http_status"] == 422
    assert "product SRV-2U is discontinued" in ordering["failure"]
    assert ordering["lines"][0]["remaining"] == 2, "a refused order gives its quantities back"


def test_a_refused_order_can_be_ordered_again(api):
    number, _ = api.accepted_quote()
    with FakeOMS(lambda key, attempt: REFUSE) as oms:
        run_worker(api.url, http_settings(oms))
    etag = api("GET", f"/api/v1/quotes/{number}", "sales@example.com").headers["ETag"]
    again = api("POST", f"/api/v1/quotes/{number}/order", "sales@example.com", json={}, etag=etag)
    assert again.status_code == 200, again.json
    assert again.json["state"] == "ordering"
    with FakeOMS() as oms:
        run_worker(api.url, http_settings(oms))
    assert oms.created == 1
    assert api.quote(number)["state"] == "ordered"
    assert list(oms.orders_by_number()) == ["O-" + number.removeprefix("Q-") + "-2"]


def test_after_the_last_attempt_an_order_is_a_dead_letter_an_admin_can_send_again(api):
    number, _ = api.accepted_quote()
    with FakeOMS(lambda key, attempt: UNAVAILABLE) as oms:
        run_worker(api.url, http_settings(oms, max_attempts=3))
    assert sum(oms.attempts.values()) == 3
    assert api.quote(number)["state"] == "order_failed"
    assert "gave up after 3 attempts" in api.ordering(number)["failure"]

    assert api("GET", "/api/v1/admin/outbox/dead-letters", "sales@example.com").status_code == 403
    dead = api("GET", "/api/v1/admin/outbox/dead-letters", "admin@example.com").json
    assert dead["total"] == 1
    letter = dead["items"][0]
    assert (letter["quote"], letter["attempts"], letter["last_http_status"]) == (number, 3, 503)

    retried = api("POST", f"/api/v1/admin/outbox/dead-letters/{letter['id']}/retry", "admin@example.com")
    assert retried.status_code == 200
    assert (retried.json["status"], retried.json["attempts"]) == ("pending", 0)
    assert api.quote(number)["state"] == "ordering"
    assert api("POST", f"/api/v1/admin/outbox/dead-letters/{letter['id']}/retry", "admin@example.com").status_code == 409

    with FakeOMS() as oms:
        run_worker(api.url, http_settings(oms))
    assert list(oms.attempts) == [letter["idempotency_key"]], "the retry sends the same idempotency key"
    assert api.quote(number)["state"] == "ordered"
    assert api("GET", "/api/v1/admin/outbox/dead-letters", "admin@example.com").json["total"] == 0


def test_every_attempt_is_one_json_log_line(api, caplog):
    api.accepted_quote()
    caplog.set_level(logging.INFO, logger="cpq.orders")
    with FakeOMS(lambda key, attempt: ERROR_BEFORE_COMMIT if attempt == 1 else OK) as oms:
        run_worker(api.url, http_settings(oms))
    from cpq.orders.worker import JsonLogFormatter

    attempts = [json.loads(JsonLogFormatter().format(r)) for r in caplog.records if r.getMessage() == "outbox.attempt"]
    assert [(a["attempt"], a["outcome"], a["http_status"]) for a in attempts] == [(1, "retry", 500), (2, "sent", 201)]
    assert attempts[0]["retry_in_s"] > 0
    assert {"worker", "order_number", "quote", "idempotency_key", "elapsed_ms", "ts"} <= set(attempts[1])
    assert oms.created == 1


def test_order_management_gets_the_credentials_from_configuration(api):
    number, _ = api.accepted_quote()
    with FakeOMS() as oms:
        run_worker(api.url, http_settings(oms, oms_token="wrong", max_attempts=2))
    assert api.quote(number)["state"] == "order_failed"
    assert api.ordering(number)["orders"][0]["last_http_status"] == 401
