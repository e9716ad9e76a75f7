"""The published JSON Schemas of the consult's input and output."""

from __future__ import annotations

from typing import Any

SCHEMA_ID = "https://dermaplan.org/schemas"


def assessment_schema() -> dict[str, Any]:
    from dermaplan.clinical.assessment import Assessment

    schema = Assessment.model_json_schema()
    schema["$id"] = f"{SCHEMA_ID}/assessment.json"
    schema["description"] = (
        "A patient assessment for a Dermaplan consult. Safety answers are true, false, or "
        "absent/null for unknown; unknown is never read as no."
    )
    return schema


def plan_schema() -> dict[str, Any]:
    from dermaplan.clinical.plan import plan_adapter

    schema = plan_adapter().json_schema(mode="serialization")
    schema["$id"] = f"{SCHEMA_ID}/plan.json"
    schema["description"] = "The plan a Dermaplan consult produces."
    return schema
