"""Account visibility reads the account and its ancestors only (one recursive query), on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from cpq import store
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
