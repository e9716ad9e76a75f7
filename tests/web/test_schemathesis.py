"""schemathesis against the published OpenAPI document, in-process over the ASGI app, with
an API token (an admin's for the admin's operations, a practitioner's for the others) over
a migrated SQLite database: no answer is a 5xx, every answer matches the schema its
operation declares, with a status and a content type it documents.

Each operation is its own test over a fresh copy of the database, with a few examples
(the run stays within seconds per operation)."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import Case
from schemathesis.specs.openapi.checks import positive_data_acceptance

from dermaplan.app.unit import Application
from dermaplan.records.enums import StaffRole
from dermaplan.records.settings import Settings
from dermaplan.web.app import create_app
from tests.web.conftest import World, api_token

DOCUMENT = "/api/v1/openapi.json"
EXAMPLES = 15
# A request the document allows may still be refused at its field (422) by the use case,
# which validates more than a schema says (a name needs a letter, a time zone must exist):
# schemathesis's check that schema-valid data is always accepted does not hold by design.


def _operations() -> list[tuple[str, str]]:
    """Every operation of the document (made without opening any database)."""
    nowhere = Settings(home=Path("/nonexistent"), database_url="sqlite:////nonexistent/x.db")
    paths = create_app(Application(nowhere)).openapi()["paths"]
    return [(method.upper(), path) for path, operations in paths.items() for method in operations]


@pytest.mark.parametrize(("method", "path"), _operations())
def test_the_api_answers_as_its_document_says(world: World, method: str, path: str) -> None:
    schema = schemathesis.openapi.from_asgi(DOCUMENT, create_app(world.application))
    operation = schema[path][method]
    role = StaffRole.ADMIN if path.startswith("/api/v1/admin/") else StaffRole.PRACTITIONER
    headers = api_token(world, role)

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    def answers(case: Case) -> None:
        case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])

    answers()
