"""The page routes: sign-in / sign-out (forms with a CSRF token) and the page shells."""

from __future__ import annotations

from functools import wraps
from urllib.parse import urlsplit

from flask import Blueprint, abort, redirect, render_template, request, session, url_for

from cpq.api.auth import SESSION_USER, CSRFRejected, check_csrf, csrf_token, session_user
from cpq.rulesets import active_ruleset
from cpq.store import engine
from cpq.web.signin import authenticate

blp = Blueprint("web", __name__, static_folder="static", static_url_path="/static/web")

SALES_ROLES = frozenset({"sales", "sales_manager", "pricing_admin", "admin", "partner"})


def _page(name: str, user, **values):
    return render_template(f"web/{name}.html", user=user, csrf_token=csrf_token(),
                           sales=user is not None and user.role in SALES_ROLES, **values)


def signed_in(view):
    """Pages need a signed-in user; others go to the sign-in page and come back."""
    @wraps(view)
    def wrapper(*args, **kwargs):
        user = session_user()
        if user is None:
            return redirect(url_for("web.signin", next=request.full_path.rstrip("?")))
        return view(user, *args, **kwargs)
    return wrapper


def _safe_next(target: str | None) -> str:
    """Only a path on this site (no scheme, no host): an open redirect would help phishing."""
    if not target:
        return url_for("web.catalog")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("web.catalog")
    return target


@blp.route("/")
def home():
    """The catalog for a signed-in user, otherwise the sign-in page."""
    return redirect(url_for("web.catalog"))


@blp.route("/signin", methods=["GET", "POST"])
def signin():
    """Email + password form; a new session id (and CSRF token) on success."""
    error = None
    if request.method == "POST":
        try:
            check_csrf(request.form.get("csrf_token"))
        except CSRFRejected:
            return _page("signin", None, error="The form expired; sign in again.",
                         email=request.form.get("email", "")), 400
        email, password = request.form.get("email", ""), request.form.get("password", "")
        with engine().connect() as conn:
            user_id = authenticate(conn, email, password)
        if user_id is not None:
            session.clear()  # no fixation: a fresh session (and CSRF token) for the signed-in user
            session[SESSION_USER] = user_id
            session.permanent = False
            return redirect(_safe_next(request.args.get("next")))
        error = "The email or password is wrong, or the account is inactive."
    return _page("signin", None, error=error, email=request.form.get("email", "")), 401 if error else 200


@blp.route("/signout", methods=["POST"])
def signout():
    """End the session (a POST with the CSRF token, so no other site can sign you out)."""
    try:
        check_csrf(request.form.get("csrf_token"))
    except CSRFRejected:
        abort(400, "the form expired; reload the page")
    session.clear()
    return redirect(url_for("web.signin"))


@blp.route("/catalog")
@signed_in
def catalog(user):
    """Every product of the live ruleset, each linking to its configurator."""
    products = list(active_ruleset().products.values())
    return _page("catalog", user, products=products)


@blp.route("/configure/<product_id>")
@signed_in
def configure(user, product_id: str):
    """The configurator page of one product (its script calls /api/v1/products/{id}/configure …)."""
    product = active_ruleset().products.get(product_id)
    if product is None:
        abort(404)
    return _page("configure", user, product=product, line=request.args.get("line"),
                 quote=request.args.get("quote"))


@blp.route("/quotes")
@signed_in
def quotes(user):
    """The caller's quotes (its script calls GET /api/v1/quotes)."""
    return _page("quotes", user)


@blp.route("/quotes/<number>")
@signed_in
def quote(user, number: str):
    """The quote workspace (its script calls /api/v1/quotes/{number} and the lifecycle actions)."""
    return _page("quote", user, number=number)
