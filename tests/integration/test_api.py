"""HTTP: /health, the catalog, the OpenAPI document and the one JSON error shape."""

from __future__ import annotations

from cpq import create_app
from cpq.ruleset.loader import load_ruleset
from tests.conftest import SAMPLE_PATHS


def test_health_reports_the_live_ruleset_version(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "ruleset_version": load_ruleset(SAMPLE_PATHS).version, "ruleset_errors": 0}


def test_catalog_lists_every_sample_product_with_features_and_options(client):
    ruleset = load_ruleset(SAMPLE_PATHS)
    body = client.get("/api/v1/catalog").json
    assert body["version"] == ruleset.version
    assert {p["id"] for p in body["products"]} == set(ruleset.products)
    srv = next(p for p in body["products"] if p["id"] == "SRV-2U")
    cpu = next(f for f in srv["features"] if f["id"] == "cpu")
    assert cpu["min"] == 1 and cpu["max"] == 1
    assert "CPU-64C" in [o["id"] for o in cpu["options"]]


def test_decimal_attributes_travel_as_strings(client):
    body = client.get("/api/v1/catalog/products/SRV-2U").json
    drives = next(f for f in body["features"] if f["id"] == "drives")
    ssd = next(o for o in drives["options"] if o["id"] == "SSD-960")
    assert ssd["attributes"]["tb"] == "0.96"


def test_unknown_product_is_a_404_problem_with_a_suggestion(client):
    response = client.get("/api/v1/catalog/products/SRV-2X")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert response.json == {
        "type": "https://cpq.dev/problems/unknown_product",
        "title": "Unknown product",
        "status": 404,
        "code": "unknown_product",
        "detail": "unknown product 'SRV-2X' (did you mean 'SRV-2U'?)",
    }


def test_unknown_url_uses_the_same_problem_shape(client):
    body = client.get("/api/v1/nothing-here").json
    assert (body["status"], body["code"]) == (404, "not_found")
    assert set(body) == {"type", "title", "status", "detail", "code"}


def test_openapi_document_describes_the_catalog(client):
    spec = client.get("/api/openapi.json").json
    assert spec["info"]["title"] == "cpq"
    assert "/api/v1/catalog" in spec["paths"]
    assert "/health" in spec["paths"]


def test_service_with_broken_rule_files_starts_degraded_and_explains(tmp_path, write_files):
    bad = write_files({"rules/a.yaml": "format: 1\nkind: product\nfamily: x\nproducts: {P: {name: P, features: {f: {options: [NOPE]}}}}\n"})
    app = create_app({"TESTING": True, "RULES_DIR": str(bad / "rules"), "PRICEBOOKS_DIR": str(bad / "rules"),
                      "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}"})
    client = app.test_client()
    assert client.get("/health").json["status"] == "degraded"
    response = client.get("/api/v1/catalog")
    assert response.status_code == 503
    assert response.json["code"] == "ruleset_unavailable"
    assert response.json["errors"][0]["code"] == "unknown_option"
