"""Valid domains: for every option, can it still be chosen (and left out) given the choices so far?

The answer is complete — an option reported selectable extends to a full valid configuration,
an option reported blocked extends to none — and is computed with few SAT calls:

1. unit propagation under the assumptions gives the options forced in or out, for free;
2. every cached full solution consistent with the choices proves the values it holds possible;
   in a model whose clauses mention options only, so does one that merely completes the
   propagated values (see `_boundary`), even if it breaks choices elsewhere;
3. each value still unproven gets one SAT call with it as an extra assumption, the solver's
   phases set to favour every unproven value, so one solution usually proves many at once;
   an UNSAT answer proves the value impossible;
4. once those calls stop paying (the long tail), the unproven values are asked together: one
   clause "one of them holds" behind an activation literal gives a model that proves at least
   one more of them, or proves all of them impossible at once (see `_settle`).

Quantities: for an option with a quantity range that can be chosen, the smallest and largest
feasible quantity are found by bisection over `x ≥ v` literals, starting from what cached
solutions already show. Bundle components get the same treatment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import compress, count

from cpq.configurator.cnf import IntVar
from cpq.configurator.model import Assumptions, ClauseIndex, CompiledProduct, Solution
from cpq.configurator.reasons import Reason, ReasonFinder, _key
from cpq.configurator.repair import MAX_LOOKS, Occurrences, repair, support

MAX_MEMO = 200_000  # remembered proofs of impossibility per context
CHUNK_BELOW = 8  # once a model proves fewer new values than this, ask for the unproven ones together
COMPLETION_WITNESSES = True  # off only to measure the engine without them (bench/configure.py --fitting-only)
REPAIRS = True  # off only to measure the engine without local repairs (bench/configure.py --no-repairs)
REPAIR_BELOW = 32  # once a SAT model proves fewer new values than this, repair it towards the rest
REPAIR_LOOKS = 100_000  # clause looks a step may spend on repairs (~50 ns each)
REPAIR_TRIAL = 32  # once a step has tried this many repairs …
REPAIR_KEEP_RATE = 0.25  # … it stops unless at least this share succeeded (linux, automotive01: 64 %)
REPAIR_GIVE_UP = 10  # a run of repairs (from one model) stops after this many failures in a row
SUPPORT_PHASES = True  # off only to measure the engine without phase support (bench/configure.py --no-repairs)
EXACT_UP_TO = 2  # a cached solution off the fixed values on this few boundary options is checked clause by clause


@dataclass
class OptionDomain:
    """What the buyer can still do with one option (read-only: answers share unchanged ones)."""

    id: str
    feature: str
    state: str  # "selected" (chosen by the buyer), "required", "selectable", "excluded" (by the buyer), "blocked"
    selectable: bool  # some valid configuration extending the choices contains it
    removable: bool  # some valid configuration extending the choices leaves it out
    hidden: bool = False  # blocked by a filter rule of this context
    quantity: tuple[int, int] | None = None  # feasible quantity range when chosen
    reasons: list[Reason] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"id": self.id, "feature": self.feature, "state": self.state, "selectable": self.selectable,
                "removable": self.removable, "hidden": self.hidden,
                "quantity": {"min": self.quantity[0], "max": self.quantity[1]} if self.quantity else None,
                "reasons": [r.as_dict() for r in self.reasons]}


@dataclass
class DomainResult:
    consistent: bool
    options: dict[str, OptionDomain]
    components: dict[str, tuple[int, int]]
    sat_calls: int = 0
    repairs: int = 0  # models found by local repair instead of a SAT call


class _Coverage:
    """Which option values the known solutions prove possible under the current assumptions."""

    def __init__(self, model: CompiledProduct, assumptions: Assumptions):
        self.model = model
        n = len(model.option_ids)
        self.full = (1 << n) - 1
        self.pos = self.neg = self.atoms_pos = self.atoms_neg = 0
        self.ints: dict[int, int] = {}
        atom_bit = {var: k for k, (_, var) in enumerate(model.atom_list)}
        for lit in assumptions.context:
            k = atom_bit[abs(lit)]
            if lit > 0:
                self.atoms_pos |= 1 << k
            else:
                self.atoms_neg |= 1 << k
        for choice, _ in assumptions.choices:
            if choice.kind == "excluded":
                self.neg |= 1 << model.index[choice.target]
            elif choice.kind == "option":
                self.pos |= 1 << model.index[choice.target]
                if choice.quantity is not None and model.qty[choice.target].bits:
                    self.ints[model.counted_index[("qty", choice.target)]] = choice.quantity
            else:
                self.ints[model.counted_index[("comp", choice.target)]] = choice.quantity
        self.consistent: list[Solution] = []
        self.true = 0  # options some consistent solution chooses
        self.false = 0  # options some consistent solution leaves out

    def fits(self, s: Solution) -> bool:
        return ((s.chosen & self.pos) == self.pos and not s.chosen & self.neg
                and (s.atoms & self.atoms_pos) == self.atoms_pos and not s.atoms & self.atoms_neg
                and all(s.ints[i] == v for i, v in self.ints.items()))

    def scan(self, solutions: list[Solution]) -> None:
        """Take every known solution that fits the assumptions (the hot loop of a step)."""
        pos, neg = self.pos, self.neg
        # the solutions with the chosen and excluded options, from the model's columns
        fitting = _fit_index(self.model).fitting(solutions, pos, neg) if pos | neg else solutions
        if self.atoms_pos or self.atoms_neg or self.ints:
            fitting = [s for s in fitting if self.fits(s)]
        true = 0
        for s in fitting:
            true |= s.chosen
        false = 0
        for s in fitting:
            false |= ~s.chosen
        self.consistent.extend(fitting)
        self.true |= true
        self.false |= false & self.full

    def add(self, s: Solution) -> None:
        self.consistent.append(s)
        self.true |= s.chosen
        self.false |= ~s.chosen & self.full


def compute_domains(model: CompiledProduct, assumptions: Assumptions, *, reasons: bool = True,
                    quantities: bool = True) -> DomainResult:
    """Valid domains under the assumptions (call with model.lock held)."""
    solver = model.main_solver()
    base = assumptions.literals()
    cover = _Coverage(model, assumptions)
    cover.scan(model.solutions)
    calls = 0
    ok, implied = solver.propagate(assumptions=base)
    if not ok:  # the choices contradict each other by propagation alone
        return DomainResult(False, {}, {}, calls)
    true_now = set(implied)
    hidden = _hidden(model, true_now)
    option_ids = model.option_ids
    sel = model.sel
    first = model.first_option_var  # option i is variable first + i
    n = len(option_ids)
    full = cover.full
    if len(implied) > n:  # mostly auxiliary variables (tables, counters): one set lookup per option, in C
        forced_true = _mask([v - first for v in true_now.intersection(range(first, first + n))], n)
        forced_false = _mask([-v - first for v in true_now.intersection(range(-first - n + 1, -first + 1))], n)
    else:
        forced_true = _mask([lit - first for lit in implied if 0 <= lit - first < n], n)
        forced_false = _mask([-lit - first for lit in implied if 0 <= -lit - first < n], n)
    index = model.clause_index() if COMPLETION_WITNESSES else None
    boundary = _boundary(index, implied, forced_true | forced_false, forced_true) if index is not None else None
    if not cover.consistent and not (boundary is not None and _completes(index, model.solutions, *boundary[:2])):
        calls += 1
        if not solver.solve(assumptions=base):
            return DomainResult(False, {}, {}, calls)
        _found(model, cover, solver.get_model())
    blocked_true, blocked_false = forced_false, forced_true  # bit masks of options
    # a forced value holds in every valid extension, and there is one (consistent by now)
    need_true = full & ~cover.true & ~forced_false & ~forced_true
    need_false = full & ~cover.false & ~forced_true & ~forced_false
    # a value proven impossible earlier by choices that are all still made stays impossible
    memo = model.blocked_memo.setdefault(assumptions.context, _Memo())
    made = {_key(c) for c, _ in assumptions.choices}
    blocked_true |= need_true & memo.root_true
    blocked_false |= need_false & memo.root_false
    need_true &= ~memo.root_true
    need_false &= ~memo.root_false
    for i in _bits(need_true & memo.some_true):
        if any(because <= made for because in memo.by_literal[first + i]):
            need_true &= ~(1 << i)
            blocked_true |= 1 << i
    for i in _bits(need_false & memo.some_false):
        if any(because <= made for because in memo.by_literal[-(first + i)]):
            need_false &= ~(1 << i)
            blocked_false |= 1 << i
    if boundary is not None and need_true | need_false:  # solutions that break choices can still prove values
        witnessed_true, witnessed_false = _completion_witnesses(index, model.solutions, boundary,
                                                                forced_true | forced_false, first, need_true, need_false)
        need_true &= ~witnessed_true
        need_false &= ~witnessed_false
    lit_choice = {x: _key(c) for c, lits in assumptions.choices for x in lits}
    more_true, more_false, more_calls, repaired = _settle(model, cover, base, need_true, need_false, memo, lit_choice,
                                                         implied)
    blocked_true |= more_true
    blocked_false |= more_false
    calls += more_calls
    if memo.size > MAX_MEMO:
        model.blocked_memo.pop(assumptions.context, None)
    finder = ReasonFinder(model, assumptions) if reasons else None
    # An answer without reasons, quantity range or filter is the same at every step it occurs: its
    # OptionDomain is shared (read-only) — those open both ways from one dict, the others made
    # once on first use; answers with any of those are built afresh. The options are taken kind by
    # kind (which values are blocked, chosen or excluded), each kind's shared answers by index.
    plain, ranged, shared = _plain_domains(model)
    ranged_now = ranged if quantities else 0
    index_of = model.index
    fresh = ranged_now | (_mask([index_of[o] for o in hidden], n) & blocked_true if hidden else 0)
    result: dict[str, OptionDomain] = dict(plain)
    pos, neg = cover.pos, cover.neg
    for group, is_chosen, is_excluded in ((pos, True, False), (neg & ~pos, False, True), (full & ~pos & ~neg, False, False)):
        for kind, selectable, removable in ((group & blocked_true & ~blocked_false, False, True),
                                            (group & blocked_false & ~blocked_true, True, False),
                                            (group & blocked_true & blocked_false, False, False),
                                            ((group & ranged_now & ~blocked_true & ~blocked_false
                                              if not (is_chosen or is_excluded) else group & ~blocked_true & ~blocked_false),
                                             True, True)):
            if not kind:
                continue
            if is_chosen:
                state = "selected"
            elif is_excluded:
                state = "excluded"
            elif not selectable:
                state = "blocked"
            elif not removable:
                state = "required"
            else:
                state = "selectable"
            with_reason = finder is not None and state in ("blocked", "required")
            if not with_reason and kind & ~fresh:
                cache = shared.setdefault((selectable, removable, is_chosen, is_excluded), {})
                indexes = _literals(kind & ~fresh, 0, 1)
                for i in indexes:
                    if i not in cache:
                        o = option_ids[i]
                        cache[i] = OptionDomain(o, plain[o].feature, state, selectable, removable)
                result.update(zip(map(option_ids.__getitem__, indexes), map(cache.__getitem__, indexes), strict=True))
                kind &= fresh
            for i in _literals(kind, 0, 1):
                o = option_ids[i]
                dom = OptionDomain(o, plain[o].feature, state, selectable, removable)
                if with_reason:
                    reason = finder.why(sel[o] if state == "blocked" else -sel[o], o)
                    if reason is not None:
                        dom.reasons.append(reason)
                dom.hidden = o in hidden and not selectable
                result[o] = dom
    components: dict[str, tuple[int, int]] = {}
    if quantities:
        for i in _bits(ranged):
            o = option_ids[i]
            var = model.qty[o]
            dom = result[o]
            if dom.selectable:
                index = model.counted_index[("qty", o)]
                calls += _range(model, cover, base + [var.active], var, index, dom)
        for comp_id, var in model.comp.items():
            index = model.counted_index[("comp", comp_id)]
            holder = OptionDomain(comp_id, "", "", True, True)
            calls += _range(model, cover, base, var, index, holder, allow_zero=True)
            components[comp_id] = holder.quantity
    return DomainResult(True, result, components, calls, repaired)


def _settle(model: CompiledProduct, cover: _Coverage, base: list[int], need_true: int, need_false: int,
            memo: _Memo, lit_choice: dict[int, tuple], implied: list[int]) -> tuple[int, int, int, int]:
    """Decide every still-unproven value: (newly blocked "chosen", blocked "left out", SAT calls, repairs).

    While the calls are productive, each assumes one unproven value, with the phases favouring
    every unproven value and what those need through two-literal clauses (`repair.support`), so
    one model proves many. Once a model proves fewer than REPAIR_BELOW new values, the unproven
    values are first repaired from it (`_Repairs`): most differ from it by a few flips. Once a
    model proves fewer than CHUNK_BELOW, the rest go *together*: one clause "one of the unproven
    values holds", behind an activation literal, and the call either proves at least one more
    value (and, steered by the phases, usually many) or proves every one of them impossible at
    once. The unproven set only shrinks, so each new clause implies the earlier ones and one
    activation literal serves the whole step; it is retired at the end. `implied`: what
    propagation of the assumptions fixed.
    """
    first = model.first_option_var
    # Repairs and phase support only where every clause is over options (feature models).
    # Elsewhere most clauses link auxiliary variables (decision-diagram nodes of tables, counters,
    # one-hot features): measured on clib-renault, 5 % of the repairs succeeded (each failed one
    # cost 1.1 ms), following two-literal clauses misled the phases, and both cost SAT calls.
    # Nor with no choice made: then every cached solution fits, and the values they leave unproven
    # are mostly impossible outright — every repair of those fails and phase support walks most of
    # the model (automotive01's first step: 32 of 32 repairs failed, support took 70 ms of 190).
    options_only = model.clause_index() is not None
    feature_model = options_only and bool(lit_choice)
    occ = model.occurrences() if feature_model else None
    repairs = _Repairs(model, occ, cover, base, implied) if REPAIRS and feature_model else None
    supported = SUPPORT_PHASES and feature_model
    local = repairs is not None or supported
    blocked_true = blocked_false = calls = 0
    act = 0  # the step's activation literal, once chunking starts
    proved = max(CHUNK_BELOW, REPAIR_BELOW)
    last_true: set[int] | None = None  # the true literals of the step's newest model
    last_chosen = 0  # … its options chosen (a mask)
    try:
        while need_true or need_false:
            if repairs is not None and last_true is not None and proved < REPAIR_BELOW:
                need_true, need_false, last_chosen = repairs.run(last_true, last_chosen, need_true, need_false)
                if not need_true | need_false:
                    break
            if act == 0 and proved < CHUNK_BELOW and (need_true | need_false) & ((need_true | need_false) - 1):
                act = model.activation_literal()
            solver = model.main_solver()
            calls += 1
            # favour every value still unproven, so that each solution proves as many as it can
            # (python-sat replaces the whole phase vector on each call, so the list is always complete)
            wanted = _literals(need_true, first, 1) + _literals(need_false & ~need_true, first, -1)
            if supported and last_true is not None:
                solver.set_phases(support(occ, wanted, last_true) + wanted)
            else:
                solver.set_phases(wanted)
            if act:
                solver.add_clause([-act, *wanted, *_literals(need_false & need_true, first, -1)])
                assumed = [*base, act]
            else:
                if need_true:
                    i = (need_true & -need_true).bit_length() - 1
                    target = first + i
                else:
                    i = (need_false & -need_false).bit_length() - 1
                    target = -(first + i)
                assumed = [*base, target]
            if solver.solve(assumptions=assumed):
                assignment = solver.get_model()
                if local:  # a set of every literal: only repairs and phase support read it
                    last_true = set(assignment)
                s = _found(model, cover, assignment)
                last_chosen = s.chosen
                proved = (need_true & s.chosen).bit_count() + (need_false & ~s.chosen).bit_count()
                need_true &= ~s.chosen
                need_false &= s.chosen
                continue
            core = solver.get_core() or ()
            because = frozenset(lit_choice[x] for x in core if x in lit_choice)
            if act:  # every value still unproven is impossible, by the same proof
                for lit in _literals(need_true, first, 1) + _literals(need_false, first, -1):
                    memo.add(lit, first, because)
                blocked_true |= need_true
                blocked_false |= need_false
                break
            memo.add(target, first, because)
            if options_only:
                # a value proven impossible: others may be too, and one chunked call can show it
                # (in feature models; in models with tables the chunked call after a refutation
                # cost more than the per-value calls it saved — br4cp-medium, same states: 5 %)
                proved = 0
            if target > 0:
                need_true &= ~(1 << i)
                blocked_true |= 1 << i
            else:
                need_false &= ~(1 << i)
                blocked_false |= 1 << i
    finally:
        if act:
            model.main_solver().add_clause([-act])
    return blocked_true, blocked_false, calls, repairs.made if repairs is not None else 0


class _Repairs:
    """The local repairs of one step (`repair.repair`) in a feature model (every variable an
    option's, so a flip changes one bit of the solution): each unproven value is tried at most
    twice, within REPAIR_LOOKS clause looks for the step."""

    def __init__(self, model: CompiledProduct, occ: Occurrences, cover: _Coverage, base: list[int], implied: list[int]):
        self.model, self.occ, self.cover = model, occ, cover
        self.fixed = {abs(lit) for lit in implied}  # never flipped: assumed, or fixed by propagation
        self.fixed.update(abs(lit) for lit in base)
        self.tried: dict[int, int] = {}
        self.looks = REPAIR_LOOKS
        self.made = 0
        self.probes = 0

    def run(self, true: set[int], chosen: int, need_true: int, need_false: int) -> tuple[int, int, int]:
        """Repair the model whose true literals are `true` (updated; `chosen` its options) towards
        each unproven value: (still unproven "chosen", "left out", the options the model now chooses)."""
        model, first = self.model, self.model.first_option_var
        todo = _literals(need_true, first, 1) + _literals(need_false, first, -1)
        wanted = set(todo)
        failed = 0  # in a row
        for lit in todo:
            if self.looks <= 0 or (self.probes >= REPAIR_TRIAL and self.made < REPAIR_KEEP_RATE * self.probes):
                break
            if failed >= REPAIR_GIVE_UP:
                break
            i = abs(lit) - first
            if not ((need_true if lit > 0 else need_false) >> i) & 1 or self.tried.get(lit, 0) >= 2:
                continue
            self.tried[lit] = self.tried.get(lit, 0) + 1
            flips, looks = repair(self.occ, true, lit, self.fixed, wanted, max_looks=min(MAX_LOOKS, self.looks))
            self.looks -= looks
            self.probes += 1
            if flips is None:
                failed += 1
                continue
            failed = 0
            self.made += 1
            for v, new in flips.items():  # every variable is an option's (a feature model)
                true.discard(-new)
                true.add(new)
                chosen ^= 1 << (v - first)
            s = Solution(chosen, 0, ())
            model.remember(s)  # measured: keeping repaired models for later steps saves SAT calls there
            self.cover.add(s)
            need_true &= ~s.chosen
            need_false &= s.chosen
        return need_true, need_false, chosen


def _boundary(index: ClauseIndex, implied: list[int], assigned: int, assigned_true: int) -> tuple[int, int, set[int]]:
    """The options a completion of the propagated values must agree with, and their values (masks).

    `implied`: the literals unit propagation fixed under the choices (`assigned` their options,
    `assigned_true` those fixed chosen). The *boundary* is every fixed option of a clause that no
    fixed literal satisfies (its fixed literals are then all false). A valid configuration s that
    agrees with the fixed values on the boundary completes them: take the fixed values and s's
    values for every open option. A clause satisfied by the fixed literals stays satisfied; any
    other clause has no true fixed literal, so the literal s makes true in it is on an open
    option. A two-literal clause needs no look: with one option fixed and the other open it is
    satisfied (else propagation would have fixed the other), so only longer clauses are indexed.
    """
    with_literal, members = index.with_literal, index.options
    empty: frozenset[int] = frozenset()
    unsatisfied = set().union(*(with_literal.get(-lit, empty) for lit in implied))  # a fixed literal false in it …
    if unsatisfied:
        unsatisfied.difference_update(*(with_literal.get(lit, empty) for lit in implied))  # … and none true
    boundary = 0
    for k in unsatisfied:
        boundary |= members[k]
    boundary &= assigned
    return boundary, boundary & assigned_true, unsatisfied


def _completes(index: ClauseIndex, solutions: list[Solution], boundary: int, agree: int) -> bool:
    """Whether cached solutions complete the propagated values (so the choices are consistent).

    No clause crosses two regions, so each region may take its open values from a different
    solution: each needs one that agrees with the fixed values on its part of the boundary.
    """
    return all(any(s.chosen & boundary & region == agree & region for s in reversed(solutions))
               for region in index.regions)


def _completion_witnesses(index: ClauseIndex, solutions: list[Solution], boundary: tuple[int, int, set[int]],
                          assigned: int, first: int, need_true: int, need_false: int) -> tuple[int, int]:
    """Values proven possible by cached solutions that complete the propagated values (see `_boundary`).

    Such a solution need not fit the choices: it may contradict them where no open clause links
    them to open options, which is what lets the witnesses of one part of a feature model survive
    a choice in another part. A solution that differs from the fixed values on at most
    EXACT_UP_TO boundary options is then checked clause by clause: it still completes them if each
    open clause it satisfies only through such an option has a literal it makes true on an open
    option. Where the model falls into parts that share no clause (`ClauseIndex.regions`), each
    part is judged on its own part of the boundary. Returns (options proven choosable, options
    proven removable).
    """
    bound, agree, unsatisfied = boundary
    proved_true = proved_false = 0
    for region in index.regions:  # no clause crosses two: each takes its witnesses where it finds them
        if need_true & region or need_false & region:
            more_true, more_false = _region_witnesses(index, solutions, bound & region, agree & region, unsatisfied,
                                                      assigned, first, need_true & region, need_false & region)
            proved_true |= more_true
            proved_false |= more_false
    return proved_true, proved_false


def _region_witnesses(index: ClauseIndex, solutions: list[Solution], bound: int, agree: int, unsatisfied: set[int],
                      assigned: int, first: int, need_true: int, need_false: int) -> tuple[int, int]:
    """`_completion_witnesses` within one region (its part of the boundary)."""
    want_true, want_false = need_true, need_false
    near: list[tuple[Solution, int]] = []
    for s in reversed(solutions):  # the newest first: they follow the latest choices
        differ = (s.chosen ^ agree) & bound
        if not differ:
            want_true &= ~s.chosen
            want_false &= s.chosen
            if not want_true | want_false:
                return need_true, need_false
        elif differ.bit_count() <= EXACT_UP_TO:
            near.append((s, differ))
    with_literal, positive, negative = index.with_literal, index.positive, index.negative
    free = ~assigned
    open_clauses: dict[int, list[int]] = {}  # a literal → the still-open clauses it occurs in
    empty: frozenset[int] = frozenset()
    for s, differ in near:
        chosen = s.chosen
        if not (want_true & chosen or want_false & ~chosen):
            continue  # proves nothing new
        free_chosen, free_unchosen = chosen & free, free & ~chosen
        for d in _bits(differ):
            lit = first + d if (chosen >> d) & 1 else -(first + d)  # its literal on d
            clauses = open_clauses.get(lit)
            if clauses is None:
                clauses = open_clauses[lit] = list(with_literal.get(lit, empty) & unsatisfied)
            if not all(positive[k] & free_chosen or negative[k] & free_unchosen for k in clauses):
                break
        else:
            want_true &= ~chosen
            want_false &= chosen
            if not want_true | want_false:
                break
    return need_true & ~want_true, need_false & ~want_false


MAX_COLUMNS = 1024  # options whose column a model's _FitIndex keeps (all dropped when more are asked for)
COLUMN_ABOVE = 4  # a choice gets a column when more than 1 / COLUMN_ABOVE of the cache is left to test against it


class _FitIndex:
    """Which cached solutions choose an option, as a mask over their positions in the cache (a
    *column*), kept for options that were chosen or excluded: a step's fitting solutions are the
    AND of its choices' columns instead of a test of every cached solution. A column costs one
    pass over the cache, so a choice gets one only while the other choices' columns leave more
    than a quarter of the cache (the first choices of a walk, which later steps repeat); the
    remaining choices are tested on the solutions left. Columns are extended by the solutions
    added since the last step, and dropped when the cache is trimmed."""

    def __init__(self) -> None:
        self.solutions: list[Solution] | None = None
        self.head: Solution | None = None  # the oldest cached solution when last synced (trimmed: another)
        self.synced = 0
        self.columns: dict[int, int] = {}
        self.keys = 0  # the options with a column (a mask)

    def fitting(self, solutions: list[Solution], pos: int, neg: int) -> list[Solution]:
        self._sync(solutions)
        columns, size = self.columns, len(solutions)
        fit = (1 << size) - 1
        rest = []
        for i in _literals(pos | neg, 0, 1):
            column = columns.get(i)
            if column is None:
                rest.append(i)
            else:
                fit &= column if (pos >> i) & 1 else ~column
        while rest and fit.bit_count() * COLUMN_ABOVE > size:
            i = rest.pop()
            if len(columns) >= MAX_COLUMNS:
                columns.clear()
                self.keys = 0
            bit = 1 << i
            column = columns[i] = _mask([j for j, s in enumerate(solutions) if s.chosen & bit], size)
            self.keys |= bit
            fit &= column if (pos >> i) & 1 else ~column
        fitting = [solutions[j] for j in _literals(fit, 0, 1)] if fit else []
        if rest and fitting:  # the choices without a column, tested on what the columns left
            untested = _mask(rest, max(rest) + 1)
            more_pos, more_neg = pos & untested, neg & untested
            fitting = [s for s in fitting if s.chosen & more_pos == more_pos and not s.chosen & more_neg]
        return fitting

    def _sync(self, solutions: list[Solution]) -> None:
        size = len(solutions)
        if solutions is not self.solutions or size < self.synced or (size and solutions[0] is not self.head):
            self.solutions, self.columns, self.keys = solutions, {}, 0
        elif self.columns:
            columns, keys = self.columns, self.keys
            for j in range(self.synced, size):  # one mask operation a solution, then only the columns it is in
                bit = 1 << j
                for i in _literals(solutions[j].chosen & keys, 0, 1):
                    columns[i] |= bit
        self.synced = size
        self.head = solutions[0] if size else None


def _fit_index(model: CompiledProduct) -> _FitIndex:
    index = model.fit_index
    if index is None:
        index = model.fit_index = _FitIndex()
    return index


def _plain_domains(model: CompiledProduct) -> tuple[dict[str, OptionDomain], int, dict[tuple, dict[int, OptionDomain]]]:
    """Each option's "selectable either way" answer, the mask of options with a quantity range, and
    the other shared answers made so far, by kind — (selectable, removable, chosen, excluded) —
    and option index (see compute_domains)."""
    cached = model.plain_domains
    if cached is None:
        plain = {o: OptionDomain(o, model.feature_of[o].id, "selectable", True, True) for o in model.option_ids}
        ranged = sum(1 << i for i, o in enumerate(model.option_ids) if model.qty[o].bits)
        cached = model.plain_domains = (plain, ranged, {})
    return cached


class _Memo:
    """Values proven impossible, with the choices each proof used (empty: impossible outright)."""

    def __init__(self) -> None:
        self.root_true = 0  # options that can never be chosen (in this context)
        self.root_false = 0  # options that can never be left out
        self.by_literal: dict[int, list[frozenset]] = {}
        self.some_true = 0  # options with a proof in by_literal that they cannot be chosen
        self.some_false = 0  # … that they cannot be left out
        self.size = 0

    def add(self, lit: int, first: int, because: frozenset) -> None:
        if not because:
            if lit > 0:
                self.root_true |= 1 << (lit - first)
            else:
                self.root_false |= 1 << (-lit - first)
        else:
            self.by_literal.setdefault(lit, []).append(because)
            if lit > 0:
                self.some_true |= 1 << (lit - first)
            else:
                self.some_false |= 1 << (-lit - first)
            self.size += 1


def _hidden(model: CompiledProduct, true: set[int]) -> set[str]:
    """Options a filter rule hides under these assumptions (its condition holds)."""
    out: set[str] = set()
    for when, options in model.filters:
        if when is None or when == model.cnf.TRUE or when in true:
            out.update(options)
    return out


def _bits(mask: int):
    """Indexes of the set bits of a mask, lowest first."""
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


_BINARY_DIGITS = bytes.maketrans(b"01", b"\x00\x01")


def _mask(indexes: list[int], n: int) -> int:
    """The mask with these bits set (all below n), built as one numeral: setting bits one by one
    costs a copy of the whole mask each."""
    if len(indexes) < 8:
        return sum(1 << i for i in set(indexes))
    digits = bytearray(b"0" * n)
    for i in indexes:
        digits[i] = 49  # "1"
    return int(digits[::-1], 2)


def _literals(mask: int, first: int, sign: int) -> list[int]:
    """sign × (first + i) for every set bit i of the mask.

    Both ways read the mask's binary digits (digit i at position i): a sparse mask by finding
    each "1" (~0.5 µs a bit), a dense one by letting the digits select from a count in C (~60 ns a
    digit, set or not) — a model's masks have thousands of digits, mostly few bits set.
    """
    if not mask:
        return []
    digits = bin(mask)[:1:-1]
    if mask.bit_count() > len(digits) // 10:
        return list(compress(count(first, 1) if sign > 0 else count(-first, -1),
                             digits.encode().translate(_BINARY_DIGITS)))
    out = []
    start = first if sign > 0 else -first
    i = digits.find("1")
    while i >= 0:
        out.append(start + i if sign > 0 else start - i)
        i = digits.find("1", i + 1)
    return out


def _found(model: CompiledProduct, cover: _Coverage, assignment) -> Solution:
    s = model.solution_from(assignment)
    model.remember(s)
    cover.add(s)
    return s


def _range(model: CompiledProduct, cover: _Coverage, base: list[int], var: IntVar, index: int,
           dom: OptionDomain, allow_zero: bool = False) -> int:
    """Tight [min, max] of an integer under the assumptions (only non-zero values unless allow_zero)."""
    solver = model.main_solver()
    seen = [s.ints[index] for s in cover.consistent if allow_zero or s.ints[index] > 0]
    calls = 0
    if not seen:
        calls += 1
        if not solver.solve(assumptions=base):
            return calls
        seen = [_found(model, cover, solver.get_model()).ints[index]]
    low, high = min(seen), max(seen)
    floor = 0 if allow_zero and var.active != model.cnf.TRUE else var.lo
    # largest: high is feasible; search (high, var.hi]
    top = var.hi
    while high < top:
        mid = (high + top + 1) // 2
        calls += 1
        if solver.solve(assumptions=[*base, model.cnf.int_ge(var, mid)]):
            high = _found(model, cover, solver.get_model()).ints[index]
        else:
            top = mid - 1
    # smallest: low is feasible; search [floor, low)
    bottom = floor
    while bottom < low:
        mid = (bottom + low) // 2
        calls += 1
        if solver.solve(assumptions=[*base, -model.cnf.int_ge(var, mid + 1)]):
            low = _found(model, cover, solver.get_model()).ints[index]
        else:
            bottom = mid + 1
    dom.quantity = (low, high)
    return calls
