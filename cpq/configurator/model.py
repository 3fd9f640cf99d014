"""A product compiled into a SAT model, once per ruleset version, and cached.

Variables: one literal per option (chosen or not); a bounded integer per option quantity
(`cnf.IntVar`, 0 exactly when the option is not chosen) and per bundle component; one literal
per *context atom* (a text equality involving `context.*` / `account.*`, assumed per request).
Every reportable rule — feature cardinality, constraint, validation rule, filter rule — is a
*rule* with an index: its clauses go unguarded into the main solver (domains, completion,
conflict sets) and guarded by a selector literal into the explain solver (which rules take part
in a conflict: the selectors are assumptions, so they show up in UNSAT cores).
"""

from __future__ import annotations

import struct
import sys
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import sympy
from pysat.solvers import Solver

from cpq.catalog import Constraint, Feature, Option, Product, Source
from cpq.configurator.cnf import CNF, IntVar
from cpq.configurator.errors import ModelNotEncodable
from cpq.configurator.repair import Occurrences
from cpq.configurator.translate import CONTEXT_NAMES, Translator, UnsupportedExpression
from cpq.ruleset.model import Ruleset
from cpq.ruleset.scopes import bind_text_fields

# Measured on the benchmark models (docs/benchmarks.md): Glucose 4 answers the many small
# assumption-based calls of a domain computation fastest among the solvers python-sat ships.
SOLVER_NAME = "glucose4"
MAX_CACHED_MODELS = 32
MAX_CACHED_SOLUTIONS = 4000
WARM_UP_SECONDS = 0.5
WARM_UP_SOLUTIONS = 1000
ACTIVATION_POOL = 256  # see activation_literal


@dataclass(frozen=True)
class RuleRef:
    """Something that can be violated or can explain a blocked option: a constraint, a rule, a feature."""

    index: int
    id: str
    kind: str
    message: str
    source: Source | None
    options: tuple[str, ...]

    def as_dict(self) -> dict:
        return {"id": self.id, "kind": self.kind, "message": self.message,
                "source": f"{self.source.path}:{self.source.line}" if self.source else None}


@dataclass(frozen=True)
class Solution:
    """A full valid configuration, kept to prove values selectable without a SAT call."""

    chosen: int  # bit i set ⇔ option i chosen
    atoms: int  # bit k set ⇔ context atom k true
    ints: tuple[int, ...]  # value of each counted integer (see CompiledProduct.counted)


@dataclass(frozen=True)
class ClauseIndex:
    """The clauses of three or more literals of a model whose clauses mention options only (see clause_index)."""

    with_literal: dict[int, frozenset[int]]  # literal → the clauses it occurs in
    options: tuple[int, ...]  # clause → bit mask of its options
    positive: tuple[int, ...]  # clause → bit mask of its options that occur as positive literals
    negative: tuple[int, ...]  # clause → … as negative literals
    regions: tuple[int, ...]  # option masks no clause crosses: each connected part of the model, the
    #   options in no clause with another one, or (-1,) when the model is all one part


@dataclass
class _Check:
    """How `validate` decides whether one rule holds on a full configuration."""

    kind: str
    when: int | None = None  # literal of the rule's `when`, if any
    clauses: tuple[tuple[int, ...], ...] = ()  # the rule's clauses over gate literals (formula kinds)
    options: tuple[str, ...] = ()
    lo: int | None = None
    hi: int | None = None
    then_any: tuple[str, ...] = ()
    groups: tuple[tuple[str, ...], ...] = ()  # table columns: each feature's options
    rows: tuple[tuple[str, ...], ...] = ()
    allowed: bool = True


class CompiledProduct:
    """The solver model of one product under one ruleset version; thread-safe through `lock`."""

    def __init__(self, ruleset: Ruleset, product: Product):
        self.version = ruleset.version
        self.product = product
        self.lock = threading.RLock()
        self.option_ids: tuple[str, ...] = product.option_ids
        self.options: dict[str, Option] = {o: ruleset.options[o] for o in self.option_ids}
        self.index = {o: i for i, o in enumerate(self.option_ids)}
        self.feature_of: dict[str, Feature] = {o: f for f in product.features for o in f.options}
        cnf = self.cnf = CNF()
        self.sel: dict[str, int] = {o: cnf.new_var() for o in self.option_ids}
        self.first_option_var = self.sel[self.option_ids[0]] if self.option_ids else 2
        self.qty: dict[str, IntVar] = {}
        for o in self.option_ids:
            lo, hi = quantity_bounds(self.options[o])
            self.qty[o] = cnf.int_var(o, lo, hi, active=self.sel[o]) if hi > lo else IntVar(o, self.sel[o], lo, lo, ())
        self.comp: dict[str, IntVar] = {}
        for c in product.components:
            active = cnf.TRUE if c.min >= 1 else None
            self.comp[c.id] = cnf.int_var(c.id, max(c.min, 1), max(c.max, 1), active=active)
        # integers a solution must remember (options with a quantity range, and components)
        counted = [("qty", o, v) for o, v in self.qty.items() if v.bits]
        counted += [("comp", c, v) for c, v in self.comp.items()]
        self.counted: tuple[IntVar, ...] = tuple(v for _, _, v in counted)
        self.counted_index: dict[tuple[str, str], int] = {(kind, name): i for i, (kind, name, _) in enumerate(counted)}
        self.atoms: dict[sympy.Basic, int] = {}
        self.translator = Translator(cnf, self.sel, self.qty, self.comp, self._atom)
        self.rules: list[RuleRef] = []
        self.selectors: list[int] = []
        self.checks: list[_Check] = []
        self.bodies: list[tuple[int, list[int]]] = []
        self.rules_of_option: dict[str, list[int]] = {}
        self._compile()
        # selectors last, so that the main solver (which never sees them) has no unused variables;
        # between them a block of activation literals for the main solver's temporary clauses
        self.model_vars = cnf.nvars
        cnf.nvars += ACTIVATION_POOL
        self._activations_used = 0
        self.selectors = [cnf.new_var() for _ in self.rules]
        self.atom_list: tuple[tuple[sympy.Basic, int], ...] = tuple(self.atoms.items())
        # filter rules as (condition literal or None, hidden options), so a step need not scan every rule
        self.filters: tuple[tuple[int | None, tuple[str, ...]], ...] = tuple(
            (check.when, check.options) for rule, check in zip(self.rules, self.checks, strict=True)
            if rule.kind == "filter")
        self.alert_rules = tuple(r for r in product.rules if r.kind == "alert")
        self.selection_rules = tuple(r for r in product.rules if r.kind == "selection")
        self._main: Solver | None = None
        self._explain: Solver | None = None
        self._context_cache: OrderedDict[tuple, tuple[int, ...]] = OrderedDict()
        self.solutions: list[Solution] = []
        self.reason_cache: dict[tuple, list] = {}
        self.blocked_memo: dict[tuple, object] = {}  # context → domains._Memo
        self.programs: dict[str, object] = {}
        self.plain_domains: tuple | None = None  # domains._plain_domains
        self.fit_index: object | None = None  # domains._FitIndex
        self._clause_index: tuple[int, ClauseIndex | None] | None = None  # see clause_index
        self._occurrences: tuple[int, Occurrences] | None = None  # see occurrences

    # ------------------------------------------------------------------ compilation
    def _atom(self, eq: sympy.Basic) -> int:
        key = sympy.Eq(*sorted(eq.args, key=str), evaluate=False)
        var = self.atoms.get(key)
        if var is None:
            var = self.atoms[key] = self.cnf.new_var()
        return var

    def _add_rule(self, rule_id: str, kind: str, message: str, source: Source | None,
                  options: Sequence[str], body: list[list[int]], check: _Check) -> None:
        index = len(self.rules)
        scope = tuple(dict.fromkeys(options))
        self.rules.append(RuleRef(index, rule_id, kind, message, source, scope))
        self.checks.append(check)
        self.bodies.extend((index, clause) for clause in body)
        for o in scope:
            self.rules_of_option.setdefault(o, []).append(index)

    def _compile(self) -> None:
        for feature in self.product.features:
            self._feature(feature)
        for c in self.product.constraints:
            try:
                self._constraint(c)
            except UnsupportedExpression as exc:
                raise ModelNotEncodable(f"{c.source}: {c.id}: {exc}", rule_id=c.id) from None
        for r in self.product.rules:
            try:
                if r.kind == "validation":
                    formula = r.check.symbolic
                    if r.when is not None:
                        formula = sympy.Implies(r.when.symbolic, formula)
                    self._formula_rule(r.id, "validation", r.message, r.source, formula)
                elif r.kind == "filter":
                    w = self.translator.lit(r.when.symbolic) if r.when is not None else self.cnf.TRUE
                    message = r.message or f"Not offered here ({', '.join(r.hide)}; rule {r.id})."
                    self._add_rule(r.id, "filter", message, r.source, r.hide + self._mentions(r.when),
                                   [[-w, -self.sel[h]] for h in r.hide],
                                   _Check("filter", when=w, options=r.hide))
            except UnsupportedExpression as exc:
                raise ModelNotEncodable(f"{r.source}: {r.id}: {exc}", rule_id=r.id) from None

    def _feature(self, f: Feature) -> None:
        n = len(f.options)
        lo, hi = f.min, min(f.max, n)
        if lo == hi == 1:
            message = f"Choose one {f.label}."
        elif lo == 0:
            message = f"Choose at most {hi} of {f.label}."
        elif hi == n and lo > 0:
            message = f"Choose at least {lo} of {f.label}."
        else:
            message = f"Choose between {lo} and {hi} of {f.label}."
        lits = [self.sel[o] for o in f.options]
        body = self.cnf.card_clauses(lits, lo if lo > 0 else None, hi if hi < n else None)
        self._add_rule(f.id, "feature", message, f.source, f.options, body,
                       _Check("cardinality", options=f.options, lo=lo, hi=hi))

    def _mentions(self, expr) -> tuple[str, ...]:
        if expr is None:
            return ()
        symbolic = getattr(expr, "symbolic", expr)
        names = []
        for s in getattr(symbolic, "free_symbols", ()):
            for prefix in ("sel[", "qty["):
                if s.name.startswith(prefix) and s.name[4:-1] in self.sel:
                    names.append(s.name[4:-1])
        return tuple(sorted(set(names), key=self.index.__getitem__))

    def _constraint(self, c: Constraint) -> None:
        if c.kind in ("check", "conditional") or c.kind not in ("requires", "excludes", "cardinality", "table"):
            self._formula_rule(c.id, c.kind, c.message, c.source, c.formula)
            return
        cnf, sel = self.cnf, self.sel
        w = self.translator.lit(c.when.symbolic) if c.when is not None else cnf.TRUE
        guard = [] if w == cnf.TRUE else [-w]
        when = None if w == cnf.TRUE else w
        mentioned = self._mentions(c.when)
        if c.kind == "requires":
            body = [guard + [-sel[o] for o in c.if_all] + [sel[o] for o in c.then_any]]
            check = _Check("requires", when=when, options=c.if_all, then_any=c.then_any)
            options = c.if_all + c.then_any
        elif c.kind in ("excludes", "cardinality"):
            lo, hi = (None, 1) if c.kind == "excludes" else (c.min, c.max)
            body = [guard + clause for clause in cnf.card_clauses([sel[o] for o in c.options], lo, hi)]
            check = _Check("cardinality", when=when, options=c.options, lo=lo, hi=hi)
            options = c.options
        else:
            features = {f.id: f for f in self.product.features}
            groups = tuple(features[col].options for col in c.columns)
            rows = tuple(tuple(cell for cell in row if cell != "*") for row in c.rows)
            if c.allowed and all(features[col].max == 1 for col in c.columns):
                body = [guard + clause for clause in self._table_mdd(groups, c.rows)]
            elif c.allowed:
                chosen = [cnf.or_gate(sel[o] for o in group) for group in groups]
                row_lits = [cnf.implies_all(sel[o] for o in row) for row in rows]
                body = [guard + [-x for x in chosen] + row_lits]
            else:
                body = [guard + [-sel[o] for o in row] for row in rows]
            check = _Check("table", when=when, groups=groups, rows=rows, allowed=c.allowed)
            options = tuple(o for group in groups for o in group)
        self._add_rule(c.id, c.kind, c.message, c.source, options + mentioned, body, check)

    def _table_mdd(self, groups: tuple[tuple[str, ...], ...], rows) -> list[list[int]]:
        """Clauses of an allowed-rows table whose columns each hold at most one option.

        The rows become a decision diagram (one level per column, identical sub-diagrams shared,
        `*` expanded to every option) with one variable per node: "the chosen options follow a
        path through this node". Forward: node ∧ option → the child on that option's edge (no
        edge: → false). Backward: a chosen option needs some node of its level with that edge.
        The root is "every column has a chosen option", so a partly chosen table is not judged.
        """
        cnf, sel = self.cnf, self.sel
        levels = len(groups)
        nodes: dict[tuple, int] = {}  # (level, edges) → node id
        memo: dict[tuple[int, frozenset], object] = {}
        edges_of: list[tuple[int, dict[str, object]]] = []  # node id → (level, option → child)
        terminal = "T"

        def build(level: int, suffixes: frozenset):
            if level == levels:
                return terminal
            key = (level, suffixes)
            if key in memo:
                return memo[key]
            by_option: dict[str, set] = {}
            for suffix in suffixes:
                cell, rest = suffix[0], suffix[1:]
                for option in (groups[level] if cell == "*" else (cell,)):
                    by_option.setdefault(option, set()).add(rest)
            edges = {o: build(level + 1, frozenset(r)) for o, r in by_option.items()}
            signature = (level, tuple(sorted((o, child) for o, child in edges.items())))
            node = nodes.get(signature)
            if node is None:
                node = nodes[signature] = len(edges_of)
                edges_of.append((level, edges))
            memo[key] = node
            return node

        root = build(0, frozenset(tuple(r) for r in rows))
        if root == terminal:
            return []
        var = {n: cnf.new_var() for n in range(len(edges_of))}
        active = cnf.and_gate(cnf.or_gate(sel[o] for o in group) for group in groups)
        clauses = [[-active, var[root]]]
        at_level: dict[int, list[int]] = {}
        for n, (level, edges) in enumerate(edges_of):
            at_level.setdefault(level, []).append(n)
            for option in groups[level]:
                child = edges.get(option)
                if child is None:
                    clauses.append([-var[n], -sel[option]])
                elif child != terminal:
                    clauses.append([-var[n], -sel[option], var[child]])
        for level, members in at_level.items():
            for option in groups[level]:
                having = [var[n] for n in members if option in edges_of[n][1]]
                if len(having) < len(members):
                    clauses.append([-active, -sel[option], *having])
        return clauses

    def _formula_rule(self, rule_id: str, kind: str, message: str, source: Source | None, formula) -> None:
        body = [self._clause(part) for part in _conjuncts(formula)]
        check = _Check("formula", clauses=tuple(tuple(c) for c in body))
        self._add_rule(rule_id, kind, message, source, self._mentions(formula), body, check)

    def _clause(self, e) -> list[int]:
        if isinstance(e, sympy.Or):
            return [lit for a in e.args for lit in self._clause(a)]
        if isinstance(e, sympy.Implies):
            return [-self.translator.lit(e.args[0]), *self._clause(e.args[1])]
        return [self.translator.lit(e)]

    # ------------------------------------------------------------------ solvers
    def main_solver(self) -> Solver:
        """Every rule hard: for domains, completion and conflict sets over the user's choices."""
        if self._main is None:
            solver = Solver(name=SOLVER_NAME)
            solver.append_formula(self.cnf.hard)
            solver.append_formula([clause for _, clause in self.bodies])
            solver.add_clause([self.cnf.TRUE, self.model_vars])  # registers every variable, even unused ones
            self.cnf.listeners.append(solver)
            self._main = solver
        return self._main

    def explain_solver(self) -> Solver:
        """Every rule behind its selector: cores name the rules that take part."""
        if self._explain is None:
            solver = Solver(name=SOLVER_NAME)
            solver.append_formula(self.cnf.hard)
            selectors = self.selectors
            solver.append_formula([[-selectors[i], *clause] for i, clause in self.bodies])
            solver.add_clause([self.cnf.TRUE, self.cnf.nvars])
            self.cnf.listeners.append(solver)
            self._explain = solver
        return self._explain

    def activation_literal(self) -> int:
        """A fresh literal of the main solver to guard temporary clauses; the caller retires it ([-lit]).

        The literals come from a block reserved after the model's variables (the solver creates
        them as they are used, so it never decides an unused one); when the block is used up the
        main solver is built afresh and the block starts over.
        """
        if self._activations_used == ACTIVATION_POOL:
            if self._main is not None:
                self.cnf.listeners.remove(self._main)
                self._main = None
            self._activations_used = 0
        self._activations_used += 1
        return self.model_vars + self._activations_used

    def clause_index(self) -> ClauseIndex | None:
        """The longer clauses by literal, when every clause of the main solver is over option variables.

        That holds for DIMACS feature models; only there is a cached `Solution` (options only) a
        complete assignment, which `domains._completion_witnesses` needs. None for any model with
        other variables (tables, quantities, context atoms, gates). Rebuilt if hard clauses were
        added since (new gates).
        """
        cnf = self.cnf
        if self._clause_index is not None and self._clause_index[0] == len(cnf.hard):
            return self._clause_index[1]
        first, n, true = self.first_option_var, len(self.option_ids), cnf.TRUE
        with_literal: dict[int, set[int]] = {}
        options: list[int] = []
        positive: list[int] = []
        negative: list[int] = []
        index: ClauseIndex | None = None
        parent = list(range(n))  # union-find over the options: which ones clauses connect

        def root(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        for clause in (*cnf.hard, *(c for _, c in self.bodies)):
            if true in clause:
                continue  # always satisfied
            literals = set(clause) - {-true}
            if any(not 0 <= abs(lit) - first < n for lit in literals):
                break
            members = [abs(lit) - first for lit in literals]
            a = root(members[0]) if members else 0
            for i in members[1:]:
                b = root(i)
                if a != b:
                    parent[b] = a
            if len(literals) > 2:  # two-literal clauses never link a fixed option to an open one
                k = len(options)
                options.append(sum(1 << (abs(lit) - first) for lit in literals))
                positive.append(sum(1 << (lit - first) for lit in literals if lit > 0))
                negative.append(sum(1 << (-lit - first) for lit in literals if lit < 0))
                for lit in literals:
                    with_literal.setdefault(lit, set()).add(k)
        else:
            parts: dict[int, int] = {}
            for i in range(n):
                r = root(i)
                parts[r] = parts.get(r, 0) | 1 << i
            connected = [mask for mask in parts.values() if mask & (mask - 1)]
            alone = ((1 << n) - 1) & ~sum(connected)
            regions = tuple(connected) + ((alone,) if alone else ()) if len(connected) > 1 else (-1,)
            index = ClauseIndex({lit: frozenset(ks) for lit, ks in with_literal.items()}, tuple(options),
                                tuple(positive), tuple(negative), regions)
        self._clause_index = (len(cnf.hard), index)
        return index

    def occurrences(self) -> Occurrences:
        """The main solver's clauses by literal, for local repairs and phase support (rebuilt after new gates)."""
        cnf = self.cnf
        if self._occurrences is None or self._occurrences[0] != len(cnf.hard):
            self._occurrences = (len(cnf.hard), Occurrences([*cnf.hard, *(c for _, c in self.bodies)], cnf.TRUE))
        return self._occurrences[1]

    # ------------------------------------------------------------------ context
    def context_literals(self, context: Mapping[str, str]) -> tuple[int, ...]:
        """The assumption for each context atom, decided from the request's context fields."""
        key = tuple(sorted((k, v) for k, v in context.items() if k in CONTEXT_NAMES))
        cached = self._context_cache.get(key)
        if cached is not None:
            self._context_cache.move_to_end(key)
            return cached
        values = {name: "" for name in CONTEXT_NAMES}
        values.update(dict(key))
        lits = tuple(var if bind_text_fields(expr, values) is sympy.true else -var for expr, var in self.atom_list)
        self._context_cache[key] = lits
        if len(self._context_cache) > 256:
            self._context_cache.popitem(last=False)
        return lits

    def context_key(self, context: Mapping[str, str]) -> tuple[int, ...]:
        return self.context_literals(context)

    # ------------------------------------------------------------------ solutions
    def solution_from(self, model: Sequence[int]) -> Solution:
        first = self.first_option_var
        n = len(self.option_ids)
        chosen = signs_to_mask(model[first - 1:first - 1 + n])
        atoms = 0
        for k, (_, var) in enumerate(self.atom_list):
            if model[var - 1] > 0:
                atoms |= 1 << k
        ints = tuple(_int_value(v, model) for v in self.counted)
        return Solution(chosen, atoms, ints)

    def warm_up(self, seconds: float = WARM_UP_SECONDS, count: int | None = None) -> int:
        """Seed the solution cache with varied full solutions (random phases), within a time budget.

        A cache whose solutions cover each option in many different surroundings keeps proving
        values possible after a choice that no earlier step happened to need.
        """
        import random
        import time

        if self.clause_index() is not None:  # built here rather than in the first step
            self.occurrences()  # local repairs and phase support run in feature models only
        rng = random.Random(len(self.option_ids))
        solver = self.main_solver()
        limit = count if count is not None else min(WARM_UP_SOLUTIONS, 8 * len(self.option_ids))
        variables = [self.sel[o] for o in self.option_ids]
        deadline = time.perf_counter() + seconds
        made = 0
        with self.lock:
            while made < limit and time.perf_counter() < deadline:
                solver.set_phases([v if rng.random() < 0.5 else -v for v in variables])
                if not solver.solve():
                    break
                self.remember(self.solution_from(solver.get_model()))
                made += 1
        return made

    def remember(self, solution: Solution) -> None:
        self.solutions.append(solution)
        if len(self.solutions) > MAX_CACHED_SOLUTIONS:
            del self.solutions[: MAX_CACHED_SOLUTIONS // 4]


_SIGN_BYTE = slice(3, None, 4) if sys.byteorder == "little" else slice(0, None, 4)
_SIGN_DIGITS = bytes.maketrans(b"\x00\xff", b"10")


def signs_to_mask(literals: Sequence[int]) -> int:
    """Bit i set ⇔ literals[i] > 0, done in C: the sign byte of each 32-bit int, read as a numeral."""
    if not literals:
        return 0
    signs = _ints(len(literals)).pack(*literals)[_SIGN_BYTE]  # struct packs a list ~2× faster than array() copies it
    return int(signs[::-1].translate(_SIGN_DIGITS), 2)


@lru_cache(maxsize=64)
def _ints(count: int) -> struct.Struct:
    return struct.Struct(f"={count}i")


def _int_value(v: IntVar, model: Sequence[int]) -> int:
    if model[v.active - 1] < 0:
        return 0
    return v.lo + sum(1 << j for j, b in enumerate(v.bits) if model[b - 1] > 0)


def _conjuncts(e) -> list:
    if isinstance(e, sympy.And):
        return [x for a in e.args for x in _conjuncts(a)]
    return [e]


def quantity_bounds(option: Option) -> tuple[int, int]:
    """How many units of an option a configuration holds when it is chosen (at least one)."""
    lo = max(option.quantity.min, 1)
    return lo, max(option.quantity.max, lo)


_models: OrderedDict[tuple[str, str], CompiledProduct] = OrderedDict()
_models_lock = threading.Lock()


def compiled_product(ruleset: Ruleset, product_id: str) -> CompiledProduct:
    """The compiled model of a product under this ruleset version (compiled on first use)."""
    key = (ruleset.version, product_id)
    with _models_lock:
        model = _models.get(key)
        if model is not None:
            _models.move_to_end(key)
            return model
    model = CompiledProduct(ruleset, ruleset.products[product_id])
    model.warm_up()
    with _models_lock:
        model = _models.setdefault(key, model)
        _models.move_to_end(key)
        while len(_models) > MAX_CACHED_MODELS:
            _models.popitem(last=False)
    return model


@dataclass
class Assumptions:
    """A request's assumptions: context atoms, and the literals of each user choice."""

    context: tuple[int, ...]
    choices: list = field(default_factory=list)  # [(Choice, [literals])]

    def literals(self, skip=None) -> list[int]:
        out = list(self.context)
        for choice, lits in self.choices:
            if choice is not skip:
                out.extend(lits)
        return out
