"""The admin's API: every endpoint refused to every other role, and to a token of another
clinic's admin for this clinic's members; staff and roles (no token changes a password or a
second factor); the clinic's name and time zone; consent texts; the audit log and its
verification."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from fastapi.testclient import TestClient

from dermaplan.records.db import transaction
from dermaplan.records.enums import StaffRole
from dermaplan.records.logins import create_token
from dermaplan.records.models import ApiToken, Staff
from dermaplan.records.models import Clinic as ClinicRow
from tests.records.factories import context
from tests.web.conftest import Clinic, World, api_token, client_of

A, P, R = StaffRole.ADMIN, StaffRole.PRACTITIONER, StaffRole.RECEPTION
MEMBER = "{staff_id}"
TOKEN = "{token_id}"
# every admin endpoint: method, path, body (on the clinic's practitioner)
ADMIN_ENDPOINTS: list[tuple[str, str, dict[str, object] | None]] = [
    ("GET", "/api/v1/admin/staff", None),
    ("POST", "/api/v1/admin/staff", {"name": "Dr New", "role": "practitioner"}),
    ("PUT", f"/api/v1/admin/staff/{MEMBER}/role", {"role": "reception"}),
    ("PUT", f"/api/v1/admin/staff/{MEMBER}/active", {"active": True}),
    ("GET", "/api/v1/admin/clinic", None),
    ("PATCH", "/api/v1/admin/clinic", {"time_zone": "Europe/Paris"}),
    ("GET", "/api/v1/admin/consents", None),
    ("POST", "/api/v1/admin/consents", {"kind": "photo", "text": "I agree."}),
    ("GET", "/api/v1/admin/audit", None),
    ("POST", "/api/v1/admin/audit/verify", None),
    ("GET", "/api/v1/admin/tokens", None),
    ("POST", f"/api/v1/admin/tokens/{TOKEN}/revoke", None),
]


def spare_token(world: World, where: Clinic) -> uuid.UUID:
    """A token of the clinic's receptionist that no request uses, for an admin to revoke."""
    with transaction(world.engine) as session:
        made, _ = create_token(session, context(), where.id, where.staff[R], "spare", 30)
        return made.id


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ENDPOINTS)
def test_only_an_admin_is_let_through(
    world: World, method: str, path: str, body: dict[str, object] | None
) -> None:
    spare = spare_token(world, world.ours)
    with client_of(world) as client:
        for role in StaffRole:
            # on the admin: the one member a practitioner or reception may not set
            target = world.ours.staff[A if role is not A else P]
            answer = client.request(
                method,
                path.format(staff_id=target, token_id=spare),
                json=body,
                headers=api_token(world, role),
            )
            if role is A:
                assert answer.status_code in (200, 201), answer.text
            else:
                assert answer.status_code == 403, (role, answer.text)
                assert "may not" in answer.text or "may set only their own" in answer.text
        for headers in ({}, {"Authorization": "Bearer dpat_not-a-token"}):
            answer = client.request(
                method,
                path.format(staff_id=world.ours.staff[P], token_id=spare),
                json=body,
                headers=headers,
            )
            assert answer.status_code == 401


def test_staff_are_added_and_given_roles(world: World) -> None:
    with client_of(world) as client:
        admin = api_token(world, A)
        listed = client.get("/api/v1/admin/staff", headers=admin).json()
        assert {(m["login"], m["second_factor"]) for m in listed} == {
            ("admin@parc", True),
            ("practitioner@parc", False),
            ("reception@parc", False),
        }
        assert "password" not in str(listed)
        made = client.post(
            "/api/v1/admin/staff", json={"name": "Dr New", "role": "reception"}, headers=admin
        )
        assert made.status_code == 201
        new = made.json()["id"]
        role = client.put(
            f"/api/v1/admin/staff/{new}/role", json={"role": "practitioner"}, headers=admin
        )
        assert role.json()["role"] == "practitioner"
        last = client.put(
            f"/api/v1/admin/staff/{world.ours.staff[A]}/role",
            json={"role": "reception"},
            headers=admin,
        )
        assert last.status_code == 409
        assert last.json()["detail"][0]["loc"] == ["role"]
        unknown = client.put(
            f"/api/v1/admin/staff/{uuid.uuid4()}/role", json={"role": "admin"}, headers=admin
        )
        assert unknown.status_code == 404
        wrong = client.post(
            "/api/v1/admin/staff", json={"name": "X", "role": "owner"}, headers=admin
        )
        assert [p["loc"] for p in wrong.json()["detail"]] == [["body", "role"]]


def test_clinic_a_admin_never_sees_or_changes_clinic_b(any_world: World) -> None:
    world = any_world
    theirs = world.theirs.staff[P]
    their_token = spare_token(world, world.theirs)
    with client_of(world) as client:
        ours = api_token(world, A)
        listed = client.get("/api/v1/admin/staff", headers=ours).json()
        assert {m["id"] for m in listed} == {str(i) for i in world.ours.staff.values()}
        for method, path, body in ADMIN_ENDPOINTS:
            if MEMBER in path or TOKEN in path:
                answer = client.request(
                    method,
                    path.format(staff_id=theirs, token_id=their_token),
                    json=body,
                    headers=ours,
                )
                assert answer.status_code == 404, (path, answer.text)
        listed_tokens = client.get("/api/v1/admin/tokens", headers=ours).json()
        assert {t["member_id"] for t in listed_tokens} <= {
            str(i) for i in world.ours.staff.values()
        }
        assert client.patch("/api/v1/admin/clinic", json={"name": "Ours"}, headers=ours).json()[
            "id"
        ] == str(world.ours.id)
        log = client.get("/api/v1/admin/audit", headers=ours).json()
        assert all(
            e["staff_id"] in {str(i) for i in world.ours.staff.values()} | {None}
            for e in log["events"]
        )
    with transaction(world.engine, write=False) as session:
        member = session.get(Staff, theirs)
        assert member is not None
        assert member.role is P
        clinic = session.get(ClinicRow, world.theirs.id)
        token = session.get(ApiToken, their_token)
        assert token is not None
        assert token.revoked_at is None
        assert clinic is not None
        assert clinic.name == "Lac"


def test_the_clinic_takes_an_iana_time_zone_and_nothing_else(world: World) -> None:
    with client_of(world) as client:
        admin = api_token(world, A)
        settings = client.get("/api/v1/admin/clinic", headers=admin).json()
        assert settings["clinic"]["time_zone"] == "UTC"
        assert "Australia/Sydney" in settings["time_zones"]
        refused = client.patch(
            "/api/v1/admin/clinic", json={"name": "New", "time_zone": "Mars/Base"}, headers=admin
        )
        assert refused.status_code == 422
        assert refused.json()["detail"] == [
            {
                "loc": ["time_zone"],
                "msg": "'Mars/Base' is not an IANA time zone (e.g. Europe/Paris, "
                "Australia/Sydney, UTC)",
            }
        ]
        assert client.get("/api/v1/admin/clinic", headers=admin).json() == settings
        changed = client.patch(
            "/api/v1/admin/clinic", json={"time_zone": "Australia/Sydney"}, headers=admin
        )
        assert changed.json()["time_zone"] == "Australia/Sydney"
        assert changed.json()["name"] == "Parc"


def test_consent_texts_are_published_in_versions(world: World) -> None:
    with client_of(world) as client:
        admin = api_token(world, A)
        for text in ("First text.", "Second text."):
            made = client.post(
                "/api/v1/admin/consents", json={"kind": "photo", "text": text}, headers=admin
            )
            assert made.status_code == 201
        texts = client.get("/api/v1/admin/consents", headers=admin).json()
        assert [(t["kind"], t["version"], t["text"]) for t in texts] == [
            ("photo", 1, "First text."),
            ("photo", 2, "Second text."),
        ]
        empty = client.post(
            "/api/v1/admin/consents", json={"kind": "photo", "text": "  "}, headers=admin
        )
        assert empty.status_code == 422
        assert empty.json()["detail"][0]["loc"] == ["text"]


def test_the_audit_log_and_its_verification(world: World) -> None:
    with client_of(world) as client:
        admin = api_token(world, A)
        log = client.get("/api/v1/admin/audit", headers=admin).json()
        assert (log["page"], log["pages"]) == (1, 1)
        assert log["total"] == len(log["events"])
        created = [e for e in log["events"] if e["action"] == "staff.create"]
        assert {e["record_id"] for e in created} == {str(i) for i in world.ours.staff.values()}
        again = client.get("/api/v1/admin/audit", headers=admin).json()
        assert again["events"][0]["action"] == "audit.read"
        assert again["events"][0]["staff"] == "admin of Parc"
        assert client.get("/api/v1/admin/audit?page=0", headers=admin).status_code == 422
        filtered(client, world, admin)
        promoted = client.put(
            f"/api/v1/admin/staff/{world.ours.staff[R]}/role",
            json={"role": "admin"},
            headers=admin,
        )
        assert promoted.status_code == 200  # a change audit verify must find in the log
        report = client.post("/api/v1/admin/audit/verify", headers=admin).json()
        assert report["intact"] is True
        assert report["broken"] is None
        assert report["changed"] == []


def filtered(client: TestClient, world: World, admin: dict[str, str]) -> None:
    """The log narrowed by member, action, patient and the clinic's day, alone and together;
    what is not a filter refused at its field."""
    log = "/api/v1/admin/audit"
    staff = client.get(log, params={"action": "staff.create"}, headers=admin).json()
    assert {e["action"] for e in staff["events"]} == {"staff.create"}
    assert staff["total"] == len(world.ours.staff)
    mine = client.get(log, params={"member": str(world.ours.staff[A])}, headers=admin).json()
    assert mine["total"] > 0
    assert {e["staff_id"] for e in mine["events"]} == {str(world.ours.staff[A])}
    patient = client.get(log, params={"patient": str(world.ours.patient)}, headers=admin).json()
    assert patient["total"] > 0
    assert {e["patient_id"] for e in patient["events"]} == {str(world.ours.patient)}
    today = world.clock.now.date()
    for day, found in ((today, True), (today - dt.timedelta(days=1), False)):
        answer = client.get(log, params={"day": str(day), "action": "staff.create"}, headers=admin)
        assert (answer.json()["total"] > 0) is found, day
    assert "audit.read" in staff["actions"]
    assert set(staff["members"]) == {str(i) for i in world.ours.staff.values()}
    theirs = str(world.theirs.staff[A])
    for params, where, says in (
        ({"action": "patient.steal"}, ["action"], "'patient.steal' is not an action"),
        ({"member": theirs}, ["member"], f"no member of this clinic has the id {theirs}"),
        ({"member": "not-an-id"}, ["query", "member"], "UUID"),
        ({"day": "2026-02-30"}, ["query", "day"], "date"),
    ):
        answer = client.get(log, params=params, headers=admin)
        assert answer.status_code == 422, params
        [problem] = answer.json()["detail"]
        assert problem["loc"] == where, problem
        assert says in problem["msg"], problem


def test_an_admin_sees_every_member_s_tokens_and_revokes_one(world: World) -> None:
    spare = spare_token(world, world.ours)
    with client_of(world) as client:
        admin = api_token(world, A)
        practitioner = api_token(world, P)
        assert client.get("/api/v1/tokens", headers=practitioner).status_code == 200
        listed = client.get("/api/v1/admin/tokens", headers=admin).json()
        members = {(t["member"], t["token"]["name"]) for t in listed}
        assert ("reception of Parc", "spare") in members
        assert {t["member_id"] for t in listed} == {str(i) for i in world.ours.staff.values()}
        assert all(set(t) == {"member_id", "member", "token"} for t in listed)
        assert all(  # what identifies a token, never its secret or hash
            set(t["token"])
            == {"id", "name", "prefix", "created_at", "expires_at", "last_used_at", "revoked_at"}
            for t in listed
        )
        their = next(t for t in listed if t["member_id"] == str(world.ours.staff[P]))
        revoked = client.post(f"/api/v1/admin/tokens/{their['token']['id']}/revoke", headers=admin)
        assert revoked.status_code == 200, revoked.text
        assert revoked.json()["revoked_at"] is not None
        assert client.get("/api/v1/tokens", headers=practitioner).status_code == 401
        again = client.post(f"/api/v1/admin/tokens/{their['token']['id']}/revoke", headers=admin)
        assert again.json()["revoked_at"] == revoked.json()["revoked_at"]  # nothing changes
        unknown = client.post(f"/api/v1/admin/tokens/{uuid.uuid4()}/revoke", headers=admin)
        assert unknown.status_code == 404
        log = client.get("/api/v1/admin/audit?action=api_token.revoke", headers=admin).json()
        assert [(e["record_id"], e["staff_id"]) for e in log["events"]] == [
            (their["token"]["id"], str(world.ours.staff[A]))
        ]
    with transaction(world.engine, write=False) as session:
        kept = session.get(ApiToken, spare)
        assert kept is not None
        assert kept.revoked_at is None  # only the one named
