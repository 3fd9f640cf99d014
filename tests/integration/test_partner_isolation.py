"""Two partners: walking every endpoint of the OpenAPI document as partner A against partner B's objects."""

from __future__ import annotations

import re

import pytest

from cpq import store
from cpq.store import people
from tests.conftest import bearer

LINE = {"product": "SRV-2U", "options": [{"id": "CPU-16C"}, {"id": "MEM-64"}, {"id": "SSD-960"}, {"id": "PSU-800W"}]}
BODIES = {  # a valid body per operation, so that only authorization can refuse the request
    ("patch", "/api/v1/quotes/{quote_id}"): {"lines": [LINE]},
    ("post", "/api/v1/quotes/{quote_id}/approve"): {"comment": "ok"},
    ("post", "/api/v1/quotes/{quote_id}/reject"): {"comment": "no"},
    ("post", "/api/v1/quotes/{quote_id}/accept"): {"name": "Eve Intruder", "document_hash": "0" * 64},
}


@pytest.fixture
def two_partners(seeded):
    app, keys = seeded
    with store.make_engine(app.config["DATABASE_URL"]).begin() as conn:
        people.create_partner(conn, "BETA", "Beta Distribution")
        people.create_account(conn, "HOOLI", "Hooli", partner_id="BETA", country="US", currency="USD")
        beta = people.create_user(conn, "partner@beta.example", "Bob Beta", "partner", partner_id="BETA")
        keys["partner@beta.example"] = people.create_api_key(conn, beta.id)[1]
    client = app.test_client()
    created = client.post("/api/v1/quotes", json={"account_id": "HOOLI", "lines": [LINE]},
                          headers=bearer(keys["partner@beta.example"]))
    assert created.status_code == 201, created.json
    return client, keys["partner@acme.example"], created.json["number"], created.headers["ETag"]


def test_partner_a_cannot_reach_partner_bs_objects_through_any_endpoint(two_partners):
    client, acme, beta_quote, etag = two_partners
    spec = client.get("/api/openapi.json").json
    values = {"quote_id": beta_quote, "account_id": "HOOLI", "n": "1"}
    walked = []
    for path, operations in spec["paths"].items():
        params = set(re.findall(r"{(\w+)}", path))
        if not params & {"quote_id", "account_id"}:
            continue  # not an object of a customer (catalog, products): nothing to isolate
        assert params <= set(values), f"new path parameter in {path}: teach this test about it"
        url = re.sub(r"{(\w+)}", lambda m: values[m.group(1)], path)
        for method in operations:
            if method not in ("get", "post", "patch", "put", "delete"):
                continue
            headers = {**bearer(acme), "If-Match": etag}
            response = client.open(url, method=method.upper(), json=BODIES.get((method, path)), headers=headers)
            walked.append((method, path, response.status_code))
            assert response.status_code in (403, 404), (method, path, response.status_code, response.json)
            assert beta_quote not in response.get_data(as_text=True).replace(f"quote '{beta_quote}'", "")
            assert "HOOLI" not in response.get_data(as_text=True).replace("account 'HOOLI'", "")
    assert len(walked) >= 10


def test_partner_a_lists_and_creates_nothing_of_partner_b(two_partners):
    client, acme, beta_quote, _ = two_partners
    quotes = client.get("/api/v1/quotes", headers=bearer(acme)).json["items"]
    assert beta_quote not in {q["number"] for q in quotes}
    accounts = client.get("/api/v1/accounts", headers=bearer(acme)).json["items"]
    assert "HOOLI" not in {a["id"] for a in accounts}
    assert client.post("/api/v1/quotes", json={"account_id": "HOOLI", "lines": [LINE]},
                       headers=bearer(acme)).status_code == 404
    assert client.post("/api/v1/price", json={"currency": "USD", "account": {"id": "HOOLI"}, "lines": [LINE]},
                       headers=bearer(acme)).status_code == 404
