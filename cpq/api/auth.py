"""Who is calling: `Authorization: Bearer <API key>`, or the web pages' signed-in session cookie.

A call authenticated by the session cookie must also send the session's CSRF token in the
`X-CSRF-Token` header on every unsafe method (the cookie is sent by the browser on its own; the
header can only be set by the pages' own scripts). Bearer-key calls are unchanged.
"""

from __future__ import annotations

import hmac
import secrets

from flask import g, request, session

from cpq.accounts import User
from cpq.errors import Forbidden, NotFound, Unauthorized
from cpq.store import engine
from cpq.store.people import get_user, user_for_token

BEARER = {"bearerAuth": []}
SESSION_USER = "user_id"
SESSION_CSRF = "csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class CSRFRejected(Forbidden):
    code = "csrf_failed"
    title = "CSRF token missing or wrong"


def csrf_token() -> str:
    """The session's CSRF token (made on first use); pages put it in forms and in the API header."""
    if SESSION_CSRF not in session:
        session[SESSION_CSRF] = secrets.token_urlsafe(32)
    return session[SESSION_CSRF]


def check_csrf(sent: str | None) -> None:
    """A 403 problem unless `sent` is this session's CSRF token."""
    expected = session.get(SESSION_CSRF)
    if not expected or not sent or not hmac.compare_digest(str(sent), expected):
        raise CSRFRejected(f"send the page's CSRF token in the {CSRF_HEADER} header (or the form's csrf_token)")


def session_user() -> User | None:
    """The active user signed in by the session cookie, or None."""
    user_id = session.get(SESSION_USER)
    if user_id is None:
        return None
    with engine().connect() as conn:
        try:
            user = get_user(conn, int(user_id))
        except NotFound:
            user = None
    if user is None or not user.active:
        session.clear()
        return None
    return user


def has_credentials() -> bool:
    """Whether the request carries an API key or a signed-in session."""
    return bool(request.headers.get("Authorization")) or session.get(SESSION_USER) is not None


def current_user() -> User:
    """The authenticated user of this request, or a 401 problem (a 403 for a cookie call without CSRF)."""
    if "cpq_user" in g:
        return g.cpq_user
    header = request.headers.get("Authorization", "")
    if not header and session.get(SESSION_USER) is not None:
        user = session_user()
        if user is None:
            raise Unauthorized("the session has ended; sign in again")
        if request.method not in SAFE_METHODS:
            check_csrf(request.headers.get(CSRF_HEADER))
        g.cpq_user = user
        return user
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
