"""Pricing A/B: this tree's engine against the engine of an earlier commit, in one process.

    PYTHONPATH=. python bench/price_ab.py REV [--rounds 31] [--rules 20000]

The machine is shared and its speed moves by up to 2× between runs, so a change is measured
here against a baseline in the same run: the 20,000-rule catalog of bench/price.py is loaded
once, and the same quotes are priced by both engines alternately, round by round. REV's
`cpq/pricing/engine.py` and `program.py` are read with `git show` and imported beside this tree's
(the other pricing modules are this tree's: use a REV whose engine still imports them). Before
timing, both must give the same lines, amounts, waterfall steps and totals (it stops otherwise).
Printed: CPU median and minimum per engine and their ratios, for the 1,000-line quote of
bench/price.py (a product and one option per line) and 1,000 lines of the product alone.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import price as bench  # noqa: E402

from cpq.pricing import engine as current  # noqa: E402


def engine_at(rev: str, folder: Path):
    """REV's pricing engine as a module, with REV's program module under it."""
    for name in ("engine", "program"):
        text = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:cpq/pricing/{name}.py"], check=True,
                              capture_output=True, text=True).stdout
        text = text.replace("from cpq.pricing.program import", "from _ab_program import")
        (folder / f"_ab_{name}.py").write_text(text)
    sys.path.insert(0, str(folder))
    modules = {}
    for name in ("program", "engine"):
        spec = importlib.util.spec_from_file_location(f"_ab_{name}", folder / f"_ab_{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
        spec.loader.exec_module(module)
        modules[name] = module
    return modules["engine"]


def outcome(quote) -> list:
    """What a user reads of a priced quote, comparable across the two engines' classes."""
    items = [(i.sku, i.net, i.total, [(s.kind, s.label, s.before, s.after, s.rule_id, s.source, s.note)
                                      for s in i.steps]) for line in quote.lines for i in line.items]
    t = quote.totals
    return items + [(t.list, t.one_time, t.net, t.grand_total, t.discount_percent, t.margin_percent)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("rev", help="the commit to compare with, e.g. 5a05b37")
    parser.add_argument("--rounds", type=int, default=31)
    parser.add_argument("--rules", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cpq-ab-") as tmp:
        before = engine_at(args.rev, Path(tmp))
        ruleset = bench.load(args.rules)[0]
    engines = {args.rev: before, "this tree": current}
    shapes = {"1000 lines": bench.make_quote(1000, seed=1000),
              "1000 lines of one item": bench.make_quote(1000, seed=1000, with_option=False)}
    for label, (request, context) in shapes.items():
        results = [outcome(e.price_quote(ruleset, request, context)) for e in engines.values()]
        if results[0] != results[1]:
            sys.exit(f"{label}: the two engines price differently")
        times = {name: [] for name in engines}
        for _ in range(args.rounds):
            for name, e in engines.items():
                started = time.process_time()
                e.price_quote(ruleset, request, context)
                times[name].append((time.process_time() - started) * 1000)
        median = {n: sorted(v)[len(v) // 2] for n, v in times.items()}
        least = {n: min(v) for n, v in times.items()}
        print(f"{label:<24} " + "   ".join(f"{n}: CPU median {median[n]:6.1f} ms, min {least[n]:6.1f} ms"
                                         for n in engines)
              + f"   this/before: median {median['this tree'] / median[args.rev]:.3f}, "
                f"min {least['this tree'] / least[args.rev]:.3f}   (same prices: True)", flush=True)
    print(f"({bench._load_average()})")


if __name__ == "__main__":
    main()
