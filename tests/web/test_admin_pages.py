"""The admin's pages: every other role refused, on every page and every form; the staff
added, their roles changed, a password and a second factor reset; the clinic's name and
time zone; consent texts published; the audit log read (and that reading audited) and
verified. A forged CSRF token, bad input or another clinic's member change nothing, and a
script typed anywhere is shown as text."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import func, select

from dermaplan.records.db import transaction
from dermaplan.records.enums import StaffRole
from dermaplan.records.logins import totp_secret
from dermaplan.records.models import (
    ApiToken,
    AuditEvent,
    Clinic,
    ConsentTemplate,
    Staff,
    StaffCredential,
)
from tests.web.conftest import PASSWORD, World, api_token, client_of, csrf, sign_in
from tests.web.forgery import assert_forgeries_refused

A, P, R = StaffRole.ADMIN, StaffRole.PRACTITIONER, StaffRole.RECEPTION
SCRIPT = "<script>alert(1)</script>"
PAGES = ("/admin/staff", "/admin/clinic", "/admin/consents", "/admin/tokens", "/admin/audit")
NEW_PASSWORD = "a brand new password for monday"


def forms(world: World, member: uuid.UUID) -> list[tuple[str, dict[str, str]]]:
    """Every form of the admin's pages, with input that would be accepted, on `member`."""
    return [
        ("/admin/staff", {"name": "Dr New Member", "role": "practitioner"}),
        (f"/admin/staff/{member}/role", {"role": "reception"}),
        (f"/admin/staff/{member}/password", {"password": NEW_PASSWORD}),
        (f"/admin/staff/{member}/totp", {}),
        (f"/admin/staff/{member}/active", {"active": "false"}),
        ("/admin/clinic", {"name": "Renamed", "time_zone": "Europe/Paris"}),
        ("/admin/consents", {"kind": "photo", "text": "I agree to photographs."}),
        ("/admin/audit/verify", {}),
        (f"/admin/tokens/{uuid.uuid4()}/revoke", {}),  # refused before it is looked for
    ]


def records(world: World) -> dict[str, Any]:
    """What the admin's forms could change: the staff, the clinics, the consent texts, the
    credentials and the audit log."""
    with transaction(world.engine, write=False) as session:
        return {
            "staff": sorted(
                (m.id, m.name, m.role, m.active) for m in session.scalars(select(Staff))
            ),
            "clinics": sorted((c.id, c.name, c.time_zone) for c in session.scalars(select(Clinic))),
            "templates": session.scalar(select(func.count()).select_from(ConsentTemplate)),
            "credentials": sorted(
                (c.staff_id, c.login, c.password_hash, c.totp_secret)
                for c in session.scalars(select(StaffCredential))
            ),
            "events": session.scalar(select(func.count()).select_from(AuditEvent)),
        }


@pytest.mark.parametrize("role", [P, R])
def test_every_other_role_is_refused_every_page_and_form(world: World, role: StaffRole) -> None:
    with client_of(world) as client:
        token = sign_in(client, world, role)
        assert "/admin/staff" not in client.get("/today").text  # not offered
        for path in PAGES:
            answer = client.get(path)
            assert answer.status_code == 403, path
            assert f"({role.value}) may not" in answer.text
        before = records(world)
        for path, data in forms(world, world.ours.staff[A]):
            answer = client.post(path, data={"csrf_token": token, **data})
            assert answer.status_code == 403, path
            assert (
                f"({role.value}) may not" in answer.text or "may set only their own" in answer.text
            )
        assert records(world) == before


def test_without_the_csrf_token_no_form_changes_anything(world: World) -> None:
    with client_of(world) as client:
        token = sign_in(client, world, A)
        before = records(world)
        assert_forgeries_refused(client, token, forms(world, world.ours.staff[P]))
        assert records(world) == before


def test_an_admin_adds_a_member_changes_their_role_and_sets_their_password(
    world: World,
) -> None:
    with client_of(world) as client:
        token = sign_in(client, world, A)
        page = client.get("/admin/staff")
        assert page.status_code == 200
        assert "admin@parc" in page.text
        assert "practitioner@parc" in page.text
        assert "admin@lac" not in page.text  # the other clinic's staff
        added = client.post(
            "/admin/staff", data={"csrf_token": token, "name": f"Dr {SCRIPT}", "role": "reception"}
        )
        assert added.status_code == 200  # the staff page, after its redirect
        assert SCRIPT not in added.text
        assert "Dr &lt;script&gt;alert(1)&lt;/script&gt;" in added.text
        with transaction(world.engine, write=False) as session:
            new = session.scalars(select(Staff).where(Staff.name == f"Dr {SCRIPT}")).one()
            assert (new.clinic_id, new.role) == (world.ours.id, R)
        changed = client.post(
            f"/admin/staff/{new.id}/role", data={"csrf_token": token, "role": "practitioner"}
        )
        assert changed.status_code == 200
        password = client.post(
            f"/admin/staff/{new.id}/password",
            data={"csrf_token": token, "password": NEW_PASSWORD, "login": "dr.new"},
        )
        assert password.status_code == 200
        assert "dr.new" in password.text
    with client_of(world) as member:
        form = member.get("/login")
        answer = member.post(
            "/login",
            data={"csrf_token": csrf(form.text), "login": "dr.new", "password": NEW_PASSWORD},
            follow_redirects=False,
        )
        assert answer.headers["location"] == "/today"
        assert "(practitioner)" in member.get("/today").text
    with transaction(world.engine, write=False) as session:
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.record_id == str(new.id))
        ).all()
        assert {"staff.create", "staff.update", "staff.password"} <= set(actions)


def test_a_reset_password_ends_the_members_sessions_and_a_new_second_factor_is_shown_once(
    world: World,
) -> None:
    api = api_token(world, P)
    with client_of(world) as practitioner:
        sign_in(practitioner, world, P)
        with client_of(world) as client:
            token = sign_in(client, world, A)
            member = world.ours.staff[P]
            reset = client.post(
                f"/admin/staff/{member}/password",
                data={"csrf_token": token, "password": NEW_PASSWORD},
            )
            assert reset.status_code == 200
            assert "practitioner@parc" in reset.text  # the login kept
            assert practitioner.get("/today", follow_redirects=False).status_code == 303
            assert client.get("/api/v1/me", headers=api).status_code == 401  # token revoked
            api = api_token(world, P)
            totp = client.post(f"/admin/staff/{member}/totp", data={"csrf_token": token})
            assert totp.status_code == 200
            assert client.get("/api/v1/me", headers=api).status_code == 401
            with transaction(world.engine, write=False) as session:
                credential = session.get(StaffCredential, member)
                assert credential is not None
                secret = totp_secret(session, credential)
            assert secret is not None
            assert secret in totp.text
            assert "otpauth://" in totp.text
            assert secret not in client.get("/admin/staff").text


@pytest.mark.parametrize(
    ("change", "data"), [("password", {"password": NEW_PASSWORD}), ("totp", {})]
)
def test_ones_own_credentials_change_only_with_the_current_password(
    world: World, change: str, data: dict[str, str]
) -> None:
    """Whoever holds a member's session cookie, without their password, cannot make the
    account theirs by setting a new password or second factor."""
    own = world.ours.staff[P]
    with client_of(world) as client:
        token = sign_in(client, world, P)
        before = records(world)
        for current in ({}, {"current_password": "not the password at all"}):
            answer = client.post(
                f"/admin/staff/{own}/{change}", data={"csrf_token": token, **data, **current}
            )
            assert answer.status_code == 422, answer.text
            assert "current_password: not your current password" in answer.text
        assert records(world) == before
        done = client.post(
            f"/admin/staff/{own}/{change}",
            data={"csrf_token": token, **data, "current_password": PASSWORD},
        )
        assert done.status_code == 200, done.text
        assert "sign in again" in done.text
        assert client.get("/today", follow_redirects=False).status_code == 303  # signed out


def test_a_deactivated_member_is_signed_out_everywhere_and_cannot_sign_in(world: World) -> None:
    member = world.ours.staff[P]
    token = api_token(world, P)
    with client_of(world) as practitioner, client_of(world) as client:
        sign_in(practitioner, world, P)
        admin = sign_in(client, world, A)
        assert practitioner.get("/api/v1/me", headers=token).status_code == 200
        done = client.post(
            f"/admin/staff/{member}/active", data={"csrf_token": admin, "active": "false"}
        )
        assert done.status_code == 200
        assert "inactive" in done.text
        assert "Reactivate practitioner of Parc" in done.text
        assert practitioner.get("/today", follow_redirects=False).status_code == 303
        assert practitioner.get("/api/v1/me", headers=token).status_code == 401
        with client_of(world) as again:
            form = again.get("/login")
            refused = again.post(
                "/login",
                data={
                    "csrf_token": csrf(form.text),
                    "login": world.ours.logins[P],
                    "password": PASSWORD,
                },
                follow_redirects=False,
            )
            assert refused.status_code == 401
        back = client.post(
            f"/admin/staff/{member}/active", data={"csrf_token": admin, "active": "true"}
        )
        assert back.status_code == 200
        with client_of(world) as again:
            sign_in(again, world, P)
            assert again.get("/api/v1/me", headers=token).status_code == 401  # still revoked
    with transaction(world.engine, write=False) as session:
        actions = [
            e.action
            for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id))
            if e.record_id in {str(i) for i in (member, *token_ids(session, member))}
        ]
    assert actions[-3:] == ["api_token.revoke", "staff.update", "staff.update"]


def token_ids(session: Any, member: uuid.UUID) -> list[uuid.UUID]:
    return list(session.scalars(select(ApiToken.id).where(ApiToken.staff_id == member)))


def test_the_last_admin_keeps_the_role_and_short_passwords_are_refused(world: World) -> None:
    with client_of(world) as client:
        token = sign_in(client, world, A)
        before = records(world)
        admin = world.ours.staff[A]
        last = client.post(
            f"/admin/staff/{admin}/role", data={"csrf_token": token, "role": "practitioner"}
        )
        assert last.status_code == 409
        assert "only active admin" in last.text
        gone = client.post(
            f"/admin/staff/{admin}/active", data={"csrf_token": token, "active": "false"}
        )
        assert gone.status_code == 409
        assert "active: " in gone.text
        short = client.post(
            f"/admin/staff/{world.ours.staff[P]}/password",
            data={"csrf_token": token, "password": "short"},
        )
        assert short.status_code == 422
        assert "password: needs 12 to 256 characters" in short.text
        for data, where in (
            ({"name": "X", "role": "owner"}, "body.role"),
            ({"name": "   ", "role": "reception"}, "name: "),
            ({"role": "reception"}, "body.name"),
        ):
            answer = client.post("/admin/staff", data={"csrf_token": token, **data})
            assert answer.status_code == 422, data
            assert where in answer.text
        assert records(world) == before


def test_clinic_a_admin_never_sees_or_changes_clinic_b(world: World) -> None:
    theirs = world.theirs.staff[P]
    with client_of(world) as client:
        token = sign_in(client, world, A)
        before = records(world)
        for path, data in (
            (f"/admin/staff/{theirs}/role", {"role": "reception"}),
            (f"/admin/staff/{theirs}/password", {"password": NEW_PASSWORD}),
            (f"/admin/staff/{theirs}/totp", {}),
        ):
            answer = client.post(path, data={"csrf_token": token, **data})
            assert answer.status_code == 404, path
            assert "no " in answer.text
            assert "staff" in answer.text
        assert records(world) == before
        client.post("/admin/clinic", data={"csrf_token": token, "name": "Parc", "time_zone": "UTC"})
        log = client.get("/admin/audit").text
        assert str(world.theirs.staff[A]) not in log
        assert str(world.theirs.patient) not in log
        assert "admin of Parc" in log
    with transaction(world.engine, write=False) as session:
        their_clinic = session.get(Clinic, world.theirs.id)
        assert their_clinic is not None
        assert their_clinic.name == "Lac"


def test_the_clinic_is_renamed_and_given_a_time_zone_an_unknown_one_refused(
    world: World,
) -> None:
    with client_of(world) as client:
        token = sign_in(client, world, A)
        page = client.get("/admin/clinic")
        assert page.status_code == 200
        assert '<option value="Europe/Paris">' in page.text
        saved = client.post(
            "/admin/clinic",
            data={"csrf_token": token, "name": f"Parc {SCRIPT}", "time_zone": "Europe/Paris"},
        )
        assert saved.status_code == 200
        assert SCRIPT not in saved.text
        assert 'value="Europe/Paris"' in saved.text
        before = records(world)
        for zone in ("Mars/Olympus_Mons", "../../etc/passwd", "/etc/localtime"):
            refused = client.post(
                "/admin/clinic", data={"csrf_token": token, "name": "Other", "time_zone": zone}
            )
            assert refused.status_code == 422, zone
            assert "is not an IANA time zone" in refused.text
        assert records(world) == before
    with transaction(world.engine, write=False) as session:
        clinic = session.get(Clinic, world.ours.id)
        assert clinic is not None
        assert (clinic.name, clinic.time_zone) == (f"Parc {SCRIPT}", "Europe/Paris")


def test_a_consent_text_is_published_and_listed_as_written(world: World) -> None:
    with client_of(world) as client:
        token = sign_in(client, world, A)
        text = f"I agree to photographs of my face.\n{SCRIPT}"
        published = client.post(
            "/admin/consents", data={"csrf_token": token, "kind": "photo", "text": text}
        )
        assert published.status_code == 200
        assert SCRIPT not in published.text
        assert "I agree to photographs of my face.\n&lt;script&gt;" in published.text
        assert "photo, version 1" in published.text
        before = records(world)
        for data, where in (
            ({"kind": "photo", "text": "   "}, "text: "),
            ({"kind": "tattoo", "text": "x"}, "body.kind"),
        ):
            answer = client.post("/admin/consents", data={"csrf_token": token, **data})
            assert answer.status_code == 422, data
            assert where in answer.text
        assert records(world) == before


def test_the_audit_log_shows_who_did_what_page_by_page_and_its_reading_is_audited(
    world: World,
) -> None:
    with client_of(world) as client:
        sign_in(client, world, A)
        first = client.get("/admin/audit")
        assert first.status_code == 200
        assert "staff.login" in first.text
        assert "admin of Parc" in first.text
        assert "page 1 of 1" in first.text
        with transaction(world.engine) as session:
            reads = session.scalars(
                select(AuditEvent).where(AuditEvent.action == "audit.read")
            ).all()
            assert [(e.staff_id, e.clinic_id) for e in reads] == [
                (world.ours.staff[A], world.ours.id)
            ]
        for _ in range(60):
            client.get("/admin/audit")  # each reading is an event
        latest = client.get("/admin/audit")
        assert "page 1 of 2" in latest.text
        assert 'href="/admin/audit?page=2"' in latest.text
        older = client.get("/admin/audit?page=2")
        assert older.status_code == 200
        assert "staff.create" in older.text
        assert client.get("/admin/audit?page=0").status_code == 422
        assert client.get("/admin/audit?page=x").status_code == 422
        # a filter (its empty fields let everything by) kept on the links to other pages
        reads = {"member": "", "action": "audit.read", "patient": "", "day": ""}
        narrowed = client.get("/admin/audit", params=reads)
        assert narrowed.status_code == 200
        assert "Events that meet the filter" in narrowed.text
        assert '<option value="audit.read" selected>' in narrowed.text
        assert "staff.create" not in narrowed.text.split('id="events"')[1]
        assert 'href="/admin/audit?action=audit.read&amp;page=2"' in narrowed.text


def test_audit_verify_runs_from_the_page_and_shows_what_it_finds(world: World) -> None:
    with client_of(world) as client:
        token = sign_in(client, world, A)
        intact = client.post("/admin/audit/verify", data={"csrf_token": token})
        assert intact.status_code == 200
        assert "The audit log is intact" in intact.text
        with world.engine.begin() as connection:
            connection.exec_driver_sql(
                "UPDATE staff SET role = 'admin' WHERE id = ?", (world.ours.staff[R].hex,)
            )
        broken = client.post("/admin/audit/verify", data={"csrf_token": token})
        assert broken.status_code == 200
        assert "The audit log does not verify" in broken.text
        assert str(world.ours.staff[R]) in broken.text


def test_the_admin_is_offered_the_admin_pages(world: World) -> None:
    with client_of(world) as client:
        sign_in(client, world, A)
        assert 'href="/admin/staff"' in client.get("/today").text
        assert client.get("/admin", follow_redirects=False).headers["location"] == "/admin/staff"


def test_an_unknown_member_is_not_found(world: World) -> None:
    with client_of(world) as client:
        token = sign_in(client, world, A)
        answer = client.post(
            f"/admin/staff/{uuid.uuid4()}/role", data={"csrf_token": token, "role": "admin"}
        )
        assert answer.status_code == 404


def test_an_admin_revokes_a_member_s_token_from_the_tokens_page(world: World) -> None:
    headers = api_token(world, P)
    with client_of(world) as client:
        assert client.get("/api/v1/tokens", headers=headers).status_code == 200
        token = sign_in(client, world, A)
        page = client.get("/admin/tokens")
        assert page.status_code == 200
        assert "practitioner of Parc" in page.text
        with transaction(world.engine, write=False) as session:
            theirs = session.scalars(
                select(ApiToken).where(ApiToken.staff_id == world.ours.staff[P])
            ).one()
        assert f'action="/admin/tokens/{theirs.id}/revoke"' in page.text
        done = client.post(
            f"/admin/tokens/{theirs.id}/revoke", data={"csrf_token": token}, follow_redirects=False
        )
        assert done.status_code == 303
        assert done.headers["location"] == "/admin/tokens"
        assert f'action="/admin/tokens/{theirs.id}/revoke"' not in client.get("/admin/tokens").text
        assert client.get("/api/v1/tokens", headers=headers).status_code == 401
        their_token = api_token(world, P, world.theirs)  # of clinic B: not found here
        with transaction(world.engine, write=False) as session:
            other = session.scalars(
                select(ApiToken).where(ApiToken.staff_id == world.theirs.staff[P])
            ).one()
        refused = client.post(f"/admin/tokens/{other.id}/revoke", data={"csrf_token": token})
        assert refused.status_code == 404
        assert client.get("/api/v1/tokens", headers=their_token).status_code == 200


def test_a_bad_audit_filter_on_the_page_is_refused_at_its_field(world: World) -> None:
    with client_of(world) as client:
        sign_in(client, world, A)
        for query, field in (("day=yesterday", "day"), ("member=someone", "member")):
            answer = client.get(f"/admin/audit?{query}")
            assert answer.status_code == 422, query
            assert field in answer.text
