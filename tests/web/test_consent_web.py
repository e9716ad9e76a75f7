"""Consent in the browser and the API: the current text of a kind shown to the patient and
signed by drawing on the pad (or by typing the name, kept as typed), photo-use scopes
answered one by one, withdrawal with a reason. The front desk's work (practitioners and
reception); an admin is refused, clinic B's consents are not found, a blank, oversized or
foreign signature, a forged CSRF token and a consent signed twice change nothing, and a
script typed anywhere is shown as text."""

from __future__ import annotations

import base64
import datetime as dt
import io
import re
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image, ImageDraw
from sqlalchemy import func, select

from dermaplan.records import consents
from dermaplan.records.db import transaction
from dermaplan.records.enums import ConsentKind, ConsentStatus, StaffRole
from dermaplan.records.models import AuditEvent, Consent, ConsentWithdrawal
from tests.records.factories import context, png_claiming
from tests.web.conftest import START, Clinic, World, api_token, client_of, sign_in
from tests.web.forgery import assert_forgeries_refused
from tests.web.test_request_units import begun, verifies

A, P, R = StaffRole.ADMIN, StaffRole.PRACTITIONER, StaffRole.RECEPTION
SCRIPT = "<script>alert(1)</script>"
TEXT = "I understand microneedling, its risks and its alternatives, and I consent to it."
DATA_URL = "data:image/png;base64,"
CONSENT = "{consent_id}"
# every consent endpoint: method, path, body (tests/web/test_api.py checks the list whole)
CONSENT_ENDPOINTS: list[tuple[str, str, dict[str, object] | None]] = [
    ("GET", "/api/v1/patients/{patient_id}/consents", None),
    ("POST", "/api/v1/patients/{patient_id}/consents", {"kind": "treatment_microneedling"}),
    ("GET", f"/api/v1/consents/{CONSENT}", None),
    ("POST", f"/api/v1/consents/{CONSENT}/sign", {"signer": "C. Moreau", "signature": "C. M."}),
    ("POST", f"/api/v1/consents/{CONSENT}/withdraw", {"reason": "changed her mind"}),
]


def drawing(blank: bool = False) -> str:
    """A signature pad's PNG, base64: a stroke on a transparent canvas (or none)."""
    image = Image.new("RGBA", (600, 200), (0, 0, 0, 0))
    if not blank:
        ImageDraw.Draw(image).line([(40, 150), (200, 40), (380, 160), (560, 60)], "black", 3)
    out = io.BytesIO()
    image.save(out, "PNG")
    return base64.b64encode(out.getvalue()).decode()


def publish(world: World, where: Clinic, kind: ConsentKind, text: str = TEXT) -> None:
    with transaction(world.engine) as session:
        earlier = context(now=START - dt.timedelta(days=30))
        consents.publish_template(session, earlier, where.id, kind, text)


@pytest.fixture
def published(world: World) -> World:
    for where in (world.ours, world.theirs):
        publish(world, where, ConsentKind.TREATMENT_MICRONEEDLING)
        publish(world, where, ConsentKind.PHOTO, "Photos of my skin may be taken and used.")
    return world


def opened(world: World, where: Clinic, kind: ConsentKind) -> uuid.UUID:
    with transaction(world.engine) as session:
        return consents.open_consent(session, context(now=START), where.id, where.patient, kind).id


def signed(world: World, where: Clinic, kind: ConsentKind = ConsentKind.PHOTO) -> uuid.UUID:
    consent_id = opened(world, where, kind)
    with transaction(world.engine) as session:
        consents.record_consent(
            session,
            context(now=START),
            where.id,
            consents.ConsentData.parse(
                {
                    "patient": where.patient,
                    "consent": consent_id,
                    "signed_at": START,
                    "signer": "Claire Moreau",
                    "signature": "C. Moreau",
                    "scopes": {"clinical_record": True, "teaching": True, "marketing": False}
                    if kind is ConsentKind.PHOTO
                    else None,
                }
            ),
        )
    return consent_id


def stored(world: World) -> dict[str, Any]:
    """Every consent and withdrawal as stored."""
    with transaction(world.engine, write=False) as session:
        return {
            "consents": sorted(
                (str(c.id), c.status, c.signer_name, c.signature_text, c.signature_image)
                for c in session.scalars(select(Consent))
            ),
            "withdrawals": session.scalar(select(func.count()).select_from(ConsentWithdrawal)),
        }


def consent_of(world: World, consent_id: uuid.UUID) -> Consent:
    with transaction(world.engine, write=False) as session:
        found = session.get(Consent, consent_id)
        assert found is not None
        session.expunge(found)
        return found


def actions(world: World, consent_id: uuid.UUID) -> list[tuple[str, uuid.UUID | None]]:
    with transaction(world.engine, write=False) as session:
        return [
            (event.action, event.staff_id)
            for event in session.scalars(
                select(AuditEvent)
                .where(AuditEvent.record_id == str(consent_id))
                .order_by(AuditEvent.occurred_at, AuditEvent.id)
            )
        ]


def opened_by_page(client: TestClient, world: World, token: str, kind: str) -> uuid.UUID:
    answer = client.post(
        f"/patients/{world.ours.patient}/consents",
        data={"csrf_token": token, "kind": kind},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    found = re.fullmatch(r"/consents/([0-9a-f-]{36})", answer.headers["location"])
    assert found
    return uuid.UUID(found.group(1))


@pytest.mark.parametrize("role", [P, R])
def test_the_front_desk_shows_the_text_and_the_patient_signs_by_drawing(
    published: World, role: StaffRole
) -> None:
    world = published
    with client_of(world) as client:
        token = sign_in(client, world, role)
        desk = client.get(f"/patients/{world.ours.patient}/consents")
        assert desk.status_code == 200
        assert "treatment microneedling (version 1)" in desk.text
        consent_id = opened_by_page(client, world, token, "treatment_microneedling")
        page = client.get(f"/consents/{consent_id}")
        assert page.status_code == 200
        assert TEXT in page.text  # the exact text of the version shown
        assert "data-signature-pad" in page.text
        assert '<script src="/static/signature.js" defer></script>' in page.text
        drawn = drawing()
        done = client.post(
            f"/consents/{consent_id}/sign",
            data={"csrf_token": token, "signer": "C. Moreau", "signature_png": DATA_URL + drawn},
        )
        assert done.status_code == 200, done.text
        assert f'src="data:image/png;base64,{drawn}"' in done.text
    record = consent_of(world, consent_id)
    assert record.status is ConsentStatus.SIGNED
    assert record.signature_image == base64.b64decode(drawn)
    assert (record.signature_text, record.signature_media_type) == (None, "image/png")
    assert record.signed_at is not None
    assert record.signed_at.replace(tzinfo=dt.UTC) == START
    member = world.ours.staff[role]
    assert actions(world, consent_id) == [
        ("consent.open", member),
        ("consent.read", member),
        ("consent.sign", member),
        ("consent.read", member),
    ]


def test_a_typed_name_signs_without_a_pointer_is_kept_as_typed_and_shown_as_text(
    published: World,
) -> None:
    world = published
    with client_of(world) as client:
        token = sign_in(client, world, P)
        consent_id = opened_by_page(client, world, token, "treatment_microneedling")
        done = client.post(
            f"/consents/{consent_id}/sign",
            data={
                "csrf_token": token,
                "signer": SCRIPT,
                "signature_png": "",
                "typed_signature": SCRIPT,
            },
        )
        assert done.status_code == 200
        assert SCRIPT not in done.text
        assert "typed: &lt;script&gt;alert(1)&lt;/script&gt;" in done.text
        assert SCRIPT not in client.get(f"/patients/{world.ours.patient}/consents").text
    record = consent_of(world, consent_id)
    assert (record.signature_text, record.signature_image) == (SCRIPT, None)


def test_photo_scopes_are_separate_choices_each_answered(published: World) -> None:
    world = published
    with client_of(world) as client:
        token = sign_in(client, world, P)
        consent_id = opened_by_page(client, world, token, "photo")
        page = client.get(f"/consents/{consent_id}")
        for scope in ("clinical_record", "teaching", "marketing"):
            assert f'name="scope_{scope}" value="yes"' in page.text
            assert f'name="scope_{scope}" value="no"' in page.text
        before = stored(world)
        fields = {"csrf_token": token, "signer": "Claire Moreau", "typed_signature": "C. M."}
        unanswered = client.post(
            f"/consents/{consent_id}/sign",
            data={**fields, "scope_clinical_record": "yes", "scope_teaching": "no"},
        )
        assert unanswered.status_code == 422
        assert "photo consent must answer every scope; missing [&#39;marketing&#39;]" in (
            unanswered.text
        )
        assert 'value="yes" required checked' in unanswered.text  # the answers are kept
        assert stored(world) == before
        done = client.post(
            f"/consents/{consent_id}/sign",
            data={
                **fields,
                "scope_clinical_record": "yes",
                "scope_teaching": "no",
                "scope_marketing": "no",
            },
        )
        assert done.status_code == 200
    record = consent_of(world, consent_id)
    assert record.photo_scopes == {"clinical_record": True, "teaching": False, "marketing": False}


@pytest.mark.parametrize(
    ("sent", "problem"),
    [
        ("", "sign in the box, or type the name instead"),
        (DATA_URL + drawing(blank=True), "the signature is blank; sign in the box"),
        (DATA_URL + "bm90IGEgcG5n", "not a PNG image"),
        (DATA_URL + "%%%not base64", "not base64 data"),
        (drawing(), "not a drawing from the signing pad"),
        (
            DATA_URL + base64.b64encode(png_claiming(3000, 3000)).decode(),
            "3000×3000 pixels, more than the 4 megapixels",
        ),
        (
            DATA_URL + base64.b64encode(bytes(300 * 1024)).decode(),
            "larger than 256 KB",
        ),
    ],
)
def test_a_blank_oversized_or_foreign_signature_is_refused_at_its_field(
    published: World, sent: str, problem: str
) -> None:
    world = published
    consent_id = opened(world, world.ours, ConsentKind.TREATMENT_MICRONEEDLING)
    before = stored(world)
    with client_of(world) as client:
        token = sign_in(client, world, P)
        answer = client.post(
            f"/consents/{consent_id}/sign",
            data={"csrf_token": token, "signer": "Claire Moreau", "signature_png": sent},
        )
        assert answer.status_code == 422, answer.text
        assert problem in answer.text
        assert 'id="signature_png-problem"' in answer.text
        assert 'value="Claire Moreau"' in answer.text  # the form again, as it was filled
        if sent.startswith(DATA_URL):  # the API takes the drawing as bare base64
            api = client.post(
                f"/api/v1/consents/{consent_id}/sign",
                json={"signer": "Claire Moreau", "signature_png": sent.removeprefix(DATA_URL)},
                headers=api_token(world, P),
            )
            assert api.status_code == 422, api.text
            assert api.json()["detail"][0]["loc"][-1] == "signature_png"
    assert stored(world) == before


def test_a_signed_consent_is_withdrawn_whole_or_scope_by_scope_with_a_reason(
    published: World,
) -> None:
    world = published
    consent_id = signed(world, world.ours)
    with client_of(world) as client:
        token = sign_in(client, world, R)
        page = client.get(f"/consents/{consent_id}")
        assert "Withdraw only teaching" in page.text
        assert "Withdraw only marketing" not in page.text  # never granted
        before = stored(world)
        blank = client.post(
            f"/consents/{consent_id}/withdraw", data={"csrf_token": token, "reason": " "}
        )
        assert blank.status_code == 422
        assert "a withdrawal needs a reason" in blank.text
        assert stored(world) == before
        one = client.post(
            f"/consents/{consent_id}/withdraw",
            data={"csrf_token": token, "reason": f"not for {SCRIPT}", "scope": "teaching"},
        )
        assert one.status_code == 200
        assert SCRIPT not in one.text
        assert "not for &lt;script&gt;alert(1)&lt;/script&gt;" in one.text
        assert "Withdraw only teaching" not in one.text
        whole = client.post(
            f"/consents/{consent_id}/withdraw", data={"csrf_token": token, "reason": "moving"}
        )
        assert whole.status_code == 200
        assert "Withdraw the whole consent" not in whole.text
        again = client.post(
            f"/api/v1/consents/{consent_id}/withdraw",
            json={"reason": "again"},
            headers=api_token(world, R),
        )
        assert again.status_code == 409
    assert stored(world)["withdrawals"] == 2


def test_a_refused_withdrawal_shows_the_consent_again_in_one_unit_of_work(
    published: World,
) -> None:
    """The refusal and the consent shown with it are one use case: one write transaction,
    the consent read once as the member, nothing withdrawn, the log intact."""
    world = published
    consent_id = signed(world, world.ours)
    with client_of(world) as client:
        token = sign_in(client, world, R)
        before = actions(world, consent_id)
        with begun(world) as sent:
            blank = client.post(
                f"/consents/{consent_id}/withdraw", data={"csrf_token": token, "reason": " "}
            )
    assert blank.status_code == 422
    assert "a withdrawal needs a reason" in blank.text
    assert "Withdraw only teaching" in blank.text  # the consent as it stands
    assert sent.count("BEGIN IMMEDIATE") == 1
    assert actions(world, consent_id)[len(before) :] == [("consent.read", world.ours.staff[R])]
    assert verifies(world)


def test_a_signed_consent_is_never_signed_again(published: World) -> None:
    world = published
    consent_id = signed(world, world.ours, ConsentKind.TREATMENT_MICRONEEDLING)
    before = stored(world)
    with client_of(world) as client:
        token = sign_in(client, world, P)
        page = client.post(
            f"/consents/{consent_id}/sign",
            data={"csrf_token": token, "signer": "Someone Else", "typed_signature": "S. E."},
        )
        assert page.status_code == 409
        assert "is already signed" in page.text
        api = client.post(
            f"/api/v1/consents/{consent_id}/sign",
            json={"signer": "Someone Else", "signature_png": drawing()},
            headers=api_token(world, P),
        )
        assert api.status_code == 409
    assert stored(world) == before


def test_an_admin_is_refused_every_consent_page_form_and_endpoint(published: World) -> None:
    world = published
    consent_id = opened(world, world.ours, ConsentKind.TREATMENT_MICRONEEDLING)
    before = stored(world)
    with client_of(world) as client:
        token = sign_in(client, world, A)
        for path in (f"/patients/{world.ours.patient}/consents", f"/consents/{consent_id}"):
            answer = client.get(path)
            assert answer.status_code == 403, path
            assert "(admin) may not" in answer.text
        for path, data in (
            (f"/patients/{world.ours.patient}/consents", {"kind": "photo"}),
            (f"/consents/{consent_id}/sign", {"signer": "C. M.", "typed_signature": "C. M."}),
            (f"/consents/{consent_id}/withdraw", {"reason": "moving"}),
        ):
            answer = client.post(path, data={"csrf_token": token, **data})
            assert answer.status_code == 403, path
    assert stored(world) == before


@pytest.mark.parametrize(("method", "path", "body"), CONSENT_ENDPOINTS)
def test_each_role_is_let_through_or_refused_by_the_api(
    published: World, method: str, path: str, body: dict[str, object] | None
) -> None:
    world = published
    with client_of(world) as client:
        for role in StaffRole:
            kind = ConsentKind.TREATMENT_MICRONEEDLING
            consent_id = (
                signed(world, world.ours, kind)
                if "withdraw" in path
                else opened(world, world.ours, kind)
            )
            answer = client.request(
                method,
                path.format(patient_id=world.ours.patient, consent_id=consent_id),
                json=body,
                headers=api_token(world, role),
            )
            if role is A:
                assert answer.status_code == 403, answer.text
                assert "(admin) may not" in answer.json()["detail"][0]["msg"]
            else:
                assert answer.status_code in (200, 201), (role, answer.text)


@pytest.mark.parametrize(("method", "path", "body"), CONSENT_ENDPOINTS)
def test_clinic_b_s_patients_and_consents_are_not_found(
    published: World, method: str, path: str, body: dict[str, object] | None
) -> None:
    world = published
    theirs = (
        signed(world, world.theirs)
        if "withdraw" in path
        else opened(world, world.theirs, ConsentKind.PHOTO)
    )
    before = stored(world)
    with client_of(world) as client:
        answer = client.request(
            method,
            path.format(patient_id=world.theirs.patient, consent_id=theirs),
            json=body,
            headers=api_token(world, P),
        )
        assert answer.status_code == 404, answer.text
        sign_in(client, world, P)
        page = client.get(f"/consents/{theirs}")
        assert page.status_code == 404
        assert "Lacombe" not in client.get(f"/patients/{world.theirs.patient}/consents").text
    assert stored(world) == before


def test_the_api_signs_and_reads_back_the_exact_text(published: World) -> None:
    world = published
    headers = api_token(world, R)
    with client_of(world) as client:
        opening = client.post(
            f"/api/v1/patients/{world.ours.patient}/consents",
            json={"kind": "treatment_microneedling"},
            headers=headers,
        )
        assert opening.status_code == 201
        consent_id = opening.json()["id"]
        drawn = drawing()
        signing = client.post(
            f"/api/v1/consents/{consent_id}/sign",
            json={"signer": "Claire Moreau", "signature_png": drawn},
            headers=headers,
        )
        assert signing.status_code == 200, signing.text
        assert signing.json()["status"] == "signed"
        read = client.get(f"/api/v1/consents/{consent_id}", headers=headers).json()
        assert (read["text"], read["drawn_signature_png"], read["typed_signature"]) == (
            TEXT,
            drawn,
            None,
        )
        both = client.post(
            f"/api/v1/patients/{world.ours.patient}/consents",
            json={"kind": "no_such_kind"},
            headers=headers,
        )
        assert both.status_code == 422
        assert both.json()["detail"][0]["loc"] == ["body", "kind"]


def test_without_the_csrf_token_no_consent_form_changes_anything(published: World) -> None:
    world = published
    consent_id = opened(world, world.ours, ConsentKind.TREATMENT_MICRONEEDLING)
    signed_id = signed(world, world.ours)
    before = stored(world)
    with client_of(world) as client:
        token = sign_in(client, world, P)
        assert_forgeries_refused(
            client,
            token,
            [
                (f"/patients/{world.ours.patient}/consents", {"kind": "photo"}),
                (f"/consents/{consent_id}/sign", {"signer": "C. M.", "typed_signature": "C."}),
                (f"/consents/{signed_id}/withdraw", {"reason": "moving"}),
            ],
        )
    assert stored(world) == before
