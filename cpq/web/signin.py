"""Sign-in with an email and password (werkzeug's scrypt hashes, as `cpq users create` stores them)."""

from __future__ import annotations

import sqlalchemy as sa
from werkzeug.security import check_password_hash, generate_password_hash

from cpq.store.tables import users

# compared against when the email is unknown, so that both answers take the same time
_NO_USER_HASH = generate_password_hash("no such user")


def authenticate(conn: sa.Connection, email: str, password: str) -> int | None:
    """The id of the active user with this email and password, or None."""
    row = conn.execute(sa.select(users.c.id, users.c.password_hash, users.c.active)
                       .where(users.c.email == email.strip().lower())).first()
    stored = row.password_hash if row is not None and row.password_hash else _NO_USER_HASH
    matches = check_password_hash(stored, password)
    if row is None or not row.password_hash or not row.active or not matches:
        return None
    return row.id
