"""`cpq quote pdf ID -o FILE`: a quote's PDF offline, from the database at CPQ_DATABASE_URL."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import click

from cpq import config, store
from cpq.documents import service
from cpq.documents.formatting import LANGUAGES, PAPERS
from cpq.documents.pdf import RenderLimits, render_pdf
from cpq.errors import CPQError


@click.command("pdf")
@click.argument("quote_id")
@click.option("-o", "--output", "output", required=True, type=click.Path(dir_okay=False, writable=True),
              help="Where to write the PDF ('-' for standard output).")
@click.option("--revision", type=click.IntRange(min=1), help="Revision number (default: the current one).")
@click.option("--lang", type=click.Choice(LANGUAGES), help="Language (default: from the customer's country).")
@click.option("--paper", type=click.Choice(PAPERS), help="Paper size (default: from the customer's country).")
@click.option("--hide-component-prices", is_flag=True, help="Bundles show their totals only.")
@click.option("--hide-discounts", is_flag=True, help="Net prices only: no list prices or discounts.")
@click.option("--waterfall", is_flag=True, help="Append each item's price steps.")
@click.option("--public-url", default=None,
              help="Base URL printed in the verification link (default: CPQ_PUBLIC_URL or http://127.0.0.1:8000).")
def quote_pdf(quote_id, output, revision, lang, paper, hide_component_prices, hide_discounts, waterfall, public_url):
    """Render quote QUOTE_ID (e.g. Q-2026-000001) as a PDF, as the REST API would."""
    settings = config.from_environment()
    public_url = public_url or os.environ.get("CPQ_PUBLIC_URL") or "http://127.0.0.1:8000"
    asked = service.DocumentRequest(language=lang, paper=paper, hide_component_prices=hide_component_prices,
                                    hide_discounts=hide_discounts, waterfall=waterfall)
    limits = RenderLimits.from_settings(None)
    engine = store.make_engine(settings["DATABASE_URL"])
    try:
        with engine.connect() as conn:
            doc, brand = service.load_document(conn, None, quote_id, revision, asked,
                                               templates_dir=settings["TEMPLATES_DIR"], public_url=public_url,
                                               today=date.today(), max_rows=limits.max_rows)
        pdf = render_pdf(doc, brand, settings["TEMPLATES_DIR"], limits)
    except CPQError as exc:
        raise click.ClickException(f"{exc.code}: {exc.detail}") from None
    finally:
        engine.dispose()
    if output == "-":
        click.get_binary_stream("stdout").write(pdf)
        return
    Path(output).write_bytes(pdf)
    click.echo(f"{output}: {doc.number} revision {doc.revision}, {len(pdf):,} bytes", err=True)


@click.group("quote")
def quote_cli() -> None:
    """Quotes from the command line."""


def register(main: click.Group) -> None:
    """Add `quote pdf` to the `cpq` command (to an existing `quote` group, if another module made one)."""
    group = main.commands.get("quote")
    if not isinstance(group, click.Group):
        group = quote_cli
        main.add_command(group)
    group.add_command(quote_pdf)
