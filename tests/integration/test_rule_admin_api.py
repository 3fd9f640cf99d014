"""Rule administration over REST on SQLite and PostgreSQL: publish, reject, roll back, preview, audit."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from cpq import create_app
from cpq.store import make_engine, people
from cpq.store import rulesets as repo
from tests.conftest import ROOT, SAMPLE_PATHS, bearer

PRICING = "pricing@example.com"
# a build whose processor price the prepared change raises from 1560.00 to 1620.00
SERVER_32C = {"id": "rack", "product": "SRV-2U", "quantity": 2, "options": [
    {"id": "CPU-32C"}, {"id": "MEM-128"}, {"id": "SSD-960"}, {"id": "PSU-800W"}]}


def sample_files(**changes: tuple[str, str]) -> dict[str, str]:
    """The sample rule files (and their test cases) as an upload; `changes` replace text in one file each."""
    files = {}
    for root in ("rules", "pricebooks"):
        for path in sorted((ROOT / root).rglob("*.yaml")):
            files[path.relative_to(ROOT).as_posix()] = path.read_text()
    for name, (old, new) in changes.items():
        path = next(p for p in files if p.endswith(f"/{name}.yaml"))
        assert old in files[path], f"{old!r} not in {path}"
        files[path] = files[path].replace(old, new, 1)
    return files


CPU_32C_UP = {"list-eur": ('CPU-32C: {unit: "1560.00"', 'CPU-32C: {unit: "1620.00"')}


@pytest.fixture
def admin(seeded):
    app, keys = seeded
    app.config["RULESET_POLL_SECONDS"] = 0
    app.extensions["cpq.ruleset"].poll_seconds = 0  # every request looks at the database
    engine = make_engine(app.config["DATABASE_URL"])
    with engine.begin() as conn:
        for email in (PRICING, "manager@example.com"):
            keys[email] = people.create_api_key(conn, people.find_user_by_email(conn, email).id)[1]
    engine.dispose()
    client = app.test_client()

    def call(method, path, who=PRICING, json=None, etag=None, query=None):
        headers = dict(bearer(keys[who])) if who else {}
        if etag:
            headers["If-Match"] = etag
        return client.open(path, method=method, json=json, headers=headers, query_string=query)

    call.app, call.keys = app, keys
    return call


def active_version(app) -> str | None:
    engine = make_engine(app.config["DATABASE_URL"])
    with engine.connect() as conn:
        version = repo.active_version(conn, datetime.now(UTC))
    engine.dispose()
    return version


def test_every_response_names_the_ruleset_version_it_was_answered_from(admin):
    response = admin("GET", "/api/v1/catalog", who=None)
    served = admin.app.extensions["cpq.ruleset"].ruleset.version
    assert response.headers["X-CPQ-Ruleset-Version"] == served
    assert admin("GET", "/health", who=None).headers["X-CPQ-Ruleset-Version"] == served


def test_publishing_a_changed_pricebook_makes_it_active_for_this_and_other_processes(admin):
    # another app on the same database, watching it from a thread as a gunicorn worker does
    other = create_app({"TESTING": True, "RULES_DIR": SAMPLE_PATHS[0], "PRICEBOOKS_DIR": SAMPLE_PATHS[1],
                        "DATABASE_URL": admin.app.config["DATABASE_URL"], "RULESET_POLL_SECONDS": 0.05,
                        "RULESET_WATCH": True})
    before = other.test_client().get("/api/v1/catalog").headers["X-CPQ-Ruleset-Version"]
    published = admin("POST", "/api/v1/admin/rulesets", json={"files": sample_files(**CPU_32C_UP), "note": "CPU-32C up"})
    assert published.status_code == 201, published.json
    new = published.json["version"]
    assert new != before and published.json["previous_version"] == before
    # it took effect once both processes held it compiled, not at the end of the wait
    assert published.json["processes"]["live"] == published.json["processes"]["ready"] == 2
    assert published.json["processes"]["waited_seconds"] < admin.app.config["RULESET_PUBLISH_WAIT_SECONDS"]
    assert published.json["diff"]["prices"] == [{"book": "list-eur", "sku": "CPU-32C", "old": "1560.00", "new": "1620.00"}]
    assert published.json["tests"]["failed"] == 0 and published.json["tests"]["passed"] >= 10
    assert active_version(admin.app) == new
    assert admin("GET", "/api/v1/catalog", who=None).headers["X-CPQ-Ruleset-Version"] == new
    # another app on the same database (another gunicorn worker) switches without a restart
    # within one check of the activation (its watcher may have been mid-check when it took effect)
    price = {"currency": "EUR", "date": "2026-03-02", "context": {"country": "DE"}, "lines": [SERVER_32C]}
    deadline = time.monotonic() + 1.0
    while True:
        answered = other.test_client().post("/api/v1/price", json=price, headers=bearer(admin.keys["sales@example.com"]))
        assert answered.status_code == 200, answered.json
        if answered.headers["X-CPQ-Ruleset-Version"] == new or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert answered.headers["X-CPQ-Ruleset-Version"] == new == answered.json["ruleset_version"]
    cpu = next(i for i in answered.json["lines"][0]["items"] if i["sku"] == "CPU-32C")
    assert cpu["net"] == "3240.00"  # 2 × 1620.00
    other.extensions["cpq.ruleset"].stop()
    other.extensions["cpq.engine"].dispose()


def test_a_publication_now_waits_for_a_process_that_is_not_ready_only_as_long_as_allowed(admin):
    # a process that reported itself but does not compile (stuck, or a test app without a watcher)
    admin.app.config["RULESET_PUBLISH_WAIT_SECONDS"] = 1.0
    stuck = create_app({"TESTING": True, "RULES_DIR": SAMPLE_PATHS[0], "PRICEBOOKS_DIR": SAMPLE_PATHS[1],
                        "DATABASE_URL": admin.app.config["DATABASE_URL"], "RULESET_POLL_SECONDS": 0})
    stuck.test_client().get("/health")
    name = stuck.extensions["cpq.ruleset"].process
    started = time.monotonic()
    published = admin("POST", "/api/v1/admin/rulesets", json={"files": sample_files(**CPU_32C_UP)})
    waited = time.monotonic() - started
    assert published.status_code == 201, published.json
    assert published.json["processes"]["not_ready"] == [name] and published.json["processes"]["ready"] == 1
    assert waited >= 1.0 and active_version(admin.app) == published.json["version"]
    # and the stuck process, asked again, compiles the active version rather than answer from the old one
    assert stuck.test_client().get("/health").headers["X-CPQ-Ruleset-Version"] == published.json["version"]
    stuck.extensions["cpq.ruleset"].stop()
    stuck.extensions["cpq.engine"].dispose()


def test_a_process_gone_quiet_is_not_waited_for_and_status_lists_the_live_ones(admin):
    admin.app.config["RULESET_PUBLISH_WAIT_SECONDS"] = 30.0
    engine = make_engine(admin.app.config["DATABASE_URL"])
    long_ago = datetime.now(UTC) - timedelta(minutes=5)
    with engine.begin() as conn:  # killed without a goodbye five minutes ago
        repo.report_process(conn, "gone:1:dead", serving=None, compiled=[], started_at=long_ago, now=long_ago)
    started = time.monotonic()
    published = admin("POST", "/api/v1/admin/rulesets", json={"files": sample_files(**CPU_32C_UP)})
    assert published.status_code == 201, published.json
    assert time.monotonic() - started < 30 and published.json["processes"]["not_ready"] == []
    listed = admin("GET", "/api/v1/admin/rulesets").json["processes"]
    assert [p["serving"] for p in listed] == [published.json["version"]]  # this process, on the new version
    assert "gone:1:dead" not in [p["process"] for p in listed]
    engine.dispose()


def test_a_publication_may_carry_csv_price_tables_and_other_processes_load_them_from_the_database(admin):
    files = sample_files(**{"list-eur": ('  CPU-32C: {unit: "1560.00", cost: "1060.00"}\n', "")})
    files["pricebooks/list-eur.yaml"] = files["pricebooks/list-eur.yaml"].replace(
        "id: list-eur\n", "id: list-eur\nprice_tables: [list-eur-cpu.csv]\n", 1)
    files["pricebooks/list-eur-cpu.csv"] = "sku,unit,cost\nCPU-32C,1620.00,1060.00\n"
    published = admin("POST", "/api/v1/admin/rulesets", json={"files": files, "note": "CPU-32C from a table"})
    assert published.status_code == 201, published.json
    assert published.json["diff"]["prices"] == [{"book": "list-eur", "sku": "CPU-32C", "old": "1560.00", "new": "1620.00"}]
    # a process that never saw the upload compiles the version from the stored files, table included
    other = create_app({"TESTING": True, "RULES_DIR": SAMPLE_PATHS[0], "PRICEBOOKS_DIR": SAMPLE_PATHS[1],
                        "DATABASE_URL": admin.app.config["DATABASE_URL"], "RULESET_POLL_SECONDS": 0})
    price = {"currency": "EUR", "date": "2026-03-02", "context": {"country": "DE"}, "lines": [SERVER_32C]}
    answered = other.test_client().post("/api/v1/price", json=price, headers=bearer(admin.keys["sales@example.com"]))
    assert answered.status_code == 200, answered.json
    assert answered.json["ruleset_version"] == published.json["version"]
    cpu = next(i for i in answered.json["lines"][0]["items"] if i["sku"] == "CPU-32C")
    assert cpu["net"] == "3240.00"  # 2 × 1620.00 from the table
    other.extensions["cpq.engine"].dispose()


def test_a_broken_set_is_refused_with_every_error_and_changes_nothing(admin):
    first = admin("POST", "/api/v1/admin/rulesets", json={"files": sample_files()})
    assert first.status_code == 201, first.json
    broken = sample_files(**{"list-eur": ('CPU-32C: {unit: "1560.00"', 'CPU-32C: {unit: "15,60"'),
                             "servers": ("requires: {if: CPU-64C, then: [MEM-256]}", "requires: {if: CPU-64C, then: [MEM-257]}")})
    refused = admin("POST", "/api/v1/admin/rulesets", json={"files": broken})
    assert refused.status_code == 422
    assert refused.json["code"] == "ruleset_rejected"
    places = {(e["path"], e["line"]) for e in refused.json["errors"]}
    assert places == {("pricebooks/list-eur.yaml", 21), ("rules/servers.yaml", 190)}
    assert active_version(admin.app) == first.json["version"]
    assert [a["action"] for a in admin("GET", "/api/v1/admin/audit").json["entries"]] == ["publish"]


def test_a_set_whose_rule_tests_fail_is_refused(admin):
    # raising the server price breaks the worked-out total of srv2u-two-default-servers-in-euro
    refused = admin("POST", "/api/v1/admin/rulesets",
                    json={"files": sample_files(**{"list-eur": ('SRV-2U: {unit: "3860.00"', 'SRV-2U: {unit: "3990.00"')})})
    assert refused.status_code == 422, refused.json
    failed = [r for r in refused.json["tests"]["results"] if not r["passed"]]
    assert [r["id"] for r in failed] == ["srv2u-two-default-servers-in-euro", "srv2u-public-sector-takes-4-percent-off-hardware"]
    assert "totals.grand_total: expected 13530.30, got 13839.70" in failed[0]["failures"]
    assert active_version(admin.app) is None


def test_only_pricing_admins_and_admins_publish(admin):
    files = {"files": sample_files()}
    assert admin("POST", "/api/v1/admin/rulesets", who=None, json=files).status_code == 401
    assert admin("POST", "/api/v1/admin/rulesets", who="sales@example.com", json=files).status_code == 403
    assert admin("GET", "/api/v1/admin/audit", who="manager@example.com").status_code == 403
    assert admin("POST", "/api/v1/admin/rulesets", who="admin@example.com", json=files).status_code == 201


def test_rollback_returns_to_the_earlier_version_and_the_audit_says_who_did_what(admin):
    first = admin("POST", "/api/v1/admin/rulesets", json={"files": sample_files()}).json["version"]
    second = admin("POST", "/api/v1/admin/rulesets", who="admin@example.com",
                   json={"files": sample_files(**CPU_32C_UP), "note": "price rise"}).json["version"]
    back = admin("POST", "/api/v1/admin/rulesets/rollback", json={"version": first[:12], "note": "too early"})
    assert back.status_code == 201, back.json
    assert back.json["version"] == first and back.json["previous_version"] == second
    assert active_version(admin.app) == first
    assert admin("GET", "/api/v1/catalog", who=None).headers["X-CPQ-Ruleset-Version"] == first
    entries = admin("GET", "/api/v1/admin/audit").json["entries"]
    assert [(e["action"], e["version"], e["actor"]) for e in entries] == [
        ("rollback", first, PRICING), ("publish", second, "admin@example.com"), ("publish", first, PRICING)]
    assert entries[1]["summary"]["prices_changed"] == 1 and entries[1]["note"] == "price rise"
    assert entries[0]["summary"]["prices_changed"] == 1
    assert admin("GET", "/api/v1/admin/audit", query={"limit": 1, "before": entries[0]["id"]}).json["entries"][0]["version"] == second
    assert admin("POST", "/api/v1/admin/rulesets/rollback", json={"version": "00000000"}).status_code == 404


def test_a_rollback_names_the_publications_still_scheduled_after_it(admin):
    """A rollback does not cancel a publication scheduled for later: its answer says that one will
    still take effect, and when (a publication's answer says the same of the ones after it)."""
    first = admin("POST", "/api/v1/admin/rulesets", json={"files": sample_files()}).json["version"]
    at = datetime.now(UTC) + timedelta(days=30)
    later = admin("POST", "/api/v1/admin/rulesets", json={"files": sample_files(**CPU_32C_UP),
                                                          "effective_at": at.isoformat()}).json["version"]
    back = admin("POST", "/api/v1/admin/rulesets/rollback", json={"version": first[:12]})
    assert back.status_code == 201, back.json
    assert [(s["version"], datetime.fromisoformat(s["effective_at"])) for s in back.json["still_scheduled"]] == [
        (later, at)]
    assert admin("GET", "/api/v1/admin/rulesets").json["scheduled"][0]["version"] == later
    again = admin("POST", "/api/v1/admin/rulesets", json={"files": sample_files(**CPU_32C_UP),
                                                         "effective_at": (at + timedelta(days=1)).isoformat()})
    assert again.json["still_scheduled"] == []  # nothing is scheduled after the latest one


def test_an_effective_dated_publication_waits_for_its_time(admin):
    current = admin("POST", "/api/v1/admin/rulesets", json={"files": sample_files()}).json["version"]
    at = datetime.now(UTC) + timedelta(seconds=5)  # checking the set takes 1-3 s on a loaded machine
    scheduled = admin("POST", "/api/v1/admin/rulesets", json={"files": sample_files(**CPU_32C_UP),
                                                              "effective_at": at.isoformat()})
    assert scheduled.status_code == 201, scheduled.json
    listing = admin("GET", "/api/v1/admin/rulesets").json
    assert listing["active"]["version"] == current
    assert [s["version"] for s in listing["scheduled"]] == [scheduled.json["version"]]
    assert admin("GET", "/api/v1/catalog", who=None).headers["X-CPQ-Ruleset-Version"] == current
    assert datetime.now(UTC) < at, "the checks above ran after the effective time: lengthen the lead"
    deadline = time.monotonic() + 15
    while datetime.now(UTC) < at and time.monotonic() < deadline:
        time.sleep(0.1)
    served = None
    while time.monotonic() < deadline:  # the process compiled it ahead of time; it switches on the next check
        served = admin("GET", "/api/v1/catalog", who=None).headers["X-CPQ-Ruleset-Version"]
        if served == scheduled.json["version"]:
            break
        time.sleep(0.05)
    assert served == scheduled.json["version"]
    naive = admin("POST", "/api/v1/admin/rulesets", json={"files": sample_files(), "effective_at": "2030-01-01T00:00:00"})
    assert naive.status_code == 422


def _quote(admin, lines=(SERVER_32C,), account="GLOBEX-EU"):
    created = admin("POST", "/api/v1/quotes", who="sales@example.com", json={"account_id": account, "lines": list(lines)})
    assert created.status_code == 201, created.json
    return created


def test_preview_lists_the_price_change_and_the_open_quotes_it_moves(admin):
    admin("POST", "/api/v1/admin/rulesets", json={"files": sample_files()})
    moved = _quote(admin).json["number"]
    untouched = _quote(admin, lines=[{"id": "s", "product": "SRV-2U", "options": [
        {"id": "CPU-16C"}, {"id": "MEM-64"}, {"id": "SSD-960"}, {"id": "PSU-800W"}]}]).json["number"]
    preview = admin("POST", "/api/v1/admin/rulesets:preview", json={"files": sample_files(**CPU_32C_UP)})
    assert preview.status_code == 200, preview.json
    body = preview.json
    assert body["diff"]["prices"] == [{"book": "list-eur", "sku": "CPU-32C", "old": "1560.00", "new": "1620.00"}]
    (affected,) = body["quotes"]["affected"]
    assert affected["number"] == moved and affected["number"] != untouched
    assert body["quotes"]["checked"] == 2
    # 2 × 60.00 more for the processor, plus 21 % Dutch VAT: 145.20
    assert Decimal(affected["delta"]) == Decimal("145.20")
    assert Decimal(affected["total_after"]) - Decimal(affected["total_before"]) == Decimal("145.20")
    assert body["quotes"]["total_delta"] == {"EUR": "145.20"}
    assert active_version(admin.app) == body["against_version"]  # a preview publishes nothing


def test_preview_names_the_quotes_a_tighter_rule_makes_invalid(admin):
    admin("POST", "/api/v1/admin/rulesets", json={"files": sample_files()})
    number = _quote(admin).json["number"]
    tighter = sample_files(servers=("requires: {if: CPU-64C, then: [MEM-256]}", "requires: {if: CPU-32C, then: [MEM-256]}"))
    body = admin("POST", "/api/v1/admin/rulesets:preview", json={"files": tighter}).json
    assert body["quotes"]["becoming_invalid"] == [number]
    assert body["diff"]["constraints"]["changed"] == ["SRV-2U/big-cpu-needs-memory"]
    (affected,) = body["quotes"]["affected"]
    assert affected["valid_after"] is False and affected["errors_after"][0]["id"] == "big-cpu-needs-memory"


def test_a_quote_priced_under_an_old_version_reprices_and_renders_exactly_as_before(admin):
    old = admin("POST", "/api/v1/admin/rulesets", json={"files": sample_files()}).json["version"]
    created = _quote(admin)
    number = created.json["number"]
    sent = admin("POST", f"/api/v1/quotes/{number}/send", who="sales@example.com", etag=created.headers["ETag"])
    assert sent.status_code == 200, sent.json
    pdf_before = admin("GET", f"/api/v1/quotes/{number}.pdf", who="sales@example.com")
    assert pdf_before.status_code == 200
    new = admin("POST", "/api/v1/admin/rulesets", json={"files": sample_files(**CPU_32C_UP)}).json["version"]
    assert admin("GET", "/api/v1/catalog", who=None).headers["X-CPQ-Ruleset-Version"] == new
    quote = admin("GET", f"/api/v1/quotes/{number}", who="admin@example.com").json  # admins see the margin too
    assert quote["ruleset_version"] == old
    pdf_after = admin("GET", f"/api/v1/quotes/{number}.pdf", who="sales@example.com")
    assert pdf_after.data == pdf_before.data
    assert pdf_after.headers.get("X-Document-Hash", sent.json["document_hash"]) == sent.json["document_hash"]
    # the stored files of version `old` price the revision to the same totals; the active set does not
    from cpq.quotes.revision import QuoteTerms, price_revision

    engine = make_engine(admin.app.config["DATABASE_URL"])
    with engine.connect() as conn:
        stored = repo.load_files(conn, old).load()
        account = people.get_account(conn, "GLOBEX-EU")
    engine.dispose()
    assert stored.version == old
    terms = QuoteTerms(currency="EUR", channel="direct")
    today = datetime.fromisoformat(quote["priced"]["date"]).date()
    again = price_revision(stored, terms, quote["lines"], account, "sales", today)
    assert again["totals"] == quote["priced"]["totals"]
    live = admin.app.extensions["cpq.ruleset"].compiled(new)
    assert price_revision(live, terms, quote["lines"], account, "sales", today)["totals"] != quote["priced"]["totals"]


def test_the_files_a_process_answers_from_are_stored_before_any_publication(admin):
    served = admin("GET", "/api/v1/catalog", who=None).headers["X-CPQ-Ruleset-Version"]
    engine = make_engine(admin.app.config["DATABASE_URL"])
    with engine.connect() as conn:
        assert repo.load_files(conn, served).load().version == served
        assert repo.active_version(conn, datetime.now(UTC)) is None
    engine.dispose()


def test_the_admin_endpoints_are_in_the_openapi_document(admin):
    paths = admin("GET", "/api/openapi.json", who=None).json["paths"]
    assert {"/api/v1/admin/rulesets", "/api/v1/admin/rulesets:preview", "/api/v1/admin/rulesets/rollback",
            "/api/v1/admin/audit"} <= set(paths)
    body = paths["/api/v1/admin/rulesets"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["$ref"].endswith("/Publish")
