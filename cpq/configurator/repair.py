"""Local repair: new models of the clauses from a known one, in Python, without a SAT call.

Most values a domain computation still has to prove after its first SAT calls differ from the
newest model by a handful of variables: an alternative instead of its sibling, an option
together with the options it requires. A SAT call finds such a model in ~2 ms on the largest
benchmark model, most of it spent deciding again the thousands of variables that stay as they
were. `repair` flips the target variable of the known model and then only what has to change:
every clause holding a literal that a flip made false is looked at, and if none of its literals
is true any more one of them is made true — the only one that can be, else one the caller wants,
else the one whose opposite occurs in fewest clauses. A variable is flipped at most once and an
assumed (or propagated) variable never is, so the search is greedy and bounded. It either ends
with every clause it looked at satisfied — and since a clause it did not look at holds no
literal a flip made false, the result is a model of all the clauses under the same assumptions,
a proof — or it gives up and the caller asks the solver.

`support` serves the SAT calls themselves: the literals a wanted value needs through two-literal
clauses (an option's parent, what it requires), so that the solver's phases favour them too.
"""

from __future__ import annotations

from collections.abc import Container, Sequence

MAX_FLIPS = 40  # flips one repair may make
MAX_LOOKS = 500  # clauses one repair may look at
MAX_BRANCH = 3  # ways tried to satisfy one clause


class Occurrences:
    """The clauses by literal, and the two-literal clauses as implications (built once per model)."""

    def __init__(self, clauses: Sequence[Sequence[int]], true_var: int):
        occ: dict[int, list[tuple[int, ...]]] = {}
        implies: dict[int, list[int]] = {}
        for clause in clauses:
            if true_var in clause:
                continue  # always satisfied
            body = tuple(lit for lit in clause if lit != -true_var)
            for lit in body:
                occ.setdefault(lit, []).append(body)
            if len(body) == 2:
                a, b = body
                implies.setdefault(-a, []).append(b)
                implies.setdefault(-b, []).append(a)
        self.of: dict[int, tuple[tuple[int, ...], ...]] = {lit: tuple(cs) for lit, cs in occ.items()}
        self.size: dict[int, int] = {lit: len(cs) for lit, cs in occ.items()}
        self.implies: dict[int, tuple[int, ...]] = {lit: tuple(v) for lit, v in implies.items()}


def repair(occ: Occurrences, true: set[int], target: int, fixed: Container[int], wanted: Container[int] = (),
           max_flips: int = MAX_FLIPS, max_looks: int = MAX_LOOKS) -> tuple[dict[int, int] | None, int]:
    """The flips that turn the model whose true literals are `true` into one with `target` true.

    Returns ({variable: its new literal}, or None when the search finds nothing within its
    bounds; the clause looks it took) and leaves `true` as it was. `fixed`: variables that keep
    their value (the assumptions, and what propagation fixed). Depth first: at a clause with
    several ways to satisfy it, the next way is tried when the first leads nowhere.
    """
    if target in true:
        return {}, 0
    if abs(target) in fixed:
        return None, 0
    of, size = occ.of, occ.size
    order: list[int] = []  # the literals made true, in order
    flipped: set[int] = set()
    looks = 0

    def make(lit: int) -> None:
        order.append(lit)
        flipped.add(abs(lit))
        true.discard(-lit)
        true.add(lit)

    def undo(mark: int) -> None:
        while len(order) > mark:
            lit = order.pop()
            flipped.discard(abs(lit))
            true.discard(lit)
            true.add(-lit)

    def search(pending: list[tuple[int, ...]]) -> bool:
        """Whether the pending clauses (consumed) can all be satisfied by further flips (made, when they can)."""
        nonlocal looks
        while pending:
            clause = pending.pop()
            looks += 1
            if not true.isdisjoint(clause):
                continue
            if looks > max_looks or len(order) >= max_flips:
                return False
            choices = [x for x in clause if abs(x) not in flipped and abs(x) not in fixed]
            if len(choices) == 1:  # no choice: no way back to keep either
                make(choices[0])
                pending.extend(of.get(-choices[0], ()))
                continue
            if not choices:
                return False
            choices.sort(key=lambda x: (x not in wanted, size.get(-x, 0)))
            mark, saved = len(order), pending
            for x in choices[:MAX_BRANCH]:
                make(x)
                if search([*saved, *of.get(-x, ())]):
                    return True
                undo(mark)
                if looks > max_looks:
                    break
            return False
        return True

    make(target)
    try:
        found = search(list(of.get(-target, ())))
        return ({abs(lit): lit for lit in order} if found else None), looks
    finally:
        undo(0)


def support(occ: Occurrences, wanted: Sequence[int], true: Container[int]) -> list[int]:
    """The literals the wanted ones imply through two-literal clauses, transitively, that `true` lacks.

    A literal already true in the known model is not followed further: what it needs is, as a
    rule, true there as well, and following it would walk most of the model.
    """
    implies = occ.implies
    seen = set(wanted)
    stack = [lit for lit in wanted if lit not in true]
    out: list[int] = []
    while stack:
        for nxt in implies.get(stack.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                if nxt not in true:
                    out.append(nxt)
                    stack.append(nxt)
    return out
