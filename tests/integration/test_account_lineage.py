"""Account visibility reads the account and its ancestors only (one recursive query), on SQLite and PostgreSQL."""

from __future__ import annotations

import random

import pytest
import sqlalchemy as sa

from cpq import store
from cpq.accounts import can_see_account
from cpq.errors import NotFound
from cpq.store import people
from cpq.store.tables import accounts


@pytest.fixture
def conn(database_url):
    store.upgrade(database_url)
    engine = store.make_engine(database_url)
    with engine.begin() as connection:
        yield connection
    engine.dispose()


def test_a_sales_rep_sees_the_subsidiaries_of_what_they_own_and_nothing_beside(conn):
    rep = people.create_user(conn, "rep@example.com", "Rita Rep", "sales")
    other = people.create_user(conn, "other@example.com", "Otto Other", "sales")
    people.create_account(conn, "GROUP", "Group", owner_id=rep.id)
    people.create_account(conn, "SUB", "Subsidiary", parent_id="GROUP")
    people.create_account(conn, "SUBSUB", "Plant", parent_id="SUB")
    people.create_account(conn, "ELSEWHERE", "Elsewhere", owner_id=other.id)

    assert set(people.account_lineage(conn, "SUBSUB")) == {"SUBSUB", "SUB", "GROUP"}
    assert people.visible_account(conn, rep, "SUBSUB").name == "Plant"
    with pytest.raises(NotFound, match="account 'ELSEWHERE' not found"):
        people.visible_account(conn, rep, "ELSEWHERE")
    with pytest.raises(NotFound, match="quote 'Q-1' not found"):
        people.visible_account(conn, rep, "ELSEWHERE", hidden="quote 'Q-1' not found")
    with pytest.raises(NotFound, match="account 'NOPE' not found"):
        people.visible_account(conn, rep, "NOPE")
    assert people.account_lineage(conn, "NOPE") == {}


def test_a_cycle_of_parents_ends_the_lineage_instead_of_looping(conn):
    people.create_account(conn, "A", "A")
    people.create_account(conn, "B", "B", parent_id="A")
    conn.execute(sa.update(accounts).where(accounts.c.id == "A").values(parent_id="B"))  # bad data, not an API
    assert set(people.account_lineage(conn, "A")) == {"A", "B"}


@pytest.mark.parametrize("seed", range(3))
def test_the_visible_account_ids_are_what_can_see_account_decides_for_every_role(conn, seed):
    """The database's answer (one query per user) against the domain rule over all accounts."""
    rng = random.Random(seed)
    reps = [people.create_user(conn, f"rep{k}@example.com", f"Rep {k}", "sales") for k in range(3)]
    people.create_partner(conn, "P1", "Partner One")
    ids = []
    for k in range(25):
        parent = rng.choice([None, *ids]) if ids else None
        owner = rng.choice([None, None, *reps])
        people.create_account(conn, f"A{k:02d}", f"Account {k}", parent_id=parent,
                              owner_id=owner.id if owner else None, partner_id="P1" if k % 4 == 0 else None)
        ids.append(f"A{k:02d}")
    everyone = [*reps,
                people.create_user(conn, "buyer@example.com", "Bea Buyer", "buyer", account_id="A07"),
                people.create_user(conn, "partner@example.com", "Pat Partner", "partner", partner_id="P1"),
                people.create_user(conn, "manager@example.com", "Max Manager", "sales_manager"),
                people.create_user(conn, "orders@example.com", "Olga Orders", "order_manager")]
    known = people.all_accounts(conn)
    for user in everyone:
        expected = sorted(a.id for a in known.values() if can_see_account(user, a, known))
        found = people.visible_account_ids(conn, user)
        assert (sorted(known) if found is None else found) == expected, user.role
        assert [a.id for a in people.visible_accounts(conn, user)] == expected, user.role
        assert all((people.account_if_visible(conn, user, a) is not None) == (a in expected) for a in known)
