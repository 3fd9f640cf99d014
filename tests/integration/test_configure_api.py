"""The configure endpoints on the sample catalog: domains with reasons, validate, complete, explain, 422s."""

from __future__ import annotations

import pytest

from cpq import create_app
from tests.conftest import ROOT

PRODUCTS = ["SRV-1U", "SRV-2U", "SRV-4U-GPU", "DC-STARTER", "VIRT-PLATFORM", "BACKUP-SUITE", "MON-SAAS",
            "SW-24P", "SW-48P", "SW-CORE-32Q"]


def option(body: dict, option_id: str) -> dict:
    return next(o for f in body["features"] for o in f["options"] if o["id"] == option_id)


@pytest.mark.parametrize("product_id", PRODUCTS)
def test_every_sample_product_configures_from_an_empty_selection(client, product_id):
    response = client.post(f"/api/v1/products/{product_id}/configure", json={})

    assert response.status_code == 200, response.json
    body = response.json
    assert body["consistent"] is True
    assert body["features"] and all(o["state"] for f in body["features"] for o in f["options"])


def test_an_option_excluded_by_a_table_comes_back_with_the_rule_id_and_message(client):
    response = client.post("/api/v1/products/SRV-1U/configure", json={"options": {"CPU-8C": True}})

    mem = option(response.json, "MEM-256")
    assert mem["state"] == "blocked" and mem["selectable"] is False
    rules = {r["id"]: r for reason in mem["reasons"] for r in reason["rules"]}
    assert rules["srv1u-cpu-memory-table"]["message"].startswith("This processor and memory combination")
    assert rules["srv1u-cpu-memory-table"]["source"] == "rules/servers.yaml:120"
    assert {"option": "CPU-8C"} in mem["reasons"][0]["choices"]


def test_a_filter_rule_hides_an_option_for_the_context(client):
    response = client.post("/api/v1/products/SRV-1U/configure", json={"context": {"country": "CN"}})

    tpm = option(response.json, "TPM-20")
    assert tpm["hidden"] is True
    assert [r["id"] for r in tpm["reasons"][0]["rules"]] in (["srv1u-hide-tpm-in-china"], ["srv1u-china-tpm"])
    assert option(response.json, "TPM-20-CN")["selectable"] is True


def test_quantities_come_back_as_feasible_ranges(client):
    empty = client.post("/api/v1/products/SRV-1U/configure", json={})
    response = client.post("/api/v1/products/SRV-1U/configure", json={"options": {"SSD-960": 3, "SSD-1920": True}})

    assert option(empty.json, "SSD-960")["quantity"] == {"min": 1, "max": 4}
    assert option(response.json, "SSD-960")["quantity"] == {"min": 3, "max": 3}
    assert option(response.json, "SSD-1920")["quantity"] == {"min": 1, "max": 1}


def test_a_selection_rule_adds_an_option_and_says_which_rule(client):
    response = client.post("/api/v1/products/SRV-1U/configure", json={"options": {"OS-WIN-2025-STD": True}})

    assert response.json["added"] == [{"rule": "srv1u-add-tpm-for-windows", "option": "TPM-20"}]
    assert option(response.json, "TPM-20")["state"] == "selected"


def test_a_selection_rule_that_would_add_a_ruled_out_option_is_a_rule_conflict(client):
    body = {"options": {"MOD-STACK": True}, "excluded": ["CBL-STACK-50CM"]}

    response = client.post("/api/v1/products/SW-24P/configure", json=body)

    assert response.json["consistent"] is True
    conflict = response.json["rule_conflicts"][0]
    assert (conflict["rule"], conflict["option"]) == ("sw24-stacking-cable-default", "CBL-STACK-50CM")
    assert {"excluded": "CBL-STACK-50CM"} in conflict["reason"]["choices"]
    assert option(response.json, "CBL-STACK-50CM")["state"] == "excluded"


def test_an_inconsistent_selection_is_answered_with_its_conflict(client):
    response = client.post("/api/v1/products/SRV-1U/configure", json={"options": {"CPU-8C": True, "MEM-256": True}})

    assert response.status_code == 200
    assert response.json["consistent"] is False
    assert {frozenset(c.items()) for c in response.json["conflict"]["conflict"]} == {
        frozenset({"option": "CPU-8C"}.items()), frozenset({"option": "MEM-256"}.items())}


def test_validate_lists_every_violated_rule_with_its_source(client):
    body = {"options": {"CPU-32C": True, "MEM-32": True, "SSD-960": 8, "PSU-500W": True, "NIC-1G-4P": 3,
                        "RAID-HBA-8I": True}}

    response = client.post("/api/v1/products/SRV-1U/validate", json=body)

    assert response.status_code == 200
    assert response.json["valid"] is False
    ids = {v["id"] for v in response.json["violations"]}
    assert ids == {"srv1u-drive-bays", "srv1u-pcie-slots", "srv1u-32c-needs-800w", "srv1u-cpu-memory-table"}
    table = next(v for v in response.json["violations"] if v["id"] == "srv1u-cpu-memory-table")
    assert table["options"] == ["CPU-32C", "MEM-32"] and table["source"].startswith("rules/servers.yaml:")
    assert "srv1u-no-support-alert" in {a["id"] for a in response.json["alerts"]}


def test_validate_reports_a_validation_rule(client):
    body = {"options": {"CPU-64C": True, "MEM-256": True, "GPU-H100": 1, "NVME-3840": 1, "PSU-3200W": True,
                        "NIC-100G-2P": 1, "SUP-BASIC": True}}

    response = client.post("/api/v1/products/SRV-4U-GPU/validate", json=body)

    assert [v["id"] for v in response.json["violations"]] == ["gpu-h100-support"]


@pytest.mark.parametrize("objective", ["defaults", "cheapest"])
def test_complete_returns_a_valid_configuration(client, objective):
    body = {"options": {"GPU-H100": 2}, "objective": objective}
    if objective == "cheapest":
        body["pricebook"] = "list-usd"

    response = client.post("/api/v1/products/SRV-4U-GPU/complete", json=body)

    assert response.status_code == 200, response.json
    config = response.json["configuration"]
    assert config["options"]["GPU-H100"] == 2 and config["options"]["NVL-BRIDGE"] >= 1
    check = client.post("/api/v1/products/SRV-4U-GPU/validate", json={"options": config["options"]})
    assert check.json["valid"] is True
    if objective == "cheapest":
        assert response.json["cost"] is not None


def test_complete_refuses_an_inconsistent_selection_with_409(client):
    response = client.post("/api/v1/products/SRV-1U/complete", json={"options": {"CPU-8C": True, "MEM-256": True}})

    assert response.status_code == 409
    assert response.json["code"] == "selection_inconsistent"
    assert response.json["repairs"]


def test_explain_gives_a_minimal_conflict_and_repairs(client):
    body = {"options": {"CPU-8C": True, "MEM-256": True, "CMA-1U": True}, "excluded": ["RAIL-1U-SLIDE"]}

    response = client.post("/api/v1/products/SRV-1U/explain", json=body)

    assert response.status_code == 200
    assert response.json["consistent"] is False
    assert len(response.json["conflict"]) == 2
    assert response.json["rules"]
    assert all(r["actions"] for r in response.json["repairs"])


def test_the_bundle_reports_component_ranges(client):
    response = client.post("/api/v1/products/DC-STARTER/configure", json={"components": {"server": 6}})

    components = {c["id"]: c["quantity"] for c in response.json["components"]}
    assert components["tor"] == {"min": 2, "max": 2}
    assert option(response.json, "SVC-INSTALL")["quantity"]["min"] >= 8


@pytest.mark.parametrize(("path", "body", "code"), [
    ("NO-SUCH/configure", {}, "unknown_product"),
    ("SRV-1U/configure", {"options": {"CPU-8X": True}}, "unknown_option"),
    ("SRV-1U/configure", {"options": {"GPU-H100": True}}, "unknown_option"),
    ("SRV-1U/configure", {"options": {"SSD-960": "two"}}, "invalid_input"),
    ("SRV-1U/configure", {"options": {"SSD-960": 9}}, "quantity_out_of_range"),
    ("SRV-1U/configure", {"options": {"SSD-960": -1}}, "invalid_input"),
    ("SRV-1U/configure", {"colour": "red"}, "invalid_input"),
    ("SRV-1U/configure", {"context": {"planet": "Mars"}}, "invalid_input"),
    ("SRV-1U/configure", {"excluded": ["CPU-8C"], "options": {"CPU-8C": True}}, "invalid_selection"),
    ("DC-STARTER/configure", {"components": {"server": 99}}, "quantity_out_of_range"),
    ("DC-STARTER/configure", {"components": {"rack": 1}}, "unknown_option"),
    ("SRV-1U/validate", {"options": []}, "invalid_input"),
    ("SRV-1U/complete", {"objective": "fastest"}, "invalid_input"),
    ("SRV-1U/complete", {"objective": "cheapest", "pricebook": "nope"}, "invalid_selection"),
    ("SRV-1U/explain", {"max_repairs": 99}, "invalid_input"),
])
def test_bad_input_is_a_422_problem_never_a_500(client, path, body, code):
    response = client.post(f"/api/v1/products/{path}", json=body)

    assert response.status_code == 422, response.json
    assert response.mimetype == "application/problem+json"
    assert response.json["code"] == code


def test_an_imported_model_is_served_when_its_folder_is_the_rules_dir(tmp_path, cli):
    source = tmp_path / "tiny.dimacs"
    source.write_text("c 1 root\nc 2 Fast\nc 3 Slow\np cnf 3 3\n1 0\n-2 -3 0\n-1 2 3 0\n")
    out = tmp_path / "model"
    assert cli("import", "dimacs", str(source), "-o", str(out)).exit_code == 0
    app = create_app({"TESTING": True, "RULES_DIR": str(out), "PRICEBOOKS_DIR": str(out),
                      "DATABASE_URL": f"sqlite:///{tmp_path / 'cpq.db'}"})
    client = app.test_client()

    response = client.post("/api/v1/products/tiny-model/configure", json={"options": {"Fast": True}})

    assert response.status_code == 200, response.json
    assert option(response.json, "root")["state"] == "required"
    assert option(response.json, "Slow")["state"] == "blocked"


def test_the_endpoints_are_in_the_openapi_document(client):
    paths = client.get("/api/openapi.json").json["paths"]
    for action in ("configure", "validate", "complete", "explain"):
        assert f"/api/v1/products/{{product_id}}/{action}" in paths
    assert ROOT.exists()
