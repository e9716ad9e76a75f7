"""The FastAPI app: made once per worker over one `Application` (the same the command line
uses), its pages and its API, the security headers, and the errors answered as each side
expects them: a page (or the login page) for a browser, JSON for the API.

`dermaplan serve` runs it on uvicorn; with several workers each makes its own from the
settings (`from_settings`), and they share nothing but the database.
"""

from __future__ import annotations

import gc
import logging
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from dermaplan.app.unit import Application
from dermaplan.problems import Problem
from dermaplan.records.errors import DatabaseError, RecordsError, Unauthenticated
from dermaplan.web import (
    admin_api,
    admin_pages,
    api,
    assessment_api,
    assessment_pages,
    charting_api,
    charting_pages,
    consent_api,
    consent_pages,
    outcome_api,
    outcome_pages,
    pages,
    photo_api,
    photo_pages,
)
from dermaplan.web.errors import INVALID, error_body, request_problems, status_of
from dermaplan.web.knowledge import areas_map
from dermaplan.web.security import API, SecureHeaders, refused_first
from dermaplan.web.views import environment, render_error

STATIC = Path(__file__).parent / "static"
YOUNG = 10_000  # the cycle collector's first threshold in a worker (`_settle`)
log = logging.getLogger("dermaplan.web")


def create_app(application: Application) -> FastAPI:
    """The web app over `application` (its database, clock and settings)."""
    web = FastAPI(
        title="Dermaplan",
        summary="Decision support and records for mesotherapy and microneedling clinics.",
        version=_version(),
        openapi_url=f"{api.PREFIX}/openapi.json",
        docs_url=None,  # the interactive docs load scripts from a CDN: not under this CSP
        redoc_url=None,
    )
    web.state.application = application
    web.add_middleware(SecureHeaders)
    web.mount("/static", StaticFiles(directory=STATIC), name="static")
    web.include_router(assessment_pages.router)  # before pages: /patients/new is no id
    web.include_router(pages.router)
    web.include_router(api.router)
    web.include_router(admin_pages.router)
    web.include_router(admin_api.router)
    web.include_router(photo_pages.router)
    web.include_router(photo_api.router)
    web.include_router(outcome_pages.router)
    web.include_router(outcome_api.router)
    web.include_router(consent_pages.router)
    web.include_router(consent_api.router)
    web.include_router(charting_pages.router)
    web.include_router(charting_api.router)
    web.include_router(assessment_api.router)
    web.add_exception_handler(RecordsError, _refused)  # type: ignore[arg-type]
    web.add_exception_handler(RequestValidationError, _invalid)  # type: ignore[arg-type]
    web.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    web.add_exception_handler(DatabaseError, _unavailable)  # type: ignore[arg-type]
    web.add_exception_handler(DBAPIError, _unavailable)  # type: ignore[arg-type]
    web.add_exception_handler(PoolTimeout, _unavailable)  # type: ignore[arg-type]
    return web


def from_settings() -> FastAPI:
    """The app over the settings in force: what each worker of `dermaplan serve` makes,
    ready to serve (`_settle`)."""
    from dermaplan.records.settings import records_settings

    web = create_app(Application(records_settings()))
    _settle()
    return web


def _settle() -> None:
    """Load what a worker loads once (the knowledge, the face map, the compiled templates)
    before its first request, then keep it, with the modules and the app, out of the cycle
    collector's passes for good: a worker serves for hours, and every full pass over what it
    held stalled each request in flight (about 0.1 s a pass, with the knowledge loaded).
    What requests make is still collected, once `YOUNG` more objects live than died: a
    request's own die with it, so most requests then start no pass at all, where the
    default (700) started one in the middle of nearly every chart (docs/benchmarks.md)."""
    for name in environment.list_templates():
        environment.get_template(name)
    areas_map()  # and the knowledge it is drawn from
    gc.freeze()
    gc.set_threshold(YOUNG, *gc.get_threshold()[1:])


def _version() -> str:
    from importlib.metadata import version

    return version("dermaplan")


def _for_api(request: Request) -> bool:
    return request.url.path.startswith(API)


def _answer(request: Request, status: int, problems: list[Problem], hint: str | None) -> Response:
    if _for_api(request):
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse(error_body(problems, hint), status_code=status, headers=headers)
    return render_error(request, status, problems, hint)


def _refused(request: Request, error: RecordsError) -> Response:
    if status_of(error) == INVALID:
        error = refused_first(request) or error
    if isinstance(error, Unauthenticated) and not _for_api(request):
        if request.headers.get("HX-Request"):
            return Response(status_code=401, headers={"HX-Redirect": "/login"})
        return RedirectResponse("/login", status_code=303)
    return _answer(request, status_of(error), error.details, error.hint)


def _invalid(request: Request, error: RequestValidationError) -> Response:
    """Input FastAPI refuses, unless who asks is refused first (web.security)."""
    first = refused_first(request)
    if first is not None:
        return _refused(request, first)
    return _answer(request, INVALID, request_problems(error.errors()), None)


def _http_error(request: Request, error: StarletteHTTPException) -> Response:
    message = {404: "no such page", 405: "this page does not take that method"}.get(
        error.status_code, str(error.detail)
    )
    return _answer(request, error.status_code, [Problem((), message)], None)


def _unavailable(request: Request, error: DatabaseError | DBAPIError | PoolTimeout) -> Response:
    """The database cannot be reached, refused the request, or had no connection free in
    time (`records.db.POOL_WAIT_S`): nothing was written (the unit of work rolled back);
    the cause goes to the log, not to the person asking."""
    log.error("the database cannot be used: %s", _cause(error))
    return _answer(request, 503, [Problem((), "the records are unavailable; try again")], None)


def _cause(error: DatabaseError | DBAPIError | PoolTimeout) -> str:
    """What went wrong, for the log, without the statement's parameters or the driver's
    detail lines, where the values of a record (a patient's name) would be."""
    if isinstance(error, DBAPIError):
        first = str(error.orig).strip().splitlines()[:1] or [""]
        return f"{type(error.orig).__name__}: {first[0]}"
    return str(error)
