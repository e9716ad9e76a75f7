"""The JSON API: every endpoint with each role, let through or refused as the use cases
declare; clinic A never sees clinic B; errors as JSON with their locations and statuses;
tokens made, used, listed and revoked; the OpenAPI document."""

from __future__ import annotations

import re
import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from dermaplan.records.db import transaction
from dermaplan.records.enums import StaffRole
from dermaplan.records.models import AuditEvent
from tests.records.factories import add_consult
from tests.web.conftest import World, api_token, client_of, sign_in
from tests.web.test_admin_api import ADMIN_ENDPOINTS
from tests.web.test_assessment_web import ASSESSMENT_ENDPOINTS
from tests.web.test_charting_web import CHART_ENDPOINTS
from tests.web.test_consent_web import CONSENT_ENDPOINTS
from tests.web.test_outcomes_web import OUTCOME_ENDPOINTS
from tests.web.test_photos_web import PHOTO_ENDPOINTS

A, P, R = StaffRole.ADMIN, StaffRole.PRACTITIONER, StaffRole.RECEPTION
PATIENT = "{patient_id}"
# every endpoint that needs a token: method, path, body, the roles it lets through
ENDPOINTS: list[tuple[str, str, dict[str, object] | None, set[StaffRole]]] = [
    ("GET", "/api/v1/me", None, {A, P, R}),
    ("GET", "/api/v1/today", None, {A, P, R}),
    ("POST", "/api/v1/patients/search", {"query": "mor"}, {P, R}),
    ("GET", f"/api/v1/patients/{PATIENT}", None, {P, R}),
    ("GET", f"/api/v1/patients/{PATIENT}/chart", None, {P}),
    ("GET", f"/api/v1/patients/{PATIENT}/timeline", None, {P}),
    ("GET", "/api/v1/consults/{consult_id}", None, {P}),
    ("GET", "/api/v1/tokens", None, {A, P, R}),
    ("DELETE", "/api/v1/tokens/{token_id}", None, {A, P, R}),
]


def call(
    client: TestClient,
    method: str,
    path: str,
    body: dict[str, object] | None,
    headers: dict[str, str],
    **ids: object,
) -> tuple[int, object]:
    answer = client.request(method, path.format(**ids), json=body, headers=headers)
    return answer.status_code, answer.json()


def test_every_endpoint_is_tried(client: TestClient) -> None:
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    routes = {(method.upper(), path) for path, operations in paths.items() for method in operations}
    tried = {(method, path) for method, path, _, _ in ENDPOINTS}
    tried |= {(method, path) for method, path, _ in ADMIN_ENDPOINTS}
    tried |= {(method, path.split("?")[0]) for method, path, _, _ in PHOTO_ENDPOINTS}
    tried |= {(method, path.split("?")[0]) for method, path, _, _ in OUTCOME_ENDPOINTS}
    tried |= {(method, path) for method, path, _ in CONSENT_ENDPOINTS}
    tried |= {(method, path.split("?")[0]) for method, path, _ in CHART_ENDPOINTS}
    tried |= {(method, path) for method, path, _, _ in ASSESSMENT_ENDPOINTS}
    assert {shape(route) for route in routes} - {("GET", "/api/v1/health")} == {
        shape(route) for route in tried
    }


def shape(route: tuple[str, str]) -> tuple[str, str]:
    """A route with its ids unnamed: a test may name an id by what it holds ({approved_id})."""
    method, path = route
    return method, re.sub(r"\{[^}]+\}", "{}", path)


@pytest.mark.parametrize(("method", "path", "body", "roles"), ENDPOINTS)
def test_each_role_is_let_through_or_refused(
    world: World,
    method: str,
    path: str,
    body: dict[str, object] | None,
    roles: set[StaffRole],
) -> None:
    consult = add_consult(world.engine, world.ours.id, world.ours.patient)
    with client_of(world) as client:
        for role in StaffRole:
            headers = api_token(world, role)
            token_id = client.get("/api/v1/tokens", headers=headers).json()[0]["id"]
            status, answer = call(
                client,
                method,
                path,
                body,
                headers,
                patient_id=world.ours.patient,
                consult_id=consult,
                token_id=token_id,
            )
            if role in roles:
                assert status in (200, 201), (role, answer)
            else:
                assert status == 403, (role, answer)
                assert answer == {
                    "detail": [{"loc": [], "msg": answer["detail"][0]["msg"]}],  # type: ignore[index]
                    "hint": None,
                }
                assert f"({role.value}) may not" in answer["detail"][0]["msg"]  # type: ignore[index]


@pytest.mark.parametrize(("method", "path", "body", "roles"), ENDPOINTS)
def test_no_token_no_answer(
    client: TestClient,
    world: World,
    method: str,
    path: str,
    body: dict[str, object] | None,
    roles: set[StaffRole],
) -> None:
    ids = {"patient_id": world.ours.patient, "consult_id": uuid.uuid4(), "token_id": uuid.uuid4()}
    for headers in ({}, {"Authorization": "Bearer dpat_not-a-token"}, {"Authorization": "Basic x"}):
        answer = client.request(method, path.format(**ids), json=body, headers=headers)
        assert answer.status_code == 401, answer.text
        assert answer.headers["WWW-Authenticate"] == "Bearer"
        assert answer.json()["detail"][0]["loc"] == []


def test_clinic_a_never_sees_clinic_b(any_world: World) -> None:
    world = any_world
    theirs = world.theirs.patient
    with client_of(world) as client:
        ours = api_token(world, P)
        for path in ("{id}", "{id}/chart", "{id}/timeline"):
            answer = client.get(f"/api/v1/patients/{path.format(id=theirs)}", headers=ours)
            assert answer.status_code == 404, answer.text
            assert answer.json()["detail"] == [{"loc": [], "msg": f"no patient {theirs}"}]
        their_consult = add_consult(world.engine, world.theirs.id, theirs)
        answer = client.get(f"/api/v1/consults/{their_consult}", headers=ours)
        assert answer.status_code == 404, answer.text
        found = client.post("/api/v1/patients/search", json={"query": "lac"}, headers=ours)
        assert found.json() == []
        theirs_headers = api_token(world, P, world.theirs)
        found = client.post(
            "/api/v1/patients/search", json={"query": "lac"}, headers=theirs_headers
        )
        assert [p["family_name"] for p in found.json()] == ["Lacombe"]
        their_token = client.get("/api/v1/tokens", headers=theirs_headers)
        revoked = client.delete(f"/api/v1/tokens/{their_token.json()[0]['id']}", headers=ours)
        assert revoked.status_code == 404
        assert client.get("/api/v1/tokens", headers=ours).json()[0]["revoked_at"] is None


def test_today_gives_each_role_its_part(world: World) -> None:
    with client_of(world) as client:
        parts = {
            role: {
                name
                for name, section in client.get("/api/v1/today", headers=api_token(world, role))
                .json()
                .items()
                if name != "day" and section is not None
            }
            for role in StaffRole
        }
    assert parts == {
        R: {"planned"},
        P: {"planned", "to_approve", "to_sign", "adverse_events", "lots_expiring"},
        A: {"lots_expiring"},
    }


def test_input_that_does_not_validate_is_refused_at_its_location(
    client: TestClient, world: World
) -> None:
    headers = api_token(world, P)
    wrong_id = client.get("/api/v1/patients/not-an-id", headers=headers)
    assert wrong_id.status_code == 422
    assert [p["loc"] for p in wrong_id.json()["detail"]] == [["path", "patient_id"]]
    empty = client.post("/api/v1/patients/search", json={"query": ""}, headers=headers)
    assert empty.status_code == 422
    assert [p["loc"] for p in empty.json()["detail"]] == [["body", "query"]]
    wrong_type = client.post("/api/v1/patients/search", json={"query": 3}, headers=headers)
    assert wrong_type.status_code == 422
    no_letter = client.post("/api/v1/patients/search", json={"query": "!!"}, headers=headers)
    assert no_letter.status_code == 422  # refused by the use case, at its field
    assert no_letter.json()["detail"] == [
        {"loc": ["search"], "msg": "needs at least one letter or digit"}
    ]
    not_json = client.post(
        "/api/v1/patients/search",
        content=b"{",
        headers=headers | {"content-type": "application/json"},
    )
    assert not_json.status_code == 422
    assert client.get(f"/api/v1/patients/{uuid.uuid4()}", headers=headers).status_code == 404


def test_a_token_acts_until_it_is_revoked_or_expires(client: TestClient, world: World) -> None:
    headers = api_token(world, P)
    token = sign_in(client, world, P)  # a token is made by a member signed in to the pages
    made = client.post(
        "/account/tokens", data={"csrf_token": token, "name": "Export script", "days": "2"}
    )
    assert made.status_code == 200
    found = re.search(r"dpat_[\w-]+", made.text)
    assert found, made.text
    secret = found.group(0)
    new = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/me", headers=new).json()["role"] == "practitioner"
    listed = client.get("/api/v1/tokens", headers=new).json()
    assert [t["name"] for t in listed] == ["Export script", "tests"]
    assert secret not in str(listed)
    assert listed[0]["prefix"] == secret[:11]
    assert listed[0]["last_used_at"] is not None
    world.clock.advance(days=2, seconds=1)
    assert client.get("/api/v1/me", headers=new).status_code == 401  # expired
    assert client.delete(f"/api/v1/tokens/{listed[1]['id']}", headers=headers).status_code == 200
    assert client.get("/api/v1/me", headers=headers).status_code == 401  # revoked


def test_no_token_makes_a_token_or_changes_a_credential(client: TestClient) -> None:
    """A token is one secret: could it make tokens, or set a password or a second factor,
    whoever stole one would hold the account for good."""
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert "post" not in paths["/api/v1/tokens"]
    assert [path for path in paths if "password" in path or "totp" in path] == []


def test_every_read_is_audited_with_the_member(client: TestClient, world: World) -> None:
    headers = api_token(world, P)
    patient = world.ours.patient
    assert client.get(f"/api/v1/patients/{patient}/timeline", headers=headers).status_code == 200
    with transaction(world.engine, write=False) as session:
        read = session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "patient.timeline", AuditEvent.patient_id == patient
            )
        ).all()
    assert [event.staff_id for event in read] == [world.ours.staff[P]]


def test_the_openapi_document_is_published(client: TestClient) -> None:
    document = client.get("/api/v1/openapi.json").json()
    assert document["info"]["title"] == "Dermaplan"
    assert "/api/v1/patients/{patient_id}/timeline" in document["paths"]
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert not any(path.startswith(("/login", "/today")) for path in document["paths"])
    assert client.get("/docs").status_code == 404  # its scripts would come from a CDN
    assert client.get("/api/v1/health").json() == {"status": "ok"}


def test_a_stored_consult_reads_with_its_plan_audited(client: TestClient, world: World) -> None:
    consult = add_consult(world.engine, world.ours.id, world.ours.patient)
    answer = client.get(f"/api/v1/consults/{consult}", headers=api_token(world, P))
    assert answer.status_code == 200, answer.text
    shown = answer.json()
    assert (shown["id"], shown["patient_id"], shown["status"]) == (
        str(consult),
        str(world.ours.patient),
        "draft",
    )
    assert shown["plan"]["schema_version"] == "2"
    with transaction(world.engine, write=False) as session:
        read = session.scalars(select(AuditEvent).where(AuditEvent.action == "consult.read")).all()
    assert [(event.staff_id, event.patient_id) for event in read] == [
        (world.ours.staff[P], world.ours.patient)
    ]
