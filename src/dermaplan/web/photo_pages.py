"""The photo pages: a patient's photos by view, a new one taken with the tablet's camera
(over a ghost of the last photo of the same view, so the framing matches) or uploaded, and
two photos of one view compared side by side and with a slider. Each request calls one use
case acting as the member signed in; the use cases are a practitioner's.

A photo's file is served by `/photos/{id}/file` alone, audited and never cached, and only
while the patient's photo consent allows its use in the clinical record.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from dermaplan.app import photos
from dermaplan.bounds import PHOTO_BYTES
from dermaplan.problems import Problem
from dermaplan.records.enums import PhotoStage
from dermaplan.records.errors import InvalidInput
from dermaplan.web.security import Browser, Changing, PageSession, run, runs
from dermaplan.web.views import render

router = APIRouter(include_in_schema=False)

# the angles a clinic usually takes its photos from, offered as the field's suggestions
ANGLES = ("frontal", "left_oblique", "right_oblique", "left_profile", "right_profile")
Line = Annotated[str, Form(max_length=200)]


def upload(photo: UploadFile) -> bytes:
    """The uploaded file, read no further than one byte past the largest photo accepted:
    enough for the use case to refuse it as too large."""
    return photo.file.read(PHOTO_BYTES + 1)


def photo_file(shown: photos.PhotoFile) -> Response:
    """A photo's file as the answer (the headers of every answer forbid caching it)."""
    return Response(shown.content, media_type=shown.photo.media_type)


@router.get("/patients/{patient_id}/photos")
@runs(photos.of_patient)
def photos_page(request: Request, session: Browser, patient_id: uuid.UUID) -> HTMLResponse:
    listed = run(request, session, photos.of_patient, patient_id)
    return render(
        request, "photos.html", session, title="Photos", patient_id=patient_id, listed=listed
    )


@router.get("/patients/{patient_id}/photos/new")
@runs(photos.of_patient)
def new_photo_page(request: Request, session: Browser, patient_id: uuid.UUID) -> HTMLResponse:
    """The camera and the upload field; the earlier photos the patient's consent lets the
    page show are the ghosts it may lay over the camera's picture."""
    listed = run(request, session, photos.of_patient, patient_id)
    return _photo_form(request, session, patient_id, listed)


def _photo_form(
    request: Request,
    session: PageSession,
    patient_id: uuid.UUID,
    listed: list[photos.ListedPhoto],
    given: dict[str, str] | None = None,
    problems: list[Problem] | None = None,
) -> HTMLResponse:
    return render(
        request,
        "photo_new.html",
        session,
        status=422 if problems else 200,
        title="New photo",
        patient_id=patient_id,
        listed=listed,
        stages=PhotoStage,
        angles=ANGLES,
        shown_scope=photos.SHOWN_ON_SCREEN,
        given=given or {"area": "", "angle": "", "stage": PhotoStage.BEFORE},
        problems=problems or [],
    )


@router.post("/patients/{patient_id}/photos")
@runs(photos.add)
def add_photo(
    request: Request,
    session: Changing,
    patient_id: uuid.UUID,
    photo: Annotated[UploadFile, File()],
    area: Line,
    angle: Line,
    stage: Annotated[PhotoStage, Form()],
) -> Response:
    """A photo from the camera or a file, its metadata stripped before it is stored; a
    refused one brings the form back, filled in as it was, with the reason at its field
    (without the ghosts: nothing more is read)."""
    try:
        run(request, session.member, photos.add, patient_id, upload(photo), area, angle, stage)
    except InvalidInput as refused:
        given = {"area": area, "angle": angle, "stage": stage}
        return _photo_form(request, session, patient_id, [], given, refused.details)
    return RedirectResponse(f"/patients/{patient_id}/photos", status_code=303)


@router.get("/patients/{patient_id}/photos/compare")
@runs(photos.compare)
def compare_page(
    request: Request,
    session: Browser,
    patient_id: uuid.UUID,
    first: Annotated[uuid.UUID, Query()],
    second: Annotated[uuid.UUID, Query()],
) -> HTMLResponse:
    compared = run(request, session, photos.compare, patient_id, first, second)
    return render(
        request,
        "photo_compare.html",
        session,
        title="Compare photos",
        patient_id=patient_id,
        compared=compared,
    )


@router.get("/photos/{photo_id}/file")
@runs(photos.view)
def photo_file_page(request: Request, session: Browser, photo_id: uuid.UUID) -> Response:
    """A photo for the pages' images: audited, as the consent allows, never cached."""
    return photo_file(run(request, session, photos.view, photo_id))
