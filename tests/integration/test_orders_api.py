"""Ordering over REST with the builtin order management: split orders, the ledger, status events, the contract."""

from __future__ import annotations

import json
import threading
from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from cpq import create_app, store
from cpq.errors import InvalidInput
from cpq.orders import outbox
from cpq.orders.connectors import OrderManagement
from cpq.orders.worker import OutboxWorker
from tests.integration.test_orders_support import (
    HANG_AFTER_COMMIT,
    SERVER,
    FakeOMS,
    OrdersApi,
    fast_settings,
    http_settings,
    run_worker,
)

WEB = {**SERVER, "id": "web", "quantity": 3, "group": "rack-a"}
DB = {**SERVER, "id": "db", "quantity": 2, "group": "rack-b"}
SOON, LATER = (date.today() + timedelta(days=7)).isoformat(), (date.today() + timedelta(days=30)).isoformat()


@pytest.fixture
def api(seeded):
    return OrdersApi(*seeded)


@pytest.fixture
def manual(api):
    """Accepting does not order by itself: sales order with POST …/order."""
    api.app.config["ORDER_ON_ACCEPT"] = False
    return api


def order(api, number, body, etag=None, who="sales@example.com"):
    etag = etag or api("GET", f"/api/v1/quotes/{number}", who).headers["ETag"]
    return api("POST", f"/api/v1/quotes/{number}/order", who, json=body, etag=etag)


def messages(api, number):
    engine = store.make_engine(api.url)
    with engine.connect() as conn:
        quote_id = conn.execute(sa.text("select id from quotes where number = :n"), {"n": number}).scalar_one()
        found = outbox.of_quote(conn, quote_id)
    engine.dispose()
    return found


def test_accepting_writes_the_order_to_the_outbox_in_the_same_transaction(api):
    number, _ = api.accepted_quote()
    assert api.quote(number)["state"] == "accepted"
    (message,) = messages(api, number)
    assert (message.status, message.attempts, message.order_number) == ("pending", 0, "O-" + number[2:] + "-1")
    assert message.payload["quote"]["number"] == number
    assert api.ordering(number)["lines"][0] == {"line_id": "1", "product": "SRV-2U", "quoted": 2, "ordered": 2,
                                                "remaining": 0}


def test_a_refused_acceptance_writes_no_order(api):
    sent = api.sent_quote()
    number = sent.json["number"]
    wrong = api("POST", f"/api/v1/quotes/{number}/accept", "buyer@umbrella.example", etag=sent.headers["ETag"],
                json={"name": "Alice Buyer", "document_hash": "0" * 64})
    assert wrong.status_code == 409
    assert messages(api, number) == []


def test_the_builtin_order_management_takes_the_order_through_the_same_worker(api):
    number, _ = api.accepted_quote()
    quoted = api.quote(number)["priced"]["lines"][0]
    run_worker(api.url, fast_settings())
    quote = api.quote(number)
    assert quote["state"] == "ordered"
    order_id = quote["order_id"]
    order = api("GET", f"/api/v1/orders/{order_id}", "buyer@umbrella.example").json
    assert (order["connector"], order["status"], order["account_id"]) == ("builtin", "received", "UMBRELLA")
    assert order["quote"]["number"] == number
    assert order["quote"]["document_hash"] == quote["document_hash"]
    assert order["allowed_statuses"] == ["in_fulfilment", "cancelled"]
    (line,) = order["lines"]
    assert (line["product"], line["quantity"]) == ("SRV-2U", 2)
    assert [(i["sku"], i["total"]) for i in line["items"]] == [(i["sku"], i["total"]) for i in quoted["items"]]
    assert order["totals"]["contract_value"] == quoted["total"]
    listed = api("GET", f"/api/v1/orders?quote={number}", "sales@example.com").json
    assert [o["id"] for o in listed["items"]] == [order_id]
    assert api("GET", f"/api/v1/orders/{order_id}", "partner@acme.example").status_code == 404
    assert api("GET", "/api/v1/orders", "partner@acme.example").json["total"] == 0


def test_the_quote_shows_ordering_while_the_order_is_being_sent(api):
    number, _ = api.accepted_quote()
    with FakeOMS(lambda key, attempt: HANG_AFTER_COMMIT, hang_seconds=0.5) as oms:
        worker = threading.Thread(target=run_worker, args=(api.url, http_settings(oms, read_timeout=3.0,
                                                                                  lease_seconds=10.0)))
        worker.start()
        assert oms.received.wait(10)
        assert api.quote(number)["state"] == "ordering"
        worker.join(30)
    assert api.quote(number)["state"] == "ordered"


def test_lines_are_split_into_orders_by_requested_date(manual):
    api = manual
    number, etag = api.accepted_quote(lines=[WEB, DB])
    done = order(api, number, {"split_by": "requested_date", "lines": [
        {"line_id": "web", "quantity": 1, "requested_date": SOON},
        {"line_id": "db", "quantity": 2, "requested_date": SOON},
        {"line_id": "web", "quantity": 2, "requested_date": LATER}]}, etag=etag)
    assert done.status_code == 200, done.json
    assert done.json["state"] == "ordering"
    run_worker(api.url, fast_settings())
    ordering = api.ordering(number)
    assert [(o["requested_date"], [(line["line_id"], line["quantity"]) for line in o["lines"]])
            for o in ordering["orders"]] == [(SOON, [("web", 1), ("db", 2)]), (LATER, [("web", 2)])]
    assert api.quote(number)["state"] == "ordered"


def test_split_orders_add_up_to_exactly_what_was_quoted(manual):
    api = manual
    number, _ = api.accepted_quote(lines=[WEB])
    for _ in range(3):
        assert order(api, number, {"lines": [{"line_id": "web", "quantity": 1}]}).status_code == 200
    run_worker(api.url, fast_settings())
    quoted = api.quote(number)["priced"]["lines"][0]
    orders = api("GET", f"/api/v1/orders?quote={number}", "sales@example.com").json["items"]
    assert len(orders) == 3
    assert sum(Decimal(o["total"]) for o in orders) == Decimal(quoted["total"])


def test_the_ledger_refuses_ordering_more_than_was_quoted(manual):
    api = manual
    number, _ = api.accepted_quote(lines=[WEB, DB])
    assert order(api, number, {"lines": [{"line_id": "web", "quantity": 2}]}).status_code == 200
    too_much = order(api, number, {"lines": [{"line_id": "web", "quantity": 2}, {"line_id": "db", "quantity": 1}]})
    assert too_much.status_code == 409
    assert too_much.json["code"] == "ordered_quantity_exceeded"
    assert too_much.json["remaining"] == {"web": 1}
    assert "line web: 2 asked, 3 quoted, 2 already ordered" in too_much.json["detail"]
    assert len(messages(api, number)) == 1, "a refused order request writes nothing"
    rest = order(api, number, {})
    assert rest.status_code == 200
    assert [(line["line_id"], line["remaining"]) for line in api.ordering(number)["lines"]] == [("web", 0), ("db", 0)]
    nothing = order(api, number, {})
    assert (nothing.status_code, nothing.json["code"]) == (409, "nothing_to_order")


@pytest.mark.parametrize(("body", "field"), [
    ({"lines": [{"line_id": "nope", "quantity": 1}]}, "lines"),
    ({"lines": [{"line_id": "web", "quantity": 0}]}, "json"),
    ({"split_by": "colour"}, "json"),
    ({"requested_date": "2001-01-01"}, "requested_date"),
])
def test_a_bad_order_request_is_a_422_problem(manual, body, field):
    number, _ = manual.accepted_quote(lines=[WEB])
    response = order(manual, number, body)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert field in response.json["errors"]


def test_ordering_needs_sales_the_current_etag_and_an_accepted_quote(manual):
    api = manual
    number, etag = api.accepted_quote()
    path = f"/api/v1/quotes/{number}/order"
    assert api("POST", path, "sales@example.com", json={}).status_code == 428
    assert api("POST", path, "sales@example.com", json={}, etag='"stale.1"').status_code == 412
    assert api("POST", path, "buyer@umbrella.example", json={}, etag=etag).status_code == 403
    draft = api("POST", "/api/v1/quotes", "sales@example.com", json={"account_id": "UMBRELLA", "lines": [SERVER]})
    refused = api("POST", f"/api/v1/quotes/{draft.json['number']}/order", "sales@example.com", json={},
                  etag=draft.headers["ETag"])
    assert (refused.status_code, refused.json["code"]) == (409, "illegal_transition")


def status_event(api, order_id, status, who="oms@example.com", **extra):
    return api("POST", f"/api/v1/orders/{order_id}/events", who, json={"status": status, **extra})


def test_status_events_move_the_order_through_fulfilment(api):
    number, _ = api.accepted_quote()
    run_worker(api.url, fast_settings())
    order_id = api.quote(number)["order_id"]
    for status in ("in_fulfilment", "shipped", "closed"):
        moved = status_event(api, order_id, status, event_id=f"evt-{status}", note=f"now {status}")
        assert moved.status_code == 200, moved.json
        assert moved.json["status"] == status
    order = api("GET", f"/api/v1/orders/{order_id}", "sales@example.com").json
    assert [(e["previous_status"], e["status"]) for e in order["events"]] == [
        ("received", "in_fulfilment"), ("in_fulfilment", "shipped"), ("shipped", "closed")]
    assert api("GET", f"/api/v1/orders?status=closed&quote={number}", "sales@example.com").json["total"] == 1
    assert api.ordering(number)["orders"][0]["status"] == "closed"


def test_the_same_event_twice_changes_nothing(api):
    number, _ = api.accepted_quote()
    run_worker(api.url, fast_settings())
    order_id = api.quote(number)["order_id"]
    first = status_event(api, order_id, "in_fulfilment", event_id="evt-1")
    again = status_event(api, order_id, "in_fulfilment", event_id="evt-1")
    assert again.status_code == 200
    assert again.headers["Idempotent-Replay"] == "true"
    assert len(again.json["events"]) == len(first.json["events"]) == 1
    clash = status_event(api, order_id, "shipped", event_id="evt-1")
    assert (clash.status_code, clash.json["code"]) == (409, "event_id_reused")


def test_illegal_unknown_and_unauthorised_events_are_problems(api):
    number, _ = api.accepted_quote()
    run_worker(api.url, fast_settings())
    order_id = api.quote(number)["order_id"]
    illegal = status_event(api, order_id, "closed")
    assert (illegal.status_code, illegal.json["code"]) == (409, "illegal_status_change")
    assert illegal.json["allowed"] == ["in_fulfilment", "cancelled"]
    assert illegal.mimetype == "application/problem+json"
    unknown = status_event(api, order_id, "teleported")
    assert (unknown.status_code, unknown.json["code"]) == (422, "invalid_input")
    assert "status" in unknown.json["errors"]["json"]
    assert status_event(api, "O-NOPE-1", "shipped").status_code == 404
    assert status_event(api, order_id, "in_fulfilment", who="sales@example.com").status_code == 403
    assert api("POST", f"/api/v1/orders/{order_id}/events", "oms@example.com",
               headers={"Authorization": "Bearer nope"}, json={"status": "shipped"}).status_code == 401


def test_a_cancelled_order_gives_its_quantities_back(api):
    number, _ = api.accepted_quote()
    run_worker(api.url, fast_settings())
    order_id = api.quote(number)["order_id"]
    assert status_event(api, order_id, "cancelled", note="customer withdrew").json["status"] == "cancelled"
    assert api.ordering(number)["lines"][0]["remaining"] == 2
    assert status_event(api, order_id, "in_fulfilment").status_code == 409


def test_events_from_an_external_order_management_move_its_mirrored_order(api):
    number, _ = api.accepted_quote()
    with FakeOMS() as oms:
        run_worker(api.url, http_settings(oms))
    (kept,) = oms.orders.values()
    moved = status_event(api, kept["id"], "in_fulfilment")  # by its id there, or by our order number
    assert moved.status_code == 200
    assert moved.json["number"] == api.quote(number)["order_id"]


def pending_payload(api, number):
    (message,) = messages(api, number)
    return message.payload


def test_the_contract_endpoint_creates_once_per_idempotency_key(api):
    number, _ = api.accepted_quote()
    payload = pending_payload(api, number)
    key = {"Idempotency-Key": "oms-key-1"}
    created = api("POST", "/api/v1/orders", "oms@example.com", json=payload, headers=key)
    assert created.status_code == 201, created.json
    assert created.json["number"] == payload["order_number"]
    replay = api("POST", "/api/v1/orders", "oms@example.com", json=payload, headers=key)
    assert replay.status_code == 200
    assert replay.headers["Idempotent-Replay"] == "true"
    assert replay.json["id"] == created.json["id"]
    other = json.loads(json.dumps(payload))
    other["lines"][0]["quantity"] = 1
    clash = api("POST", "/api/v1/orders", "oms@example.com", json=other, headers=key)
    assert (clash.status_code, clash.json["code"]) == (409, "idempotency_key_reused")
    taken = api("POST", "/api/v1/orders", "oms@example.com", json=payload, headers={"Idempotency-Key": "oms-key-2"})
    assert (taken.status_code, taken.json["code"]) == (409, "order_number_taken")


@pytest.mark.parametrize("change", [
    lambda p: p.pop("lines"),
    lambda p: p.update(currency="EUR"),
    lambda p: p["quote"].update(number="Q-1999-000001"),
    lambda p: p.update(unexpected=True),
])
def test_the_contract_endpoint_answers_422_for_what_is_not_a_valid_order(api, change):
    number, _ = api.accepted_quote()
    payload = pending_payload(api, number)
    change(payload)
    refused = api("POST", "/api/v1/orders", "oms@example.com", json=payload, headers={"Idempotency-Key": "k"})
    assert refused.status_code == 422
    assert refused.mimetype == "application/problem+json"


def test_the_contract_endpoint_needs_a_key_and_the_order_manager_role(api):
    number, _ = api.accepted_quote()
    payload = pending_payload(api, number)
    assert api("POST", "/api/v1/orders", "oms@example.com", json=payload).status_code == 422
    assert api("POST", "/api/v1/orders", "sales@example.com", json=payload,
               headers={"Idempotency-Key": "k"}).status_code == 403


def test_the_openapi_document_describes_the_contract(api):
    spec = api.client.get("/api/openapi.json").json
    create = spec["paths"]["/api/v1/orders"]["post"]
    assert {"200", "201"} <= set(create["responses"])
    assert any(p["name"] == "Idempotency-Key" and p["required"] for p in create["parameters"])
    assert "/api/v1/orders/{order_id}/events" in spec["paths"]
    assert "/api/v1/quotes/{quote_id}/order" in spec["paths"]


def test_an_unknown_split_field_in_the_settings_stops_the_app_from_starting(tmp_path):
    with pytest.raises(InvalidInput, match="CPQ_ORDER_SPLIT_BY"):
        create_app({"TESTING": True, "ORDER_SPLIT_BY": "colour", "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"})


class BrokenOrderManagement(OrderManagement):
    """A connector with a bug: it raises something that is not a send failure."""

    name = "broken"

    def create_order(self, payload, idempotency_key):
        raise RuntimeError("connector bug")


def test_a_message_that_always_breaks_the_worker_ends_as_a_dead_letter(api):
    number, _ = api.accepted_quote()
    engine = store.make_engine(api.url)
    OutboxWorker(engine, BrokenOrderManagement(), fast_settings(max_attempts=2), rng=lambda: 0.5).run(
        until_idle=True, max_seconds=20)
    engine.dispose()
    assert api.quote(number)["state"] == "order_failed"
    assert "worker error: RuntimeError('connector bug')" in api.ordering(number)["failure"]


def test_the_whole_flow_on_the_sample_data_from_configuration_to_a_closed_order(api):
    """configure → quote → submit → approve → send → accept → order received → status events → closed."""
    configured = api("POST", "/api/v1/products/SRV-2U/configure", "sales@example.com", json={"options": {"CPU-32C": True}})
    assert configured.status_code == 200, configured.json
    completed = api("POST", "/api/v1/products/SRV-2U/complete", "sales@example.com", json={"options": {"CPU-32C": True}})
    options = [{"id": o, "quantity": q} for o, q in completed.json["configuration"]["options"].items()]
    created = api("POST", "/api/v1/quotes", "sales@example.com", json={
        "account_id": "UMBRELLA", "discount": "15%", "lines": [{"product": "SRV-2U", "quantity": 4, "options": options}]})
    assert created.status_code == 201, created.json
    number = created.json["number"]
    submitted = api("POST", f"/api/v1/quotes/{number}/submit", "sales@example.com", etag=created.headers["ETag"])
    assert submitted.json["state"] == "pending_approval"
    approved = api("POST", f"/api/v1/quotes/{number}/approve", "manager@example.com", etag=submitted.headers["ETag"],
                   json={"comment": "ok"})
    sent = api("POST", f"/api/v1/quotes/{number}/send", "sales@example.com", etag=approved.headers["ETag"])
    accepted = api("POST", f"/api/v1/quotes/{number}/accept", "buyer@umbrella.example", etag=sent.headers["ETag"],
                   json={"name": "Alice Buyer", "document_hash": sent.json["document_hash"]})
    assert accepted.json["state"] == "accepted"
    run_worker(api.url, fast_settings())
    quote = api.quote(number)
    assert quote["state"] == "ordered"
    order = api("GET", f"/api/v1/orders/{quote['order_id']}", "sales@example.com").json
    assert order["status"] == "received"
    for status in ("in_fulfilment", "shipped", "closed"):
        assert status_event(api, quote["order_id"], status).status_code == 200
    assert api("GET", f"/api/v1/orders/{quote['order_id']}", "sales@example.com").json["status"] == "closed"


def outbox_count(api, number):
    engine = store.make_engine(api.url)
    with engine.connect() as conn:
        found = conn.execute(sa.text(
            "select count(*) from order_outbox o join quotes q on q.id = o.quote_id where q.number = :n"),
            {"n": number}).scalar_one()
    engine.dispose()
    return found


def test_accepting_twice_with_the_same_idempotency_key_makes_one_order(api):
    sent = api.sent_quote()
    number = sent.json["number"]
    body = {"name": "Alice Buyer", "document_hash": sent.json["document_hash"]}
    first = api("POST", f"/api/v1/quotes/{number}/accept", "buyer@umbrella.example", json=body,
                etag=sent.headers["ETag"], headers={"Idempotency-Key": "accept-1"})
    again = api("POST", f"/api/v1/quotes/{number}/accept", "buyer@umbrella.example", json=body,
                etag=sent.headers["ETag"], headers={"Idempotency-Key": "accept-1"})
    assert first.status_code == again.status_code == 200
    assert again.headers["Idempotent-Replay"] == "true"
    assert outbox_count(api, number) == 1
    run_worker(api.url, fast_settings())
    assert len(api.ordering(number)["orders"]) == 1


def test_no_order_comes_from_an_expired_or_a_superseded_revision(api, monkeypatch):
    sent = api.sent_quote(valid_until=(date.today() + timedelta(days=1)).isoformat())
    number = sent.json["number"]
    revised = api("PATCH", f"/api/v1/quotes/{number}", "sales@example.com", json={"lines": [{**SERVER, "quantity": 3}]},
                  etag=sent.headers["ETag"])
    resent = api("POST", f"/api/v1/quotes/{number}/send", "sales@example.com", etag=revised.headers["ETag"])
    stale = api("POST", f"/api/v1/quotes/{number}/accept", "buyer@umbrella.example", etag=resent.headers["ETag"],
                json={"name": "Alice Buyer", "document_hash": sent.json["document_hash"]})  # revision 1: superseded
    assert stale.status_code == 409
    monkeypatch.setattr("cpq.api.quotes._today", lambda: date.today() + timedelta(days=2))
    expired = api("POST", f"/api/v1/quotes/{number}/accept", "buyer@umbrella.example", etag=resent.headers["ETag"],
                  json={"name": "Alice Buyer", "document_hash": resent.json["document_hash"]})
    assert expired.status_code == 409
    ordered = api("POST", f"/api/v1/quotes/{number}/order", "sales@example.com", json={}, etag=resent.headers["ETag"])
    assert ordered.status_code == 409
    assert outbox_count(api, number) == 0
