"""POST /api/v1/price, /api/v1/price:batch and `cpq price`: the sample catalog in USD and EUR, list and partner."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest

from cpq import create_app, store
from cpq.cli_people import seed
from tests.conftest import SAMPLE_PATHS, bearer


class SignedInClient:
    """A test client that sends one user's API key with every request."""

    def __init__(self, client, token):
        self.client, self.token = client, token

    def post(self, path, **kw):
        return self.client.post(path, headers={**bearer(self.token), **kw.pop("headers", {})}, **kw)

    def get(self, path, **kw):
        return self.client.get(path, headers={**bearer(self.token), **kw.pop("headers", {})}, **kw)


@pytest.fixture(scope="module")
def signed_in(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('pricing') / 'cpq.db'}"
    store.upgrade(url)
    engine = store.make_engine(url)
    with engine.begin() as conn:
        keys = dict(seed(conn))
    engine.dispose()
    app = create_app({"TESTING": True, "RULES_DIR": SAMPLE_PATHS[0], "PRICEBOOKS_DIR": SAMPLE_PATHS[1],
                      "DATABASE_URL": url})
    return app, keys


@pytest.fixture
def client(signed_in):
    """Signed in as the sample admin (sees every account, may price any context)."""
    app, keys = signed_in
    return SignedInClient(app.test_client(), keys["admin@example.com"])

SERVER = {"product": "SRV-2U", "quantity": 2, "options": [
    {"id": "CPU-32C"}, {"id": "MEM-256"}, {"id": "SSD-3840", "quantity": 2}, {"id": "PSU-800W"}, {"id": "SUP-247"}]}


def body(**extra):
    return {"currency": "USD", "date": "2026-03-01", "lines": [SERVER], **extra}


def amounts(response):
    return response.json["totals"]


def test_a_list_price_quote_in_usd_prices_every_item_with_its_waterfall(client):
    response = client.post("/api/v1/price", json=body())
    assert response.status_code == 200, response.json
    quote = response.json
    assert quote["pricebooks"] == ["list-usd"]
    items = quote["lines"][0]["items"]
    assert [i["sku"] for i in items] == ["SRV-2U", "CPU-32C", "MEM-256", "SSD-3840", "PSU-800W", "SUP-247"]
    srv = items[0]
    assert srv["net"] == "8400.00" and srv["waterfall"][0]["source"].startswith("pricebooks/list-usd.yaml:")
    # support is 18 % of the bundle's hardware: (8400 + 3400 + 2800 + 360) × 18 % = 2692.80 per year
    support = items[-1]
    assert (support["net"], support["charge"], support["term_months"]) == ("2692.80", "annual", 36)
    assert all(isinstance(v, str) for v in quote["totals"].values() if not isinstance(v, list | dict | type(None)))


def test_amounts_in_json_are_strings_that_add_up(client):
    quote = client.post("/api/v1/price", json=body()).json
    t = quote["totals"]
    assert Decimal(t["grand_total"]) == Decimal(t["net"]) + Decimal(t["tax_total"])


def test_a_partner_quote_uses_the_partner_book_and_its_margins(client):
    response = client.post("/api/v1/price", json=body(context={"channel": "partner", "partner": "ACME", "country": "US"}))
    assert response.status_code == 200, response.json
    quote = response.json
    assert quote["pricebooks"] == ["partner-acme", "list-usd"]
    srv = quote["lines"][0]["items"][0]
    assert [s["rule_id"] for s in srv["waterfall"]] == ["list-usd", "acme-hardware-margin"]
    assert srv["net"] == "6888.00"  # 8400 − 18 %


def test_a_eur_quote_uses_the_eu_book_rounding_half_even_on_the_total(client):
    response = client.post("/api/v1/price", json=body(currency="EUR", context={"country": "FR"}))
    assert response.status_code == 200, response.json
    quote = response.json
    assert quote["pricebooks"] == ["list-eur"]
    assert quote["rounding"] == {"mode": "half_even", "level": "total"}
    assert [t["rate"] for t in quote["totals"]["tax"]] == ["FR"]  # the ship-to country's VAT rate


def test_a_contract_account_gets_its_contracted_prices(client):
    quote = client.post("/api/v1/price", json=body(account={"id": "GLOBEX"})).json
    assert quote["pricebooks"] == ["contract-globex", "list-usd"]
    srv = quote["lines"][0]["items"][0]
    assert srv["waterfall"][1]["kind"] == "contract" and srv["waterfall"][1]["after"] == "7580.00"


def test_a_manual_discount_beyond_the_role_limit_is_flagged_for_approval(signed_in):
    app, keys = signed_in
    client = SignedInClient(app.test_client(), keys["sales@example.com"])  # sales may give 10 %
    line = {**SERVER, "discount": "15%"}
    quote = client.post("/api/v1/price", json=body(lines=[line])).json
    assert quote["lines"][0]["needs_approval"] == "role sales_manager"
    assert {"kind": "discount_limit", "role": "sales_manager"}.items() <= quote["approvals"][0].items()


@pytest.mark.parametrize(("payload", "field"), [
    ({"currency": "USD"}, "lines"),
    ({"currency": "XXX", "lines": [SERVER]}, "currency"),
    ({"currency": "USD", "lines": [{"product": "SRV-2U", "quantity": 2.5}]}, "lines"),
    ({"currency": "USD", "lines": [{"product": "SRV-2U", "discount": 0.1}]}, "lines"),
])
def test_bad_input_is_a_422_problem_never_a_500(client, payload, field):
    response = client.post("/api/v1/price", json=payload)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert field in json.dumps(response.json.get("errors"))


def test_an_unknown_product_is_a_422_problem_with_a_suggestion(client):
    response = client.post("/api/v1/price", json=body(lines=[{"product": "SRV-2X"}]))
    assert response.status_code == 422
    assert response.json["code"] == "unknown_product"
    assert "did you mean 'SRV-2U'" in response.json["detail"]


def test_a_missing_price_is_a_price_not_found_problem(client):
    response = client.post("/api/v1/price", json=body(date="2025-06-01"))
    assert response.status_code == 422
    assert response.json["code"] == "no_pricebook"


def test_batch_prices_each_quote_and_reports_failures_per_quote(client):
    response = client.post("/api/v1/price:batch", json={"quotes": [body(), body(lines=[{"product": "NOPE"}])]})
    assert response.status_code == 200, response.json
    first, second = response.json["results"]
    assert first["error"] is None and first["quote"]["currency"] == "USD"
    assert second["quote"] is None and second["error"]["code"] == "unknown_product"


def test_openapi_documents_the_pricing_endpoints(client):
    paths = client.get("/api/openapi.json").json["paths"]
    assert "/api/v1/price" in paths and "/api/v1/price:batch" in paths


def test_cli_prints_a_readable_table_with_the_waterfall(cli, tmp_path):
    request = tmp_path / "quote.json"
    request.write_text(json.dumps(body(context={"channel": "partner", "partner": "ACME", "country": "DE"})))
    result = cli("price", str(request), "--rules", SAMPLE_PATHS[0], "--rules", SAMPLE_PATHS[1])
    assert result.exit_code == 0, result.output
    assert "pricebooks partner-acme → list-usd" in result.output
    assert re.search(r"adjustment\s+Partner margin, hardware .*\[acme-hardware-margin\] pricebooks/partner-acme\.yaml:\d+",
                     result.output)
    assert "Grand total" in result.output


def test_cli_prints_json_in_eur(cli, tmp_path):
    request = tmp_path / "quote.json"
    request.write_text(json.dumps(body(currency="EUR")))
    result = cli("price", str(request), "--json", "--rules", SAMPLE_PATHS[0], "--rules", SAMPLE_PATHS[1])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["pricebooks"] == ["list-eur"]


def test_cli_reports_a_bad_request_with_its_code(cli, tmp_path):
    request = tmp_path / "quote.json"
    request.write_text(json.dumps({"currency": "USD", "lines": [{"product": "SRV-2X"}]}))
    result = cli("price", str(request), "--rules", SAMPLE_PATHS[0], "--rules", SAMPLE_PATHS[1])
    assert result.exit_code == 1
    assert "unknown_product" in result.output


def test_pricing_needs_an_api_key(signed_in):
    app, _ = signed_in
    assert app.test_client().post("/api/v1/price", json=body()).status_code == 401


def test_a_partner_cannot_price_another_partners_customer_or_claim_a_role(signed_in):
    app, keys = signed_in
    partner = SignedInClient(app.test_client(), keys["partner@acme.example"])
    assert partner.post("/api/v1/price", json=body(account={"id": "GLOBEX"})).status_code == 404
    own = partner.post("/api/v1/price", json=body(account={"id": "INITECH"}, role="admin"))
    assert own.status_code == 200
    assert own.json["pricebooks"][0] == "partner-acme"
    assert "margin_percent" not in own.json["totals"]


def test_a_buyer_gets_its_own_contract_prices_without_naming_the_account(signed_in):
    app, keys = signed_in
    buyer = SignedInClient(app.test_client(), keys["buyer@globex.example"])
    quote = buyer.post("/api/v1/price", json=body()).json
    assert quote["pricebooks"][0] == "contract-globex"
