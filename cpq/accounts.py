"""People and the accounts they may see: roles, partners, customer accounts (pure domain rules)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

ROLES = ("buyer", "sales", "sales_manager", "partner", "pricing_admin", "admin", "order_manager")
# Roles that see every account (and cost/margin data).
ALL_ACCOUNTS = frozenset({"sales_manager", "pricing_admin", "admin"})
SEES_COST = frozenset({"sales_manager", "pricing_admin", "admin"})


@dataclass(frozen=True)
class Account:
    id: str
    name: str
    parent_id: str | None = None
    partner_id: str | None = None
    owner_id: int | None = None
    segment: str | None = None
    country: str | None = None
    currency: str | None = None
    tax_id: str | None = None
    address: str | None = None


@dataclass(frozen=True)
class User:
    id: int
    email: str
    name: str
    role: str
    account_id: str | None = None
    partner_id: str | None = None
    active: bool = True


def ancestors(account: Account, accounts: Mapping[str, Account]) -> list[Account]:
    """The account's parents, nearest first (contract prices inherit down this chain)."""
    chain, seen, current = [], {account.id}, account.parent_id
    while current is not None and current in accounts and current not in seen:
        seen.add(current)
        chain.append(accounts[current])
        current = accounts[current].parent_id
    return chain


def can_see_account(user: User, account: Account, accounts: Mapping[str, Account]) -> bool:
    """Whether `user` may see `account` and what belongs to it (quotes, orders)."""
    if not user.active:
        return False
    if user.role in ALL_ACCOUNTS:
        return True
    if user.role == "buyer":
        return account.id == user.account_id
    if user.role == "partner":
        return user.partner_id is not None and account.partner_id == user.partner_id
    if user.role == "sales":
        # a sales rep sees the accounts they own and those accounts' subsidiaries
        return account.owner_id == user.id or any(a.owner_id == user.id for a in ancestors(account, accounts))
    return False


def sees_cost(user: User) -> bool:
    """Cost and margin are shown only to roles that set or approve prices."""
    return user.role in SEES_COST
