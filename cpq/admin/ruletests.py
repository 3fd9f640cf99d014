"""Rule test cases kept beside the rule files (`rules/tests/*.yaml`) and running them on a Ruleset.

A case is one of three checks on a configuration (product + chosen options + context):
`valid` / `violated` (the verdict and the rules it breaks), `selectable` / `not_selectable` (the
valid domains after the choices), or, with `price:` (a POST /api/v1/price body), expected totals,
line figures and waterfall steps. docs/rule-administration.md describes the format.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from cpq.admin.files import RuleFileBlob
from cpq.configurator import Selection, valid_domains, validate
from cpq.errors import CPQError
from cpq.pricing.engine import price_quote
from cpq.pricing.report import quote_as_json
from cpq.pricing.request import parse_quote
from cpq.ruleset import yamlpos
from cpq.ruleset.model import Ruleset

KIND = "rule_tests"
CASE_FIELDS = {"id", "product", "select", "context", "price", "expect", "description"}
EXPECT_FIELDS = {"valid", "violated", "selectable", "not_selectable", "totals", "lines", "steps", "error"}


@dataclass(frozen=True)
class CaseResult:
    """One case: where it is, whether it passed, and every expectation that did not hold."""

    path: str
    line: int
    id: str
    passed: bool
    failures: tuple[str, ...] = ()

    def as_dict(self) -> dict:
        return {"path": self.path, "line": self.line, "id": self.id, "passed": self.passed,
                "failures": list(self.failures)}

    def __str__(self) -> str:
        head = f"{'PASS' if self.passed else 'FAIL'} {self.path}:{self.line}: {self.id}"
        return "\n".join([head, *(f"    {f}" for f in self.failures)])


@dataclass
class TestReport:
    results: list[CaseResult] = field(default_factory=list)

    @property
    def failed(self) -> list[CaseResult]:
        return [r for r in self.results if not r.passed]

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary_line(self) -> str:
        return f"{len(self.results) - len(self.failed)} passed, {len(self.failed)} failed"

    def as_dict(self) -> dict:
        return {"passed": len(self.results) - len(self.failed), "failed": len(self.failed),
                "results": [r.as_dict() for r in self.results]}


def _selection(spec) -> Selection:
    """`select:` as a list of ids / {id, quantity} or a mapping id → quantity."""
    if spec is None:
        return Selection()
    if isinstance(spec, Mapping):
        return Selection(options={str(k): (None if v is None else int(v)) for k, v in spec.items()})
    options: dict[str, int | None] = {}
    for item in spec:
        if isinstance(item, Mapping):
            options[str(item["id"])] = int(item.get("quantity", 1))
        else:
            options[str(item)] = None
    return Selection(options=options)


def _configuration_checks(ruleset: Ruleset, case: Mapping, expect: Mapping) -> list[str]:
    product, selection = str(case["product"]), _selection(case.get("select"))
    context = {str(k): str(v) for k, v in (case.get("context") or {}).items()}
    failures = []
    if "valid" in expect or "violated" in expect:
        result = validate(ruleset, product, selection, context)
        broken = sorted({v.rule.id for v in result.violations})
        if "valid" in expect and bool(expect["valid"]) != result.valid:
            failures.append(f"expected {'valid' if expect['valid'] else 'invalid'}, got "
                            f"{'valid' if result.valid else 'invalid'}" + (f" (broken: {', '.join(broken)})" if broken else ""))
        if "violated" in expect:
            wanted = sorted(str(x) for x in expect["violated"])
            if wanted != broken:
                failures.append(f"expected broken rules [{', '.join(wanted)}], got [{', '.join(broken)}]")
    if "selectable" in expect or "not_selectable" in expect:
        domains = valid_domains(ruleset, product, selection, context, reasons=False)
        for option in expect.get("selectable") or ():
            domain = domains.options.get(str(option))
            if domain is None:
                failures.append(f"{option} is not an option of {product}")
            elif not domain.selectable:
                failures.append(f"{option} should be selectable, but is {domain.state}")
        for option in expect.get("not_selectable") or ():
            domain = domains.options.get(str(option))
            if domain is None:
                failures.append(f"{option} is not an option of {product}")
            elif domain.selectable and domain.state != "selected":
                failures.append(f"{option} should not be selectable, but is {domain.state}")
    return failures


def _compare(got: Mapping, want: Mapping, where: str) -> list[str]:
    failures = []
    for key, value in want.items():
        if key not in got:
            failures.append(f"{where}: no '{key}' in the result")
        elif str(got[key]) != str(value):
            failures.append(f"{where}.{key}: expected {value}, got {got[key]}")
    return failures


def step_text(step: Mapping) -> str:
    """A waterfall step as written in a case: `kind before -> after rule_id`."""
    return f"{step['kind']} {step['before'] or '-'} -> {step['after']} {step['rule_id'] or '-'}"


def _price_checks(ruleset: Ruleset, case: Mapping, expect: Mapping, today: date) -> list[str]:
    body = dict(case["price"])
    request, context = parse_quote(body, today)
    result = quote_as_json(price_quote(ruleset, request, context))
    failures = _compare(result["totals"], expect.get("totals") or {}, "totals")
    lines = {line["id"]: line for line in result["lines"]}
    for line_id, want in (expect.get("lines") or {}).items():
        line = lines.get(str(line_id))
        if line is None:
            failures.append(f"no line '{line_id}' in the result")
            continue
        items = {i["sku"]: i for i in line["items"]}
        for key, value in want.items():
            if isinstance(value, Mapping):  # an item of the line, by SKU
                item = items.get(key)
                failures += ([f"line {line_id}: no item {key}"] if item is None else
                             _compare(item, value, f"line {line_id} {key}"))
            else:
                failures += _compare(line, {key: value}, f"line {line_id}")
    for target, want_steps in (expect.get("steps") or {}).items():
        line_id, _, sku = str(target).partition("/")
        item = next((i for i in lines.get(line_id, {}).get("items", ()) if i["sku"] == sku), None)
        if item is None:
            failures.append(f"steps: no item {target} (write it as line-id/SKU)")
            continue
        got = [step_text(s) for s in item["waterfall"]]
        if got != [str(s) for s in want_steps]:
            failures.append(f"steps of {target}: expected {list(want_steps)}, got {got}")
    return failures


def run_case(ruleset: Ruleset, case: Mapping, today: date) -> list[str]:
    """The expectations of one case that do not hold (empty: it passed)."""
    expect = case.get("expect") or {}
    try:
        if "price" in case:
            failures = _price_checks(ruleset, case, expect, today)
        else:
            failures = _configuration_checks(ruleset, case, expect)
    except CPQError as exc:
        if "error" in expect and expect["error"] == exc.code:
            return []
        return [f"{exc.code}: {exc.detail}"]
    if "error" in expect:
        failures.append(f"expected the error {expect['error']}, but there was none")
    return failures


def _cases(blob: RuleFileBlob) -> tuple[list[tuple[int, Mapping]], list[CaseResult]]:
    """The cases of one file, or a failed result saying why the file cannot be read."""
    def broken(line: int, message: str) -> list[CaseResult]:
        return [CaseResult(blob.path, line, "-", False, (message,))]

    try:
        data, _dups = yamlpos.load(blob.content.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        return [], broken(1, f"not a YAML test file: {exc}")
    except Exception as exc:  # noqa: BLE001 - yaml.YAMLError and its kin: the file is reported, not raised
        mark = getattr(exc, "problem_mark", None)
        return [], broken(mark.line + 1 if mark else 1, f"YAML syntax error: {getattr(exc, 'problem', exc)}")
    if not isinstance(data, Mapping) or data.get("kind") != KIND or not isinstance(data.get("tests"), list):
        return [], broken(1, f"a test file is a mapping with 'kind: {KIND}' and a list 'tests'")
    cases, problems = [], []
    seen: set[str] = set()
    for index, case in enumerate(data["tests"]):
        line = data["tests"].item_pos[index][0] if hasattr(data["tests"], "item_pos") else 1
        if not isinstance(case, Mapping) or "id" not in case or not isinstance(case.get("expect"), Mapping):
            problems += broken(line, "a test case needs 'id' and an 'expect' mapping")
            continue
        unknown = sorted(set(case) - CASE_FIELDS) + sorted(f"expect.{k}" for k in set(case["expect"]) - EXPECT_FIELDS)
        if unknown or ("price" not in case and "product" not in case):
            message = f"unknown field(s) {', '.join(unknown)}" if unknown else "a test case needs 'product' or 'price'"
            problems.append(CaseResult(blob.path, line, str(case["id"]), False, (message,)))
            continue
        if str(case["id"]) in seen:
            problems.append(CaseResult(blob.path, line, str(case["id"]), False, ("duplicate test id in this file",)))
            continue
        seen.add(str(case["id"]))
        cases.append((line, case))
    return cases, problems


def run_rule_tests(ruleset: Ruleset, tests: Sequence[RuleFileBlob], today: date) -> TestReport:
    """Run every case of every test file against `ruleset`."""
    report = TestReport()
    for blob in tests:
        cases, problems = _cases(blob)
        report.results += problems
        for line, case in cases:
            failures = run_case(ruleset, case, today)
            report.results.append(CaseResult(blob.path, line, str(case["id"]), not failures, tuple(failures)))
    report.results.sort(key=lambda r: (r.path, r.line))
    return report
