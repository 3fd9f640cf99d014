"""schemathesis over the OpenAPI document (in-process, authenticated): no 5xx, responses match schemas."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from cpq import create_app, store
from cpq.cli_people import seed
from tests.conftest import SAMPLE_PATHS, bearer

EXAMPLES = 60  # per operation; ~20 operations → well over 1,000 generated requests


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'cpq.db'}"
    store.upgrade(url)
    engine = store.make_engine(url)
    with engine.begin() as conn:
        keys = dict(seed(conn))
    engine.dispose()
    app = create_app({"TESTING": True, "RULES_DIR": SAMPLE_PATHS[0], "PRICEBOOKS_DIR": SAMPLE_PATHS[1],
                      "DATABASE_URL": url})
    return app, keys["admin@example.com"]


@pytest.fixture(scope="module")
def api_schema(fuzz_app):
    app, _ = fuzz_app
    return schemathesis.openapi.from_wsgi("/api/openapi.json", app)


def test_no_request_makes_the_service_fail_or_break_its_own_schema(api_schema, fuzz_app):
    """Generated requests for every operation: 0 server errors and 0 response-schema violations."""
    _, token = fuzz_app
    sent = 0

    for result in api_schema.get_all_operations():
        operation = result.ok()

        @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def check(case):
            nonlocal sent
            response = case.call(headers=bearer(token))
            sent += 1
            case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])

        check()
    print(f"schemathesis: {sent} requests")
    assert sent >= 1000
