"""`cpq rules publish | rollback | status | audit | diff` against a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import shutil
from decimal import Decimal

import pytest

from cpq import store
from cpq.store import people
from tests.conftest import ROOT, bearer

SERVER_32C = {"id": "rack", "product": "SRV-2U", "quantity": 2, "options": [
    {"id": "CPU-32C"}, {"id": "MEM-128"}, {"id": "SSD-960"}, {"id": "PSU-800W"}]}


def checkout(tmp_path, name="checkout", **changes: tuple[str, str]):
    """A copy of rules/ and pricebooks/ (as a pricing admin's git checkout) with text replaced per file."""
    target = tmp_path / name
    shutil.copytree(ROOT / "rules", target / "rules")
    shutil.copytree(ROOT / "pricebooks", target / "pricebooks")
    for file, (old, new) in changes.items():
        path = next(target.rglob(f"{file}.yaml"))
        assert old in path.read_text()
        path.write_text(path.read_text().replace(old, new, 1))
    return target


# the prepared change: CPU-32C up by 60.00 in the euro book and 50.00 in the dollar book
PREPARED = {"list-eur": ('CPU-32C: {unit: "1560.00"', 'CPU-32C: {unit: "1620.00"'),
            "list-usd": ('CPU-32C: {unit: "1700.00"', 'CPU-32C: {unit: "1750.00"')}


@pytest.fixture
def env(database_url):
    store.upgrade(database_url)
    return {"CPQ_DATABASE_URL": database_url, "CPQ_RULES_DIR": str(ROOT / "rules"),
            "CPQ_PRICEBOOKS_DIR": str(ROOT / "pricebooks")}


def status(cli, env) -> dict:
    result = cli("rules", "status", "--json", env=env)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_publish_from_a_checkout_then_roll_back(cli, env, tmp_path):
    first = cli("rules", "publish", "--from", str(checkout(tmp_path, "a")), "--note", "first", env=env)
    assert first.exit_code == 0, first.output
    v1 = status(cli, env)["active"]["version"]
    changed = cli("rules", "publish", "--from", str(checkout(tmp_path, "b", **PREPARED)), env=env)
    assert changed.exit_code == 0, changed.output
    assert "list-eur CPU-32C: 1560.00 → 1620.00" in changed.output
    assert "list-usd CPU-32C: 1700.00 → 1750.00" in changed.output
    v2 = status(cli, env)["active"]["version"]
    assert v2 != v1
    back = cli("rules", "rollback", v1[:10], env=env)
    assert back.exit_code == 0, back.output
    assert status(cli, env)["active"]["version"] == v1
    audit = cli("rules", "audit", env=env)
    lines = audit.output.splitlines()
    assert [line.split()[1:3] for line in lines] == [["rollback", v1[:12]], ["publish", v2[:12]], ["publish", v1[:12]]]
    assert "prices_changed 2" in lines[1] and "by cli:" in lines[1]


def test_a_rollback_says_which_scheduled_publication_will_still_replace_it(cli, env, tmp_path):
    assert cli("rules", "publish", env=env).exit_code == 0
    v1 = status(cli, env)["active"]["version"]
    later = cli("rules", "publish", "--from", str(checkout(tmp_path, **PREPARED)), "--at", "2099-01-01T00:00:00Z",
                env=env)
    assert later.exit_code == 0, later.output
    v2 = status(cli, env)["scheduled"][0]["version"]
    back = cli("rules", "rollback", v1[:10], env=env)
    assert back.exit_code == 0, back.output
    assert f"still scheduled: {v2[:12]} at 2099-01-01T00:00:00+00:00" in back.output


def test_publishing_a_broken_checkout_prints_every_error_and_keeps_the_active_version(cli, env, tmp_path):
    assert cli("rules", "publish", env=env).exit_code == 0
    before = status(cli, env)["active"]["version"]
    broken = checkout(tmp_path, **{"list-eur": ('CPU-32C: {unit: "1560.00"', 'CPU-32C: {unit: "15,60"'),
                                   "servers": ("then: [MEM-256]}", "then: [MEM-257]}")})
    result = cli("rules", "publish", "--from", str(broken), env=env)
    assert result.exit_code == 1
    assert "pricebooks/list-eur.yaml:21:" in result.output
    assert "rules/servers.yaml:190:" in result.output and "MEM-257" in result.output
    assert status(cli, env)["active"]["version"] == before


def test_an_effective_dated_publication_is_scheduled(cli, env):
    result = cli("rules", "publish", "--at", "2099-01-01T00:00:00Z", env=env)
    assert result.exit_code == 0, result.output
    now = status(cli, env)
    assert now["active"] is None
    assert [s["effective_at"][:10] for s in now["scheduled"]] == ["2099-01-01"]
    assert cli("rules", "publish", "--at", "2099-01-01T00:00:00", env=env).exit_code == 2  # no zone


def test_rules_diff_lists_exactly_the_price_changes_and_the_affected_quotes(cli, env, seeded, tmp_path):
    app, keys = seeded
    engine = store.make_engine(app.config["DATABASE_URL"])
    with engine.begin() as conn:
        sales = people.find_user_by_email(conn, "sales@example.com")
        people.create_account(conn, "HOOLI", "Hooli Inc.", owner_id=sales.id, country="US", currency="USD")
    engine.dispose()
    assert cli("rules", "publish", env=env).exit_code == 0
    client = app.test_client()

    def quote(account, lines):
        created = client.post("/api/v1/quotes", json={"account_id": account, "lines": lines},
                              headers=bearer(keys["sales@example.com"]))
        assert created.status_code == 201, created.json
        return created.json["number"]

    eu = quote("GLOBEX-EU", [SERVER_32C])  # euro list price: 2 × 60.00 + 21 % VAT = +145.20
    us = quote("HOOLI", [SERVER_32C])  # dollar list price: 2 × 50.00 + 8.25 % tax = +108.25
    contract = quote("GLOBEX", [SERVER_32C])  # GLOBEX's contract price for CPU-32C does not move
    quote("GLOBEX-EU", [{"id": "s", "product": "SRV-2U", "options": [  # no CPU-32C: no change
        {"id": "CPU-16C"}, {"id": "MEM-64"}, {"id": "SSD-960"}, {"id": "PSU-800W"}]}])

    result = cli("rules", "diff", "--json", str(checkout(tmp_path, **PREPARED)), env=env)
    assert result.exit_code == 0, result.output
    body = json.loads(result.output[result.output.index("{"):])
    assert body["diff"]["prices"] == [{"book": "list-eur", "sku": "CPU-32C", "old": "1560.00", "new": "1620.00"},
                                      {"book": "list-usd", "sku": "CPU-32C", "old": "1700.00", "new": "1750.00"}]
    assert body["quotes"]["checked"] == 4
    deltas = {q["number"]: Decimal(q["delta"]) for q in body["quotes"]["affected"]}
    assert deltas == {eu: Decimal("145.20"), us: Decimal("108.25")}
    assert contract not in deltas
    assert body["quotes"]["total_delta"] == {"EUR": "145.20", "USD": "108.25"}
    assert body["quotes"]["becoming_invalid"] == []

    table = cli("rules", "diff", str(checkout(tmp_path, "again", **PREPARED)), env=env)
    assert table.exit_code == 0, table.output
    assert "list-eur             CPU-32C              1560.00 → 1620.00" in table.output
    rows = {line.split()[0]: line.split() for line in table.output.splitlines() if line.startswith("Q-")}
    assert set(rows) == {eu, us}
    assert rows[eu][-1] == "+145.20" and rows[us][-1] == "+108.25"
    assert "4 open quote(s) checked, 2 affected, 0 become invalid; total delta EUR 145.20, USD 108.25" in table.output


def test_rules_commands_on_an_unmigrated_database_say_what_to_run(cli, tmp_path):
    result = cli("rules", "status", env={"CPQ_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}"})
    assert result.exit_code == 1
    assert "not reachable or not migrated; run 'cpq db upgrade'" in result.output
