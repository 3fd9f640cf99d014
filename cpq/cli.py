"""The `cpq` command: lint rule files, prepare the database (more commands arrive with their features)."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime

import click

from cpq import config
from cpq.errors import RuleFileError, RulesetInvalid
from cpq.pricing.lint import lint_pricebooks
from cpq.ruleset.loader import load_ruleset


@click.group(help="cpq: configure-price-quote service tools.")
def main() -> None:
    pass


def _default_paths() -> list[str]:
    settings = config.from_environment()
    return [settings["RULES_DIR"], settings["PRICEBOOKS_DIR"]]


@main.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print errors (or the summary) as JSON.")
@click.option("--warnings", "-W", "warnings", is_flag=True,
              help="Also print the static-analysis warnings (dead and core options, redundant constraints, "
                   "shadowed price rules).")
def lint(paths: tuple[str, ...], as_json: bool, warnings: bool) -> None:
    """Check rule and pricebook files (default: CPQ_RULES_DIR and CPQ_PRICEBOOKS_DIR)."""
    from cpq.admin.analysis import analyse

    targets = list(paths) or _default_paths()
    try:
        ruleset = load_ruleset(targets)
    except FileNotFoundError as exc:
        raise click.ClickException(str(exc)) from None
    except RulesetInvalid as exc:
        if as_json:
            click.echo(json.dumps({"errors": [e.as_dict() for e in exc.errors]}, indent=2))
        else:
            for error in exc.errors:
                click.echo(str(error))
            click.echo(f"{len(exc.errors)} error(s)", err=True)
        sys.exit(1)
    findings = [RuleFileError(src.path, src.line, src.col, rule_id, "pricebook_lint", message)
                for src, rule_id, message in lint_pricebooks(ruleset)]
    analysis = analyse(ruleset)
    findings += [RuleFileError(f.path, f.line, f.col, f.rule_id, f.code, f.message)
                 for f in analysis if f.severity == "error"]
    shown = [f for f in analysis if f.severity == "warning"] if warnings else []
    if findings:
        if as_json:
            click.echo(json.dumps({"errors": [e.as_dict() for e in findings]}, indent=2))
        else:
            for finding in findings:
                click.echo(str(finding))
            click.echo(f"{len(findings)} error(s)", err=True)
        sys.exit(1)
    if as_json:
        extra = {"warnings": [f.as_dict() for f in shown]} if warnings else {}
        click.echo(json.dumps({"version": ruleset.version, **ruleset.summary(), **extra}, indent=2))
    else:
        for finding in shown:
            click.echo(str(finding))
        click.echo(ruleset.summary_line())


@main.group()
def db() -> None:
    """Database schema commands."""


@db.command()
def upgrade() -> None:
    """Create or migrate the database (CPQ_DATABASE_URL) and record the current ruleset version."""
    import sqlalchemy as sa

    from cpq import store
    from cpq.store.tables import ruleset_versions

    url = config.from_environment()["DATABASE_URL"]
    store.upgrade(url)
    click.echo(f"database at revision {store.current_revision(url)}")
    try:
        ruleset = load_ruleset(_default_paths())
    except (RulesetInvalid, FileNotFoundError):
        click.echo("rule files have errors; run 'cpq lint' (no ruleset version recorded)", err=True)
        return
    engine = store.make_engine(url)
    with engine.begin() as conn:
        seen = conn.execute(sa.select(ruleset_versions.c.version).where(ruleset_versions.c.version == ruleset.version)).first()
        if seen is None:
            conn.execute(ruleset_versions.insert().values(
                version=ruleset.version, first_loaded_at=datetime.now(UTC), summary=json.dumps(ruleset.summary())))
        # the exact files too, so that quotes priced with them can be re-priced after the files change
        from cpq.admin.files import from_folders
        from cpq.store.rulesets import save_version

        save_version(conn, from_folders(_default_paths()), ruleset, datetime.now(UTC))
    engine.dispose()
    click.echo(f"ruleset {ruleset.summary_line()}")


@main.command()
@click.argument("file", type=click.File("r"))
@click.option("--rules", "paths", multiple=True, type=click.Path(),
              help="Rule/pricebook files or folders (default: CPQ_RULES_DIR and CPQ_PRICEBOOKS_DIR).")
@click.option("--json", "as_json", is_flag=True, help="Print the priced quote as JSON instead of a table.")
def price(file, paths: tuple[str, ...], as_json: bool) -> None:
    """Price a quote request (the JSON body of POST /api/v1/price) and print its waterfall."""
    from datetime import date

    from cpq.errors import CPQError
    from cpq.pricing.engine import price_quote
    from cpq.pricing.report import quote_as_json, render_table
    from cpq.pricing.request import parse_quote

    try:
        body = json.load(file)
    except json.JSONDecodeError as exc:
        raise click.ClickException(f"{file.name}: not JSON ({exc})") from None
    try:
        ruleset = load_ruleset(list(paths) or _default_paths())
    except FileNotFoundError as exc:
        raise click.ClickException(str(exc)) from None
    except RulesetInvalid as exc:
        raise click.ClickException(f"the rule files have {len(exc.errors)} error(s); run 'cpq lint'") from None
    try:
        request, context = parse_quote(body, date.today())
        quote = price_quote(ruleset, request, context)
    except CPQError as exc:
        details = exc.extra.get("errors")
        raise click.ClickException(f"{exc.code}: {exc.detail}" + (f"\n{json.dumps(details, indent=2)}" if details else "")) from None
    click.echo(json.dumps(quote_as_json(quote), indent=2) if as_json else render_table(quote), nl=as_json)


from cpq.cli_people import register as _register_people  # noqa: E402 - after the groups it extends

_register_people(main, db)

from cpq.orders.cli import register as _register_orders  # noqa: E402 - `cpq worker`

_register_orders(main)


from cpq.importers.cli import import_group  # noqa: E402 - registered after the commands above

main.add_command(import_group)

from cpq.documents.cli import register as _register_documents  # noqa: E402 - `cpq quote pdf`

_register_documents(main)

from cpq.admin.cli import register as _register_rules  # noqa: E402 - `cpq rules …`

_register_rules(main)


if __name__ == "__main__":  # pragma: no cover
    main()
