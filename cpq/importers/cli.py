"""`cpq import clib|xcsp|dimacs SOURCE -o DIR`: write a public model as this project's rule file."""

from __future__ import annotations

import click

from cpq.importers import SourceFormatError, write_rule_file

FORMATS = {
    "clib": ("cpq.importers.clib", "read_clib", "a CLib model folder (*_domains.txt + rules/*.pm)"),
    "xcsp": ("cpq.importers.xcsp", "read_xcsp", "an XCSP 2.1 file of table constraints"),
    "dimacs": ("cpq.importers.dimacs", "read_dimacs", "a DIMACS CNF feature model"),
}


@click.group("import", help="Turn public configuration models into rule files (then: cpq lint DIR).")
def import_group() -> None:
    pass


def _command(fmt: str, module: str, reader: str, what: str):
    @click.argument("source", type=click.Path(exists=True))
    @click.option("-o", "--output", "out", required=True, type=click.Path(file_okay=False),
                  help="Folder to write the rule file into (created).")
    @click.option("--family", default=None, help="Family id for the product file (default: from the source).")
    def run(source: str, out: str, family: str | None) -> None:
        import importlib

        read = getattr(importlib.import_module(module), reader)
        try:
            model = read(source, family)
        except SourceFormatError as exc:
            raise click.ClickException(str(exc)) from None
        path = write_rule_file(model, out)
        click.echo(f"wrote {path}: product {model.product_id}, {len(model.features)} features, "
                   f"{model.option_count} options, {len(model.constraints)} constraints")
        click.echo(f"check it with: cpq lint {out}; serve it with CPQ_RULES_DIR={out} CPQ_PRICEBOOKS_DIR={out}")

    run.__doc__ = f"Import {what}."
    return import_group.command(fmt)(run)


for _fmt, (_module, _reader, _what) in FORMATS.items():
    _command(_fmt, _module, _reader, _what)
