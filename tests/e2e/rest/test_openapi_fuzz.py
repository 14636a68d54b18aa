"""Schemathesis against /openapi.json, in process (ASGI, no network): no 5xx and no schema violations.

Examples are bounded per operation (and derandomized) so the run stays within CI's budget; the
generation still explores boundary values, wrong types and missing fields of every route.
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import content_type_conformance, not_a_server_error, response_schema_conformance

MAX_EXAMPLES = 5
PREFIXES = ("/api/v1", "/ims/oneroster/rostering/v1p2", "/oauth/token")


# Defects found by this test outside the REST layer, waiting for their owner's fix (then delete the entry):
# domain/attendance/schemas.py Period._ordered compares end_on < start_on when the tool input left one of
# them None, raising TypeError (a 500 on every face) for e.g. ?start_on=2026-01-01 without end_on.
def test_no_input_makes_the_api_answer_5xx_or_break_its_schema(integrator_db):
    # The Stripe webhook is Stripe's callback, not an integrator API: it answers 503 (so Stripe retries)
    # while no signing secret is configured, and tests/e2e/billing covers it with real signatures.
    schema = (
        schemathesis.openapi.from_asgi("/openapi.json", integrator_db.app)
        .include(path_regex="^(" + "|".join(PREFIXES) + ")")
        .exclude(path="/api/v1/webhooks/stripe")
    )
    headers = {"Authorization": f"Bearer {integrator_db.keys['network_admin']}"}
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
        def run(case: schemathesis.Case) -> None:
            response = case.call(headers=headers)
            case.validate_response(
                response, checks=[not_a_server_error, response_schema_conformance, content_type_conformance]
            )

        try:
            run()
        except Exception as err:  # collect every failing operation, not just the first
            failures.append(f"{operation.label}: {str(err)[:1500]}")
    assert operations >= 60
    assert not failures, "\n\n".join(failures)
