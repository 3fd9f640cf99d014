"""Who may see which account: the pure visibility rules."""

from __future__ import annotations

import pytest

from cpq.accounts import Account, User, ancestors, can_see_account, sees_cost

ACCOUNTS = {
    "GLOBEX": Account("GLOBEX", "Globex", owner_id=2),
    "GLOBEX-EU": Account("GLOBEX-EU", "Globex EU", parent_id="GLOBEX"),
    "GLOBEX-NL": Account("GLOBEX-NL", "Globex NL", parent_id="GLOBEX-EU"),
    "INITECH": Account("INITECH", "Initech", partner_id="ACME"),
    "HOOLI": Account("HOOLI", "Hooli", partner_id="OTHER"),
}


@pytest.mark.parametrize(
    ("user", "account", "allowed"),
    [
        (User(1, "a@x", "A", "admin"), "HOOLI", True),
        (User(2, "s@x", "S", "sales"), "GLOBEX", True),
        (User(2, "s@x", "S", "sales"), "GLOBEX-NL", True),  # subsidiary of an owned account
        (User(2, "s@x", "S", "sales"), "INITECH", False),
        (User(3, "b@x", "B", "buyer", account_id="GLOBEX"), "GLOBEX", True),
        (User(3, "b@x", "B", "buyer", account_id="GLOBEX"), "GLOBEX-EU", False),
        (User(4, "p@x", "P", "partner", partner_id="ACME"), "INITECH", True),
        (User(4, "p@x", "P", "partner", partner_id="ACME"), "HOOLI", False),
        (User(5, "i@x", "I", "admin", active=False), "GLOBEX", False),
    ],
)
def test_account_visibility_follows_the_role(user, account, allowed):
    assert can_see_account(user, ACCOUNTS[account], ACCOUNTS) is allowed


def test_ancestors_are_nearest_first_and_stop_at_a_cycle():
    assert [a.id for a in ancestors(ACCOUNTS["GLOBEX-NL"], ACCOUNTS)] == ["GLOBEX-EU", "GLOBEX"]
    looped = {"A": Account("A", "A", parent_id="B"), "B": Account("B", "B", parent_id="A")}
    assert [a.id for a in ancestors(looped["A"], looped)] == ["B"]


def test_only_price_setting_roles_see_cost():
    assert sees_cost(User(1, "m@x", "M", "sales_manager"))
    assert not sees_cost(User(2, "s@x", "S", "sales"))
    assert not sees_cost(User(3, "p@x", "P", "partner"))
