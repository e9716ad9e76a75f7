"""A member an endpoint's use case refuses is refused (403) whatever they send: never told
what is wrong with input they may not give (422), on every page form and API endpoint that
changes something; and a request without a valid token is 401 whatever its body. Every
route that runs a use case declares it (`web.security.runs`), which is what makes it so."""

from __future__ import annotations

import re
import uuid

import pytest
from fastapi.routing import APIRoute

from dermaplan.app import sessions
from dermaplan.app.principal import USE_CASES, runs_as_declared
from dermaplan.records.enums import StaffRole
from dermaplan.web.security import RUNS, SAFE_METHODS
from tests.web.conftest import World, api_token, client_of, sign_in

# routes that run no use case: signing in and out, pages with nothing of the records
RUN_NOTHING = {
    "admin_pages.admin_home",
    "pages.code",
    "pages.code_page",
    "api.health",
    "pages.home",
    "pages.login",
    "pages.login_page",
    "pages.logout",
    "api.me",
    "assessment_pages.new_patient_page",
    "pages.patients_page",
}
PARAMETER = re.compile(r"\{[^}]+\}")


def routes() -> list[APIRoute]:
    """Every route of the app's routers (the app includes them as they are)."""
    from dermaplan import web

    routers = [
        module.router
        for module in vars(web.app).values()
        if getattr(module, "__name__", "").startswith("dermaplan.web.")
        and hasattr(module, "router")
    ]
    return [route for router in routers for route in router.routes if isinstance(route, APIRoute)]


def changing() -> list[tuple[str, str, str, StaffRole]]:
    """Every route that changes something, with each role its use case refuses."""
    found = []
    for route in routes():
        use_case = RUNS.get(route.endpoint)
        if use_case is None:
            continue
        for method in sorted(route.methods - SAFE_METHODS):
            found += [
                (method, route.path, use_case, role)
                for role in StaffRole
                if role not in USE_CASES[use_case]
            ]
    return found


def test_every_route_that_runs_a_use_case_declares_it() -> None:
    undeclared = {
        f"{route.endpoint.__module__.rsplit('.', 1)[-1]}.{route.endpoint.__name__}"
        for route in routes()
        if route.endpoint not in RUNS
    }
    assert undeclared - RUN_NOTHING == set()


def concrete(path: str) -> str:
    return PARAMETER.sub(lambda _: str(uuid.uuid4()), path)


@pytest.mark.parametrize(("method", "path", "use_case", "role"), changing())
def test_a_refused_member_gets_403_whatever_they_send(
    world: World, method: str, path: str, use_case: str, role: StaffRole
) -> None:
    url = concrete(path)
    with client_of(world) as client:
        if path.startswith("/api/"):
            headers = api_token(world, role)
            sent = [
                client.request(method, url, headers=headers),
                client.request(method, url, headers=headers, json={"nothing": ["of", "it"]}),
                client.request(
                    method,
                    url,
                    headers=headers | {"Content-Type": "application/json"},
                    content=b"{not json",
                ),
            ]
        else:
            token = sign_in(client, world, role)
            sent = [
                client.request(method, url, data={"csrf_token": token}),
                client.request(method, url, data={"csrf_token": token, "score": "x" * 30}),
            ]
    assert [answer.status_code for answer in sent] == [403] * len(sent), (use_case, sent[0].text)
    said = f"({role.value}) may not"
    assert all(said in answer.text for answer in sent)


def test_a_request_without_a_valid_token_is_401_whatever_its_body(world: World) -> None:
    with client_of(world) as client:
        for body in ({"content": b"{not json"}, {"json": {"score": "x"}}):
            answer = client.post(
                "/api/v1/outcomes",
                headers={
                    "Authorization": "Bearer dpat_nothing",
                    "Content-Type": "application/json",
                },
                **body,  # type: ignore[arg-type]
            )
            assert answer.status_code == 401


def test_a_refused_member_is_not_told_what_is_wrong_with_a_page_s_query(world: World) -> None:
    with client_of(world) as client:
        sign_in(client, world, StaffRole.RECEPTION)
        assert client.get("/sessions/new?consult=not-an-id").status_code == 403
        headers = api_token(world, StaffRole.RECEPTION)
        answer = client.get("/api/v1/sessions/planned?consult=not-an-id", headers=headers)
        assert answer.status_code == 403


def test_a_member_let_through_still_gets_422_at_the_field(world: World) -> None:
    with client_of(world) as client:
        headers = api_token(world, StaffRole.PRACTITIONER)
        answer = client.post("/api/v1/outcomes", headers=headers, json={"score": "x"})
        assert answer.status_code == 422
        assert answer.json()["detail"][0]["loc"][0] == "body"
        token = sign_in(client, world, StaffRole.PRACTITIONER)
        page = client.post(
            f"/patients/{world.ours.patient}/outcomes",
            data={"csrf_token": token, "scale": "gais", "score": "x", "date": "2026-11-02"},
        )
        assert page.status_code == 422


def test_a_use_case_with_other_roles_than_declared_is_never_run() -> None:
    runs_as_declared("sessions.sign_or_show", sessions.sign_or_show)
    with pytest.raises(RuntimeError, match=re.escape("declares sessions.recall but runs")):
        runs_as_declared("sessions.recall", sessions.sign_or_show)
