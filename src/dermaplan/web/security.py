"""What every request goes through: security headers on every response, the session
cookie, the CSRF token that every request that changes something carries, and the
dependencies that establish who is asking.

- The session cookie is HttpOnly and SameSite=Lax; over TLS it is Secure and named with
  the `__Host-` prefix (no Domain, Path /), so no other site or subdomain can set it. It
  holds a random token; the session itself (idle and absolute expiry, its CSRF token) is
  in the database, so that any worker serves any request (app.logins).
- A page's forms and htmx requests carry the session's CSRF token (a hidden field, or the
  X-CSRF-Token header); a request that changes something without it, or from another
  origin, is refused before anything runs. The login forms, before any session exists,
  use a double-submit cookie instead.
- A page's session, or an API token, is checked inside the unit of work of the use case
  the request runs (`run`), so that a request is served in one transaction; a page that
  runs none has it checked on its own before its answer goes out.
- An endpoint declares the use case it runs (`runs`), so that a member it refuses is
  refused (403) before anything they sent is checked, never told what was wrong with it
  (422): a page's change checks it with its session and CSRF token, before anything runs;
  any other request as soon as its input is refused (`refused_first`, web.app).
- The Content-Security-Policy allows scripts, styles and images from the app alone: no
  inline script or style, no frame around the app.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Concatenate, Generic, ParamSpec, TypeVar

from fastapi import Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dermaplan.app.logins import (
    NO_TOKEN,
    BrowserSession,
    CheckedMember,
    Member,
    SessionCheck,
    TokenCheck,
    check_alone,
    note_use,
    signed_in,
)
from dermaplan.app.principal import runs_as_declared, use_case_name
from dermaplan.app.unit import Application, UnitOfWork
from dermaplan.records.errors import Forbidden, RecordsError, Unauthenticated

P = ParamSpec("P")
R = TypeVar("R")
C = TypeVar("C", SessionCheck, TokenCheck)

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    )
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",  # "no-referrer" makes a browser send Origin: null
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(self), microphone=(), geolocation=(), payment=()",
}
STATIC = "/static/"
SESSION_COOKIE, LOGIN_COOKIE = "dermaplan_session", "dermaplan_login"
CSRF_FIELD, CSRF_HEADER = "csrf_token", "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
API = "/api/"


class SecureHeaders:
    """The security headers on every response; nothing but the static files is cached
    (every page and answer may hold patient data). A plain ASGI middleware: Starlette's
    `BaseHTTPMiddleware` would pass every response through a task and a stream of its own."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cached = str(scope["path"]).startswith(STATIC)
        tls = scope["scheme"] == "https"

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.update(HEADERS)
                if not cached:
                    headers["Cache-Control"] = "no-store"
                if tls:
                    headers["Strict-Transport-Security"] = "max-age=31536000"
            await send(message)

        await self.app(scope, receive, send_secured)


def over_tls(request: Request) -> bool:
    return request.url.scheme == "https"


def cookie_name(request: Request, name: str) -> str:
    """The `__Host-` form of a cookie's name over TLS (browsers require Secure for it)."""
    return f"__Host-{name}" if over_tls(request) else name


def set_cookie(request: Request, response: Response, name: str, value: str) -> None:
    """A session cookie: no Max-Age (the server ends the session), HttpOnly, SameSite=Lax,
    Secure over TLS."""
    response.set_cookie(
        cookie_name(request, name),
        value,
        path="/",
        httponly=True,
        samesite="lax",
        secure=over_tls(request),
    )


def forget_cookie(request: Request, response: Response, name: str) -> None:
    response.delete_cookie(
        cookie_name(request, name),
        path="/",
        httponly=True,
        samesite="lax",
        secure=over_tls(request),
    )


def cookie(request: Request, name: str) -> str | None:
    return request.cookies.get(cookie_name(request, name))


def application(request: Request) -> Application:
    found: Application = request.app.state.application
    return found


def address(request: Request) -> str | None:
    """Where the request comes from (uvicorn takes X-Forwarded-For from trusted proxies)."""
    return request.client.host[:64] if request.client else None


def new_login_token() -> str:
    """The double-submit value of the login forms, before any session exists."""
    return secrets.token_urlsafe(32)


def same(expected: str | None, given: str | None) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))


async def sent_token(request: Request) -> str | None:
    """The CSRF token a request carries: the header (htmx), or the form's hidden field."""
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    if request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        value = (await request.form()).get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None


def same_origin(request: Request) -> bool:
    """Whether a browser's Origin header, where it sends one, is this app's."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    return origin == f"{request.url.scheme}://{request.url.netloc}"


# the use case ("module.function") each endpoint runs, by endpoint (`runs`)
RUNS: dict[Callable[..., object], str] = {}
E = TypeVar("E", bound=Callable[..., object])


def runs(use_case: Callable[..., object]) -> Callable[[E], E]:
    """Declare the use case an endpoint runs (the one it refuses by, where it may run
    another: the page of a refused change), for whoever it refuses to be refused before
    their input is checked. Put under the route's decorator."""

    def declare(endpoint: E) -> E:
        RUNS[endpoint] = use_case_name(use_case)
        return endpoint

    return declare


def _declared(request: Request) -> str | None:
    """The use case the request's endpoint declares it runs."""
    return RUNS.get(request.scope.get("endpoint"))  # type: ignore[arg-type]


def refused_first(request: Request) -> RecordsError | None:
    """What refuses the request before its input is refused (422): nobody signed in or no
    valid token (401), or a member the endpoint's use case does not permit (403). It asks
    who is asking only then: a session or token checked already is not checked again."""
    use_case = _declared(request)
    if use_case is None:
        return None
    asking: Asked | None = getattr(request.state, "asking", None)
    try:
        if asking is None:
            asking = _asking_of(request)
        asking.member.permit(use_case)
    except (Unauthenticated, Forbidden) as refused:
        return refused
    return None


def _asking_of(request: Request) -> Asked:
    """Who is asking, from the request alone (its input refused before any dependency ran:
    JSON that does not parse)."""
    if not request.url.path.startswith(API):
        return SignedIn(application(request), SessionCheck(cookie(request, SESSION_COOKIE)))
    scheme, _, secret = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise Unauthenticated.one(NO_TOKEN)
    return TokenHolder(application(request), TokenCheck(secret.strip()))


class Asking(Generic[C]):
    """Who is asking, by a session or a token not checked yet: `run` checks it inside the
    unit of work of the request's use case; what needs it before, or without, one checks
    it in a transaction of its own."""

    def __init__(self, application: Application, check: C) -> None:
        self.application = application
        self.check: C = check

    def checked(self) -> C:
        """The check, run on its own if no unit of work has run it."""
        if self.check.found is None:
            check_alone(self.application, self.check)
        return self.check


class SignedIn(Asking[SessionCheck]):
    """The browser's session: its member and CSRF token, for a page."""

    @property
    def session(self) -> BrowserSession:
        return self.checked().session

    @property
    def member(self) -> Member:
        return self.session.member

    @property
    def csrf_token(self) -> str:
        return self.session.csrf_token


class TokenHolder(Asking[TokenCheck]):
    """The member an API token acts as."""

    @property
    def member(self) -> Member:
        return self.checked().member


async def browser_session(request: Request) -> AsyncIterator[SignedIn]:
    """The session of the browser asking; Unauthenticated (the login page) without one,
    at the latest as the page returns. Nothing is read here, so it runs on the event loop,
    not in a thread."""
    asking = SignedIn(application(request), SessionCheck(cookie(request, SESSION_COOKIE)))
    request.state.asking = asking  # for `refused_first`
    yield asking
    await _checked_at_last(asking)


async def _checked_at_last(asking: Asking[C]) -> None:
    """The check of a request that ran no use case, run as it returns."""
    if asking.check.found is None:
        await run_in_threadpool(asking.checked)


async def checked_session(request: Request) -> BrowserSession:
    """The browser's session, for a request that changes something: refused unless it
    carries the session's CSRF token and comes from this origin, then unless its member
    may call the use case the endpoint runs (`runs`), before the form is checked."""
    session = await run_in_threadpool(
        signed_in, application(request), cookie(request, SESSION_COOKIE)
    )
    if request.method not in SAFE_METHODS and (
        not same_origin(request) or not same(session.csrf_token, await sent_token(request))
    ):
        raise Forbidden.one(
            "the form has expired or did not come from this app; reload the page and try again"
        )
    request.state.asking = session  # for `refused_first`
    use_case = _declared(request)
    if use_case is not None:
        session.member.permit(use_case)
    return session


async def checked_login(request: Request) -> None:
    """A login form: the double-submit token of the cookie and the form agree."""
    if not same_origin(request) or not same(
        cookie(request, LOGIN_COOKIE), await sent_token(request)
    ):
        raise Forbidden.one("the sign-in form has expired; reload the page and sign in again")


_bearer = HTTPBearer(auto_error=False, description="a personal access token (dpat_...)")


async def api_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> AsyncIterator[TokenHolder]:
    """The member the request's bearer token acts as, checked by the request's unit of
    work, or at the latest as the endpoint returns."""
    if credentials is None:
        raise Unauthenticated.one("no API token: give 'Authorization: Bearer TOKEN'")
    asking = TokenHolder(application(request), TokenCheck(credentials.credentials))
    request.state.asking = asking  # for `refused_first`
    yield asking
    await _checked_at_last(asking)


# checked in the unit of work of the request's use case (`run`)
Browser = Annotated[SignedIn, Depends(browser_session, scope="function")]
ApiToken = Annotated[TokenHolder, Depends(api_token, scope="function")]
# checked before anything runs: a change's CSRF token, a member shown as such
Changing = Annotated[BrowserSession, Depends(checked_session)]
PageSession = BrowserSession | SignedIn  # what a page is shown with, `Browser` or `Changing`
Asked = BrowserSession | SignedIn | TokenHolder  # who a request's dependency found asking
App = Annotated[Application, Depends(application)]


def run(
    request: Request,
    member: Member | BrowserSession | SignedIn | TokenHolder,
    use_case: Callable[Concatenate[UnitOfWork, P], R],
    /,
    *args: P.args,
    **kwargs: P.kwargs,
) -> R:
    """One use case acting as the member asking, in its own unit of work (as it declares);
    a session or token not checked yet is checked first inside that unit. A use case
    permitting other roles than the one the endpoint declares (`runs`) is a mistake that
    would refuse by the wrong roles: refused at once, never run."""
    declared = _declared(request)
    if declared is not None:
        runs_as_declared(declared, use_case)
    app = application(request)
    if isinstance(member, BrowserSession):  # checked already, with the form's CSRF token
        member = member.member
    if isinstance(member, Member):
        return app.run(CheckedMember(member), use_case, *args, **kwargs)
    try:
        return app.run(member.check, use_case, *args, **kwargs)
    finally:
        note_use(app, member.check)
