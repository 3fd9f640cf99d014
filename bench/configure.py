"""Benchmark: valid domains after every step, on public configuration models (not a test).

    PYTHONPATH=. python bench/configure.py [--models clib-renault,br4cp-medium,automotive01,linux]
        [--bench-dir ../shared/bench] [--walks 3] [--steps 40] [--sales 60] [--baseline-steps 15]
        [--scale 1,2,5,10] [--reasons] [--per-value-tail] [--fitting-only] [--no-repairs]

Each model is imported with `cpq.importers` into a temporary folder, loaded by the real loader
and compiled by the configurator. Workloads: BR4CP medium replays sold configurations (each
one's customer-visible variables assigned one by one in random order); the other models do
random walks (a random undecided feature gets a random value that is still possible). After
every step all valid domains are recomputed — both "can be chosen" and "can be left out" for
every option — by this project's engine (`compute_domains`: propagation, solution cache,
phase-guided SAT calls, remembered refutations) and, on the same states, by a plain baseline:
one SAT call per value on an incremental solver with the same clauses and no reuse. Reasons for
blocked options are not part of the timed domain computation (`--reasons` times them too).
Printed: load and compile time, first step, mean / p95 / max per step, SAT calls per step, and
disagreements between the two methods (must be 0). `--scale 1,2,5,10` runs each DIMACS model
also as 2, 5, 10 disjoint renamed copies of itself, to show how the cost grows with model size.
`--per-value-tail` / `--fitting-only` / `--no-repairs` also time every state on a twin model
(compiled and seeded the same way) that never asks unproven values together / whose cached
solutions prove values only when they fit every choice (no completion witnesses) / that neither
repairs models locally nor steers the solver's phases by two-literal clauses (the engine before
them), so that the effect of each shows in one run, on the same states, under the same load.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from pysat.solvers import Solver

from cpq.configurator import domains
from cpq.configurator.domains import compute_domains
from cpq.configurator.model import SOLVER_NAME, CompiledProduct
from cpq.configurator.selection import Choice, assumptions_for
from cpq.importers import write_rule_file
from cpq.importers.clib import read_clib
from cpq.importers.dimacs import read_dimacs
from cpq.importers.xcsp import read_xcsp
from cpq.ruleset.loader import load_ruleset

MODELS = {
    "clib-renault": (read_clib, "clib-renault", "walk"),
    "br4cp-medium": (read_xcsp, "br4cp-renault/medium_domainsorted.xml", "sales"),
    "automotive01": (read_dimacs, "feature-models/automotive01.dimacs", "walk"),
    "linux": (read_dimacs, "feature-models/linux-2.6.33.3.dimacs", "walk"),
    "busybox": (read_dimacs, "feature-models/busybox-1.18.0.dimacs", "walk"),
    "embtoolkit": (read_dimacs, "feature-models/embtoolkit.dimacs", "walk"),
    "uclibc": (read_dimacs, "feature-models/uclibc.dimacs", "walk"),
    "eshop": (read_dimacs, "feature-models/eshop.dimacs", "walk"),
}
DEFAULT = "clib-renault,br4cp-medium,automotive01,linux"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def summary(label: str, times: list[float], calls: list[int] | None = None) -> str:
    if not times:
        return f"  {label:<10} (no steps)"
    ms = [t * 1000 for t in times]
    rest = ms[1:] or ms
    text = (f"  {label:<10} first {ms[0]:8.1f} ms   mean {statistics.mean(rest):7.1f}   p95 {percentile(rest, 0.95):7.1f}"
            f"   max {max(rest):7.1f}   steps {len(ms)}")
    if calls:
        text += f"   SAT calls/step {statistics.mean(calls):6.1f}"
    return text


class Baseline:
    """One SAT call per value, on one incremental solver with the model's clauses, nothing reused."""

    def __init__(self, model: CompiledProduct):
        self.model = model
        self.solver = Solver(name=SOLVER_NAME)
        self.solver.append_formula(model.cnf.hard)
        self.solver.append_formula([c for _, c in model.bodies])

    def domains(self, base: list[int]) -> dict[str, tuple[bool, bool]]:
        out = {}
        for o in self.model.option_ids:
            v = self.model.sel[o]
            out[o] = (self.solver.solve(assumptions=[*base, v]), self.solver.solve(assumptions=[*base, -v]))
        return out


def sales_walks(model: CompiledProduct, imported, path: Path, count: int, rng: random.Random):
    """Sold configurations as lists of choices, in random order."""
    lines = path.read_text().split("\n")
    names = lines[0].split()
    configs = [line.split() for line in lines[1:] if line.strip()]
    for values in rng.sample(configs, min(count, len(configs))):
        choices = [Choice("option", imported.option_of[(var, val)]) for var, val in zip(names, values, strict=True)]
        rng.shuffle(choices)
        yield choices


def scaled_dimacs(source: Path, copies: int, target: Path) -> Path:
    """`copies` disjoint copies of a DIMACS feature model in one file: variables renumbered, features renamed.

    A stand-in for a larger model of the same format: same clause shapes and group sizes, `copies`
    times the variables and clauses (copies are independent of each other).
    """
    lines = source.read_text(encoding="utf-8", errors="replace").splitlines()
    header = next(line.split() for line in lines if line.startswith("p"))
    nvars = int(header[2])
    out = [f"p cnf {nvars * copies} {int(header[3]) * copies}"]
    names = [line.split(None, 2) for line in lines if line.startswith("c")]
    body = [line for line in lines if line.strip() and not line.startswith(("c", "p", "%"))]
    for k in range(copies):
        offset = k * nvars
        out += [f"c {int(parts[1].rstrip('$')) + offset} {parts[2]}_{k}" for parts in names
                if len(parts) == 3 and parts[1].rstrip("$").isdigit()]
        for line in body:
            out.append(" ".join(str(lit + offset if lit > 0 else lit - offset if lit < 0 else 0)
                                for lit in map(int, line.split())))
    path = target / f"{source.stem}-x{copies}.dimacs"
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return path


def run_model(name: str, bench_dir: Path, args, rng: random.Random, scale: int = 1) -> None:
    reader, rel, workload = MODELS[name]
    source = bench_dir / rel
    if not source.exists():
        print(f"{name}: {source} not found, skipped")
        return
    if scale > 1:
        if reader is not read_dimacs:
            print(f"{name}: --scale applies to DIMACS models only, skipped")
            return
        name = f"{name} ×{scale}"
    with tempfile.TemporaryDirectory() as folder:
        t0 = time.perf_counter()
        if scale > 1:
            source = scaled_dimacs(source, scale, Path(folder))
        imported = reader(source)
        write_rule_file(imported, folder)
        t1 = time.perf_counter()
        ruleset = load_ruleset([folder])
        t2 = time.perf_counter()
    product = ruleset.products[imported.product_id]
    t3 = time.perf_counter()
    model = CompiledProduct(ruleset, product)
    seeding = time.perf_counter()
    model.warm_up()
    t4 = time.perf_counter()
    seeding = t4 - seeding
    print(f"{name}: {len(product.features)} features, {len(model.option_ids)} options, {len(product.constraints)} "
          f"constraints; {model.cnf.nvars} variables, {len(model.cnf.hard) + len(model.bodies)} clauses")
    print(f"  import {t1 - t0:.2f} s   load (rule files) {t2 - t1:.2f} s   compile {t4 - t3:.3f} s "
          f"(of which seeding {len(model.solutions)} solutions {seeding:.3f} s)")
    times, cpu, calls, states, repairs = [], [], [], [], []
    reason_times = []
    failures = 0
    twin = None
    twin_settings = {}
    if args.per_value_tail:  # the same states on a twin model that never asks unproven values together
        twin_settings["CHUNK_BELOW"] = 0
    if args.fitting_only:  # … whose cached solutions must fit every choice
        twin_settings["COMPLETION_WITNESSES"] = False
    if args.no_repairs:  # … that asks the solver for every new model, its phases the unproven values only
        twin_settings["REPAIRS"] = False
        twin_settings["SUPPORT_PHASES"] = False
    if twin_settings:
        twin = CompiledProduct(ruleset, product)
        twin.warm_up()
    twin_times, twin_cpu, twin_calls = [], [], []

    def timed_step(made: list[Choice]):
        assumptions = assumptions_for(model, made, {})
        start, start_cpu = time.perf_counter(), time.process_time()
        with model.lock:
            result = compute_domains(model, assumptions, reasons=False, quantities=False)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        calls.append(result.sat_calls)
        repairs.append(result.repairs)
        if twin is not None:
            twin_assumptions = assumptions_for(twin, made, {})
            saved = {name: getattr(domains, name) for name in twin_settings}
            for name, value in twin_settings.items():
                setattr(domains, name, value)
            start, start_cpu = time.perf_counter(), time.process_time()
            with twin.lock:
                twin_calls.append(compute_domains(twin, twin_assumptions, reasons=False, quantities=False).sat_calls)
            twin_times.append(time.perf_counter() - start)
            twin_cpu.append(time.process_time() - start_cpu)
            for name, value in saved.items():
                setattr(domains, name, value)
        return result

    if workload == "sales":
        walks = sales_walks(model, imported, bench_dir / "br4cp-renault/config_medium_filtered.txt", args.sales, rng)
        for choices in walks:
            for k in range(len(choices) + 1):
                made = choices[:k]
                result = timed_step(made)
                states.append(made)
                if k < len(choices) and not result.options[choices[k].target].selectable:
                    failures += 1
    else:
        for _ in range(args.walks):
            made: list[Choice] = []
            for _step in range(args.steps):
                result = timed_step(made)
                states.append(list(made))
                if args.reasons:
                    assumptions = assumptions_for(model, made, {})
                    start = time.perf_counter()
                    with model.lock:
                        compute_domains(model, assumptions, reasons=True, quantities=False)
                    reason_times.append(time.perf_counter() - start)
                decided = {model.feature_of[c.target].id for c in made}
                open_features = [f for f in product.features if f.id not in decided]
                if not open_features:
                    break
                feature = rng.choice(open_features)
                doms = result.options
                selectable = [o for o in feature.options if doms[o].selectable]
                if len(feature.options) == 1 and (not selectable or (doms[feature.options[0]].removable and rng.random() < 0.5)):
                    made.append(Choice("excluded", feature.options[0]))
                else:
                    made.append(Choice("option", rng.choice(selectable)))
    print(summary("engine", times, calls) + f"   local repairs/step {statistics.mean(repairs):6.1f}")
    print(summary("  (CPU)", cpu))
    if twin is not None:
        label = " + ".join(name for name, on in (("per-value tail", args.per_value_tail), ("fitting only", args.fitting_only),
                                                 ("no repairs", args.no_repairs)) if on)
        print(summary(label, twin_times, twin_calls))
        print(summary("  (CPU)", twin_cpu))
        engine_p95, twin_p95 = percentile(cpu[1:] or cpu, 0.95), percentile(twin_cpu[1:] or twin_cpu, 0.95)
        engine_mean, twin_mean = statistics.mean(cpu[1:] or cpu), statistics.mean(twin_cpu[1:] or twin_cpu)
        print(f"  {label} ÷ engine, CPU: mean {twin_mean / engine_mean:.2f}×   p95 {twin_p95 / engine_p95:.2f}×")
    if reason_times:
        print(summary("+reasons", reason_times))
    if workload == "sales":
        print(f"  sold values reported unselectable: {failures}")
    if args.baseline_steps:
        baseline = Baseline(model)
        picked = states[: args.baseline_steps] if workload == "sales" else _spread(states, args.baseline_steps)
        base_times, base_cpu, mismatches = [], [], 0
        for made in picked:
            assumptions = assumptions_for(model, made, {})
            start, start_cpu = time.perf_counter(), time.process_time()
            plain = baseline.domains(assumptions.literals())
            base_times.append(time.perf_counter() - start)
            base_cpu.append(time.process_time() - start_cpu)
            with model.lock:
                ours = compute_domains(model, assumptions, reasons=False, quantities=False).options
            mismatches += sum(1 for o, (t, f) in plain.items() if (ours[o].selectable, ours[o].removable) != (t, f))
        print(summary("baseline", base_times) + f"   disagreements {mismatches}")
        print(summary("  (CPU)", base_cpu))


def _spread(states: list, count: int) -> list:
    if len(states) <= count:
        return states
    step = len(states) / count
    return [states[int(i * step)] for i in range(count)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default=DEFAULT, help=f"comma-separated, from {', '.join(MODELS)}")
    parser.add_argument("--bench-dir", default=str(Path(__file__).resolve().parents[2] / "shared" / "bench"))
    parser.add_argument("--walks", type=int, default=3)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--sales", type=int, default=60, help="sold configurations to replay (BR4CP)")
    parser.add_argument("--baseline-steps", type=int, default=15)
    parser.add_argument("--reasons", action="store_true", help="also time domains with reasons")
    parser.add_argument("--per-value-tail", action="store_true",
                        help="also time each state on a twin model that never asks unproven values together")
    parser.add_argument("--fitting-only", action="store_true",
                        help="also time each state on a twin model whose cached solutions prove values only when they fit every choice")
    parser.add_argument("--no-repairs", action="store_true",
                        help="also time each state on a twin model without local repairs and phase support")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--scale", default="1",
                        help="comma-separated copy counts, e.g. 1,2,5,10: DIMACS models made of that many disjoint copies")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    for name in args.models.split(","):
        if name not in MODELS:
            print(f"unknown model {name}; choose from {', '.join(MODELS)}", file=sys.stderr)
            return 2
        for scale in (int(k) for k in args.scale.split(",")):
            run_model(name, Path(args.bench_dir), args, rng, scale)
    return 0


if __name__ == "__main__":
    sys.exit(main())
