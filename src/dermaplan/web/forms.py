"""Forms a use case refused, shown again: the page with its status (web.errors) and each
problem by the path of its field, for the template to show it there."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from dermaplan.problems import path
from dermaplan.records.errors import RecordsError
from dermaplan.web.errors import status_of
from dermaplan.web.security import PageSession
from dermaplan.web.views import render


def problems_by_field(refused: RecordsError | None) -> dict[str, list[str]]:
    """The problems by the path of their field ("products[0].lot"; "" for the whole form)."""
    found: dict[str, list[str]] = {}
    for problem in refused.details if refused else ():
        found.setdefault(path(problem.location), []).append(problem.message)
    return found


def render_form(
    request: Request,
    template: str,
    session: PageSession,
    refused: RecordsError | None,
    **values: Any,
) -> HTMLResponse:
    """A page with a form, as first shown, or again with what `refused` found."""
    return render(
        request,
        template,
        session,
        status=status_of(refused) if refused else 200,
        problems=problems_by_field(refused),
        **values,
    )
