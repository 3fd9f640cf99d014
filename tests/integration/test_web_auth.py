"""Signing in to the web pages, and the REST API called with the session cookie: CSRF, roles, context."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from cpq.cli_people import SAMPLE_PASSWORD
from tests.conftest import bearer

BUYER, SALES = "buyer@globex.example", "sales@example.com"
SERVER_LINE = {"product": "SRV-2U", "quantity": 1, "options": [
    {"id": "CPU-16C"}, {"id": "MEM-64"}, {"id": "SSD-960", "quantity": 2}, {"id": "PSU-800W"}]}


def form_token(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def page_token(page: str) -> str:
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)


@pytest.fixture
def web(seeded):
    app, keys = seeded
    return app, keys


def sign_in(client, email: str, password: str = SAMPLE_PASSWORD, next_path: str = ""):
    token = form_token(client.get("/signin").text)
    return client.post(f"/signin{next_path}", data={"email": email, "password": password, "csrf_token": token})


def signed_in(app, email: str):
    """A test client signed in as `email`, and the CSRF token its pages carry."""
    client = app.test_client()
    assert sign_in(client, email).status_code == 302
    return client, page_token(client.get("/catalog").text)


def test_signing_in_sets_an_httponly_samesite_lax_session_cookie(web):
    app, _ = web
    client = app.test_client()
    answer = sign_in(client, BUYER, next_path="?next=/quotes")
    assert answer.status_code == 302 and answer.headers["Location"] == "/quotes"
    cookie = answer.headers["Set-Cookie"]
    assert cookie.startswith("cpq_session=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert client.get("/api/v1/me").json["email"] == BUYER


@pytest.mark.parametrize("email, password", [(BUYER, "wrong"), ("nobody@example.com", SAMPLE_PASSWORD), (BUYER, "")])
def test_a_wrong_email_or_password_is_refused_and_signs_nobody_in(web, email, password):
    app, _ = web
    client = app.test_client()
    answer = sign_in(client, email, password)
    assert answer.status_code == 401
    assert "The email or password is wrong" in answer.text
    assert client.get("/api/v1/me").status_code == 401


def test_the_sign_in_form_without_its_csrf_token_is_refused(web):
    app, _ = web
    client = app.test_client()
    client.get("/signin")
    answer = client.post("/signin", data={"email": BUYER, "password": SAMPLE_PASSWORD})
    assert answer.status_code == 400
    assert client.get("/api/v1/me").status_code == 401


def test_passwords_are_kept_as_scrypt_hashes_only(web):
    app, _ = web
    with app.extensions["cpq.engine"].connect() as conn:
        hashes = conn.execute(sa.text("select password_hash from users")).scalars().all()
    assert hashes and all(h.startswith("scrypt:") and SAMPLE_PASSWORD not in h for h in hashes)


@pytest.mark.parametrize("target", ["https://evil.example/x", "//evil.example/x", "javascript:alert(1)"])
def test_sign_in_only_returns_to_a_page_of_this_site(web, target):
    app, _ = web
    answer = sign_in(app.test_client(), BUYER, next_path=f"?next={target}")
    assert answer.headers["Location"] == "/catalog"


def test_pages_send_a_signed_out_visitor_to_sign_in_and_back(web):
    app, _ = web
    answer = app.test_client().get("/configure/SRV-1U")
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/signin?next=/configure/SRV-1U"


def test_an_api_call_by_cookie_needs_the_csrf_header_on_unsafe_methods(web):
    app, _ = web
    client, token = signed_in(app, BUYER)
    body = {"account_id": "GLOBEX", "lines": [SERVER_LINE]}
    refused = client.post("/api/v1/quotes", json=body)
    assert refused.status_code == 403
    assert refused.json["code"] == "csrf_failed"
    wrong = client.post("/api/v1/quotes", json=body, headers={"X-CSRF-Token": token[:-2] + "xx"})
    assert wrong.status_code == 403
    assert client.get("/api/v1/quotes").json["total"] == 0  # nothing was created
    created = client.post("/api/v1/quotes", json=body, headers={"X-CSRF-Token": token})
    assert created.status_code == 201, created.json
    assert client.get("/api/v1/quotes").json["total"] == 1


def test_bearer_key_calls_stay_as_they_were_without_csrf(web):
    app, keys = web
    answer = app.test_client().post("/api/v1/quotes", json={"account_id": "GLOBEX", "lines": [SERVER_LINE]},
                                    headers=bearer(keys[BUYER]))
    assert answer.status_code == 201, answer.json


def test_a_buyer_signed_in_sees_only_its_account_and_sales_see_theirs(web):
    app, _ = web
    buyer, _ = signed_in(app, BUYER)
    sales, _ = signed_in(app, SALES)
    assert [a["id"] for a in buyer.get("/api/v1/accounts").json["items"]] == ["GLOBEX"]
    assert [a["id"] for a in sales.get("/api/v1/accounts").json["items"]] == ["GLOBEX", "GLOBEX-EU"]


def test_signing_out_needs_the_form_token_and_ends_the_session(web):
    app, _ = web
    client, token = signed_in(app, BUYER)
    assert client.post("/signout", data={}).status_code == 400
    assert client.get("/api/v1/me").status_code == 200
    assert client.post("/signout", data={"csrf_token": token}).status_code == 302
    assert client.get("/api/v1/me").status_code == 401


def test_a_deactivated_user_loses_the_session_at_the_next_request(web):
    app, _ = web
    client, _ = signed_in(app, BUYER)
    with app.extensions["cpq.engine"].begin() as conn:
        conn.execute(sa.text("update users set active = false where email = :e"), {"e": BUYER})
    assert client.get("/api/v1/me").status_code == 401
    assert client.get("/catalog").status_code == 302


def test_a_signed_in_buyer_configures_under_the_web_channel_whatever_the_body_says(web):
    """rules/servers.yaml web-no-hdd: hard drives are sold through sales only."""
    app, _ = web
    client, token = signed_in(app, BUYER)
    body = {"options": {"HDD-8T": 1}, "context": {"channel": "direct"}, "account": {"id": "INITECH"}}
    as_buyer = client.post("/api/v1/products/SRV-2U/configure", json=body, headers={"X-CSRF-Token": token}).json
    anonymous = app.test_client().post("/api/v1/products/SRV-2U/configure", json=body).json
    assert anonymous["consistent"] is True  # an anonymous what-if takes the body's context
    assert as_buyer["consistent"] is False
    assert [r["id"] for r in as_buyer["conflict"]["rules"]] == ["web-no-hdd"]


def test_a_signed_in_caller_cannot_configure_for_an_account_it_may_not_see(web):
    app, keys = web
    client, token = signed_in(app, SALES)
    hidden = client.post("/api/v1/products/SRV-2U/configure", json={"account": {"id": "INITECH"}},
                         headers={"X-CSRF-Token": token})
    assert hidden.status_code == 404
    own = client.post("/api/v1/products/SRV-2U/configure", json={"account": {"id": "GLOBEX-EU"}},
                      headers={"X-CSRF-Token": token})
    assert own.status_code == 200
    by_key = app.test_client().post("/api/v1/products/SRV-2U/configure", json={"account": {"id": "INITECH"}},
                                    headers=bearer(keys[BUYER]))
    assert by_key.status_code == 200  # a buyer's account is always its own: the body's id is not used


def test_the_pages_and_their_assets_are_served_from_the_app(web):
    app, _ = web
    client, _ = signed_in(app, SALES)
    page = client.get("/configure/SRV-1U").text
    assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', page)
    assert sorted(assets) == ["/static/web/configure.js", "/static/web/cpq.css", "/static/web/cpq.js"]
    for asset in assets:
        assert client.get(asset).status_code == 200
    assert "http://" not in page and "https://" not in page
    assert client.get("/configure/NO-SUCH").status_code == 404
