"""The configurator on the sample catalog: each rule kind blocks, explains and completes as written."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cpq.configurator import (
    Selection,
    compiled_product,
    complete,
    configure,
    explain,
    valid_domains,
    validate,
)
from cpq.configurator.errors import (
    InvalidSelection,
    QuantityOutOfRange,
    UnknownOption,
    UnknownProductInput,
)
from cpq.ruleset.loader import load_ruleset
from tests.conftest import SAMPLE_PATHS


@pytest.fixture(scope="module")
def ruleset():
    return load_ruleset(SAMPLE_PATHS)


def rule_ids(domain) -> set[str]:
    return {r.id for reason in domain.reasons for r in reason.rules}


def test_a_product_is_compiled_once_per_ruleset_version(ruleset):
    assert compiled_product(ruleset, "SRV-1U") is compiled_product(ruleset, "SRV-1U")


def test_a_table_blocks_memory_that_the_chosen_processor_does_not_take(ruleset):
    result = valid_domains(ruleset, "SRV-1U", Selection.of("CPU-8C"))

    mem = result.options["MEM-256"]
    assert (mem.selectable, mem.state) == (False, "blocked")
    assert "srv1u-cpu-memory-table" in rule_ids(mem)
    assert [c.target for c in mem.reasons[0].choices] == ["CPU-8C"]
    assert result.options["MEM-128"].selectable


def test_a_filter_rule_hides_the_standard_tpm_in_china(ruleset):
    result = valid_domains(ruleset, "SRV-1U", Selection.of(), {"context.country": "CN"})

    tpm = result.options["TPM-20"]
    assert tpm.hidden and not tpm.selectable
    assert result.options["TPM-20-CN"].selectable
    assert result.options["TPM-20-CN"].hidden is False


def test_arithmetic_over_attributes_and_quantities_blocks_too_little_memory(ruleset):
    result = valid_domains(ruleset, "SRV-4U-GPU", Selection({"GPU-H100": 4}))

    assert [m for m in ("MEM-256", "MEM-512", "MEM-1024") if result.options[m].selectable] == ["MEM-1024"]
    assert "gpu-system-memory" in rule_ids(result.options["MEM-512"])
    assert not result.options["PSU-2400W"].selectable


def test_quantity_ranges_follow_other_quantities(ruleset):
    result = valid_domains(ruleset, "BACKUP-SUITE", Selection({"BK-STD-TB": 10}))

    assert result.options["BK-CLOUD-TIER"].quantity == (1, 50)
    assert result.options["BK-STD-TB"].quantity == (10, 10)  # as chosen
    assert valid_domains(ruleset, "BACKUP-SUITE", Selection.of()).options["BK-STD-TB"].quantity == (1, 5000)


def test_validate_lists_every_broken_rule_not_just_the_first(ruleset):
    selection = Selection({"CPU-32C": None, "MEM-32": None, "SSD-960": 8, "PSU-500W": None, "NIC-1G-4P": 3,
                           "RAID-HBA-8I": None})

    result = validate(ruleset, "SRV-1U", selection)

    assert not result.valid
    assert {v.rule.id for v in result.violations} == {
        "srv1u-drive-bays", "srv1u-pcie-slots", "srv1u-32c-needs-800w", "srv1u-cpu-memory-table"}
    drive_bays = next(v for v in result.violations if v.rule.id == "srv1u-drive-bays")
    assert drive_bays.options == ("SSD-960",)
    assert (drive_bays.rule.source.path, drive_bays.rule.source.line) == ("rules/servers.yaml", 111)


def test_validate_counts_feature_cardinality_and_reports_alerts_separately(ruleset):
    result = validate(ruleset, "SRV-1U", Selection.of("CPU-8C", "CPU-16C", "MEM-32", "SSD-960", "PSU-500W"))

    assert [v.rule.id for v in result.violations] == ["cpu"]
    assert [a["id"] for a in result.alerts] == ["srv1u-no-support-alert"]


def test_explain_returns_a_minimal_conflict_with_its_rules_and_repairs(ruleset):
    result = explain(ruleset, "SRV-1U", Selection.of("CPU-8C", "MEM-256", "PSU-500W"))

    assert {c.target for c in result.conflict} == {"CPU-8C", "MEM-256"}
    assert "srv1u-cpu-memory-table" in {r.id for r in result.rules}
    actions = [a for repair in result.repairs for a in repair.actions]
    assert {"action": "change", "option": "MEM-256", "to": "MEM-32"} in actions


def test_explain_says_a_consistent_selection_is_consistent(ruleset):
    assert explain(ruleset, "SRV-1U", Selection.of("CPU-8C")).consistent


def test_complete_uses_defaults_and_rule_defaults(ruleset):
    result = complete(ruleset, "SRV-2U", Selection.of("HDD-8T"))

    options = result.configuration.options
    assert {"PSU-1600W", "RAID-8I-4G", "CPU-16C", "MEM-64", "HDD-8T"} <= set(options)
    assert validate(ruleset, "SRV-2U", Selection(options)).valid


def test_complete_cheapest_minimises_the_list_price(ruleset):
    prices = {"CPU-16C": Decimal("900"), "CPU-32C": Decimal("1500"), "CPU-64C": Decimal("2500"),
              "MEM-64": Decimal("300"), "MEM-128": Decimal("500"), "MEM-256": Decimal("900"), "MEM-512": Decimal("1900"),
              "SSD-960": Decimal("150"), "HDD-8T": Decimal("200"), "PSU-800W": Decimal("180"), "PSU-1600W": Decimal("350")}

    prices |= {o: Decimal("999.50") for o in ruleset.products["SRV-2U"].option_ids if o not in prices}

    result = complete(ruleset, "SRV-2U", Selection.of(), objective="cheapest", prices=prices)

    assert result.configuration.options == {"CPU-16C": 1, "MEM-64": 1, "SSD-960": 1, "PSU-800W": 1}
    assert result.cost == Decimal("900") + 300 + 150 + 180


def test_a_selection_rule_adds_an_option_when_the_solver_allows_it(ruleset):
    result = configure(ruleset, "SW-48P", Selection.of("LIC-EVPN"))

    assert result.outcome.added == [("sw48-evpn-adds-l3", "LIC-L3-ADV")]
    assert result.option("LIC-L3-ADV").state == "selected"


def test_a_selection_rule_never_adds_an_excluded_option(ruleset):
    result = configure(ruleset, "VIRT-PLATFORM", Selection.of(excluded=["VP-MGMT-STD"]))

    assert result.consistent
    assert [(c.rule.id, c.option) for c in result.conflicts] == [("vp-add-management", "VP-MGMT-STD")]
    assert result.option("VP-MGMT-STD").state == "excluded"


@pytest.mark.parametrize(("product", "selection", "context", "error"), [
    ("NOPE", Selection.of(), None, UnknownProductInput),
    ("SRV-1U", Selection.of("GPU-H100"), None, UnknownOption),
    ("SRV-1U", Selection({"SSD-960": 9}), None, QuantityOutOfRange),
    ("SRV-1U", Selection.of(), {"context.planet": "Mars"}, InvalidSelection),
    ("SRV-1U", Selection({"CPU-8C": None}, ("CPU-8C",)), None, InvalidSelection),
])
def test_bad_input_is_refused_with_the_problem_named(ruleset, product, selection, context, error):
    with pytest.raises(error) as raised:
        valid_domains(ruleset, product, selection, context)
    assert raised.value.status == 422
