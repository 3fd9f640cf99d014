"""`cpq rules …`: publish, roll back, test, diff and inspect rule set versions from the command line."""

from __future__ import annotations

import getpass
import json
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import click

from cpq import config
from cpq.admin.files import RuleFiles, from_folders
from cpq.errors import CPQError, RulesetInvalid


def _roots(sources: tuple[str, ...]) -> list[str]:
    """Folders to read: each --from is a checkout holding rules/ and pricebooks/, or itself a root."""
    if not sources:
        settings = config.from_environment()
        return [settings["RULES_DIR"], settings["PRICEBOOKS_DIR"]]
    roots = []
    for source in sources:
        path = Path(source)
        if not path.exists():
            raise click.ClickException(f"no such file or folder: {source}")
        inner = [str(path / name) for name in ("rules", "pricebooks") if (path / name).is_dir()]
        roots += inner or [str(path)]
    return roots


def _files(sources: tuple[str, ...]) -> RuleFiles:
    try:
        return from_folders(_roots(sources))
    except FileNotFoundError as exc:
        raise click.ClickException(str(exc)) from None


def _engine():
    import sqlalchemy as sa

    from cpq import store
    from cpq.store.tables import ruleset_activations

    url = config.from_environment()["DATABASE_URL"]
    engine = store.make_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(sa.select(ruleset_activations.c.id).limit(1))
    except sa.exc.SQLAlchemyError:
        engine.dispose()
        raise click.ClickException(f"the database at {url.split('@')[-1]} is not reachable or not migrated; "
                                   "run 'cpq db upgrade'") from None
    return engine


def _ruleset_of(engine):
    from cpq.store import rulesets as repo

    cache = {}

    def ruleset_of(version: str):
        if version not in cache:
            with engine.connect() as conn:
                files = repo.load_files(conn, version)
            cache[version] = files.load()
        return cache[version]

    return ruleset_of


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # pragma: no cover - no login name (containers)
        return "cli"


def _fail(exc: CPQError, as_json: bool) -> None:
    body = {"code": exc.code, "detail": exc.detail, **exc.extra}
    if as_json:
        click.echo(json.dumps(body, indent=2, default=str))
    else:
        click.echo(exc.detail, err=True)
        for error in exc.extra.get("errors") or []:
            if isinstance(error, dict) and "path" in error:
                click.echo(f"{error['path']}:{error['line']}:{error['col']}: {error['rule_id']}: {error['message']}")
            else:
                click.echo(str(error))
        for result in (exc.extra.get("tests") or {}).get("results", []):
            if not result["passed"]:
                click.echo(f"FAIL {result['path']}:{result['line']}: {result['id']}")
                for failure in result["failures"]:
                    click.echo(f"    {failure}")
    sys.exit(1)


def _wait_seconds() -> float:
    return config.from_environment()["RULESET_PUBLISH_WAIT_SECONDS"]


def _activate(action, as_json: bool):
    """Run a publication or rollback in one transaction, then bring one "now" forward once the
    serving processes hold it compiled; print it as JSON (then None) or return it."""
    from cpq.admin import service

    engine = _engine()
    try:
        with engine.begin() as conn:
            done = action(conn, _ruleset_of(engine))
        done = service.activate_when_ready(engine, done)
    except CPQError as exc:
        _fail(exc, as_json)
    finally:
        engine.dispose()
    if as_json:
        click.echo(json.dumps(done.as_dict(), indent=2, default=str))
        return None
    return done


def _when(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"not an ISO date-time: {text}", param_hint="--at") from None
    if moment.tzinfo is None:
        raise click.BadParameter("give a time zone, e.g. 2026-12-01T18:00:00Z", param_hint="--at")
    return moment.astimezone(UTC)


def register(main: click.Group) -> None:
    @main.group()
    def rules() -> None:
        """Rule set versions: publish, rollback, test, diff, status, audit."""

    @rules.command()
    @click.option("--from", "sources", multiple=True, type=click.Path(),
                  help="A checkout with rules/ and pricebooks/, or a folder of rule files (repeatable; "
                       "default CPQ_RULES_DIR and CPQ_PRICEBOOKS_DIR).")
    @click.option("--at", "at", help="Activate at this time (ISO 8601 with a zone) instead of now.")
    @click.option("--note", help="Why: kept in the audit trail.")
    @click.option("--json", "as_json", is_flag=True)
    def publish(sources, at, note, as_json) -> None:
        """Check the files (errors, static analysis, rule tests), store them and make them active."""
        from cpq.admin import service

        files, effective_at = _files(sources), _when(at)
        done = _activate(lambda conn, ruleset_of: service.publish(
            conn, files, actor=_actor(), user_id=None, now=datetime.now(UTC), ruleset_of=ruleset_of,
            effective_at=effective_at, note=note, wait_seconds=_wait_seconds()), as_json)
        if done is None:
            return
        for line in done.diff.lines():
            click.echo(line)
        when = done.activation.effective_at.isoformat()
        click.echo(f"published {done.ruleset.summary_line()}; active from {when}; tests {done.tests.summary_line()}")
        _say_processes(done)

    @rules.command()
    @click.argument("version")
    @click.option("--note", help="Why: kept in the audit trail.")
    @click.option("--json", "as_json", is_flag=True)
    def rollback(version, note, as_json) -> None:
        """Make an earlier published (stored) VERSION active again, now (a prefix of 8+ digits will do)."""
        from cpq.admin import service

        done = _activate(lambda conn, ruleset_of: service.rollback(
            conn, version, actor=_actor(), user_id=None, now=datetime.now(UTC), ruleset_of=ruleset_of, note=note,
            wait_seconds=_wait_seconds()), as_json)
        if done is not None:
            click.echo(f"rolled back to {done.ruleset.summary_line()}; active from {done.activation.effective_at.isoformat()}")
            for a in done.still_scheduled:
                click.echo(f"still scheduled: {a.version[:12]} at {a.effective_at.isoformat()} (by {a.actor}); "
                           "a rollback does not cancel it")
            _say_processes(done)

    @rules.command(name="test")
    @click.argument("sources", nargs=-1, type=click.Path())
    @click.option("--json", "as_json", is_flag=True)
    def test_cases(sources, as_json) -> None:
        """Run the rule test cases (<root>/tests/*.yaml) against the rule files; exit 1 on any failure."""
        from cpq.admin.ruletests import run_rule_tests

        files = _files(sources)
        try:
            ruleset = files.load()
        except RulesetInvalid as exc:
            for error in exc.errors:
                click.echo(str(error))
            raise click.ClickException(f"{len(exc.errors)} error(s) in the rule files; run 'cpq lint'") from None
        report = run_rule_tests(ruleset, files.tests, date.today())
        if as_json:
            click.echo(json.dumps(report.as_dict(), indent=2))
        else:
            for result in report.results:
                click.echo(str(result))
            click.echo(f"{report.summary_line()} ({len(files.tests)} file(s)) — ruleset {ruleset.short_version}")
        if not report.results and not as_json:
            click.echo("no test cases found under <root>/tests/", err=True)
        sys.exit(0 if report.ok else 1)

    @rules.command()
    @click.argument("sources", nargs=-1, type=click.Path())
    @click.option("--against", default="active", show_default=True,
                  help="'active' (the database's active version), a stored version, or a folder.")
    @click.option("--no-quotes", is_flag=True, help="Only the rule diff; do not re-price the open quotes.")
    @click.option("--json", "as_json", is_flag=True)
    def diff(sources, against, no_quotes, as_json) -> None:
        """What publishing SOURCES would change: prices, definitions, and the open quotes' totals."""
        from cpq.admin import service
        from cpq.admin.diff import diff_rulesets
        from cpq.store import rulesets as repo

        files = _files(sources)
        engine = _engine()
        ruleset_of = _ruleset_of(engine)
        try:
            with engine.connect() as conn:
                if against == "active":
                    base = service.active_ruleset(conn, datetime.now(UTC), ruleset_of)
                    if base is None:  # before the first publication: what the service answers from
                        base = _files(()).load()
                elif Path(against).exists():
                    base = _files((against,)).load()
                else:
                    base = ruleset_of(repo.resolve(conn, against))
                if no_quotes:
                    candidate, _ = service.check_candidate(files, date.today(), refuse_failing_tests=False)
                    result = {"candidate_version": candidate.version, "against_version": base.version,
                              "diff": diff_rulesets(base, candidate).as_dict()}
                else:
                    count = len(service.open_quotes(conn, date.today()))
                    with click.progressbar(length=count, label="re-pricing open quotes", file=sys.stderr) as bar:
                        result = service.preview(conn, files, against=base, today=date.today(), progress=bar.update)
        except CPQError as exc:
            _fail(exc, as_json)
        finally:
            engine.dispose()
        if as_json:
            click.echo(json.dumps(result, indent=2, default=str))
            return
        click.echo(f"{result['against_version'][:12]} → {result['candidate_version'][:12]}")
        click.echo(_diff_text(result["diff"]))
        if "quotes" in result:
            click.echo(_quotes_text(result["quotes"]))

    @rules.command()
    @click.option("--json", "as_json", is_flag=True)
    def status(as_json) -> None:
        """The active version, the publications still to take effect, and what each serving process holds."""
        from cpq.admin import service
        from cpq.store import rulesets as repo

        engine = _engine()
        now = datetime.now(UTC)
        with engine.connect() as conn:
            active = repo.active(conn, now)
            pending = repo.upcoming(conn, now, datetime.max.replace(tzinfo=UTC))
            processes = service.live_processes(conn, now)
        engine.dispose()
        body = {"active": active.as_dict() if active else None, "scheduled": [a.as_dict() for a in pending],
                "processes": [p.as_dict() for p in processes]}
        if as_json:
            click.echo(json.dumps(body, indent=2, default=str))
            return
        click.echo(f"active: {active.version} since {active.effective_at.isoformat()} ({active.action} by {active.actor})"
                   if active else "active: none published; the service answers from the rule files")
        for a in pending:
            click.echo(f"scheduled: {a.version} at {a.effective_at.isoformat()} (by {a.actor})")
        for p in processes:
            held = ", ".join(v[:12] for v in p.compiled) or "nothing"
            click.echo(f"process {p.process}: serving {(p.serving or '-')[:12]}, holds {held}; seen {p.seen_at.isoformat()}")

    @rules.command()
    @click.option("--limit", default=20, show_default=True)
    def audit(limit) -> None:
        """Who published or rolled back which version, when, and what it changed."""
        from cpq.store import rulesets as repo

        engine = _engine()
        with engine.connect() as conn:
            entries = repo.audit(conn, limit=limit)
        engine.dispose()
        for a in entries:
            counts = ", ".join(f"{k} {v}" for k, v in sorted(a.summary.items()) if k not in ("old_version", "new_version"))
            click.echo(f"{a.created_at.isoformat()} {a.action} {a.version[:12]} by {a.actor}, effective "
                       f"{a.effective_at.isoformat()} (was {(a.previous_version or '-')[:12]}): {counts or 'no change'}")


def _say_processes(done) -> None:
    p = done.processes
    if not p:
        return
    late = f"; not ready (compile on their next check): {', '.join(p['not_ready'])}" if p["not_ready"] else ""
    click.echo(f"{p['ready']} of {p['live']} serving process(es) held it compiled after {p['waited_seconds']:.1f} s{late}")


def _diff_text(diff: dict) -> str:
    out = [f"{p['book']:<20} {p['sku']:<20} {p['old']} → {p['new']}" for p in diff["prices"]]
    for kind, changes in diff.items():
        if kind in ("prices", "old_version", "new_version"):
            continue
        for what, sign in (("added", "+"), ("removed", "-"), ("changed", "~")):
            out += [f"{sign} {kind}: {i}" for i in changes[what]]
    return "\n".join(out) if out else "no change in prices or definitions"


def _quotes_text(quotes: dict) -> str:
    rows = [("quote", "rev", "state", "cur", "before", "after", "delta")]
    for q in quotes["affected"]:
        rows.append((q["number"], str(q["revision"]), q["state"], q["currency"], q["total_before"] or "invalid",
                     q["total_after"] or "INVALID", "-" if q["delta"] is None else
                     (q["delta"] if q["delta"].startswith("-") else "+" + q["delta"])))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = ["  ".join(c.ljust(w) if i < 4 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
           for row in rows]
    for q in quotes["affected"]:
        if q["becomes_invalid"]:
            out.append(f"{q['number']} becomes invalid: " + "; ".join(str(e.get("message", e.get("code")))
                                                                      for e in q["errors_after"]))
    deltas = ", ".join(f"{c} {t}" for c, t in quotes["total_delta"].items()) or "none"
    out.append(f"{quotes['checked']} open quote(s) checked, {len(quotes['affected'])} affected, "
               f"{len(quotes['becoming_invalid'])} become invalid; total delta {deltas}")
    return "\n".join(out)
