"""Session charting: a session pre-filled from the approved plan (areas, needling depths and
device, the blend's products), products with their lot and expiry, the needled areas and
the injection points placed on the face map (stored as the view and x, y from 0 to 1 of its
drawing, drawn again on the session's page), the completeness check of the records before
signing, and signing as the member signed in. A practitioner's work: the use cases of
`app.sessions` refuse anyone else (403).

Input the records refuse (an expired lot, a point off the drawing) comes back as the form
again, each problem by its field.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, NamedTuple

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from dermaplan.app import sessions
from dermaplan.app.reads import Refused
from dermaplan.knowledge.schema import Modality
from dermaplan.records.errors import InvalidInput, RecordsError, SafetyRefused
from dermaplan.records.schemas import SessionData
from dermaplan.web.forms import render_form
from dermaplan.web.knowledge import Knowledge, areas_map
from dermaplan.web.security import Browser, Changing, PageSession, run, runs

router = APIRouter(include_in_schema=False)

PRODUCT_ROWS = 40  # product rows a form may send (those left blank are not products)
DEVIATION_ROWS = 20  # deviations from the plan a form may send
BLANK_ROWS = 2  # empty rows the form offers beyond those it has


async def posted(request: Request) -> dict[str, list[str]]:
    """Every field of the posted form, each with all its values (the CSRF check read it
    already; Starlette bounds its fields and their size)."""
    form = await request.form()
    return {key: [v for v in form.getlist(key) if isinstance(v, str)] for key in form}


Posted = Annotated[dict[str, list[str]], Depends(posted)]


def _one(form: dict[str, list[str]], key: str) -> str:
    return (form.get(key) or [""])[0].strip()


def _point(value: str) -> dict[str, str]:
    """A point the map placed, sent as "area:view:x:y"; its values are checked as a
    session file's are (x and y from 0 to 1)."""
    area, view, x, y = ([*value.split(":"), "", "", "", ""])[:4]
    return {"area": area, "view": view, "x": x, "y": y}


def _product(form: dict[str, list[str]], row: int) -> dict[str, Any]:
    volume, area = _one(form, f"volume-{row}"), _one(form, f"volume_area-{row}")
    return {
        "product": _one(form, f"product-{row}"),
        "lot": _one(form, f"lot-{row}") or None,
        "expiry": _one(form, f"expiry-{row}") or None,
        "volumes_ml": {area: volume} if volume else {},
    }


def _products(form: dict[str, list[str]]) -> list[dict[str, Any]]:
    """The products given: a row per product and area, so consecutive rows of the same
    product, lot and expiry on other areas are one product given in several areas."""
    uses: list[dict[str, Any]] = []
    for row in range(PRODUCT_ROWS):
        if not _one(form, f"product-{row}"):
            continue
        use = _product(form, row)
        last = uses[-1] if uses else None
        if (
            last is not None
            and use["volumes_ml"]
            and last["volumes_ml"]
            and all(last[key] == use[key] for key in ("product", "lot", "expiry"))
            and last["volumes_ml"].keys().isdisjoint(use["volumes_ml"])
        ):
            last["volumes_ml"] |= use["volumes_ml"]
        else:
            uses.append(use)
    return uses


def _product_rows(products: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The form's rows for the products given (one per area they were given in), then
    blank ones."""
    rows = [
        {**use, "volume": volume, "area": area}
        for use in products
        for area, volume in (sorted(use["volumes_ml"].items()) or [("", "")])
    ]
    blank = {"product": "", "lot": None, "expiry": None, "volume": "", "area": ""}
    return rows + [blank] * BLANK_ROWS


def _deviations(form: dict[str, list[str]]) -> list[dict[str, str]]:
    rows = (
        (_one(form, f"deviation-{row}"), _one(form, f"deviation_reason-{row}"))
        for row in range(DEVIATION_ROWS)
    )
    return [{"change": change, "reason": reason} for change, reason in rows if change or reason]


def session_fields(form: dict[str, list[str]], session: PageSession) -> dict[str, Any]:
    """A session as the form gives it, in the shape of a session file (acting as who treats)."""
    areas = [area.strip() for area in form.get("areas", []) if area.strip()]
    return {
        "patient": _one(form, "patient"),
        "practitioner": str(session.member.staff_id),
        "consult": _one(form, "consult") or None,
        "performed_at": _one(form, "performed_at"),
        "modality": _one(form, "modality"),
        "areas": areas,
        "device": _one(form, "device") or None,
        "needle_cartridge": _one(form, "needle_cartridge") or None,
        "depths_mm": {a: _one(form, f"depth-{a}") for a in areas if _one(form, f"depth-{a}")},
        "passes": {a: _one(form, f"passes-{a}") for a in areas if _one(form, f"passes-{a}")},
        "products": _products(form),
        "injection_points": [_point(value) for value in form.get("points", []) if value],
        "anaesthesia": _one(form, "anaesthesia") or None,
        "deviations": _deviations(form),
        "notes": _one(form, "notes") or None,
    }


def _drawable(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The points a form shown again keeps: those on the drawing (x and y from 0 to 1)."""
    kept = []
    for point in points:
        try:
            x, y = float(point["x"]), float(point["y"])
        except (TypeError, ValueError):
            continue
        if 0 <= x <= 1 and 0 <= y <= 1:
            kept.append(point | {"x": x, "y": y})
    return kept


class Reasons(NamedTuple):
    """What a practitioner writes beside the session: why it is recorded although the safety
    check refuses it, and why a signed session is corrected (an amendment)."""

    override: str | None = None
    amendment: str | None = None


NO_REASONS = Reasons()


def _reasons(form: dict[str, list[str]], amending: bool) -> Reasons:
    amendment = _one(form, "amendment_reason") if amending else None
    return Reasons(_one(form, "override") or None, amendment)


def _form_page(
    request: Request,
    session: PageSession,
    values: dict[str, Any],
    action: str,
    refused: RecordsError | None = None,
    plan: sessions.SessionPlan | None = None,
    reasons: Reasons = NO_REASONS,
) -> HTMLResponse:
    """The form; after a safety refusal it also asks whether to record it anyway, and why
    (an amendment always asks why the signed session is corrected)."""
    deviations = list(values.get("deviations") or [])
    deviations += [{"change": "", "reason": ""}] * BLANK_ROWS
    return render_form(
        request,
        "session_form.html",
        session,
        refused,
        title="Session charting",
        values=values | {"injection_points": _drawable(values["injection_points"])},
        products=_product_rows(values["products"])[:PRODUCT_ROWS],
        deviations=deviations[:DEVIATION_ROWS],
        action=action,
        plan=plan,
        modalities=Modality,
        map=areas_map(),
        overridable=isinstance(refused, SafetyRefused) or reasons.override is not None,
        reasons=reasons,
    )


def _recorded(
    request: Request,
    session: PageSession,
    fields: dict[str, Any],
    knowledge: Knowledge,
    reasons: Reasons,
    changing: uuid.UUID | None,
    amending: bool,
) -> Response:
    """Record a draft, revise draft `changing`, or amend signed session `changing`."""
    data = SessionData.parse(fields, knowledge)
    member, override = session.member, reasons.override
    if changing is None:
        done = run(request, member, sessions.record, data, knowledge, override)
    elif amending:
        why = reasons.amendment or ""
        done = run(request, member, sessions.amend, changing, data, knowledge, why, override)
    else:
        done = run(request, member, sessions.revise, changing, data, knowledge, override)
    return RedirectResponse(f"/sessions/{done.id}", status_code=303)


def _change(
    request: Request,
    session: PageSession,
    knowledge: Knowledge,
    form: dict[str, list[str]],
    action: str,
    changing: uuid.UUID | None = None,
    amending: bool = False,
) -> Response:
    """The posted session recorded, or the form again with what was refused."""
    fields = session_fields(form, session)
    reasons = _reasons(form, amending)
    try:
        return _recorded(request, session, fields, knowledge, reasons, changing, amending)
    except (InvalidInput, SafetyRefused) as refused:
        return _form_page(request, session, fields, action, refused, reasons=reasons)


@router.get("/sessions/new")
@runs(sessions.planned)
def new_session(
    request: Request,
    session: Browser,
    knowledge: Knowledge,
    consult: uuid.UUID,
    modality: Modality | None = None,
) -> HTMLResponse:
    """The form, pre-filled from the consult's approved plan."""
    plan = run(request, session, sessions.planned, consult, modality)
    values: dict[str, Any] = {
        "patient": str(plan.patient_id),
        "consult": str(plan.consult_id),
        "performed_at": plan.performed_at.isoformat(timespec="minutes"),
        "modality": plan.modality.value,
        "areas": plan.areas,
        "device": plan.device,
        "needle_cartridge": None,
        "depths_mm": plan.depths_mm,
        "passes": {},
        "products": [
            {"product": product, "lot": None, "expiry": None, "volumes_ml": {}}
            for product in plan.products
        ],
        "injection_points": [],
        "anaesthesia": plan.anaesthesia,
        "notes": None,
    }
    return _form_page(request, session, values, "/sessions", plan=plan)


@router.post("/sessions")
@runs(sessions.record)
def record_session(
    request: Request, session: Changing, knowledge: Knowledge, form: Posted
) -> Response:
    """A draft recorded as the member signed in, checked against safety first."""
    return _change(request, session, knowledge, form, "/sessions")


@router.get("/sessions/{session_id}")
@runs(sessions.chart)
def session_page(
    request: Request, session: Browser, knowledge: Knowledge, session_id: uuid.UUID
) -> HTMLResponse:
    charted = run(request, session, sessions.chart, session_id, knowledge)
    return _session_page(request, session, charted)


def _session_page(
    request: Request,
    session: PageSession,
    charted: sessions.ChartedSession,
    refused: RecordsError | None = None,
) -> HTMLResponse:
    return render_form(
        request,
        "session.html",
        session,
        refused,
        title="Session",
        charted=charted,
        map=areas_map(),
    )


def _held(charted: sessions.ChartedSession) -> dict[str, Any]:
    """A stored session as the form's values: all it holds, to the second."""
    values = charted.model_dump(mode="json")
    values["patient"], values["consult"] = values.pop("patient_id"), values.pop("consult_id")
    when = charted.performed_at
    whole_minute = when.second == 0 and when.microsecond == 0
    values["performed_at"] = when.isoformat(timespec="minutes" if whole_minute else "auto")
    return values


@router.get("/sessions/{session_id}/edit")
@runs(sessions.chart)
def edit_session(
    request: Request, session: Browser, knowledge: Knowledge, session_id: uuid.UUID
) -> HTMLResponse:
    """A draft's form with what it holds (a signed session is corrected by an amendment)."""
    charted = run(request, session, sessions.chart, session_id, knowledge)
    return _form_page(request, session, _held(charted), f"/sessions/{session_id}")


@router.post("/sessions/{session_id}")
@runs(sessions.revise)
def revise_session(
    request: Request, session: Changing, knowledge: Knowledge, session_id: uuid.UUID, form: Posted
) -> Response:
    """A draft's content replaced, checked again; a signed session is refused (409)."""
    return _change(request, session, knowledge, form, f"/sessions/{session_id}", session_id)


@router.get("/sessions/{session_id}/amend")
@runs(sessions.chart)
def amend_form(
    request: Request, session: Browser, knowledge: Knowledge, session_id: uuid.UUID
) -> HTMLResponse:
    """A signed session's form with what it holds, and why it is corrected: saving it makes a
    new draft that replaces the signed one once signed (nothing signed is changed)."""
    charted = run(request, session, sessions.chart, session_id, knowledge)
    action = f"/sessions/{session_id}/amend"
    return _form_page(request, session, _held(charted), action, reasons=Reasons(amendment=""))


@router.post("/sessions/{session_id}/amend")
@runs(sessions.amend)
def amend_session(
    request: Request, session: Changing, knowledge: Knowledge, session_id: uuid.UUID, form: Posted
) -> Response:
    """The amendment recorded as a draft, checked against safety; a draft, an amended session
    or a blank reason is refused (the form again, with why)."""
    action = f"/sessions/{session_id}/amend"
    return _change(request, session, knowledge, form, action, session_id, amending=True)


@router.post("/sessions/{session_id}/sign")
@runs(sessions.sign_or_show)
def sign_session(
    request: Request,
    session: Changing,
    knowledge: Knowledge,
    session_id: uuid.UUID,
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Signed as the member signed in; with what the completeness check finds missing, only
    with a reason (the page again with what is missing, otherwise: one use case)."""
    why = reason.strip() or None
    done = run(request, session.member, sessions.sign_or_show, session_id, knowledge, why)
    if isinstance(done, Refused):
        return _session_page(request, session, done.shown, done.error)
    return RedirectResponse(f"/sessions/{session_id}", status_code=303)
