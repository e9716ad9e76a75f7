"""The photo API under /api/v1: a patient's photos, a new one (multipart, as the pages
send it), two compared, and a photo's file; what the photo pages do (web.photo_pages)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import Response

from dermaplan.app import photos
from dermaplan.records.enums import PhotoStage
from dermaplan.web.api import PREFIX
from dermaplan.web.errors import RESPONSES
from dermaplan.web.photo_pages import photo_file, upload
from dermaplan.web.security import ApiToken, run, runs

router = APIRouter(prefix=PREFIX, responses=RESPONSES, tags=["photos"])

Line = Annotated[str, Form(min_length=1, max_length=200)]
IMAGE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the photo as stored (metadata stripped)",
        "content": {"image/jpeg": {}, "image/png": {}},
    }
}


@router.get("/patients/{patient_id}/photos")
@runs(photos.of_patient)
def patient_photos(
    request: Request, member: ApiToken, patient_id: uuid.UUID
) -> list[photos.ListedPhoto]:
    """A patient's photos, oldest first, with the consent scopes in force now (audited)."""
    return run(request, member, photos.of_patient, patient_id)


@router.post("/patients/{patient_id}/photos", status_code=201)
@runs(photos.add)
def add_photo(
    request: Request,
    member: ApiToken,
    patient_id: uuid.UUID,
    photo: Annotated[UploadFile, File(description="a JPEG or PNG image, 50 MB at most")],
    area: Line,
    angle: Line,
    stage: Annotated[PhotoStage, Form()],
) -> photos.PhotoEntry:
    """Store a photo, its EXIF, GPS and other metadata stripped (audited)."""
    return run(request, member, photos.add, patient_id, upload(photo), area, angle, stage)


@router.get("/patients/{patient_id}/photos/compare")
@runs(photos.compare)
def compare_photos(
    request: Request,
    member: ApiToken,
    patient_id: uuid.UUID,
    first: Annotated[uuid.UUID, Query()],
    second: Annotated[uuid.UUID, Query()],
) -> photos.PhotoComparison:
    """Two photos of the same view in date order, as their consent allows (audited)."""
    return run(request, member, photos.compare, patient_id, first, second)


@router.get("/photos/{photo_id}/file", response_class=Response, responses=IMAGE)
@runs(photos.view)
def photo_file_api(request: Request, member: ApiToken, photo_id: uuid.UUID) -> Response:
    """A photo's file, while the patient's consent allows its use in the clinical record
    (audited; never cached)."""
    return photo_file(run(request, member, photos.view, photo_id))
