"""The HTTP connector's answers to each kind of reply (no network: a stand-in session), and its settings."""

from __future__ import annotations

import pytest
import requests

from cpq.errors import InvalidInput
from cpq.orders.connectors import (
    HttpOrderManagement,
    PermanentFailure,
    TemporaryFailure,
    make_connector,
)
from cpq.orders.settings import OrderSettings

PAYLOAD = {"order_number": "O-2026-000001-1"}


class Reply:
    def __init__(self, status, body=None, text=""):
        self.status_code, self.body, self.text, self.reason = status, body, text, "reason"

    def json(self):
        if self.body is None:
            raise ValueError("no json")
        return self.body


class Session:
    """Records each post and answers with a reply or raises an exception."""

    def __init__(self, outcome):
        self.outcome, self.calls, self.headers, self.verify = outcome, [], {}, None

    def post(self, url, **kw):
        self.calls.append((url, kw))
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome

    def close(self):
        pass


def connector(outcome, **settings):
    session = Session(outcome)
    made = HttpOrderManagement(OrderSettings(connector="http", oms_url="https://oms.example/api/", oms_token="s3cret",
                                             **settings), session=session)
    return made, session


def test_a_created_order_is_sent_with_the_key_the_token_and_the_timeouts():
    oms, session = connector(Reply(201, {"id": "OMS-1", "status": "received"}), connect_timeout=2, read_timeout=7)
    receipt = oms.create_order(PAYLOAD, "key-1")
    assert (receipt.order_id, receipt.status, receipt.created, receipt.http_status) == ("OMS-1", "received", True, 201)
    ((url, kw),) = session.calls
    assert url == "https://oms.example/api/orders"
    assert kw["headers"] == {"Idempotency-Key": "key-1"}
    assert kw["json"] == PAYLOAD
    assert kw["timeout"] == (2, 7)
    assert session.headers["Authorization"] == "Bearer s3cret"


def test_tls_verification_stays_on_and_a_private_ca_is_a_bundle():
    assert connector(Reply(201, {"id": "x"}))[1].verify is True
    assert connector(Reply(201, {"id": "x"}), oms_ca_bundle="/etc/ca.pem")[1].verify == "/etc/ca.pem"


def test_an_existing_order_for_the_key_is_not_new():
    oms, _ = connector(Reply(200, {"id": "OMS-1", "status": "in_fulfilment"}))
    assert oms.create_order(PAYLOAD, "k").created is False


@pytest.mark.parametrize("outcome", [
    Reply(500, {"detail": "boom"}), Reply(502, text="bad gateway"), Reply(503), Reply(429), Reply(408),
    Reply(201, text="not json"), Reply(201, {"status": "received"}),
    requests.exceptions.ConnectTimeout("slow"), requests.exceptions.ReadTimeout("slow"),
    requests.exceptions.ConnectionError("refused"), requests.exceptions.ChunkedEncodingError("cut"),
    requests.exceptions.SSLError("bad certificate"),
])
def test_what_may_work_later_is_retried(outcome):
    oms, _ = connector(outcome)
    with pytest.raises(TemporaryFailure):
        oms.create_order(PAYLOAD, "k")


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
def test_a_4xx_is_final_and_keeps_the_reason(status):
    oms, _ = connector(Reply(status, {"title": "Invalid", "detail": "product discontinued"}))
    with pytest.raises(PermanentFailure) as info:
        oms.create_order(PAYLOAD, "k")
    assert info.value.http_status == status
    assert info.value.reason == f"HTTP {status}: product discontinued"


@pytest.mark.parametrize(("url", "ok"), [
    ("https://oms.example", True), ("http://127.0.0.1:9000", True), ("http://localhost:9000", True),
    ("http://oms.example", False), ("ftp://oms.example", False), ("oms.example", False),
])
def test_plain_http_is_allowed_only_to_this_machine(url, ok):
    settings = OrderSettings(connector="http", oms_url=url)
    if ok:
        HttpOrderManagement(settings, session=Session(None))
    else:
        with pytest.raises(InvalidInput):
            HttpOrderManagement(settings, session=Session(None))


@pytest.mark.parametrize(("settings", "message"), [
    ({"connector": "soap"}, "CPQ_OMS_CONNECTOR"),
    ({"connector": "http"}, "CPQ_OMS_URL"),
    ({"max_attempts": 0}, "CPQ_OUTBOX_MAX_ATTEMPTS"),
    ({"lease_seconds": 10, "read_timeout": 15}, "CPQ_OUTBOX_LEASE_SECONDS"),
])
def test_settings_the_worker_cannot_use_are_refused_by_name(settings, message):
    with pytest.raises(InvalidInput, match=message):
        make_connector(OrderSettings(**settings), engine=None)


def test_settings_come_from_the_configuration():
    made = OrderSettings.from_config({"OMS_CONNECTOR": "HTTP", "OMS_URL": "https://oms.example/", "OMS_TOKEN": "t",
                                      "OMS_READ_TIMEOUT": "3", "OUTBOX_MAX_ATTEMPTS": "4", "ORDER_SPLIT_BY": "group"})
    assert (made.connector, made.oms_url, made.read_timeout, made.max_attempts, made.split_by) == (
        "http", "https://oms.example", 3.0, 4, "group")
