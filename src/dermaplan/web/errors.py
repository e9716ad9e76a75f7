"""Errors as the web answers them: each kind of the application's errors has its status,
and a JSON error lists each problem with its field location, as FastAPI lists its own
validation errors, so a client reads one shape whatever refused the request."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from dermaplan.problems import Problem
from dermaplan.records.errors import (
    Forbidden,
    ImmutableRecord,
    IncompleteRecord,
    NotFound,
    RecordsError,
    SafetyRefused,
    Unauthenticated,
)

STATUS: tuple[tuple[type[RecordsError], int], ...] = (
    (Unauthenticated, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (ImmutableRecord, 409),
    (SafetyRefused, 409),
    (IncompleteRecord, 409),
)
INVALID = 422  # input that does not validate, and any other problem with the request


class ProblemDetail(BaseModel):
    loc: list[str | int]  # the path of fields; [] for a problem of the whole request
    msg: str


class ErrorBody(BaseModel):
    """What every refused API request answers."""

    detail: list[ProblemDetail]
    hint: str | None = None


def status_of(error: RecordsError) -> int:
    return next((status for kind, status in STATUS if isinstance(error, kind)), INVALID)


def error_body(problems: list[Problem], hint: str | None = None) -> dict[str, Any]:
    return ErrorBody(
        detail=[ProblemDetail(loc=list(p.location), msg=p.message) for p in problems], hint=hint
    ).model_dump()


def request_problems(errors: Sequence[Any]) -> list[Problem]:
    """FastAPI's validation errors as problems, at the location it gives (which starts
    with the part of the request: "body", "path", "query", "header")."""
    return [
        Problem(tuple(error.get("loc", ())), str(error.get("msg", "is not valid")))
        for error in errors
    ]


RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in (
        (401, "no valid API token"),
        (403, "the token's member may not do this"),
        (404, "no such record in the member's clinic"),
        (422, "the request does not validate; each problem at its field"),
    )
}
