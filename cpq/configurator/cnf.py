"""Clause building blocks: variables, gates, bounded integers and linear (pseudo-Boolean) atoms.

Every gate is defined by full equivalence (Tseitin), so that once its inputs are known unit
propagation fixes its output; that is what lets `validate` read a formula's clauses from one
propagation and lets a gate be negated by negating its literal. Gates are cached by their inputs.

A linear atom `Σ wᵢ·lᵢ ≤ K` (integer weights, literals) is encoded as a binary adder network
(full adders column by column) followed by a comparator with the constant K: size O(n·log K),
which keeps quantities up to tens of thousands cheap. Bounded integers are binary with an
offset: `x = lo·active + Σ 2ʲ·bⱼ`, bits only when active, `Σ 2ʲ·bⱼ ≤ hi − lo`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from math import gcd

from pysat.card import CardEnc, EncType


@dataclass(frozen=True)
class IntVar:
    """A bounded integer: 0 when `active` is false, else lo + Σ 2ʲ·bits[j] within [lo, hi]."""

    name: str
    active: int
    lo: int
    hi: int
    bits: tuple[int, ...]

    def terms(self) -> list[tuple[int, tuple[int, ...]]]:
        """x as a sum of (coefficient, conjunction of literals)."""
        out = [(self.lo, (self.active,))] if self.lo else []
        out += [(1 << j, (b,)) for j, b in enumerate(self.bits)]
        return out

    def value(self, true: set[int] | frozenset[int]) -> int:
        """The integer this variable holds in a model given as its set of true literals."""
        if self.active not in true:
            return 0
        return self.lo + sum(1 << j for j, b in enumerate(self.bits) if b in true)


class CNF:
    """A growing clause set with gate caches; new hard clauses are forwarded to live solvers."""

    def __init__(self) -> None:
        self.nvars = 1
        self.TRUE = 1
        self.hard: list[list[int]] = [[1]]
        self.listeners: list = []
        self._gates: dict[tuple, int] = {}
        self.implied_by: dict[int, int] = {}  # bit literal → the `active` literal it implies

    # ------------------------------------------------------------------ basics
    def new_var(self) -> int:
        self.nvars += 1
        return self.nvars

    def add(self, clause: Sequence[int]) -> None:
        clause = list(clause)
        self.hard.append(clause)
        for solver in self.listeners:
            solver.add_clause(clause)

    @property
    def FALSE(self) -> int:  # noqa: N802 - a constant, like TRUE
        return -self.TRUE

    def const(self, value: bool) -> int:
        return self.TRUE if value else -self.TRUE

    # ------------------------------------------------------------------ gates
    def and_gate(self, lits: Iterable[int]) -> int:
        """A literal equivalent to the conjunction of `lits`."""
        items = set()
        for lit in lits:
            if lit == self.TRUE:
                continue
            if lit == -self.TRUE or -lit in items:
                return -self.TRUE
            items.add(lit)
        if not items:
            return self.TRUE
        # a bit of a quantity implies the option is chosen: drop the implied `active` literal
        for lit in list(items):
            active = self.implied_by.get(lit)
            if active is not None and active in items and active != lit:
                items.discard(active)
        if len(items) == 1:
            return next(iter(items))
        key = ("and", frozenset(items))
        gate = self._gates.get(key)
        if gate is None:
            gate = self._gates[key] = self.new_var()
            for lit in items:
                self.add([-gate, lit])
            self.add([gate, *(-lit for lit in items)])
        return gate

    def or_gate(self, lits: Iterable[int]) -> int:
        return -self.and_gate(-lit for lit in lits)

    def implies_all(self, lits: Iterable[int]) -> int:
        """A fresh literal r with r → every lit (one direction; for literals used positively only)."""
        items = frozenset(lit for lit in lits if lit != self.TRUE)
        if -self.TRUE in items:
            return -self.TRUE
        if len(items) <= 1:
            return next(iter(items)) if items else self.TRUE
        key = ("imp", items)
        gate = self._gates.get(key)
        if gate is None:
            gate = self._gates[key] = self.new_var()
            for lit in items:
                self.add([-gate, lit])
        return gate

    def xor_gate(self, a: int, b: int) -> int:
        if a == b:
            return -self.TRUE
        if a == -b:
            return self.TRUE
        for x, y in ((a, b), (b, a)):
            if abs(x) == self.TRUE:
                return y if x == -self.TRUE else -y
        key = ("xor", frozenset((a, b)))
        gate = self._gates.get(key)
        if gate is None:
            gate = self._gates[key] = self.new_var()
            self.add([-gate, a, b])
            self.add([-gate, -a, -b])
            self.add([gate, -a, b])
            self.add([gate, a, -b])
        return gate

    def maj_gate(self, a: int, b: int, c: int) -> int:
        """At least two of three."""
        for x, y, z in ((a, b, c), (b, a, c), (c, a, b)):
            if x == self.TRUE:
                return self.or_gate([y, z])
            if x == -self.TRUE:
                return self.and_gate([y, z])
        key = ("maj", frozenset((a, b, c)))
        gate = self._gates.get(key)
        if gate is None:
            gate = self._gates[key] = self.new_var()
            for x, y in ((a, b), (a, c), (b, c)):
                self.add([gate, -x, -y])
                self.add([-gate, x, y])
        return gate

    # ------------------------------------------------------------------ integers
    def int_var(self, name: str, lo: int, hi: int, active: int | None = None) -> IntVar:
        """x = 0 when `active` is false, else lo ≤ x ≤ hi (lo ≥ 1). `active=None` makes one."""
        if active is None:
            active = self.new_var()
        bits = tuple(self.new_var() for _ in range((hi - lo).bit_length()))
        for b in bits:
            self.add([-b, active])
            self.implied_by[b] = active
        if bits:
            self.add([self.bits_le(bits, hi - lo)])
        return IntVar(name, active, lo, hi, bits)

    def bits_le(self, bits: Sequence[int], k: int) -> int:
        """A literal equivalent to Σ 2ʲ·bits[j] ≤ k (bits least significant first)."""
        if k < 0:
            return -self.TRUE
        width = max(len(bits), k.bit_length())
        result = self.TRUE  # the empty suffix compares equal
        # built from the least significant bit up: with le(j) = "bits 0..j ≤ k's bits 0..j",
        # le(j) = ¬b ∨ le(j−1) where k has a 1, and ¬b ∧ le(j−1) where it has a 0
        for j in range(width):
            bit = bits[j] if j < len(bits) else -self.TRUE
            result = self.or_gate([-bit, result]) if (k >> j) & 1 else self.and_gate([-bit, result])
        return result

    def int_ge(self, x: IntVar, v: int) -> int:
        """A literal equivalent to x ≥ v."""
        if v <= 0:
            return self.TRUE
        if v > x.hi:
            return -self.TRUE
        if v <= x.lo:
            return x.active
        return -self.bits_le(x.bits, v - x.lo - 1)

    def int_eq(self, x: IntVar, v: int) -> int:
        """A literal equivalent to x == v."""
        return self.and_gate([self.int_ge(x, v), -self.int_ge(x, v + 1)])

    # ------------------------------------------------------------------ linear atoms
    def linear_le(self, terms: Iterable[tuple[int, int]], bound: int) -> int:
        """A literal equivalent to Σ coef·lit ≤ bound (integer coefficients of any sign)."""
        by_var: dict[int, int] = {}
        for coef, lit in terms:
            if coef == 0:
                continue
            if abs(lit) == self.TRUE:
                bound -= coef if lit == self.TRUE else 0
                continue
            if lit < 0:  # c·¬v = c − c·v
                bound -= coef
                by_var[-lit] = by_var.get(-lit, 0) - coef
            else:
                by_var[lit] = by_var.get(lit, 0) + coef
        weighted: list[tuple[int, int]] = []
        for var, coef in by_var.items():
            if coef > 0:
                weighted.append((coef, var))
            elif coef < 0:  # c·v = c − c·¬v with −c > 0
                bound -= coef
                weighted.append((-coef, -var))
        if bound < 0:
            return -self.TRUE
        if sum(w for w, _ in weighted) <= bound:
            return self.TRUE
        g = 0
        for w, _ in weighted:
            g = gcd(g, w)
        if g > 1:
            weighted = [(w // g, lit) for w, lit in weighted]
            bound //= g
        weighted.sort(key=lambda t: (-t[0], t[1]))
        key = ("le", tuple(weighted), bound)
        cached = self._gates.get(key)
        if cached is not None:
            return cached
        if all(w > bound for w, _ in weighted) or all(w == 1 for w, _ in weighted) and bound == 0:
            result = self.and_gate(-lit for _, lit in weighted)
        elif all(w == 1 for w, _ in weighted) and bound == len(weighted) - 1:
            result = self.or_gate(-lit for _, lit in weighted)
        else:
            result = self.bits_le(self._adder(weighted), bound)
        self._gates[key] = result
        return result

    def _adder(self, weighted: list[tuple[int, int]]) -> list[int]:
        """The bits (LSB first) of Σ w·lit, built from full and half adders."""
        columns: list[list[int]] = []
        for w, lit in weighted:
            j = 0
            while w:
                if w & 1:
                    while len(columns) <= j:
                        columns.append([])
                    columns[j].append(lit)
                w >>= 1
                j += 1
        out = []
        j = 0
        while j < len(columns):
            col = columns[j]
            while len(col) >= 2:
                if len(columns) <= j + 1:
                    columns.append([])
                if len(col) >= 3:
                    a, b, c = col.pop(0), col.pop(0), col.pop(0)
                    col.append(self.xor_gate(self.xor_gate(a, b), c))
                    columns[j + 1].append(self.maj_gate(a, b, c))
                else:
                    a, b = col.pop(0), col.pop(0)
                    col.append(self.xor_gate(a, b))
                    columns[j + 1].append(self.and_gate([a, b]))
            out.append(col[0] if col else -self.TRUE)
            j += 1
        return out

    # ------------------------------------------------------------------ cardinality
    def card_clauses(self, lits: Sequence[int], lo: int | None, hi: int | None) -> list[list[int]]:
        """Clauses for lo ≤ Σ lits ≤ hi (aux variables allocated here); [[]] when impossible."""
        lits = list(lits)
        n = len(lits)
        out: list[list[int]] = []
        if lo is not None and lo > n:
            return [[]]
        if lo is not None and lo > 0:
            if lo == 1:
                out.append(list(lits))
            elif lo == n:
                out.extend([lit] for lit in lits)
            else:
                out.extend(self._card(CardEnc.atleast, lits, lo))
        if hi is not None and hi < n:
            if hi == 0:
                out.extend([-lit] for lit in lits)
            elif hi == 1 and n <= 6:
                out.extend([-a, -b] for i, a in enumerate(lits) for b in lits[i + 1:])
            else:
                out.extend(self._card(CardEnc.atmost, lits, hi))
        return out

    def _card(self, encode, lits: list[int], bound: int) -> list[list[int]]:
        enc = encode(lits=lits, bound=bound, top_id=self.nvars, encoding=EncType.seqcounter)
        self.nvars = max(self.nvars, enc.nv)
        return [list(c) for c in enc.clauses]
