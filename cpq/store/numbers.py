"""Quote numbers: `Q-<year>-<6 digits>`, unique, never reused, safe under concurrent creation."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from cpq.store.tables import quote_number_counters


def next_quote_number(conn: sa.Connection, year: int) -> str:
    """Take the next number of `year` in the caller's transaction.

    One atomic upsert: on PostgreSQL the row lock it takes makes concurrent transactions queue
    for the counter; on SQLite the write lock does. A rolled-back transaction returns its number,
    so no number is ever given to two quotes.
    """
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    table = quote_number_counters
    stmt = dialect.insert(table).values(year=year, last=1)
    stmt = stmt.on_conflict_do_update(index_elements=[table.c.year], set_={"last": table.c.last + 1})
    last = conn.execute(stmt.returning(table.c.last)).scalar_one()
    return f"Q-{year}-{last:06d}"
