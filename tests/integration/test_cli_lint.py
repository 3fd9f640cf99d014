"""`cpq lint`: exit 0 and a summary on the samples; exit 1 naming every error's file and line."""

from __future__ import annotations

import json
import re
import shutil

from tests.conftest import ROOT, SAMPLE_PATHS


def test_lint_on_the_sample_files_exits_0_with_a_one_line_summary(cli):
    result = cli("lint", *SAMPLE_PATHS)
    assert result.exit_code == 0
    assert re.fullmatch(
        r"\d+ products, \d+ options, \d+ constraints, \d+ prices, \d+ rules — version [0-9a-f]{12}\n", result.output
    )


def test_lint_defaults_to_the_configured_folders(cli):
    result = cli("lint", env={"CPQ_RULES_DIR": SAMPLE_PATHS[0], "CPQ_PRICEBOOKS_DIR": SAMPLE_PATHS[1]})
    assert result.exit_code == 0


def broken_copy(tmp_path):
    """The sample files with one error of each kind written into them."""
    target = tmp_path / "broken"
    shutil.copytree(ROOT / "rules", target / "rules")
    shutil.copytree(ROOT / "pricebooks", target / "pricebooks")
    servers = target / "rules" / "servers.yaml"
    text = servers.read_text()
    text = text.replace("then: [MEM-256]", "then: [MEM-2560]", 1)  # unknown option
    text = text.replace("- id: no-hdd-with-small-psu", "- id: big-cpu-needs-memory", 1)  # duplicate id
    text = text.replace('check: "drives.qty <= product.slots"', 'check: "drives.qty <= product.slots and 1"', 1)  # type error
    servers.write_text(text)
    (target / "rules" / "syntax.yaml").write_text("format: 1\nkind: product\nfamily: [oops\n")  # syntax
    book = target / "pricebooks" / "list-usd.yaml"
    text = book.read_text()
    text = text.replace("{from: 10, to: 49,", "{from: 11, to: 49,", 1)  # tier gap
    text = text.replace("id: list-usd\n", "id: list-usd\nextends: cyc-b\n", 1)
    book.write_text(text)
    (target / "pricebooks" / "cycle.yaml").write_text(
        "format: 1\nkind: pricebook\nid: cyc-b\nextends: list-usd\nprices: {}\n")  # cycle
    return target


def test_lint_on_a_broken_copy_exits_1_and_names_each_error(cli, tmp_path):
    target = broken_copy(tmp_path)
    result = cli("lint", str(target / "rules"), str(target / "pricebooks"))
    assert result.exit_code == 1
    out = result.output.replace(f"{target}/", "")
    expected = [
        r"rules/servers.yaml:\d+:\d+: big-cpu-needs-memory: unknown option 'MEM-2560' \(did you mean 'MEM-256'\?\)",
        r"rules/servers.yaml:\d+:\d+: big-cpu-needs-memory: duplicate constraint id 'big-cpu-needs-memory'",
        r"rules/servers.yaml:\d+:\d+: \S*drive-bays: 'and' needs a yes/no value, got number",
        r"rules/syntax.yaml:3:9: -: YAML syntax error",
        r"pricebooks/list-usd.yaml:\d+:\d+: list-usd: tier table for 'CPU-64C' has a gap: band starts at 11, expected 10",
        r"pricebooks/cycle.yaml:4:10: cyc-b: pricebooks extend each other in a cycle: cyc-b -> list-usd -> cyc-b",
    ]
    for pattern in expected:
        assert re.search(pattern, out), f"missing {pattern!r} in:\n{out}"
    assert re.search(r"\d+ error\(s\)", result.output)


def test_lint_json_output_lists_structured_errors(cli, tmp_path):
    target = broken_copy(tmp_path)
    result = cli("lint", "--json", str(target / "rules"), str(target / "pricebooks"))
    assert result.exit_code == 1
    payload = json.loads(result.output[: result.output.rindex("}") + 1])  # stderr's count line follows
    codes = {e["code"] for e in payload["errors"]}
    assert {"unknown_option", "duplicate_id", "type_error", "rule_syntax", "bad_tiers", "cycle"} <= codes


def test_lint_reports_a_price_rule_that_can_never_fire(cli, tmp_path):
    target = tmp_path / "dead-rule"
    shutil.copytree(ROOT / "rules", target / "rules")
    shutil.copytree(ROOT / "pricebooks", target / "pricebooks")
    book = target / "pricebooks" / "list-usd.yaml"
    dead = ("  - {id: expired-promo, discount: 2%, priority: 99, stack: compound,"
            " effective: {from: 2020-01-01, to: 2020-12-31}}\nfloors:\n")
    book.write_text(book.read_text().replace("floors:\n", dead, 1))
    result = cli("lint", str(target / "rules"), str(target / "pricebooks"))
    assert result.exit_code == 1, result.output
    assert re.search(r"pricebooks/list-usd.yaml:\d+:\d+: expired-promo: .*dates do not overlap", result.output)
