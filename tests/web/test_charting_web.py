"""Session charting in the browser and the API: the form pre-filled from the approved plan,
products with their lot and expiry (an expired lot refused at its row, by the session's day
in the clinic), injection points placed on the face map (the view and x, y from 0 to 1 of
its drawing, drawn again on the session's page), the records' completeness check before
signing, and the signature of the member signed in. A practitioner's work: reception and
admins are refused; clinic B's sessions and consults are not found; a point off the
drawing, a script in the notes, a forged CSRF token and a signed session overwritten
change nothing."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select

from dermaplan.app import clinic, consults
from dermaplan.clinical.assessment import parse_assessment
from dermaplan.records.db import transaction
from dermaplan.records.enums import SessionStatus, StaffRole
from dermaplan.records.models import AuditEvent, ProductLot, TreatmentSession
from dermaplan.web.knowledge import knowledge
from tests.conftest import ROOT
from tests.web.conftest import START, Clinic, World, api_token, client_of, sign_in
from tests.web.forgery import assert_forgeries_refused
from tests.web.test_request_units import begun, verifies

A, P, R = StaffRole.ADMIN, StaffRole.PRACTITIONER, StaffRole.RECEPTION
SCRIPT = "<script>alert(1)</script>"
EXAMPLE = ROOT / "examples" / "01-acne-scars-dehydration.yaml"  # combined, cheeks
WHEN = "2026-11-02T10:30+01:00"
SESSION = "{session_id}"
CHART_ENDPOINTS: list[tuple[str, str, dict[str, object] | None]] = [
    ("GET", "/api/v1/sessions/planned?consult={consult_id}", None),
    ("POST", "/api/v1/sessions", {}),
    ("GET", f"/api/v1/sessions/{SESSION}", None),
    ("PUT", f"/api/v1/sessions/{SESSION}", {}),
    ("POST", f"/api/v1/sessions/{SESSION}/sign", {"reason": "consent on paper"}),
    ("POST", f"/api/v1/sessions/{SESSION}/amendments", {"reason": "passes miscounted"}),
]
AMENDS = "/amendments"  # a signed session's, with the session's body and the reason


def sent_to(
    path: str, payload: dict[str, object] | None, where: Clinic, consult: uuid.UUID
) -> dict[str, object] | None:
    """What a test sends to an endpoint of CHART_ENDPOINTS: `{}` stands for the session."""
    if path.endswith(AMENDS):
        return body(where, consult) | (payload or {})
    return body(where, consult) if payload == {} else payload


def approved_consult(world: World, where: Clinic, example: Path = EXAMPLE) -> uuid.UUID:
    """A consult of the engine's plan for the clinic's patient, approved by its practitioner."""
    kb = knowledge()
    data = yaml.safe_load(example.read_text()) | {"consult_date": START.date().isoformat()}
    acting = str(where.staff[P])
    saved = world.application.run(
        acting, consults.save, where.patient, parse_assessment(data, kb), kb
    )
    world.application.run(acting, consults.approve, saved.consult_id)
    return saved.consult_id


def form(where: Clinic, consult: uuid.UUID, **changes: Any) -> dict[str, Any]:
    """What the charting form posts for a combined session on the cheeks."""
    return {
        "patient": str(where.patient),
        "consult": str(consult),
        "performed_at": WHEN,
        "modality": "combined",
        "areas": ["cheeks"],
        "device": "pen",
        "depth-cheeks": "1.5",
        "passes-cheeks": "3",
        "product-0": "ha_skin_booster",
        "lot-0": "HB2391",
        "expiry-0": "2027-03-31",
        "volume-0": "1.0",
        "volume_area-0": "cheeks",
        "points": ["cheeks:face_front:0.3125:0.55", "cheeks:face_front:0.7:0.56"],
        "notes": "pinpoint bleeding",
    } | changes


def body(where: Clinic, consult: uuid.UUID, **changes: Any) -> dict[str, Any]:
    """The same session as the API takes it."""
    return {
        "patient": str(where.patient),
        "consult": str(consult),
        "performed_at": "2026-11-02T10:30:00+01:00",
        "modality": "combined",
        "areas": ["cheeks"],
        "device": "pen",
        "depths_mm": {"cheeks": 1.5},
        "products": [{"product": "ha_skin_booster", "lot": "HB2391", "expiry": "2027-03-31"}],
        "injection_points": [{"area": "cheeks", "view": "face_front", "x": 0.31, "y": 0.55}],
    } | changes


def stored(world: World) -> dict[str, Any]:
    """Every session and lot as stored."""
    with transaction(world.engine, write=False) as session:
        return {
            "sessions": sorted(
                (str(s.id), s.status, s.notes, str(s.injection_points), s.updated_at)
                for s in session.scalars(select(TreatmentSession))
            ),
            "lots": session.scalar(select(func.count()).select_from(ProductLot)),
        }


def recorded(client: TestClient, token: str, fields: dict[str, Any]) -> uuid.UUID:
    answer = client.post("/sessions", data={"csrf_token": token, **fields}, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    found = re.fullmatch(r"/sessions/([0-9a-f-]{36})", answer.headers["location"])
    assert found
    return uuid.UUID(found.group(1))


def api_recorded(client: TestClient, world: World, consult: uuid.UUID) -> uuid.UUID:
    answer = client.post(
        "/api/v1/sessions", json=body(world.ours, consult), headers=api_token(world, P)
    )
    assert answer.status_code == 201, answer.text
    return uuid.UUID(answer.json()["id"])


@dataclass(frozen=True)
class Drafting:
    """A practitioner signed in, with a draft session of an approved plan."""

    client: TestClient
    token: str
    consult: uuid.UUID
    session_id: uuid.UUID


@pytest.fixture
def drafting(world: World) -> Iterator[Drafting]:
    consult = approved_consult(world, world.ours)
    with client_of(world) as client:
        token = sign_in(client, world, P)
        yield Drafting(client, token, consult, recorded(client, token, form(world.ours, consult)))


def test_the_form_is_pre_filled_from_the_approved_plan(world: World) -> None:
    consult = approved_consult(world, world.ours)
    with client_of(world) as client:
        sign_in(client, world, P)
        page = client.get(f"/sessions/new?consult={consult}")
        assert page.status_code == 200, page.text
        assert "Pre-filled from the approved plan for combined" in page.text
        assert '<option value="combined" selected>' in page.text
        assert 'name="areas" value="cheeks" checked' in page.text
        assert 'data-mode="point"' in page.text
        assert 'id="depth-cheeks" name="depth-cheeks" inputmode="decimal" value="1.5"' in page.text
        assert re.search(r'name="product-0" maxlength="200" value="[a-z_]+"', page.text)
        assert 'value="2026-11-02T09:30+00:00"' in page.text  # now, on the clinic's clock
        assert '<script src="/static/charting.js" defer></script>' in page.text


def test_a_practitioner_records_points_and_lots_checks_completeness_and_signs(
    world: World, drafting: Drafting
) -> None:
    client, token, session_id = drafting.client, drafting.token, drafting.session_id
    assert f'href="/sessions/{session_id}"' in client.get("/today").text  # awaiting signature
    page = client.get(f"/sessions/{session_id}")
    assert page.status_code == 200
    assert "<td>HB2391</td><td>2027-03-31</td>" in page.text
    assert page.text.count('class="facemap-point"') == 2  # drawn again where placed
    assert 'cx="62.5" cy="143.0"' in page.text
    assert "no valid signed consent for combined" in page.text
    assert "before-photo of cheeks" in page.text
    assert f"/patients/{world.ours.patient}/consents?kind=treatment_combined" in page.text
    unexplained = client.post(f"/sessions/{session_id}/sign", data={"csrf_token": token})
    assert unexplained.status_code == 409
    assert "missing: no valid signed consent for combined" in unexplained.text
    signed = client.post(
        f"/sessions/{session_id}/sign",
        data={"csrf_token": token, "reason": "consent and photos on paper today"},
    )
    assert signed.status_code == 200
    assert "Signed 2026-11-02 09:30 by" in signed.text
    with transaction(world.engine, write=False) as session:
        record = session.get(TreatmentSession, session_id)
        assert record is not None
        assert record.status is SessionStatus.SIGNED
        assert record.signed_by_id == world.ours.staff[P]
        assert record.injection_points == [
            {"area": "cheeks", "x": 0.3125, "y": 0.55, "view": "face_front"},
            {"area": "cheeks", "x": 0.7, "y": 0.56, "view": "face_front"},
        ]
        assert record.missing_at_signing == [
            "no valid signed consent for combined",
            "before-photo of cheeks",  # the allergies were told at the consult: checked
        ]
        reads = session.scalars(
            select(AuditEvent.staff_id).where(
                AuditEvent.record_id == str(session_id), AuditEvent.action == "session.read"
            )
        ).all()
        assert reads
        assert set(reads) == {world.ours.staff[P]}


def test_the_completeness_shown_is_the_records_own(world: World) -> None:
    consult = approved_consult(world, world.ours)
    with client_of(world) as client:
        headers = api_token(world, P)
        made = client.post("/api/v1/sessions", json=body(world.ours, consult), headers=headers)
        charted = client.get(f"/api/v1/sessions/{made.json()['id']}", headers=headers).json()
        assert charted["to_complete"] == made.json()["to_complete"]
        assert charted["injection_points"] == [
            {"area": "cheeks", "view": "face_front", "x": 0.31, "y": 0.55}
        ]
        assert charted["products"][0]["lot"] == "HB2391"


def test_an_expired_lot_is_refused_at_its_row_by_the_clinic_s_day(world: World) -> None:
    consult = approved_consult(world, world.ours)
    before = stored(world)
    with client_of(world) as client:
        token = sign_in(client, world, P)
        answer = client.post(
            "/sessions",
            data={"csrf_token": token, **form(world.ours, consult, **{"expiry-0": "2026-11-01"})},
        )
        assert answer.status_code == 409, answer.text
        assert "products[0]: ha_skin_booster lot HB2391 expired on 2026-11-01" in answer.text
        assert 'value="HB2391"' in answer.text  # the form again, as filled
        api = client.post(
            "/api/v1/sessions",
            json=body(
                world.ours,
                consult,
                products=[{"product": "ha_skin_booster", "lot": "X1", "expiry": "2026-11-01"}],
            ),
            headers=api_token(world, P),
        )
        assert api.status_code == 409
        assert api.json()["detail"][0]["loc"] == ["products", 0]
    assert stored(world) == before


def test_a_lot_is_expired_by_the_day_of_the_clinic_not_of_utc(world: World) -> None:
    consult = approved_consult(world, world.ours)
    world.application.run(str(world.ours.staff[A]), clinic.configure, time_zone="Pacific/Auckland")
    late = {"performed_at": "2026-11-01T20:00+00:00", "expiry-0": "2026-11-01"}  # Nov 2 there
    before = stored(world)
    with client_of(world) as client:
        token = sign_in(client, world, P)
        answer = client.post(
            "/sessions", data={"csrf_token": token, **form(world.ours, consult, **late)}
        )
        assert answer.status_code == 409, answer.text
        assert "expired on 2026-11-01, before the session (2026-11-02)" in answer.text
    assert stored(world) == before


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"points": ["cheeks:face_front:1.5:0.2"]}, "injection_points[0].x: Input should be less"),
        ({"points": ["cheeks:face_front:0.5:-0.1"]}, "injection_points[0].y: Input should be gr"),
        ({"points": ["cheeks:face_front:left:0.2"]}, "injection_points[0].x: Input should be a"),
        ({"points": ["forehead:face_front:0.5:0.5"]}, "is not one of the session&#39;s areas"),
        ({"expiry-0": "31/03/2027"}, "&#39;31/03/2027&#39; is not a date"),
        ({"performed_at": "2026-11-02 10:30"}, "performed_at: Input should have timezone"),
        ({"areas": []}, "areas: List should have at least 1 item"),
        ({"depth-cheeks": "9"}, "depths_mm.cheeks: Input should be less than or equal to 5"),
    ],
)
def test_bad_input_comes_back_at_its_field_and_stores_nothing(
    world: World, changes: dict[str, Any], problem: str
) -> None:
    consult = approved_consult(world, world.ours)
    before = stored(world)
    with client_of(world) as client:
        token = sign_in(client, world, P)
        answer = client.post(
            "/sessions", data={"csrf_token": token, **form(world.ours, consult, **changes)}
        )
        assert answer.status_code == 422, answer.text
        assert problem in answer.text
        assert "Session charting" in answer.text
        for off in (":1.5:", ":left:", ":-0.1"):  # a point off the drawing is not kept
            assert off not in answer.text
    assert stored(world) == before


def test_a_point_off_the_drawing_is_refused_by_the_api_at_its_location(world: World) -> None:
    consult = approved_consult(world, world.ours)
    before = stored(world)
    with client_of(world) as client:
        answer = client.post(
            "/api/v1/sessions",
            json=body(
                world.ours, consult, injection_points=[{"area": "cheeks", "x": 1.2, "y": 0.5}]
            ),
            headers=api_token(world, P),
        )
        assert answer.status_code == 422
        assert answer.json()["detail"][0]["loc"][-3:] == ["injection_points", 0, "x"]
    assert stored(world) == before


def test_a_signed_session_is_never_silently_overwritten(world: World, drafting: Drafting) -> None:
    client, token, session_id = drafting.client, drafting.token, drafting.session_id
    consult = drafting.consult
    client.post(f"/sessions/{session_id}/sign", data={"csrf_token": token, "reason": "on paper"})
    before = stored(world)
    again = client.post(
        f"/sessions/{session_id}",
        data={"csrf_token": token, **form(world.ours, consult, notes="rewritten")},
    )
    assert again.status_code == 409
    assert "record an amendment instead" in again.text
    api = client.put(
        f"/api/v1/sessions/{session_id}",
        json=body(world.ours, consult, notes="rewritten"),
        headers=api_token(world, P),
    )
    assert api.status_code == 409
    signed_again = client.post(
        f"/sessions/{session_id}/sign", data={"csrf_token": token, "reason": "twice"}
    )
    assert signed_again.status_code == 409
    assert "Change the draft" not in client.get(f"/sessions/{session_id}").text
    assert stored(world) == before


def test_a_draft_is_changed_and_a_script_in_its_notes_is_shown_as_text(
    world: World, drafting: Drafting
) -> None:
    client, token, session_id = drafting.client, drafting.token, drafting.session_id
    consult = drafting.consult
    edit = client.get(f"/sessions/{session_id}/edit")
    assert edit.status_code == 200
    assert 'value="cheeks:face_front:0.3125:0.55"' in edit.text
    assert 'value="HB2391"' in edit.text
    changed = client.post(
        f"/sessions/{session_id}",
        data={"csrf_token": token, **form(world.ours, consult, notes=SCRIPT)},
    )
    assert changed.status_code == 200
    assert SCRIPT not in changed.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in changed.text
    assert SCRIPT not in client.get(f"/sessions/{session_id}/edit").text


@pytest.mark.parametrize("role", [A, R])
def test_reception_and_admins_are_refused_every_charting_page_and_form(
    world: World, role: StaffRole
) -> None:
    consult = approved_consult(world, world.ours)
    with client_of(world) as client:
        session_id = api_recorded(client, world, consult)
        before = stored(world)
        token = sign_in(client, world, role)
        for path in (
            f"/sessions/new?consult={consult}",
            f"/sessions/{session_id}",
            f"/sessions/{session_id}/edit",
            f"/sessions/{session_id}/amend",
        ):
            answer = client.get(path)
            assert answer.status_code == 403, path
            assert f"({role.value}) may not" in answer.text
        for path, data in (
            ("/sessions", form(world.ours, consult)),
            (f"/sessions/{session_id}", form(world.ours, consult)),
            (f"/sessions/{session_id}/sign", {"reason": "on paper"}),
            (
                f"/sessions/{session_id}/amend",
                form(world.ours, consult, amendment_reason="why", override="because"),
            ),
        ):
            answer = client.post(path, data={"csrf_token": token, **data})
            assert answer.status_code in (403, 422), path
            assert f"({role.value}) may not" in answer.text or "is not an active" in answer.text
    assert stored(world) == before


@pytest.mark.parametrize(("method", "path", "payload"), CHART_ENDPOINTS)
def test_each_role_is_let_through_or_refused_by_the_api(
    world: World, method: str, path: str, payload: dict[str, object] | None
) -> None:
    consult = approved_consult(world, world.ours)
    with client_of(world) as client:
        for role in StaffRole:
            session_id = api_recorded(client, world, consult)
            sent = sent_to(path, payload, world.ours, consult)
            if path.endswith(AMENDS):
                signing = {"reason": "on paper"}
                url = f"/api/v1/sessions/{session_id}/sign"
                client.post(url, json=signing, headers=api_token(world, P))
            answer = client.request(
                method,
                path.format(consult_id=consult, session_id=session_id),
                json=sent,
                headers=api_token(world, role),
            )
            if role is P:
                assert answer.status_code in (200, 201), answer.text
            else:
                assert answer.status_code == 403, (role, answer.text)
                assert f"({role.value}) may not" in answer.json()["detail"][0]["msg"]


@pytest.mark.parametrize(("method", "path", "payload"), CHART_ENDPOINTS)
def test_clinic_b_s_sessions_and_consults_are_not_found(
    world: World, method: str, path: str, payload: dict[str, object] | None
) -> None:
    theirs = approved_consult(world, world.theirs)
    with client_of(world) as client:
        made = client.post(
            "/api/v1/sessions",
            json=body(world.theirs, theirs),
            headers=api_token(world, P, world.theirs),
        )
        assert made.status_code == 201, made.text
        before = stored(world)
        answer = client.request(
            method,
            path.format(consult_id=theirs, session_id=made.json()["id"]),
            json=sent_to(path, payload, world.theirs, theirs),
            headers=api_token(world, P),
        )
        assert answer.status_code in (404, 422), answer.text
        if answer.status_code == 422:  # a practitioner of clinic A cannot treat B's patient
            assert "no patient" in answer.text or "not found" in answer.text
        sign_in(client, world, P)
        assert client.get(f"/sessions/{made.json()['id']}").status_code == 404
        assert client.get(f"/sessions/new?consult={theirs}").status_code == 404
    assert stored(world) == before


def test_without_the_csrf_token_no_charting_form_changes_anything(world: World) -> None:
    consult = approved_consult(world, world.ours)
    with client_of(world) as client:
        session_id = api_recorded(client, world, consult)
        before = stored(world)
        token = sign_in(client, world, P)
        assert_forgeries_refused(
            client,
            token,
            [
                ("/sessions", form(world.ours, consult)),
                (f"/sessions/{session_id}", form(world.ours, consult, notes="changed")),
                (f"/sessions/{session_id}/sign", {"reason": "on paper"}),
                (
                    f"/sessions/{session_id}/amend",
                    form(world.ours, consult, amendment_reason="why"),
                ),
            ],
        )
    assert stored(world) == before


def signed(client: TestClient, token: str, session_id: uuid.UUID) -> None:
    answer = client.post(
        f"/sessions/{session_id}/sign", data={"csrf_token": token, "reason": "on paper"}
    )
    assert answer.status_code == 200, answer.text


def test_a_signed_session_is_amended_by_a_new_version_and_kept(
    world: World, drafting: Drafting
) -> None:
    client, token, session_id = drafting.client, drafting.token, drafting.session_id
    signed(client, token, session_id)
    page = client.get(f"/sessions/{session_id}")
    assert f'href="/sessions/{session_id}/amend"' in page.text
    amend = client.get(f"/sessions/{session_id}/amend")
    assert amend.status_code == 200
    assert "Amend a signed session" in amend.text
    assert 'value="HB2391"' in amend.text  # pre-filled with what was signed
    assert 'name="amendment_reason"' in amend.text
    before = stored(world)
    fields = form(world.ours, drafting.consult, notes="two passes, not three")
    unexplained = client.post(f"/sessions/{session_id}/amend", data={"csrf_token": token, **fields})
    assert unexplained.status_code == 422
    assert "an amendment needs a reason" in unexplained.text
    assert stored(world) == before
    answer = client.post(
        f"/sessions/{session_id}/amend",
        data={"csrf_token": token, "amendment_reason": "passes miscounted", **fields},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    amendment = uuid.UUID(answer.headers["location"].rsplit("/", 1)[1])
    with transaction(world.engine, write=False) as session:
        new, old = (
            session.get(TreatmentSession, amendment),
            session.get(TreatmentSession, session_id),
        )
        assert new is not None
        assert old is not None
        assert (new.status, new.amends_id, new.notes) == (
            SessionStatus.DRAFT,
            session_id,
            "two passes, not three",
        )
        assert (old.status, old.notes) == (SessionStatus.SIGNED, "pinpoint bleeding")
    assert f'amends <a href="/sessions/{session_id}">' in client.get(f"/sessions/{amendment}").text
    pending = client.get(f"/sessions/{session_id}").text
    assert f'An amendment is being written: <a href="/sessions/{amendment}">' in pending
    assert f'href="/sessions/{session_id}/amend"' not in pending
    signed(client, token, amendment)
    with transaction(world.engine, write=False) as session:
        old = session.get(TreatmentSession, session_id)
        assert old is not None
        assert old.status is SessionStatus.AMENDED
        assert old.notes == "pinpoint bleeding"  # replaced, never overwritten
    replaced = client.get(f"/sessions/{session_id}").text
    assert f'Replaced by <a href="/sessions/{amendment}">' in replaced
    assert f'href="/sessions/{session_id}/amend"' not in replaced
    twice = client.post(
        f"/sessions/{session_id}/amend",
        data={"csrf_token": token, "amendment_reason": "again", **fields},
    )
    assert twice.status_code == 422
    assert f"is already amended by {amendment}" in twice.text


def test_a_draft_is_revised_not_amended(world: World, drafting: Drafting) -> None:
    client, token, session_id = drafting.client, drafting.token, drafting.session_id
    before = stored(world)
    answer = client.post(
        f"/sessions/{session_id}/amend",
        data={"csrf_token": token, "amendment_reason": "why", **form(world.ours, drafting.consult)},
    )
    assert answer.status_code == 422
    assert "is a draft: revise it instead" in answer.text
    assert stored(world) == before


def test_a_session_the_safety_check_refuses_is_recorded_only_with_a_reason(
    world: World,
) -> None:
    consult = approved_consult(world, world.ours)
    too_deep = form(world.ours, consult, **{"depth-cheeks": "3.0"})
    with client_of(world) as client:
        token = sign_in(client, world, P)
        before = stored(world)
        refused = client.post("/sessions", data={"csrf_token": token, **too_deep})
        assert refused.status_code == 409, refused.text
        assert "Not recorded: see below" in refused.text
        assert 'name="override"' in refused.text  # asked only now
        assert 'name="override"' not in client.get(f"/sessions/new?consult={consult}").text
        assert stored(world) == before
        answer = client.post(
            "/sessions",
            data={
                "csrf_token": token,
                "override": "deep rolling scars, per the surgeon",
                **too_deep,
            },
            follow_redirects=False,
        )
        assert answer.status_code == 303, answer.text
        with transaction(world.engine, write=False) as session:
            record = session.scalars(select(TreatmentSession)).one()
            assert record.overridden
            assert record.override_reason == "deep rolling scars, per the surgeon"
        page = client.get(f"/sessions/{record.id}")
        assert "Recorded although the safety check refused it" in page.text
        assert "Because: deep rolling scars, per the surgeon" in page.text
        assert record.overridden
        assert all(refusal in page.text for refusal in record.overridden)
        edit = client.get(f"/sessions/{record.id}/edit")  # a change asks for the reason anew
        assert 'name="override"' not in edit.text
        again = client.post(f"/sessions/{record.id}", data={"csrf_token": token, **too_deep})
        assert again.status_code == 409
        assert 'name="override"' in again.text
        needless = client.post(
            "/sessions",
            data={"csrf_token": token, "override": "just in case", **form(world.ours, consult)},
        )
        assert needless.status_code == 422
        assert "nothing in this session is refused" in needless.text


def test_the_api_amends_a_signed_session_and_overrides_only_with_a_reason(world: World) -> None:
    consult = approved_consult(world, world.ours)
    with client_of(world) as client:
        headers = api_token(world, P)
        session_id = api_recorded(client, world, consult)
        client.post(f"/api/v1/sessions/{session_id}/sign", json={"reason": "x"}, headers=headers)
        path = f"/api/v1/sessions/{session_id}/amendments"
        deeper = body(world.ours, consult, depths_mm={"cheeks": 3.0})
        unexplained = client.post(path, json=deeper, headers=headers)
        assert unexplained.status_code == 422
        assert unexplained.json()["detail"][0]["loc"][-1] == "reason"
        refused = client.post(path, json=deeper | {"reason": "depth"}, headers=headers)
        assert refused.status_code == 409, refused.text
        for override in ("", "just in case"):  # blank, or given where nothing is refused
            needless = client.post(
                "/api/v1/sessions",
                json=body(world.ours, consult, override=override),
                headers=headers,
            )
            assert needless.status_code == 422, needless.text
            assert "override" in str(needless.json()["detail"][0]["loc"]) + needless.text
        made = client.post(
            path, json=deeper | {"reason": "depth", "override": "per the surgeon"}, headers=headers
        )
        assert made.status_code == 201, made.text
        assert made.json()["amends"] == str(session_id)
        for role in (A, R):
            answer = client.post(
                path, json=deeper | {"reason": "x"}, headers=api_token(world, role)
            )
            assert answer.status_code == 403
        before = stored(world)
        theirs = client.post(
            path, json=deeper | {"reason": "x"}, headers=api_token(world, P, world.theirs)
        )
        assert theirs.status_code == 404, theirs.text
        assert stored(world) == before


def test_the_edit_and_amend_forms_give_back_all_the_session_holds(world: World) -> None:
    """A session recorded by a program, with a product in two areas, a change from the plan
    and seconds, comes back from the forms as it was: nothing is lost by amending it."""
    consult = approved_consult(world, world.ours)
    held = body(
        world.ours,
        consult,
        areas=["cheeks", "forehead"],
        performed_at="2026-11-02T10:30:15+01:00",
        depths_mm={"cheeks": 1.5, "forehead": 0.5},
        products=[
            {
                "product": "ha_skin_booster",
                "lot": "HB2391",
                "expiry": "2027-03-31",
                "volumes_ml": {"cheeks": 1.0, "forehead": 0.5},
            }
        ],
        deviations=[{"change": "forehead added", "reason": "asked by the patient"}],
    )
    with client_of(world) as client:
        headers = api_token(world, P)
        made = client.post("/api/v1/sessions", json=held, headers=headers)
        assert made.status_code == 201, made.text
        session_id = made.json()["id"]
        token = sign_in(client, world, P)
        page = client.get(f"/sessions/{session_id}/edit").text
        fields = dict(re.findall(r'<input id="[^"]+" name="([^"]+)"[^>]* value="([^"]*)"', page))
        for name, options in re.findall(
            r'<select id="[^"]+" name="([^"]+)">(.*?)</select>', page, re.S
        ):
            chosen = re.search(r'<option value="([^"]+)" selected>', options)
            fields[name] = chosen.group(1) if chosen else ""
        posted = {
            **fields,
            "patient": str(world.ours.patient),
            "consult": str(consult),
            "areas": ["cheeks", "forehead"],
            "modality": "combined",
            "points": ["cheeks:face_front:0.31:0.55"],
        }
        assert posted["performed_at"] == "2026-11-02T09:30:15+00:00"  # the clinic keeps UTC
        assert (posted["deviation-0"], posted["deviation_reason-0"]) == (
            "forehead added",
            "asked by the patient",
        )
        saved = client.post(f"/sessions/{session_id}", data={"csrf_token": token, **posted})
        assert saved.status_code == 200, saved.text
        after = client.get(f"/api/v1/sessions/{session_id}", headers=headers).json()
        assert after["products"] == [
            {
                "product": "ha_skin_booster",
                "lot": "HB2391",
                "expiry": "2027-03-31",
                "volumes_ml": {"cheeks": 1.0, "forehead": 0.5},
            }
        ]
        assert after["deviations"] == held["deviations"]
        assert after["performed_at"].startswith("2026-11-02T09:30:15")


def test_a_session_s_page_is_one_transaction_the_session_checked_inside(
    world: World, drafting: Drafting
) -> None:
    begins: list[str] = []

    def note(*arguments: object) -> None:
        if str(arguments[2]).startswith("BEGIN"):
            begins.append(str(arguments[2]))

    event.listen(world.application.engine, "before_cursor_execute", note)
    try:
        assert drafting.client.get(f"/sessions/{drafting.session_id}").status_code == 200
    finally:
        event.remove(world.application.engine, "before_cursor_execute", note)
    assert begins == ["BEGIN IMMEDIATE"]


def test_a_refused_signing_shows_the_session_again_in_one_unit_of_work(
    world: World, drafting: Drafting
) -> None:
    """The refusal and the session shown with it are one use case: one write transaction
    (after the session's check with the form's CSRF token), the session read once, as the
    member, and the log intact."""
    client, session_id = drafting.client, drafting.session_id
    before = len(session_reads(world, session_id))
    with begun(world) as sent:
        refused = client.post(f"/sessions/{session_id}/sign", data={"csrf_token": drafting.token})
    assert refused.status_code == 409
    assert "missing: no valid signed consent for combined" in refused.text
    assert 'class="facemap-point"' in refused.text  # the session as it stands
    assert sent.count("BEGIN IMMEDIATE") == 1
    assert session_reads(world, session_id)[before:] == [world.ours.staff[P]]
    assert verifies(world)


def session_reads(world: World, session_id: uuid.UUID) -> list[uuid.UUID | None]:
    with transaction(world.engine, write=False) as session:
        return list(
            session.scalars(
                select(AuditEvent.staff_id)
                .where(AuditEvent.record_id == str(session_id), AuditEvent.action == "session.read")
                .order_by(AuditEvent.id)
            )
        )
