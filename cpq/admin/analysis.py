"""Static analysis of a Ruleset: what the rules make impossible, forced, redundant or shadowed.

Configuration findings come from each product's SAT model (`cpq.configurator.model`), with every
rule on and the context left open — so "dead" means "in no context at all":

- `no_valid_configuration` (error): the product's rules contradict each other; nothing can be sold.
- `dead_option` (warning): an option that no valid configuration contains.
- `core_option` (warning): an option every valid configuration contains, although its feature
  offers a choice (a required feature with a single option is forced by design and not reported).
- `redundant_constraint` (warning): a constraint or validation rule the other rules already imply;
  reported greedily, so of two identical constraints only the second is named.

Pricing findings come from the pricing program (`cpq.pricing.program`):

- `shadowed_price_rule` (warning): an adjustment that never reaches a line, because for every SKU
  it targets an unconditional `exclusive` adjustment at the same or an earlier priority wins first.
"""

from __future__ import annotations

from dataclasses import dataclass

from cpq.catalog import Source
from cpq.configurator.model import CompiledProduct, ModelNotEncodable, compiled_product
from cpq.pricing.program import pricing_program
from cpq.ruleset.model import Ruleset

REDUNDANCY_RULE_LIMIT = 300  # larger imported models skip the (quadratic) redundancy check
_RULE_KINDS = ("requires", "excludes", "cardinality", "table", "check", "conditional", "validation")


@dataclass(frozen=True, order=True)
class Finding:
    path: str
    line: int
    col: int
    rule_id: str
    code: str
    severity: str  # error | warning
    message: str

    def as_dict(self) -> dict:
        return {"path": self.path, "line": self.line, "col": self.col, "rule_id": self.rule_id, "code": self.code,
                "severity": self.severity, "message": self.message}

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}: {self.rule_id}: {self.severity}: {self.message} [{self.code}]"


def _finding(source: Source | None, rule_id: str, code: str, severity: str, message: str) -> Finding:
    src = source or Source("-", 1, 1)
    return Finding(src.path, src.line, src.col, rule_id, code, severity, message)


def _solve(solver, assumptions: list[int]) -> list[int] | None:
    return solver.get_model() if solver.solve(assumptions=assumptions) else None


def product_findings(model: CompiledProduct) -> list[Finding]:
    """Dead and core options, no valid configuration, redundant constraints of one product."""
    product = model.product
    with model.lock:
        solver = model.explain_solver()
        on = list(model.selectors)
        first = _solve(solver, on)
        if first is None:
            return [_finding(product.source, product.id, "no_valid_configuration", "error",
                             f"product {product.id} has no valid configuration: its rules contradict each other "
                             "(run 'cpq rules test' or explain an empty selection to see which)")]
        seen_in, seen_out = set(), set()

        def note(solution: list[int]) -> None:
            true = {v for v in solution if v > 0}
            for option, var in model.sel.items():
                (seen_in if var in true else seen_out).add(option)

        note(first)
        findings = []
        for option, var in model.sel.items():
            feature = model.feature_of.get(option)
            if option not in seen_in:
                solution = _solve(solver, [*on, var])
                if solution is None:
                    findings.append(_finding(model.options[option].source, option, "dead_option", "warning",
                                             f"{option} can never be selected in {product.id}: no valid configuration "
                                             "contains it"))
                else:
                    note(solution)
            if option not in seen_out:
                solution = _solve(solver, [*on, -var])
                if solution is None:
                    trivial = feature is not None and feature.min >= 1 and len(feature.options) == 1
                    if not trivial:
                        findings.append(_finding(model.options[option].source, option, "core_option", "warning",
                                                 f"{option} is in every valid configuration of {product.id}: the "
                                                 "rules force it although its feature offers a choice"))
                else:
                    note(solution)
        findings += _redundant(model, solver, on)
    return findings


def _redundant(model: CompiledProduct, solver, on: list[int]) -> list[Finding]:
    """Rules implied by the others: no clause of the rule can be false while the others hold."""
    if len(model.rules) > REDUNDANCY_RULE_LIMIT:
        return []
    clauses_of: dict[int, list[list[int]]] = {}
    for index, clause in model.bodies:
        clauses_of.setdefault(index, []).append(clause)
    active = set(range(len(model.rules)))
    findings = []
    for rule in model.rules:
        if rule.kind not in _RULE_KINDS or not clauses_of.get(rule.index):
            continue
        others = [model.selectors[i] for i in sorted(active) if i != rule.index]
        implied = all(_solve(solver, [*others, -model.selectors[rule.index], *(-lit for lit in clause)]) is None
                      for clause in clauses_of[rule.index])
        if implied:
            active.discard(rule.index)
            findings.append(_finding(rule.source, rule.id, "redundant_constraint", "warning",
                                     f"{rule.id} in {model.product.id} is implied by the other rules: it never "
                                     "decides anything"))
    return findings


def _chain(ruleset: Ruleset, book_id: str) -> tuple[str, ...]:
    chain, seen = [], set()
    while book_id and book_id not in seen and book_id in ruleset.pricebooks:
        seen.add(book_id)
        chain.append(book_id)
        book_id = ruleset.pricebooks[book_id].extends
    return tuple(chain)


def shadowed_rules(ruleset: Ruleset) -> list[Finding]:
    """Adjustments that an unconditional exclusive adjustment always stops before they apply."""
    program = pricing_program(ruleset)
    reached: dict[tuple[str, str], bool] = {}  # (book, rule id) → reaches some SKU
    rules = {}
    for book_id in ruleset.pricebooks:
        index = program.chain_index(_chain(ruleset, book_id))
        for sku, (_name, category, family) in program.sku_info.items():
            candidates = index.candidates(sku, category, family, None, None)
            stopped_at = None
            for priority, group in candidates.groups:
                if stopped_at is None:
                    stopper = next((r for r in group if r.stack == "exclusive" and r.when is None and r.always
                                    and not r.accounts), None)
                    if stopper is not None:
                        stopped_at = (priority, stopper)
                for rule in group:
                    key = (rule.book, rule.id)
                    rules[key] = rule
                    blocked = stopped_at is not None and (stopped_at[0] < priority or stopped_at[1] is not rule)
                    reached[key] = reached.get(key, False) or not blocked
    findings = []
    for key, ok in sorted(reached.items()):
        if not ok:
            rule = rules[key]
            findings.append(_finding(rule.source, rule.id, "shadowed_price_rule", "warning",
                                     f"{rule.id} ({rule.book}) never applies: an unconditional exclusive adjustment "
                                     "at the same or an earlier priority always wins first"))
    return findings


def analyse(ruleset: Ruleset) -> list[Finding]:
    """Every finding of the Ruleset, sorted by place."""
    findings: list[Finding] = []
    for product_id in ruleset.products:
        try:
            findings += product_findings(compiled_product(ruleset, product_id))
        except ModelNotEncodable:
            continue  # the configurator reports such products itself
    findings += shadowed_rules(ruleset)
    return sorted(set(findings))
