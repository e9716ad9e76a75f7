"""The practitioner's pages from a new patient to an approved plan: adding a patient, the
new assessment (safety questions, then concerns placed on the face map, the plan as soon as
the engine can make one, kept as a draft and resumed), the plan review of a stored consult
(approve, or correct with a reason) and the knowledge's sources the plan cites. Each
request calls one use case acting as the member signed in (`app.assessments`,
`app.consults`, `app.patients`, `app.references`), which refuses reception (403).

An assessment is one form: its buttons save it, add the concern placed on the map, remove
one, or store it as a consult; with JavaScript, htmx saves it as it changes and shows the
plan again.
"""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from dermaplan.app import assessments, consults, patients, references
from dermaplan.problems import Problem
from dermaplan.records.errors import InvalidInput
from dermaplan.records.schemas import PatientData
from dermaplan.vocabulary import Sex
from dermaplan.web.knowledge import Knowledge, areas_map
from dermaplan.web.security import Browser, Changing, PageSession, run, runs
from dermaplan.web.views import render

router = APIRouter(include_in_schema=False)

Line = Annotated[str, Form(max_length=320)]
TRI_STATE = {"yes": True, "no": False}
UNKNOWN = ("", "unknown")
GOALS = ("downtime_days", "pain_tolerance", "max_sessions", "event_date", "start_date")
MAX_CONCERNS = 40  # rows read back from one form: more than any assessment has


def _to(path: str) -> Response:
    return RedirectResponse(path, status_code=303)


@router.get("/patients/new")
def new_patient_page(request: Request, session: Browser) -> HTMLResponse:
    return _patient_form(request, session, {}, [])


def _patient_form(
    request: Request,
    session: PageSession,
    typed: dict[str, str],
    problems: list[Problem],
    status: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "patient_new.html",
        session,
        status=status,
        title="Add a patient",
        typed=typed,
        problems=problems,
        sexes=list(Sex),
    )


@router.post("/patients")
@runs(patients.add)
def add_patient(
    request: Request,
    session: Changing,
    family_name: Line,
    given_names: Line = "",
    birth_date: Line = "",
    sex: Line = "",
    email: Line = "",
    phone: Line = "",
) -> Response:
    """A patient added to the register; the form again with the problems, nothing stored,
    for input that does not validate."""
    typed = {
        "family_name": family_name,
        "given_names": given_names,
        "birth_date": birth_date,
        "sex": sex,
        "email": email,
        "phone": phone,
    }
    try:
        data = PatientData.parse({key: value for key, value in typed.items() if value.strip()})
    except InvalidInput as invalid:
        return _patient_form(request, session, typed, invalid.details, status=422)
    added = run(request, session.member, patients.add, data)
    return _to(f"/patients/{added.id}")


@router.get("/patients/{patient_id}/assessments")
@runs(assessments.drafts)
def drafts_page(request: Request, session: Browser, patient_id: uuid.UUID) -> HTMLResponse:
    found = run(request, session, assessments.drafts, patient_id)
    return render(
        request,
        "assessment_drafts.html",
        session,
        title="Assessments",
        patient_id=patient_id,
        drafts=found,
    )


@router.post("/patients/{patient_id}/assessments")
@runs(assessments.start)
def start_assessment(request: Request, session: Changing, patient_id: uuid.UUID) -> Response:
    draft = run(request, session.member, assessments.start, patient_id)
    return _to(f"/assessments/{draft.id}")


@router.get("/assessments/{draft_id}")
@runs(assessments.resume)
def assessment_page(
    request: Request, session: Browser, draft_id: uuid.UUID, knowledge: Knowledge
) -> HTMLResponse:
    page = run(request, session, assessments.resume, draft_id, knowledge)
    return _assessment(request, session, page)


def _assessment(
    request: Request,
    session: PageSession,
    page: assessments.DraftPage,
    status: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "assessment.html",
        session,
        status=status,
        title="Assessment",
        page=page,
        problems=[problem.problem() for problem in page.problems],
        map=areas_map(),
    )


@router.post("/assessments/{draft_id}")
@runs(assessments.save)
async def save_assessment(
    request: Request, session: Changing, draft_id: uuid.UUID, knowledge: Knowledge
) -> Response:
    """Keep the form as the draft (adding or removing a concern as its button says); for
    htmx the plan alone comes back, for a browser without it the page again."""
    form = await request.form()
    data = assessment_data(form)
    page = run(request, session.member, assessments.save, draft_id, data, knowledge)
    if request.headers.get("HX-Request"):
        return render(request, "assessment_plan.html", session, page=page)
    if page.problems:
        return _assessment(request, session, page, status=422)
    return _to(f"/assessments/{draft_id}")


@router.post("/assessments/{draft_id}/consult")
@runs(assessments.store_or_keep)
async def store_assessment(
    request: Request, session: Changing, draft_id: uuid.UUID, knowledge: Knowledge
) -> Response:
    """Store the assessment as a consult and open its plan for review. Refused, the draft
    is kept as sent and the page shows why (one use case, one unit of work)."""
    form = await request.form()
    data = assessment_data(form)
    why = _one(form, "reason") or None
    done = run(request, session.member, assessments.store_or_keep, draft_id, knowledge, data, why)
    if isinstance(done, assessments.DraftPage):
        return _assessment(request, session, done, status=422)
    return _to(f"/consults/{done.consult_id}")


@router.get("/consults/{consult_id}")
@runs(consults.review)
def review_page(request: Request, session: Browser, consult_id: uuid.UUID) -> HTMLResponse:
    review = run(request, session, consults.review, consult_id)
    return render(request, "plan_review.html", session, title="Plan review", review=review)


@router.post("/consults/{consult_id}/approve")
@runs(consults.approve)
def approve(request: Request, session: Changing, consult_id: uuid.UUID) -> Response:
    run(request, session.member, consults.approve, consult_id)
    return _to(f"/consults/{consult_id}")


@router.post("/consults/{consult_id}/discard")
@runs(consults.discard)
async def discard(request: Request, session: Changing, consult_id: uuid.UUID) -> Response:
    """Set the draft aside with the reason typed; it stays on the chart as discarded."""
    form = await request.form()
    run(request, session.member, consults.discard, consult_id, _one(form, "reason"))
    return _to(f"/consults/{consult_id}")


@router.post("/consults/{consult_id}/correct")
@runs(assessments.start_correction)
def correct(request: Request, session: Changing, consult_id: uuid.UUID) -> Response:
    """A draft that corrects the consult, filled in with its assessment; stored with the
    reason for the correction."""
    draft = run(request, session.member, assessments.start_correction, consult_id)
    return _to(f"/assessments/{draft.id}")


@router.get("/knowledge/sources/{source_id}")
@runs(references.source)
def source_page(
    request: Request, session: Browser, source_id: str, knowledge: Knowledge
) -> HTMLResponse:
    entry = run(request, session, references.source, source_id[:100], knowledge)
    return render(request, "knowledge_source.html", session, title="Source", entry=entry)


def _one(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _many(form: FormData, name: str) -> list[str]:
    return [v for v in form.getlist(name) if isinstance(v, str) and v.strip()]


def _answer(value: str) -> Any:
    """A yes / no / not answered choice; anything else is kept as sent, to be refused at
    its field."""
    return TRI_STATE.get(value, value)


def assessment_data(form: FormData) -> dict[str, Any]:
    """The assessment a form sends, as the draft keeps it: a question not answered is left
    out (unknown, never no), and what cannot be read is kept as typed, for the use case to
    refuse at its field."""
    data: dict[str, Any] = {"consult_date": _one(form, "consult_date")}
    patient: dict[str, Any] = {}
    conditions: dict[str, Any] = {}
    medications: dict[str, Any] = {}
    for key in form:
        value = _one(form, key)
        head, _, name = key.partition(".")
        if value in UNKNOWN or not name:
            continue
        if head == "patient":
            patient[name] = _answer(value)
        elif head == "conditions":
            conditions[name] = _answer(value)
        elif head == "medications" and "." not in name:
            use: dict[str, Any] = {"status": value}
            last = _one(form, f"medications.{name}.last_taken")
            if value == "stopped" and last:
                use["last_taken"] = last
            medications[name] = use
    data |= {"patient": patient, "conditions": conditions, "medications": medications}
    allergies = _one(form, "allergies")
    if allergies == "none":
        data["allergies"] = []
    elif allergies == "listed":
        data["allergies"] = _many(form, "allergen")
    procedures = _one(form, "procedures")
    if procedures == "none":
        data["procedures"] = []
    elif procedures == "listed":
        data["procedures"] = _procedures(form)
    goals = {name: _one(form, f"goals.{name}") for name in GOALS}
    data["goals"] = {name: value for name, value in goals.items() if value}
    notes = _one(form, "notes")
    if notes:
        data["notes"] = notes
    data["concerns"] = _concerns(form)
    return data


def _procedures(form: FormData) -> Any:
    """The procedures recorded so far (kept in the form as JSON), and the one typed in; a
    list that cannot be read is kept as sent, to be refused at its field."""
    listed = _one(form, "procedures_listed")
    try:
        done = json.loads(listed) if listed else []
    except (ValueError, RecursionError):  # not JSON, or nested past the parser's depth
        return listed
    if not isinstance(done, list):
        return listed
    added = _one(form, "procedure.type")
    if added:
        kept = {"type": added, "date": _one(form, "procedure.date")}
        done.append(kept | {"areas": _many(form, "procedure.areas")})
    return done


def _concerns(form: FormData) -> list[dict[str, Any]]:
    """The concerns placed so far, less one removed, plus the one placed on the map when
    its button was pressed."""
    action = _one(form, "action")
    rows = [
        _concern(form, f"concerns-{index}-")
        for index in range(MAX_CONCERNS)
        if _one(form, f"concerns-{index}-concern") and action != f"remove-{index}"
    ]
    if action == "add":
        rows.append(_concern(form, "new-"))
    return rows


def _concern(form: FormData, prefix: str) -> dict[str, Any]:
    row: dict[str, Any] = {
        "concern": _one(form, f"{prefix}concern"),
        "areas": _many(form, f"{prefix}areas"),
        "severity": _one(form, f"{prefix}severity"),
        "scar_types": _many(form, f"{prefix}scar_types"),
    }
    notes = _one(form, f"{prefix}notes")
    return row | ({"notes": notes} if notes else {})
