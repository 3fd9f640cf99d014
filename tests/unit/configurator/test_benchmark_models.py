"""On the public Renault models (read from ../shared/bench when present): real configurations stay
configurable in any order, and valid domains agree with an independent naive SAT encoding."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from pysat.card import CardEnc, EncType
from pysat.solvers import Solver

from cpq.configurator.domains import compute_domains
from cpq.configurator.model import CompiledProduct
from cpq.configurator.selection import Choice, assumptions_for
from cpq.importers import write_rule_file
from cpq.importers.clib import read_clib
from cpq.importers.xcsp import read_xcsp
from cpq.ruleset.loader import load_ruleset

BENCH = Path(__file__).resolve().parents[4] / "shared" / "bench"
CLIB = BENCH / "clib-renault"
BR4CP = BENCH / "br4cp-renault" / "medium_domainsorted.xml"
SALES = BENCH / "br4cp-renault" / "config_medium_filtered.txt"


def _load(reader, source, tmp_path_factory):
    if not Path(source).exists():
        pytest.skip(f"{source} not present")
    imported = reader(source)
    folder = tmp_path_factory.mktemp(imported.family)
    write_rule_file(imported, folder)
    ruleset = load_ruleset([folder])
    return imported, CompiledProduct(ruleset, ruleset.products[imported.product_id])


@pytest.fixture(scope="module")
def br4cp(tmp_path_factory):
    return _load(read_xcsp, BR4CP, tmp_path_factory)


@pytest.fixture(scope="module")
def clib(tmp_path_factory):
    return _load(read_clib, CLIB, tmp_path_factory)


class NaiveModel:
    """The product's tables and features encoded the plainest way (a variable per row), by this test."""

    def __init__(self, model: CompiledProduct):
        product = model.product
        self.var = {o: i + 1 for i, o in enumerate(model.option_ids)}
        top = len(self.var)
        clauses = []
        for f in product.features:
            enc = CardEnc.equals([self.var[o] for o in f.options], bound=1, top_id=top, encoding=EncType.seqcounter)
            top = max(top, enc.nv)
            clauses += enc.clauses
        for c in product.constraints:
            if c.kind == "cardinality":
                clauses += [[-self.var[o]] for o in c.options]  # the importers only write "max: 0" ones
                assert c.max == 0
                continue
            assert c.kind == "table" and c.allowed
            rows = []
            for row in c.rows:
                top += 1
                rows.append(top)
                clauses += [[-top, self.var[cell]] for cell in row if cell != "*"]
            clauses.append(rows)
            # support clauses (each chosen option needs a row that has it) help the solver along
            columns = [next(f for f in product.features if f.id == col) for col in c.columns]
            for k, feature in enumerate(columns):
                for o in feature.options:
                    clauses.append([-self.var[o], *(r for r, row in zip(rows, c.rows, strict=True) if row[k] in (o, "*"))])
        self.solver = Solver(name="minisat22", bootstrap_with=clauses)

    def selectable(self, chosen: list[str], option: str) -> bool:
        return self.solver.solve(assumptions=[*(self.var[o] for o in chosen), self.var[option]])


def _domains(model: CompiledProduct, chosen: list[str]):
    with model.lock:
        return compute_domains(model, assumptions_for(model, [Choice("option", o) for o in chosen], {}),
                               reasons=False, quantities=False)


def test_every_value_of_sold_configurations_stays_selectable_in_any_order(br4cp):
    imported, model = br4cp
    lines = SALES.read_text().split("\n")
    names = lines[0].split()
    sold = [line.split() for line in lines[1:] if line.strip()]
    rng = random.Random(3)
    for values in rng.sample(sold, 12):
        options = [imported.option_of[(v, x)] for v, x in zip(names, values, strict=True)]
        rng.shuffle(options)
        for k in range(len(options)):
            result = _domains(model, options[:k])
            assert result.consistent
            assert all(result.options[o].selectable for o in options[k:]), (options[:k], options[k:])


def test_random_full_configurations_of_clib_stay_selectable_in_any_order(clib):
    _, model = clib
    rng = random.Random(5)
    solver = model.main_solver()
    variables = [model.sel[o] for o in model.option_ids]
    for _ in range(4):
        solver.set_phases([v if rng.random() < 0.5 else -v for v in variables])
        assert solver.solve()
        truth = set(solver.get_model())
        options = [o for o in model.option_ids if model.sel[o] in truth]
        rng.shuffle(options)
        for k in range(0, len(options), 7):
            result = _domains(model, options[:k])
            assert all(result.options[o].selectable for o in options[k:])


@pytest.mark.parametrize(("which", "states", "sample"), [("br4cp", 70, None), ("clib", 35, 80)])
def test_valid_domains_agree_with_a_naive_encoding_on_random_states(request, which, states, sample):
    imported, model = request.getfixturevalue(which)
    naive = NaiveModel(model)
    rng = random.Random(11)
    checked = 0
    while checked < states:
        chosen: list[str] = []
        for _ in range(rng.randint(0, 12)):
            result = _domains(model, chosen)
            open_features = [f for f in model.product.features
                             if not any(o in chosen for o in f.options)]
            feature = rng.choice(open_features)
            chosen.append(rng.choice([o for o in feature.options if result.options[o].selectable]))
        result = _domains(model, chosen)
        options = model.option_ids if sample is None else rng.sample(model.option_ids, sample)
        for o in options:
            assert result.options[o].selectable == naive.selectable(chosen, o), (chosen, o)
        checked += 1
