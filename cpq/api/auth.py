"""Who is calling: `Authorization: Bearer <API key>` → the active user, and role checks."""

from __future__ import annotations

from flask import g, request

from cpq.accounts import User
from cpq.errors import Forbidden, Unauthorized
from cpq.store import engine
from cpq.store.people import user_for_token

BEARER = {"bearerAuth": []}


def current_user() -> User:
    """The authenticated user of this request, or a 401 problem."""
    if "cpq_user" in g:
        return g.cpq_user
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("send an API key as 'Authorization: Bearer <key>'")
    with engine().begin() as conn:
        user = user_for_token(conn, token.strip())
    if user is None:
        raise Unauthorized("the API key is unknown, revoked or belongs to an inactive user")
    g.cpq_user = user
    return user


def require_role(*roles: str) -> User:
    """The current user, if it holds one of `roles`; otherwise a 403 problem."""
    user = current_user()
    if user.role not in roles:
        raise Forbidden(f"this needs the role {' or '.join(roles)}; you are {user.role}")
    return user
