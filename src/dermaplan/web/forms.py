"""Forms a use case refused, shown again: the page with its status (web.errors) and its
problems, for the template to show each at its field (templates/form_problems.html)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from dermaplan.records.errors import RecordsError
from dermaplan.web.errors import status_of
from dermaplan.web.security import PageSession
from dermaplan.web.views import render


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
        problems=list(refused.details) if refused else [],
        **values,
    )
