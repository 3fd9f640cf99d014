"""Quotes over REST on SQLite and PostgreSQL: lifecycle, approvals, revisions, ETags, idempotency."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from cpq import store
from cpq.ruleset.loader import load_ruleset
from cpq.store import people
from tests.conftest import SAMPLE_PATHS, bearer

SERVER = {"product": "SRV-2U", "quantity": 2, "options": [
    {"id": "CPU-16C"}, {"id": "MEM-64"}, {"id": "SSD-960", "quantity": 2}, {"id": "PSU-800W"}]}


@pytest.fixture
def api(seeded):
    """A client and a caller per sample role, plus UMBRELLA: a direct account without a contract."""
    app, keys = seeded
    with store.make_engine(app.config["DATABASE_URL"]).begin() as conn:
        sales = people.find_user_by_email(conn, "sales@example.com")
        people.create_account(conn, "UMBRELLA", "Umbrella Corp", owner_id=sales.id, segment="smb",
                              country="US", currency="USD")
        buyer = people.create_user(conn, "buyer@umbrella.example", "Alice Buyer", "buyer", account_id="UMBRELLA")
        manager = people.find_user_by_email(conn, "manager@example.com")
        keys["buyer@umbrella.example"] = people.create_api_key(conn, buyer.id)[1]
        keys["manager@example.com"] = people.create_api_key(conn, manager.id)[1]
    client = app.test_client()

    def call(method, path, who, json=None, etag=None, headers=None):
        extra = dict(bearer(keys[who]))
        if etag:
            extra["If-Match"] = etag
        extra.update(headers or {})
        return client.open(path, method=method, json=json, headers=extra)

    return call


def create(api, who="sales@example.com", account="UMBRELLA", **extra):
    response = api("POST", "/api/v1/quotes", who, json={"account_id": account, "lines": [SERVER], **extra})
    assert response.status_code == 201, response.json
    return response


def test_a_new_quote_is_a_numbered_priced_draft(api):
    response = create(api)
    quote = response.json
    assert quote["number"].startswith(f"Q-{date.today().year}-")
    assert quote["state"] == "draft"
    assert response.headers["ETag"] == f'"{quote["number"]}.1"'
    history = api("GET", f"/api/v1/quotes/{quote['number']}/revisions", "sales@example.com").json["items"]
    assert history[0]["grand_total"] == quote["priced"]["totals"]["grand_total"]  # the stored priced result
    assert Decimal(quote["priced"]["totals"]["grand_total"]) > 0
    assert quote["ruleset_version"] == quote["priced"]["ruleset_version"] == load_ruleset(SAMPLE_PATHS).version
    assert [i["sku"] for i in quote["priced"]["lines"][0]["items"]][:1] == ["SRV-2U"]


def test_prices_come_from_the_server_never_from_the_request(api):
    line = {**SERVER, "price": "1.00"}
    response = api("POST", "/api/v1/quotes", "sales@example.com", json={"account_id": "UMBRELLA", "lines": [line]})
    assert response.status_code == 422
    assert "price" in response.json["errors"]["json"]["lines"]["0"]


def test_an_invalid_configuration_is_refused_with_the_rule_that_breaks(api):
    bad = {**SERVER, "options": [{"id": "CPU-64C"}, {"id": "MEM-64"}, {"id": "SSD-960"}, {"id": "PSU-800W"}]}
    response = api("POST", "/api/v1/quotes", "sales@example.com", json={"account_id": "UMBRELLA", "lines": [bad]})
    assert response.status_code == 422
    assert response.json["code"] == "configuration_invalid"
    assert "big-cpu-needs-memory" in {e["id"] for e in response.json["errors"]}


def test_changes_need_the_current_etag(api):
    quote = create(api)
    path = f"/api/v1/quotes/{quote.json['number']}"
    change = {"lines": [{**SERVER, "quantity": 3}]}
    assert api("PATCH", path, "sales@example.com", json=change).status_code == 428
    assert api("PATCH", path, "sales@example.com", json=change, etag='"stale.0"').status_code == 412
    done = api("PATCH", path, "sales@example.com", json=change, etag=quote.headers["ETag"])
    assert done.status_code == 200
    assert done.headers["ETag"] != quote.headers["ETag"]
    assert done.json["lines"][0]["quantity"] == 3


def test_send_then_accept_the_exact_document(api):
    quote = create(api)
    number = quote.json["number"]
    sent = api("POST", f"/api/v1/quotes/{number}/send", "sales@example.com", etag=quote.headers["ETag"])
    assert sent.status_code == 200 and sent.json["state"] == "sent"
    digest = sent.json["document_hash"]
    assert len(digest) == 64
    wrong = api("POST", f"/api/v1/quotes/{number}/accept", "buyer@umbrella.example", etag=sent.headers["ETag"],
                json={"name": "Alice Buyer", "document_hash": "0" * 64})
    assert wrong.status_code == 409
    accepted = api("POST", f"/api/v1/quotes/{number}/accept", "buyer@umbrella.example", etag=sent.headers["ETag"],
                   json={"name": "Alice Buyer", "document_hash": digest})
    assert accepted.status_code == 200
    assert accepted.json["state"] == "accepted"
    assert accepted.json["accepted"]["name"] == "Alice Buyer"
    assert accepted.json["accepted"]["document_hash"] == digest
    again = api("POST", f"/api/v1/quotes/{number}/accept", "buyer@umbrella.example", etag=accepted.headers["ETag"],
                json={"name": "Alice Buyer", "document_hash": digest})
    assert again.status_code == 409
    assert again.json["allowed"] == ["order"]


def test_a_discount_beyond_the_sales_limit_needs_a_managers_approval(api):
    quote = create(api, discount="15%")
    number = quote.json["number"]
    assert quote.json["priced"]["approvals"], "a 15 % discount by sales needs approval"
    refused = api("POST", f"/api/v1/quotes/{number}/send", "sales@example.com", etag=quote.headers["ETag"])
    assert refused.status_code == 409 and refused.json["code"] == "approval_required"
    submitted = api("POST", f"/api/v1/quotes/{number}/submit", "sales@example.com", etag=quote.headers["ETag"])
    assert submitted.json["state"] == "pending_approval"
    assert {a["role"] for a in submitted.json["approvals"]} == {"sales_manager"}
    assert {a["policy_id"] for a in submitted.json["approvals"]} >= {"approve-discount-over-10"}
    own = api("POST", f"/api/v1/quotes/{number}/approve", "sales@example.com", etag=submitted.headers["ETag"], json={})
    assert own.status_code == 403
    approved = api("POST", f"/api/v1/quotes/{number}/approve", "manager@example.com", etag=submitted.headers["ETag"],
                   json={"comment": "strategic account"})
    assert approved.status_code == 200 and approved.json["state"] == "approved"
    sent = api("POST", f"/api/v1/quotes/{number}/send", "sales@example.com", etag=approved.headers["ETag"])
    assert sent.json["state"] == "sent"


def test_a_rejection_needs_a_reason_and_sends_the_quote_back(api):
    quote = create(api, discount="15%")
    number = quote.json["number"]
    submitted = api("POST", f"/api/v1/quotes/{number}/submit", "sales@example.com", etag=quote.headers["ETag"])
    silent = api("POST", f"/api/v1/quotes/{number}/reject", "manager@example.com", etag=submitted.headers["ETag"], json={})
    assert silent.status_code == 422
    rejected = api("POST", f"/api/v1/quotes/{number}/reject", "manager@example.com", etag=submitted.headers["ETag"],
                   json={"comment": "too deep"})
    assert rejected.json["state"] == "rejected"
    assert rejected.json["approvals"][0]["comment"] == "too deep"


def approve_and_send(api, number, etag):
    submitted = api("POST", f"/api/v1/quotes/{number}/submit", "sales@example.com", etag=etag)
    approved = api("POST", f"/api/v1/quotes/{number}/approve", "manager@example.com", etag=submitted.headers["ETag"],
                   json={})
    return api("POST", f"/api/v1/quotes/{number}/send", "sales@example.com", etag=approved.headers["ETag"])


def test_a_smaller_discount_keeps_its_approval_and_a_bigger_one_needs_a_new_one(api):
    quote = create(api, discount="15%")
    number = quote.json["number"]
    sent = approve_and_send(api, number, quote.headers["ETag"])
    better = api("PATCH", f"/api/v1/quotes/{number}", "sales@example.com", json={"discount": "12%"}, etag=sent.headers["ETag"])
    assert better.json["revision"] == 2
    resubmitted = api("POST", f"/api/v1/quotes/{number}/submit", "sales@example.com", etag=better.headers["ETag"])
    assert resubmitted.json["state"] == "approved"
    assert {a["status"] for a in resubmitted.json["approvals"]} == {"carried_over"}
    worse = api("PATCH", f"/api/v1/quotes/{number}", "sales@example.com", json={"discount": "20%"},
                etag=resubmitted.headers["ETag"])
    again = api("POST", f"/api/v1/quotes/{number}/submit", "sales@example.com", etag=worse.headers["ETag"])
    assert again.json["state"] == "pending_approval"
    assert "pending" in {a["status"] for a in again.json["approvals"]}


def test_a_sent_revision_is_kept_and_changes_make_the_next_one_with_a_diff(api):
    quote = create(api)
    number = quote.json["number"]
    sent = api("POST", f"/api/v1/quotes/{number}/send", "sales@example.com", etag=quote.headers["ETag"])
    changed = api("PATCH", f"/api/v1/quotes/{number}", "sales@example.com",
                  json={"lines": [{**SERVER, "quantity": 5}]}, etag=sent.headers["ETag"])
    assert changed.json["revision"] == 2 and changed.json["state"] == "draft"
    history = api("GET", f"/api/v1/quotes/{number}/revisions", "sales@example.com").json["items"]
    assert [(r["revision"], r["state"]) for r in history] == [(1, "sent"), (2, "draft")]
    first = api("GET", f"/api/v1/quotes/{number}/revisions/1", "sales@example.com").json
    assert first["lines"][0]["quantity"] == 2
    diff = api("GET", f"/api/v1/quotes/{number}/revisions/2/diff", "sales@example.com").json
    assert diff["changed"][0]["changes"]["quantity"] == {"from": 2, "to": 5}
    assert "grand_total" in diff["totals"]
    resent = api("POST", f"/api/v1/quotes/{number}/send", "sales@example.com", etag=changed.headers["ETag"])
    history = api("GET", f"/api/v1/quotes/{number}/revisions", "sales@example.com").json["items"]
    assert resent.json["state"] == "sent"
    assert [(r["revision"], r["state"]) for r in history] == [(1, "superseded"), (2, "sent")]


def test_another_partners_or_customers_quote_does_not_exist_for_you(api):
    number = create(api).json["number"]
    for who in ("partner@acme.example", "buyer@globex.example"):
        assert api("GET", f"/api/v1/quotes/{number}", who).status_code == 404
        assert number not in {q["number"] for q in api("GET", "/api/v1/quotes", who).json["items"]}
    assert api("GET", f"/api/v1/quotes/{number}", "buyer@umbrella.example").status_code == 200


def test_margin_is_hidden_from_roles_that_may_not_see_it(api):
    number = create(api).json["number"]
    assert "margin_percent" in api("GET", f"/api/v1/quotes/{number}", "manager@example.com").json["priced"]["totals"]
    assert "margin_percent" not in api("GET", f"/api/v1/quotes/{number}", "sales@example.com").json["priced"]["totals"]


def test_the_same_idempotency_key_gives_the_same_quote(api):
    body = {"account_id": "UMBRELLA", "lines": [SERVER]}
    first = api("POST", "/api/v1/quotes", "sales@example.com", json=body, headers={"Idempotency-Key": "k-1"})
    second = api("POST", "/api/v1/quotes", "sales@example.com", json=body, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == second.status_code == 201
    assert second.json["number"] == first.json["number"]
    assert second.headers["Idempotent-Replay"] == "true"
    other = api("POST", "/api/v1/quotes", "sales@example.com", json={**body, "discount": "1%"},
                headers={"Idempotency-Key": "k-1"})
    assert other.status_code == 422
    listed = api("GET", "/api/v1/quotes?account_id=UMBRELLA", "sales@example.com").json
    assert listed["total"] == 1


def test_a_quote_past_its_validity_cannot_be_accepted(api, monkeypatch):
    quote = create(api, valid_until=(date.today() + timedelta(days=1)).isoformat())
    number = quote.json["number"]
    sent = api("POST", f"/api/v1/quotes/{number}/send", "sales@example.com", etag=quote.headers["ETag"])
    monkeypatch.setattr("cpq.api.quotes._today", lambda: date.today() + timedelta(days=2))
    current = api("GET", f"/api/v1/quotes/{number}", "buyer@umbrella.example")
    assert current.json["state"] == "expired"
    refused = api("POST", f"/api/v1/quotes/{number}/accept", "buyer@umbrella.example", etag=sent.headers["ETag"],
                  json={"name": "Alice Buyer", "document_hash": sent.json["document_hash"]})
    assert refused.status_code == 409


def test_listing_is_paginated_and_filtered(api):
    for _ in range(3):
        create(api)
    page = api("GET", "/api/v1/quotes?limit=2&state=draft", "sales@example.com").json
    assert (len(page["items"]), page["total"], page["limit"]) == (2, 3, 2)
    assert api("GET", "/api/v1/quotes?limit=1000", "sales@example.com").status_code == 422
    assert api("GET", "/api/v1/quotes?state=bogus", "sales@example.com").status_code == 422


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_twenty_concurrent_edits_with_the_same_etag_let_exactly_one_win(api):
    from concurrent.futures import ThreadPoolExecutor

    quote = create(api)
    number, etag = quote.json["number"], quote.headers["ETag"]

    def edit(quantity):
        return api("PATCH", f"/api/v1/quotes/{number}", "sales@example.com",
                   json={"lines": [{**SERVER, "quantity": quantity}]}, etag=etag)

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(edit, range(1, 21)))
    statuses = sorted(r.status_code for r in results)
    assert statuses == [200] + [412] * 19
    winner = next(r for r in results if r.status_code == 200)
    final = api("GET", f"/api/v1/quotes/{number}", "sales@example.com")
    assert final.json["lines"][0]["quantity"] == winner.json["lines"][0]["quantity"]
    assert final.headers["ETag"] == f'"{number}.2"'


def test_an_oversized_body_is_refused_with_a_413_problem(api):
    line = {**SERVER, "group": "x" * 100}
    huge = {"account_id": "UMBRELLA", "lines": [line] * 30000}
    response = api("POST", "/api/v1/quotes", "sales@example.com", json=huge)
    assert response.status_code == 413
    assert response.json["code"] == "request_entity_too_large"


def test_too_many_lines_is_a_422(api):
    response = api("POST", "/api/v1/quotes", "sales@example.com",
                   json={"account_id": "UMBRELLA", "lines": [SERVER] * 501})
    assert response.status_code == 422
    assert "lines" in response.json["errors"]["json"]


def test_the_buyer_declines_a_sent_quote_and_nothing_more_can_happen_to_it(api):
    quote = create(api)
    number = quote.json["number"]
    sent = api("POST", f"/api/v1/quotes/{number}/send", "sales@example.com", etag=quote.headers["ETag"])
    assert api("POST", f"/api/v1/quotes/{number}/decline", "sales@example.com", etag=sent.headers["ETag"]).status_code == 403
    declined = api("POST", f"/api/v1/quotes/{number}/decline", "buyer@umbrella.example", etag=sent.headers["ETag"])
    assert declined.status_code == 200 and declined.json["state"] == "declined"
    accept = api("POST", f"/api/v1/quotes/{number}/accept", "buyer@umbrella.example", etag=declined.headers["ETag"],
                 json={"name": "Alice Buyer", "document_hash": sent.json["document_hash"]})
    assert accept.status_code == 409 and accept.json["code"] == "illegal_transition"


@pytest.mark.parametrize(("action", "who", "body"), [
    ("approve", "manager@example.com", {}),
    ("reject", "manager@example.com", {"comment": "no"}),
    ("accept", "buyer@umbrella.example", {"name": "Alice Buyer", "document_hash": "0" * 64}),
    ("decline", "buyer@umbrella.example", None),
])
def test_actions_that_a_draft_does_not_allow_are_409_with_the_allowed_ones(api, action, who, body):
    quote = create(api)
    response = api("POST", f"/api/v1/quotes/{quote.json['number']}/{action}", who, json=body, etag=quote.headers["ETag"])
    assert response.status_code == 409
    assert response.json["code"] in ("illegal_transition", "conflict")
    if response.json["code"] == "illegal_transition":
        assert response.json["allowed"] == ["submit", "send", "revise"]


def test_a_deep_discount_needs_two_approval_levels_in_order(api, seeded):
    app, keys = seeded
    with store.make_engine(app.config["DATABASE_URL"]).begin() as conn:
        pricing = people.find_user_by_email(conn, "pricing@example.com")
        keys["pricing@example.com"] = people.create_api_key(conn, pricing.id)[1]
    quote = create(api, who="admin@example.com", discount="30%")  # admin may give 40 %, policies still apply
    number = quote.json["number"]
    submitted = api("POST", f"/api/v1/quotes/{number}/submit", "admin@example.com", etag=quote.headers["ETag"])
    assert submitted.json["state"] == "pending_approval"
    roles = {a["role"] for a in submitted.json["approvals"] if a["status"] == "pending"}
    assert {"sales_manager", "pricing_admin"} <= roles
    early = api("POST", f"/api/v1/quotes/{number}/approve", "pricing@example.com", etag=submitted.headers["ETag"], json={})
    assert early.status_code == 403 and early.json["required"] == ["sales_manager"]
    first = api("POST", f"/api/v1/quotes/{number}/approve", "manager@example.com", etag=submitted.headers["ETag"], json={})
    assert first.json["state"] == "pending_approval"
    second = api("POST", f"/api/v1/quotes/{number}/approve", "pricing@example.com", etag=first.headers["ETag"], json={})
    assert second.json["state"] == "approved"


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_200_concurrent_quote_creations_get_200_distinct_numbers(api):
    from concurrent.futures import ThreadPoolExecutor

    def make(_):
        return api("POST", "/api/v1/quotes", "sales@example.com", json={"account_id": "UMBRELLA", "lines": [SERVER]})

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(make, range(200)))
    assert {r.status_code for r in results} == {201}
    numbers = [r.json["number"] for r in results]
    assert len(set(numbers)) == 200
