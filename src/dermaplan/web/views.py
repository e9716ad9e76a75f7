"""Rendering pages: the Jinja2 templates of the package, escaped everywhere, with the
member and their CSRF token for the layout; and the filters that show the clinic's times
and people's names the same way on every page."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from dermaplan.problems import Problem
from dermaplan.web.security import PageSession

TEMPLATES = Path(__file__).parent / "templates"


def _when(value: dt.datetime | dt.date | None) -> str:
    """A time on the clinic's clock (the use cases give it so), to the minute; a day."""
    if value is None:
        return "-"
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return value.isoformat()


def _person(family_name: str, given_names: str) -> str:
    return f"{family_name.upper()}, {given_names}" if given_names else family_name.upper()


def _words(value: str) -> str:
    return value.replace("_", " ")


class PageEnvironment(Environment):
    """Jinja2's environment, but `entry.kind` on a dict that holds the key reads the key at
    once: the pages show documents (a chart's timeline, a plan) of hundreds of dicts, and
    Jinja2 tries an attribute first, raising and catching an AttributeError for every one.
    Only a dict holding a key named as one of its methods (`items`, `get`) would read
    differently; no page's documents have such a key."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)


environment = PageEnvironment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    auto_reload=False,  # the templates are the package's: not looked at again on every page
)
environment.filters.update(when=_when, words=_words)
environment.globals.update(person=_person)


def render(
    request: Request,
    template: str,
    session: PageSession | None = None,
    *,
    status: int = 200,
    **values: Any,
) -> HTMLResponse:
    """A page (or, for htmx, a fragment) with the layout's values: who is signed in and the
    token their forms carry."""
    page = environment.get_template(template).render(
        request=request,
        me=session.member if session else None,
        csrf_token=session.csrf_token if session else "",
        **values,
    )
    return HTMLResponse(page, status_code=status)


TITLES = {
    401: "Not signed in",
    403: "Not allowed",
    404: "Not found",
    409: "Not possible now",
    422: "Not accepted",
    503: "Unavailable",
}


def render_error(
    request: Request, status: int, problems: list[Problem], hint: str | None
) -> HTMLResponse:
    return render(
        request,
        "error.html",
        status=status,
        title=TITLES.get(status, "Something went wrong"),
        problems=[str(problem) for problem in problems],
        hint=hint,
    )
