"""Rule administration's pure parts: rule files as bytes, semantic diffs, rule test cases."""

from __future__ import annotations

import subprocess
import sys
from datetime import date

import pytest

from cpq.admin.diff import diff_rulesets
from cpq.admin.files import from_folders, from_mapping
from cpq.admin.ruletests import run_rule_tests
from cpq.errors import InvalidInput
from cpq.ruleset.loader import load_ruleset
from tests.conftest import ROOT, SAMPLE_PATHS

TODAY = date(2026, 3, 2)


def sample_mapping(**changes: tuple[str, str]) -> dict[str, str]:
    files = {p.relative_to(ROOT).as_posix(): p.read_text()
             for root in ("rules", "pricebooks") for p in sorted((ROOT / root).rglob("*.yaml"))}
    for name, (old, new) in changes.items():
        path = next(p for p in files if p.endswith(f"/{name}.yaml"))
        files[path] = files[path].replace(old, new, 1)
    return files


def test_an_upload_of_the_sample_files_has_the_version_of_the_folders():
    from_disk = load_ruleset(SAMPLE_PATHS)
    uploaded = from_mapping(sample_mapping())
    assert uploaded.load().version == from_disk.version == from_folders(SAMPLE_PATHS).load().version
    assert [t.path for t in uploaded.tests] == ["rules/tests/servers.yaml", "rules/tests/software.yaml"]
    assert not any(f.key.startswith("tests/") for f in uploaded.files)


def test_the_loader_does_not_read_rule_test_cases_as_rule_files():
    assert all(f.path.split("/")[1] != "tests" for f in load_ruleset(SAMPLE_PATHS).files)


@pytest.mark.parametrize("path", ["servers.yaml", "/etc/passwd.yaml", "rules/../x.yaml", "rules/x.txt", "rules/.hidden.yaml"])
def test_an_upload_path_outside_a_root_folder_is_refused(path):
    with pytest.raises(InvalidInput) as info:
        from_mapping({path: "format: 1"})
    assert path in info.value.extra["errors"]


def test_the_diff_names_a_changed_price_and_nothing_else():
    old = load_ruleset(SAMPLE_PATHS)
    new = from_mapping(sample_mapping(**{"list-eur": ('CPU-32C: {unit: "1560.00"', 'CPU-32C: {unit: "1620.00"')})).load()
    diff = diff_rulesets(old, new)
    assert [p.as_dict() for p in diff.prices] == [{"book": "list-eur", "sku": "CPU-32C", "old": "1560.00", "new": "1620.00"}]
    assert not any(diff.kinds.values())
    assert diff.summary() == {"old_version": old.version, "new_version": new.version, "prices_changed": 1}


def test_moving_a_definition_within_a_file_is_no_change():
    text = (ROOT / "pricebooks" / "list-eur.yaml").read_text()
    moved = text.replace('  CPU-8C: "600.00"\n', "").replace("prices:\n", 'prices:\n  CPU-8C: "600.00"\n', 1)
    new = from_mapping({**sample_mapping(), "pricebooks/list-eur.yaml": moved}).load()
    old = load_ruleset(SAMPLE_PATHS)
    assert new.version != old.version
    assert diff_rulesets(old, new).empty


def test_the_diff_lists_added_removed_and_changed_definitions():
    old = load_ruleset(SAMPLE_PATHS)
    changed = sample_mapping(servers=("then: [MEM-256]}", "then: [MEM-256, MEM-512]}"))
    changed["rules/servers.yaml"] = changed["rules/servers.yaml"].replace(
        "      - id: srv2u-one-ocp-adapter\n        check: \"NIC-OCP-25G-2P.qty <= 1\"\n        message: A server has one OCP 3.0 slot.\n", "")
    diff = diff_rulesets(old, from_mapping(changed).load())
    assert diff.kinds["constraints"].changed == ["SRV-2U/big-cpu-needs-memory"]
    assert diff.kinds["constraints"].removed == ["SRV-2U/srv2u-one-ocp-adapter"]
    assert diff.prices == []
    assert "~ constraint SRV-2U/big-cpu-needs-memory" in diff.lines()


def test_the_sample_rule_test_cases_pass():
    files = from_folders(SAMPLE_PATHS)
    report = run_rule_tests(files.load(), files.tests, TODAY)
    assert report.ok, "\n".join(str(r) for r in report.failed)
    assert len(report.results) >= 15


def _cases(text: str):
    return from_mapping({**sample_mapping(), "rules/tests/extra.yaml": text})


def test_a_failing_case_says_which_expectation_did_not_hold():
    files = _cases("""format: 1
kind: rule_tests
tests:
  - id: wrong-verdict
    product: SRV-2U
    select: [CPU-64C, MEM-128, SSD-960, PSU-800W]
    expect: {valid: true}
  - id: wrong-domain
    product: SRV-2U
    select: [CPU-64C]
    expect: {selectable: [MEM-64]}
  - id: wrong-total
    price: {currency: EUR, date: "2026-03-02", context: {country: DE}, lines: [{id: a, product: SRV-2U}]}
    expect: {totals: {net: "1.00"}}
""")
    report = run_rule_tests(files.load(), [t for t in files.tests if t.path.endswith("extra.yaml")], TODAY)
    failures = {r.id: r.failures for r in report.results}
    assert failures["wrong-verdict"] == ("expected valid, got invalid (broken: big-cpu-needs-memory, cpu-memory-table)",)
    assert failures["wrong-domain"] == ("MEM-64 should be selectable, but is blocked",)
    assert failures["wrong-total"] == ("totals.net: expected 1.00, got 3860.00",)
    assert [r.line for r in report.results] == [4, 8, 12]
    assert str(report.results[0]).startswith("FAIL rules/tests/extra.yaml:4: wrong-verdict")


def test_a_malformed_test_file_is_a_failure_not_a_crash():
    files = _cases("format: 1\nkind: rule_tests\ntests:\n  - {id: x, product: SRV-2U, expect: {valid: true}, typo: 1}\n")
    report = run_rule_tests(files.load(), [t for t in files.tests if t.path.endswith("extra.yaml")], TODAY)
    (result,) = report.results
    assert not result.passed and result.failures == ("unknown field(s) typo",)


def test_an_expected_error_code_passes_when_pricing_refuses():
    files = _cases("""format: 1
kind: rule_tests
tests:
  - id: no-such-product
    price: {currency: EUR, date: "2026-03-02", lines: [{id: a, product: NOPE}]}
    expect: {error: unknown_product}
""")
    report = run_rule_tests(files.load(), [t for t in files.tests if t.path.endswith("extra.yaml")], TODAY)
    assert report.ok, [str(r) for r in report.results]


def test_cpq_rules_test_reports_and_exits_by_the_outcome(cli, tmp_path):
    ok = cli("rules", "test", *SAMPLE_PATHS)
    assert ok.exit_code == 0 and "0 failed" in ok.output
    import shutil

    shutil.copytree(ROOT / "rules", tmp_path / "rules")
    shutil.copytree(ROOT / "pricebooks", tmp_path / "pricebooks")
    book = tmp_path / "pricebooks" / "list-eur.yaml"
    book.write_text(book.read_text().replace('MEM-64: "370.00"', 'MEM-64: "380.00"'))
    bad = cli("rules", "test", str(tmp_path / "rules"), str(tmp_path / "pricebooks"))
    assert bad.exit_code == 1
    assert "FAIL rules/tests/servers.yaml:" in bad.output and "totals.list: expected 11370.00, got 11390.00" in bad.output


def test_the_test_case_example_in_the_docs_passes_on_the_sample_files():
    text = (ROOT / "docs" / "rule-administration.md").read_text()
    start = text.index("```yaml\nformat: 1\nkind: rule_tests") + len("```yaml\n")
    files = _cases(text[start:text.index("```", start)])
    report = run_rule_tests(files.load(), [t for t in files.tests if t.path.endswith("extra.yaml")], TODAY)
    assert len(report.results) == 4
    assert report.ok, [str(r) for r in report.results]


PURE = ["cpq.admin.files", "cpq.admin.diff", "cpq.admin.ruletests", "cpq.admin.impact", "cpq.admin.analysis"]


@pytest.mark.parametrize("module", PURE)
def test_the_pure_admin_modules_load_without_web_or_database_libraries(module):
    code = (f"import sys, {module}; bad = sorted(m for m in sys.modules if m.split('.')[0] in "
            "('flask', 'sqlalchemy', 'weasyprint', 'alembic', 'werkzeug')); print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
