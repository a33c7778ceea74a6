"""Schemathesis against the OpenAPI document: generated requests for every operation, on SQLite and
PostgreSQL, with an admin token and half of them aimed at the real run. No 500s, and every response
conforms to the documented status codes, content types and schemas. Bounded (~15 examples per
operation, no shrinking database) to stay well under a minute."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from .conftest import ADMIN

EXAMPLES_PER_OPERATION = 15


def test_generated_requests_get_documented_answers_and_never_500(labeling):
    schema = schemathesis.openapi.from_asgi("/openapi.json", labeling.client.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20, [o.label for o in operations]
    checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

    for operation in operations:

        @given(case=operation.as_strategy(), aim_at_real_run=st.booleans())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def check(case, aim_at_real_run):
            if aim_at_real_run and case.path_parameters and "run_id" in case.path_parameters:
                case.path_parameters["run_id"] = labeling.run_id
            case.call_and_validate(headers={"Authorization": ADMIN}, checks=checks)

        check()
