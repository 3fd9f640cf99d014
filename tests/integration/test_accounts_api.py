"""Accounts and API keys: who may see which account, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from cpq import store
from cpq.store import people
from tests.conftest import bearer


@pytest.fixture
def client_keys(seeded):
    app, keys = seeded
    return app.test_client(), keys


def visible(client, token):
    response = client.get("/api/v1/accounts", headers=bearer(token))
    assert response.status_code == 200
    return sorted(a["id"] for a in response.json["items"])


def test_without_a_key_the_api_answers_401_with_a_bearer_challenge(client_keys):
    client, _ = client_keys
    response = client.get("/api/v1/accounts")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="cpq"'
    assert response.json["code"] == "unauthorized"


def test_a_wrong_key_is_refused(client_keys):
    client, keys = client_keys
    token = keys["admin@example.com"]
    assert client.get("/api/v1/me", headers=bearer(token[:-2] + "xx")).status_code == 401
    assert client.get("/api/v1/me", headers=bearer("not-a-key")).status_code == 401


def test_me_names_the_keys_owner(client_keys):
    client, keys = client_keys
    me = client.get("/api/v1/me", headers=bearer(keys["buyer@globex.example"])).json
    assert (me["email"], me["role"], me["account_id"]) == ("buyer@globex.example", "buyer", "GLOBEX")


@pytest.mark.parametrize(
    ("email", "expected"),
    [
        ("admin@example.com", ["GLOBEX", "GLOBEX-EU", "INITECH"]),
        ("sales@example.com", ["GLOBEX", "GLOBEX-EU"]),
        ("buyer@globex.example", ["GLOBEX"]),
        ("partner@acme.example", ["INITECH"]),
    ],
)
def test_each_role_sees_only_its_accounts(client_keys, email, expected):
    client, keys = client_keys
    assert visible(client, keys[email]) == expected


def test_an_account_the_caller_may_not_see_is_not_found(client_keys):
    client, keys = client_keys
    response = client.get("/api/v1/accounts/GLOBEX", headers=bearer(keys["partner@acme.example"]))
    assert response.status_code == 404
    assert client.get("/api/v1/accounts/INITECH", headers=bearer(keys["partner@acme.example"])).status_code == 200


def test_admin_creates_an_account_and_a_buyer_may_not(client_keys):
    client, keys = client_keys
    body = {"id": "UMBRELLA", "name": "Umbrella Corp", "country": "GB", "currency": "GBP"}
    assert client.post("/api/v1/accounts", json=body, headers=bearer(keys["buyer@globex.example"])).status_code == 403
    created = client.post("/api/v1/accounts", json=body, headers=bearer(keys["admin@example.com"]))
    assert created.status_code == 201
    assert created.json["id"] == "UMBRELLA"
    again = client.post("/api/v1/accounts", json=body, headers=bearer(keys["admin@example.com"]))
    assert again.status_code == 409


def test_bad_account_input_is_a_422_listing_the_fields(client_keys):
    client, keys = client_keys
    response = client.post("/api/v1/accounts", json={"id": "1-bad", "country": "USA"}, headers=bearer(keys["admin@example.com"]))
    assert response.status_code == 422
    assert set(response.json["errors"]["json"]) == {"id", "name", "country"}


def test_a_revoked_key_stops_working(seeded):
    app, keys = seeded
    client = app.test_client()
    token = keys["sales@example.com"]
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
    with store.make_engine(app.config["DATABASE_URL"]).begin() as conn:
        people.revoke_api_key(conn, token.split("_")[1])
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401


def test_api_keys_are_stored_hashed(seeded):
    app, keys = seeded
    token = keys["admin@example.com"]
    with store.make_engine(app.config["DATABASE_URL"]).connect() as conn:
        stored = conn.exec_driver_sql("select secret_hash from api_keys").scalars().all()
    assert all(token.split("_", 2)[2] not in value for value in stored)
    assert all(len(value) == 64 for value in stored)


def test_cli_creates_and_revokes_keys(cli, seeded):
    app, _ = seeded
    env = {"CPQ_DATABASE_URL": app.config["DATABASE_URL"]}
    created = cli("keys", "create", "manager@example.com", "--label", "laptop", env=env)
    assert created.exit_code == 0
    token = created.output.strip().splitlines()[-1]
    client = app.test_client()
    assert client.get("/api/v1/me", headers=bearer(token)).json["role"] == "sales_manager"
    assert cli("keys", "revoke", token.split("_")[1], env=env).exit_code == 0
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401


def test_cli_refuses_a_buyer_without_an_account(cli, seeded):
    app, _ = seeded
    result = cli("users", "create", "--email", "x@example.com", "--name", "X", "--role", "buyer",
                 env={"CPQ_DATABASE_URL": app.config["DATABASE_URL"]})
    assert result.exit_code == 1
    assert "a buyer belongs to an account" in result.output
