"""The photo pages and API: a practitioner's alone (reception and admins refused every page
and endpoint); a photo uploaded with its metadata stripped, bad files refused with a clear
message and nothing stored; a photo shown only while the patient's consent allows its use in
the clinical record, through an audited endpoint that forbids caching; two photos of one
view compared; clinic A never reaching clinic B's photos; a forged CSRF token refused and a
script typed into a field shown as text."""

from __future__ import annotations

import datetime as dt
import io
import uuid

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response
from PIL import Image
from sqlalchemy import func, select

from dermaplan.bounds import PHOTO_BYTES
from dermaplan.records import consents
from dermaplan.records.db import transaction
from dermaplan.records.enums import PhotoScope, StaffRole
from dermaplan.records.models import AuditEvent, Photo
from tests.records.factories import add_consent, add_photos, context, image_bytes, png_claiming
from tests.records.test_photos import jpeg_with_gps
from tests.web.conftest import World, api_token, client_of, sign_in

A, P, R = StaffRole.ADMIN, StaffRole.PRACTITIONER, StaffRole.RECEPTION
SCRIPT = "<script>alert(1)</script>"
EARLIER = dt.datetime(2026, 10, 1, 9, 0, tzinfo=dt.UTC)
PATIENT, PHOTO = "{patient_id}", "{photo_id}"
# every photo endpoint: method, path, what it sends, the roles it lets through
PHOTO_ENDPOINTS: list[tuple[str, str, bool, set[StaffRole]]] = [
    ("GET", f"/api/v1/patients/{PATIENT}/photos", False, {P}),
    ("POST", f"/api/v1/patients/{PATIENT}/photos", True, {P}),
    (
        "GET",
        f"/api/v1/patients/{PATIENT}/photos/compare?first={PHOTO}&second={{later_id}}",
        False,
        {P},
    ),
    ("GET", f"/api/v1/photos/{PHOTO}/file", False, {P}),
]


def send_photo(
    client: TestClient,
    path: str,
    content: bytes = b"",
    name: str = "photo.jpg",
    headers: dict[str, str] | None = None,
    method: str = "POST",
    **fields: str,
) -> Response:
    """A photo form sent as a browser or a program sends it: the file and its view's fields
    (and the CSRF token, for a page, among `fields`)."""
    data = {"area": "cheeks", "angle": "frontal", "stage": "before"} | fields
    files = {"photo": (name, content or image_bytes(), "image/jpeg")}
    return client.request(method, path, data=data, files=files, headers=headers)


def allow(
    world: World, patient: uuid.UUID, clinic: uuid.UUID | None = None, **scopes: bool
) -> uuid.UUID:
    """A signed photo consent with these scopes (clinical record alone by default)."""
    granted = {"clinical_record": True, "teaching": False, "marketing": False} | scopes
    return add_consent(world.engine, clinic or world.ours.id, patient, "photo", scopes=granted)


def photos_of(world: World, patient: uuid.UUID, *dates: dt.datetime) -> list[uuid.UUID]:
    """Frontal photos of the cheeks, one taken at each date."""
    storage = world.application.photos
    found = []
    for when in dates:
        found += add_photos(world.engine, world.ours.id, storage, patient, "cheeks", taken_at=when)
    return found


def stored(world: World) -> tuple[int, int]:
    """The photo rows and the files in the photo storage."""
    root = world.application.settings.photos
    files = [path for path in root.rglob("*") if path.is_file()] if root.exists() else []
    with transaction(world.engine, write=False) as session:
        rows = session.scalar(select(func.count()).select_from(Photo)) or 0
    return rows, len(files)


def audited(world: World, action: str) -> list[tuple[uuid.UUID | None, str]]:
    with transaction(world.engine, write=False) as session:
        return [
            (event.staff_id, event.record_id)
            for event in session.scalars(select(AuditEvent).where(AuditEvent.action == action))
        ]


def page_paths(world: World, first: uuid.UUID, second: uuid.UUID) -> list[str]:
    patient = world.ours.patient
    return [
        f"/patients/{patient}/photos",
        f"/patients/{patient}/photos/new",
        f"/patients/{patient}/photos/compare?first={first}&second={second}",
        f"/photos/{first}/file",
    ]


@pytest.mark.parametrize("role", [R, A])
def test_reception_and_admins_are_refused_every_photo_page_and_endpoint(
    world: World, role: StaffRole
) -> None:
    allow(world, world.ours.patient)
    first, second = photos_of(world, world.ours.patient, EARLIER, EARLIER + dt.timedelta(days=20))
    before = stored(world)
    with client_of(world) as client:
        token = sign_in(client, world, role)
        for path in page_paths(world, first, second):
            answer = client.get(path)
            assert answer.status_code == 403, path
            assert f"({role.value}) may not" in answer.text
        answer = send_photo(client, f"/patients/{world.ours.patient}/photos", csrf_token=token)
        assert answer.status_code == 403
    assert stored(world) == before


@pytest.mark.parametrize(("method", "path", "sends", "roles"), PHOTO_ENDPOINTS)
def test_each_role_is_let_through_or_refused_by_the_api(
    world: World, method: str, path: str, sends: bool, roles: set[StaffRole]
) -> None:
    allow(world, world.ours.patient)
    first, second = photos_of(world, world.ours.patient, EARLIER, EARLIER + dt.timedelta(days=20))
    url = path.format(patient_id=world.ours.patient, photo_id=first, later_id=second)
    with client_of(world) as client:
        for role in StaffRole:
            headers = api_token(world, role)
            answer = (
                send_photo(client, url, headers=headers, method=method)
                if sends
                else client.request(method, url, headers=headers)
            )
            if role in roles:
                assert answer.status_code in (200, 201), (role, answer.text)
            else:
                assert answer.status_code == 403, (role, answer.text)
                assert f"({role.value}) may not" in answer.json()["detail"][0]["msg"]
        anonymous = send_photo(client, url) if sends else client.request(method, url)
        assert anonymous.status_code == 401


def test_a_practitioner_uploads_a_photo_stripped_of_its_metadata_and_sees_it(
    world: World,
) -> None:
    allow(world, world.ours.patient)
    with client_of(world) as client:
        token = sign_in(client, world, P)
        new = client.get(f"/patients/{world.ours.patient}/photos/new")
        assert new.status_code == 200
        assert 'src="/static/photos.js"' in new.text
        answer = send_photo(
            client, f"/patients/{world.ours.patient}/photos", jpeg_with_gps(), csrf_token=token
        )
        assert answer.status_code == 200, answer.text  # the photos page, after its redirect
        assert answer.url.path == f"/patients/{world.ours.patient}/photos"
        with transaction(world.engine, write=False) as session:
            photo = session.scalars(select(Photo)).one()
        assert (photo.area, photo.angle, photo.stage.value if photo.stage else None) == (
            "cheeks",
            "frontal",
            "before",
        )
        listed = client.get(f"/patients/{world.ours.patient}/photos")
        assert f'src="/photos/{photo.id}/file"' in listed.text
        shown = client.get(f"/photos/{photo.id}/file")
        assert shown.status_code == 200
        assert shown.headers["content-type"] == "image/jpeg"
        assert shown.headers["cache-control"] == "no-store"
        with Image.open(io.BytesIO(shown.content)) as image:
            assert not image.getexif()
            assert "comment" not in image.info
    assert audited(world, "photo.read") == [(world.ours.staff[P], str(photo.id))]
    assert (world.ours.staff[P], str(world.ours.patient)) in audited(world, "photo.list")


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (b"\xff" * (PHOTO_BYTES + 1), "huge.jpg", "photo: larger than 50 MB"),
        (b"<html>not an image</html>", "fake.jpg", "photo: not a readable JPEG or PNG image"),
        (png_claiming(12_000, 12_000), "bomb.png", "more than the 50 megapixels"),
        (image_bytes(image_format="GIF"), "moving.jpg", "photo: GIF images are not accepted"),
    ],
    ids=["oversized", "not-an-image", "decompression-bomb", "gif"],
)
def test_a_bad_upload_is_refused_with_its_reason_and_nothing_is_stored(
    world: World, content: bytes, name: str, message: str
) -> None:
    before = stored(world)
    with client_of(world) as client:
        token = sign_in(client, world, P)
        page = send_photo(
            client, f"/patients/{world.ours.patient}/photos", content, name, csrf_token=token
        )
        assert page.status_code == 422
        assert message in page.text
        assert "<h1>New photo</h1>" in page.text  # the form again, filled in as it was sent
        assert 'value="cheeks"' in page.text
        assert 'id="photo-file-problem"' in page.text
        assert 'aria-invalid="true" aria-describedby="photo-file-problem"' in page.text
        api = send_photo(
            client,
            f"/api/v1/patients/{world.ours.patient}/photos",
            content,
            name,
            headers=api_token(world, P),
        )
        assert api.status_code == 422
        [problem] = api.json()["detail"]
        assert problem["loc"] == ["photo"]
        assert message.removeprefix("photo: ") in problem["msg"]
    assert stored(world) == before


def test_a_forged_csrf_token_or_another_origin_stores_nothing(world: World) -> None:
    before = stored(world)
    with client_of(world) as client:
        token = sign_in(client, world, P)
        forgeries: list[tuple[dict[str, str], dict[str, str]]] = [
            ({}, {}),
            ({"csrf_token": "forged"}, {}),
            ({"csrf_token": token}, {"Origin": "https://evil.test"}),
        ]
        for sent, headers in forgeries:
            path = f"/patients/{world.ours.patient}/photos"
            answer = send_photo(client, path, headers=headers, **sent)
            assert answer.status_code == 403
    assert stored(world) == before


def test_a_photo_is_shown_only_while_the_consent_allows_the_clinical_record(
    world: World,
) -> None:
    patient = world.ours.patient
    first, second = photos_of(world, patient, EARLIER, EARLIER + dt.timedelta(days=20))
    compare = f"/patients/{patient}/photos/compare?first={first}&second={second}"
    with client_of(world) as client:
        sign_in(client, world, P)
        headers = api_token(world, P)
        refused = client.get(f"/photos/{first}/file")
        assert refused.status_code == 403
        assert "does not allow its use in the clinical record" in refused.text
        assert client.get(f"/api/v1/photos/{first}/file", headers=headers).status_code == 403
        assert client.get(compare).status_code == 403
        listed = client.get(f"/patients/{patient}/photos")
        assert f"/photos/{first}/file" not in listed.text
        assert "Not shown: the photo consent does not allow" in listed.text
        assert f'data-photo="{first}"' not in client.get(f"/patients/{patient}/photos/new").text
        teaching_only = allow(world, patient, clinical_record=False, teaching=True)
        assert client.get(f"/photos/{first}/file").status_code == 403
        consent = allow(world, patient)
        assert client.get(f"/photos/{first}/file").status_code == 200
        assert client.get(compare).status_code == 200
        with transaction(world.engine) as session:
            consents.withdraw_consent(
                session,
                context(now=world.clock.now),
                world.ours.id,
                consent,
                "no more",
                PhotoScope.CLINICAL_RECORD,
            )
        assert client.get(f"/photos/{first}/file").status_code == 403
        assert teaching_only  # granted teaching alone: never shown here
    assert audited(world, "photo.read") == [(world.ours.staff[P], str(first))]


def test_two_photos_of_one_view_are_compared_side_by_side_and_by_slider(world: World) -> None:
    patient = world.ours.patient
    allow(world, patient)
    first, second = photos_of(world, patient, EARLIER, EARLIER + dt.timedelta(days=20))
    [other_view] = add_photos(
        world.engine, world.ours.id, world.application.photos, patient, "chin", taken_at=EARLIER
    )
    with client_of(world) as client:
        sign_in(client, world, P)
        listed = client.get(f"/patients/{patient}/photos")
        assert listed.text.count('action="/patients/') == 1  # one view has two photos
        page = client.get(f"/patients/{patient}/photos/compare?first={second}&second={first}")
        assert page.status_code == 200
        earlier_at = page.text.index(f'src="/photos/{first}/file"')
        assert earlier_at < page.text.index(f'src="/photos/{second}/file"')  # earlier first
        assert 'class="later clip-50"' in page.text
        assert 'type="range"' in page.text
        assert "style=" not in page.text
        apart = client.get(f"/patients/{patient}/photos/compare?first={first}&second={other_view}")
        assert apart.status_code == 422
        assert "compare photos of the same view" in apart.text
        same = client.get(f"/patients/{patient}/photos/compare?first={first}&second={first}")
        assert same.status_code == 422
        api = client.get(
            f"/api/v1/patients/{patient}/photos/compare",
            params={"first": str(second), "second": str(first)},
            headers=api_token(world, P),
        )
        assert [api.json()["earlier"]["id"], api.json()["later"]["id"]] == [str(first), str(second)]


def test_clinic_a_never_reaches_clinic_b_photos(any_world: World) -> None:
    world = any_world
    theirs = world.theirs.patient
    allow(world, theirs, world.theirs.id)
    [their_photo] = add_photos(
        world.engine, world.theirs.id, world.application.photos, theirs, "cheeks"
    )
    [our_photo] = photos_of(world, world.ours.patient, EARLIER)
    before = stored(world)
    with client_of(world) as client:
        token = sign_in(client, world, P)
        headers = api_token(world, P)
        for path in (
            f"/patients/{theirs}/photos",
            f"/patients/{theirs}/photos/new",
            f"/photos/{their_photo}/file",
            f"/patients/{world.ours.patient}/photos/compare?first={our_photo}&second={their_photo}",
        ):
            assert client.get(path).status_code == 404, path
            assert client.get(f"/api/v1{path}", headers=headers).status_code == 404, path
        answer = send_photo(client, f"/patients/{theirs}/photos", csrf_token=token)
        assert answer.status_code == 404
    assert stored(world) == before


def test_a_script_in_a_field_is_shown_as_text(world: World) -> None:
    allow(world, world.ours.patient)
    with client_of(world) as client:
        token = sign_in(client, world, P)
        answer = send_photo(
            client, f"/patients/{world.ours.patient}/photos", csrf_token=token, area=SCRIPT
        )
        assert answer.status_code == 200
        for shown in (answer, client.get(f"/patients/{world.ours.patient}/photos/new")):
            assert SCRIPT not in shown.text
            assert "&lt;script&gt;" in shown.text
