"""Repository for partners, accounts, users and API keys (SQLAlchemy Core at the edge)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime

import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from cpq.accounts import ALL_ACCOUNTS, ROLES, Account, User, can_see_account
from cpq.errors import Conflict, InvalidInput, NotFound
from cpq.store.tables import accounts, api_keys, partners, users

TOKEN_PREFIX = "cpq"


def _now() -> datetime:
    return datetime.now(UTC)


def _account(row) -> Account:
    return Account(id=row.id, name=row.name, parent_id=row.parent_id, partner_id=row.partner_id,
                   owner_id=row.owner_id, segment=row.segment, country=row.country, currency=row.currency,
                   tax_id=row.tax_id, address=row.address)


def _user(row) -> User:
    return User(id=row.id, email=row.email, name=row.name, role=row.role, account_id=row.account_id,
                partner_id=row.partner_id, active=row.active)


def create_partner(conn: sa.Connection, partner_id: str, name: str) -> None:
    if conn.execute(sa.select(partners.c.id).where(partners.c.id == partner_id)).first():
        raise Conflict(f"partner '{partner_id}' already exists")
    conn.execute(partners.insert().values(id=partner_id, name=name, created_at=_now()))


def create_account(conn: sa.Connection, account_id: str, name: str, **fields) -> Account:
    if conn.execute(sa.select(accounts.c.id).where(accounts.c.id == account_id)).first():
        raise Conflict(f"account '{account_id}' already exists")
    for key, table in (("parent_id", accounts), ("partner_id", partners)):
        ref = fields.get(key)
        if ref is not None and not conn.execute(sa.select(table.c.id).where(table.c.id == ref)).first():
            raise InvalidInput(f"{key.removesuffix('_id')} '{ref}' does not exist")
    if fields.get("owner_id") is not None:
        owner = get_user(conn, fields["owner_id"])
        if owner.role not in ("sales", "sales_manager", "admin"):
            raise InvalidInput(f"account owner must be a sales person, not a {owner.role}")
    conn.execute(accounts.insert().values(id=account_id, name=name, created_at=_now(), **fields))
    return get_account(conn, account_id)


def get_account(conn: sa.Connection, account_id: str) -> Account:
    row = conn.execute(sa.select(accounts).where(accounts.c.id == account_id)).first()
    if row is None:
        raise NotFound(f"account '{account_id}' not found")
    return _account(row)


def all_accounts(conn: sa.Connection) -> dict[str, Account]:
    return {row.id: _account(row) for row in conn.execute(sa.select(accounts).order_by(accounts.c.id))}


def account_lineage(conn: sa.Connection, account_id: str) -> dict[str, Account]:
    """The account and its ancestors (parent, grandparent …) by id, in one query: what deciding
    whether a user sees the account reads (a sales rep sees the subsidiaries of what they own),
    instead of the whole accounts table. Empty when the account does not exist."""
    link = sa.select(accounts.c.id, accounts.c.parent_id)
    lineage = link.where(accounts.c.id == account_id).cte("lineage", recursive=True)
    lineage = lineage.union(link.where(accounts.c.id == lineage.c.parent_id))  # UNION: a cycle ends
    rows = conn.execute(sa.select(accounts).where(accounts.c.id.in_(sa.select(lineage.c.id))))
    return {row.id: _account(row) for row in rows}


def _visible_ids(user: User) -> sa.Select | None:
    """The ids of the accounts `user` sees (`accounts.can_see_account`) as a query; None when they
    see every account. A sales rep's are the accounts they own and, through one recursive query,
    those accounts' subsidiaries at any depth."""
    if user.active and user.role in ALL_ACCOUNTS:
        return None
    if user.active and user.role == "buyer":
        return sa.select(accounts.c.id).where(accounts.c.id == user.account_id)
    if user.active and user.role == "partner" and user.partner_id is not None:
        return sa.select(accounts.c.id).where(accounts.c.partner_id == user.partner_id)
    if user.active and user.role == "sales":
        owned = sa.select(accounts.c.id).where(accounts.c.owner_id == user.id).cte("owned", recursive=True)
        owned = owned.union(sa.select(accounts.c.id).where(accounts.c.parent_id == owned.c.id))  # UNION: a cycle ends
        return sa.select(owned.c.id)
    return sa.select(accounts.c.id).where(sa.false())


def visible_account_ids(conn: sa.Connection, user: User) -> list[str] | None:
    """The ids of the accounts `user` sees, asked of the database; None when they see every account."""
    query = _visible_ids(user)
    return None if query is None else sorted(conn.execute(query).scalars())


def visible_accounts(conn: sa.Connection, user: User) -> list[Account]:
    """The accounts `user` sees, ordered by id, in one query."""
    query = sa.select(accounts).order_by(accounts.c.id)
    ids = _visible_ids(user)
    if ids is not None:
        query = query.where(accounts.c.id.in_(ids))
    return [_account(row) for row in conn.execute(query)]


def account_if_visible(conn: sa.Connection, user: User, account_id: str) -> Account | None:
    """The account if it exists and `user` may see it (reads its lineage only), else None."""
    lineage = account_lineage(conn, account_id)
    account = lineage.get(account_id)
    return account if account is not None and can_see_account(user, account, lineage) else None


def visible_account(conn: sa.Connection, user: User, account_id: str, hidden: str | None = None) -> Account:
    """The account if `user` may see it; else NotFound (`hidden`, or "account '…' not found"), the
    same answer as for an account that does not exist, so that no other customer's is revealed."""
    account = account_if_visible(conn, user, account_id)
    if account is None:
        raise NotFound(hidden or f"account '{account_id}' not found")
    return account


def create_user(conn: sa.Connection, email: str, name: str, role: str, *, account_id: str | None = None,
                partner_id: str | None = None, password: str | None = None, password_hash: str | None = None) -> User:
    """Add a person; buyers belong to an account, partner users to a partner.

    `password_hash` instead of `password`: an already hashed one (the sample users share one).
    """
    if role not in ROLES:
        raise InvalidInput(f"unknown role '{role}'; roles are {', '.join(ROLES)}")
    if role == "buyer" and account_id is None:
        raise InvalidInput("a buyer belongs to an account: give its account id")
    if role == "partner" and partner_id is None:
        raise InvalidInput("a partner user belongs to a partner: give its partner id")
    if account_id is not None:
        get_account(conn, account_id)
    if partner_id is not None and not conn.execute(sa.select(partners.c.id).where(partners.c.id == partner_id)).first():
        raise InvalidInput(f"partner '{partner_id}' does not exist")
    email = email.strip().lower()
    if conn.execute(sa.select(users.c.id).where(users.c.email == email)).first():
        raise Conflict(f"a user with email '{email}' already exists")
    result = conn.execute(users.insert().values(
        email=email, name=name, role=role, account_id=account_id, partner_id=partner_id,
        password_hash=generate_password_hash(password) if password else password_hash, active=True, created_at=_now()))
    return get_user(conn, result.inserted_primary_key[0])


def get_user(conn: sa.Connection, user_id: int) -> User:
    row = conn.execute(sa.select(users).where(users.c.id == user_id)).first()
    if row is None:
        raise NotFound(f"user {user_id} not found")
    return _user(row)


def find_user_by_email(conn: sa.Connection, email: str) -> User:
    row = conn.execute(sa.select(users).where(users.c.email == email.strip().lower())).first()
    if row is None:
        raise NotFound(f"no user with email '{email}'")
    return _user(row)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_api_key(conn: sa.Connection, user_id: int, label: str = "") -> tuple[str, str]:
    """A new key for the user: returns (key id, token). The token is shown once; only its hash is kept."""
    get_user(conn, user_id)
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    conn.execute(api_keys.insert().values(id=key_id, user_id=user_id, secret_hash=_digest(secret),
                                          label=label, created_at=_now()))
    return key_id, f"{TOKEN_PREFIX}_{key_id}_{secret}"


def revoke_api_key(conn: sa.Connection, key_id: str) -> None:
    done = conn.execute(api_keys.update().where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                        .values(revoked_at=_now()))
    if done.rowcount == 0:
        raise NotFound(f"no active API key '{key_id}'")


def list_api_keys(conn: sa.Connection, user_id: int) -> list[dict]:
    rows = conn.execute(sa.select(api_keys.c.id, api_keys.c.label, api_keys.c.created_at, api_keys.c.last_used_at,
                                  api_keys.c.revoked_at).where(api_keys.c.user_id == user_id).order_by(api_keys.c.created_at))
    return [dict(r._mapping) for r in rows]


def user_for_token(conn: sa.Connection, token: str) -> User | None:
    """The active user a bearer token belongs to, or None (unknown, malformed, revoked or inactive)."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
        return None
    key_id, secret = parts[1], parts[2]
    row = conn.execute(sa.select(api_keys).where(api_keys.c.id == key_id)).first()
    if row is None or row.revoked_at is not None or not hmac.compare_digest(row.secret_hash, _digest(secret)):
        return None
    user = get_user(conn, row.user_id)
    if not user.active:
        return None
    conn.execute(api_keys.update().where(api_keys.c.id == key_id).values(last_used_at=_now()))
    return user
