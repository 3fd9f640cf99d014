"""`cpq users|keys|partners|accounts …` and `cpq db seed`: people and accounts from the command line."""

from __future__ import annotations

import click
import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from cpq import config, store
from cpq.accounts import ROLES
from cpq.errors import CPQError
from cpq.store import people
from cpq.store.tables import users


def _engine() -> sa.Engine:
    return store.make_engine(config.from_environment()["DATABASE_URL"])


def _run(action):
    """Run `action(conn)` in one transaction; domain errors become a clean CLI error."""
    engine = _engine()
    try:
        with engine.begin() as conn:
            return action(conn)
    except CPQError as exc:
        raise click.ClickException(exc.detail) from None
    finally:
        engine.dispose()


@click.group()
def users_cli() -> None:
    """Users and their roles."""


@users_cli.command("create")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--account", "account_id", help="The buyer's account id.")
@click.option("--partner", "partner_id", help="The partner user's partner id.")
@click.option("--password", help="Password for the web pages (prompted when '-').")
def create_user(email, name, role, account_id, partner_id, password):
    """Create a user."""
    if password == "-":
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    user = _run(lambda conn: people.create_user(conn, email, name, role, account_id=account_id,
                                                partner_id=partner_id, password=password))
    click.echo(f"user {user.id} {user.email} ({user.role})")


@users_cli.command("list")
def list_users():
    """List users."""
    rows = _run(lambda conn: conn.execute(sa.select(users).order_by(users.c.id)).all())
    for r in rows:
        click.echo(f"{r.id}\t{r.email}\t{r.role}\t{r.account_id or r.partner_id or ''}\t{'active' if r.active else 'inactive'}")


@click.group()
def keys_cli() -> None:
    """API keys (stored hashed; a key is shown once)."""


@keys_cli.command("create")
@click.argument("email")
@click.option("--label", default="", help="What the key is for.")
def create_key(email, label):
    """Create an API key for the user with EMAIL and print it once."""
    key_id, token = _run(lambda conn: people.create_api_key(conn, people.find_user_by_email(conn, email).id, label))
    click.echo(f"key {key_id} for {email} — store it now, it is not shown again:")
    click.echo(token)


@keys_cli.command("revoke")
@click.argument("key_id")
def revoke_key(key_id):
    """Revoke the API key KEY_ID."""
    _run(lambda conn: people.revoke_api_key(conn, key_id))
    click.echo(f"key {key_id} revoked")


@click.group()
def partners_cli() -> None:
    """Partners (resellers)."""


@partners_cli.command("create")
@click.argument("partner_id")
@click.option("--name", required=True)
def create_partner(partner_id, name):
    """Create a partner."""
    _run(lambda conn: people.create_partner(conn, partner_id, name))
    click.echo(f"partner {partner_id}")


@click.group()
def accounts_cli() -> None:
    """Customer accounts."""


@accounts_cli.command("create")
@click.argument("account_id")
@click.option("--name", required=True)
@click.option("--parent", "parent_id")
@click.option("--partner", "partner_id")
@click.option("--owner", "owner_email", help="Email of the sales person who owns the account.")
@click.option("--segment")
@click.option("--country")
@click.option("--currency")
def create_account(account_id, name, parent_id, partner_id, owner_email, segment, country, currency):
    """Create a customer account."""
    def action(conn):
        owner_id = people.find_user_by_email(conn, owner_email).id if owner_email else None
        return people.create_account(conn, account_id, name, parent_id=parent_id, partner_id=partner_id,
                                     owner_id=owner_id, segment=segment, country=country, currency=currency)

    account = _run(action)
    click.echo(f"account {account.id}")


SAMPLE_PASSWORD = "cpq-sample"  # noqa: S105 - sample data for `make run`, documented in the README


def seed(conn: sa.Connection) -> list[tuple[str, str]]:
    """Sample partner, accounts and one user per role; returns (email, API key) pairs.

    The sample users share one password, so its (salted, deliberately slow) hash is made once.
    """
    sample = generate_password_hash(SAMPLE_PASSWORD)
    people.create_partner(conn, "ACME", "Acme Reseller GmbH")
    admin = people.create_user(conn, "admin@example.com", "Ada Admin", "admin", password_hash=sample)
    sales = people.create_user(conn, "sales@example.com", "Sam Sales", "sales", password_hash=sample)
    people.create_user(conn, "manager@example.com", "Mia Manager", "sales_manager", password_hash=sample)
    people.create_user(conn, "pricing@example.com", "Pat Pricing", "pricing_admin", password_hash=sample)
    people.create_user(conn, "orders@example.com", "Olga Orders", "order_manager", password_hash=sample)
    people.create_account(conn, "GLOBEX", "Globex Corporation", owner_id=sales.id, segment="enterprise",
                          country="US", currency="USD", tax_id="US-94-1234567", address="1 Globex Way, Cypress Creek, OR")
    people.create_account(conn, "GLOBEX-EU", "Globex Europe B.V.", parent_id="GLOBEX", owner_id=sales.id,
                          segment="enterprise", country="NL", currency="EUR", tax_id="NL123456789B01",
                          address="Herengracht 1, Amsterdam")
    people.create_account(conn, "INITECH", "Initech LLC", partner_id="ACME", segment="smb", country="US",
                          currency="USD", address="4120 Freidrich Lane, Austin, TX")
    people.create_user(conn, "buyer@globex.example", "Hank Buyer", "buyer", account_id="GLOBEX", password_hash=sample)
    people.create_user(conn, "partner@acme.example", "Petra Partner", "partner", partner_id="ACME", password_hash=sample)
    keys = []
    for email in ("admin@example.com", "sales@example.com", "buyer@globex.example", "partner@acme.example"):
        _, token = people.create_api_key(conn, people.find_user_by_email(conn, email).id, "sample data")
        keys.append((email, token))
    del admin
    return keys


@click.command("seed")
def seed_command():
    """Add the sample partner, accounts and users (only into an empty database)."""
    def action(conn):
        if conn.execute(sa.select(sa.func.count()).select_from(users)).scalar_one():
            return None
        return seed(conn)

    keys = _run(action)
    if keys is None:
        click.echo("database already has users: no sample data added")
        return
    click.echo(f"sample data added (web password for every sample user: {SAMPLE_PASSWORD}); API keys:")
    for email, token in keys:
        click.echo(f"  {email}: {token}")


def register(main: click.Group, db: click.Group) -> None:
    main.add_command(users_cli, "users")
    main.add_command(keys_cli, "keys")
    main.add_command(partners_cli, "partners")
    main.add_command(accounts_cli, "accounts")
    db.add_command(seed_command)
