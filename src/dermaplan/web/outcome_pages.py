"""The outcome pages: a patient's scores over time as charts (with their tables), a score
recorded, adverse events recorded, followed up and closed; and the recall of a product lot
with the patients to call. Each request calls one use case acting as the member signed in:
scores and events are a practitioner's, a recall a practitioner's or an admin's.

A change is a posted form (its CSRF token checked) answered by a redirect to its page; a
form refused comes back filled in as it was sent, each problem at its field.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from dermaplan.app import adverse, outcomes, sessions
from dermaplan.records.enums import (
    AdverseEventType,
    Causality,
    EventOutcome,
    OutcomeScale,
    Severity,
)
from dermaplan.records.errors import InvalidInput
from dermaplan.records.schemas import AdverseEventData, OutcomeData
from dermaplan.web.charts import chart
from dermaplan.web.security import Browser, Changing, PageSession, run, runs
from dermaplan.web.views import render

router = APIRouter(include_in_schema=False)

Line = Annotated[str, Form(max_length=2000)]
Prose = Annotated[str, Form(max_length=20_000)]
Many = Annotated[list[str], Form(max_length=200)]
Choice = Annotated[str, Form(max_length=50)]  # an enumeration's value, checked by the parse


def _given(value: str) -> str | None:
    """An optional field left empty is not given."""
    return value.strip() or None


def _back(patient_id: uuid.UUID) -> Response:
    return RedirectResponse(f"/patients/{patient_id}/outcomes", status_code=303)


# what the forms of an adverse event offer
CHOICES: dict[str, Any] = {
    "types": AdverseEventType,
    "severities": Severity,
    "causalities": Causality,
    "event_outcomes": EventOutcome,
}


@dataclass(frozen=True, slots=True)
class EventForm:
    """An adverse event's form as it was sent: parsed when recorded, shown again when
    refused."""

    type: str
    severity: str
    onset: str
    causality: str
    outcome: str
    description: str
    treatment: str
    lots: list[dict[str, str]]
    closed: bool

    def data(self, patient_id: uuid.UUID) -> AdverseEventData:
        """The event, checked as an adverse event file is; a field left empty is not given."""
        fields = {
            name: value
            for name, value in asdict(self).items()
            if not isinstance(value, str) or value.strip()
        }
        return AdverseEventData.parse({"patient": str(patient_id), **fields})


def event_form(
    type: Choice,
    severity: Choice,
    onset: Annotated[str, Form(max_length=20)],
    causality: Choice,
    outcome: Choice,
    description: Prose,
    treatment: Line = "",
    product: Many | None = None,
    lot: Many | None = None,
    closed: Annotated[bool, Form()] = False,
) -> EventForm:
    """A product and lot pair left empty is no lot."""
    involved = [
        {"product": name, "lot": number}
        for name, number in zip(product or [], lot or [], strict=False)
        if name.strip() or number.strip()
    ]
    return EventForm(
        type, severity, onset, causality, outcome, description, treatment, involved, closed
    )


SentEvent = Annotated[EventForm, Depends(event_form)]


def _again(
    request: Request,
    session: PageSession,
    patient_id: uuid.UUID,
    refused: InvalidInput,
    heading: str,
    **form: Any,
) -> HTMLResponse:
    """A refused form again, filled in as it was sent, each problem at its field; nothing
    was stored."""
    return render(
        request,
        "outcome_again.html",
        session,
        status=422,
        title="Outcomes",
        heading=heading,
        patient_id=patient_id,
        problems=refused.details,
        action=request.url.path,
        **form,
    )


def _event_again(
    request: Request,
    session: PageSession,
    patient_id: uuid.UUID,
    refused: InvalidInput,
    heading: str,
    event: EventForm,
    reason: str | None,
) -> HTMLResponse:
    """An adverse event's form again; `reason` is a follow-up's (None for a new event)."""
    return _again(
        request, session, patient_id, refused, heading, event=event, reason=reason, **CHOICES
    )


@router.get("/patients/{patient_id}/outcomes")
@runs(outcomes.follow_up)
def outcomes_page(request: Request, session: Browser, patient_id: uuid.UUID) -> HTMLResponse:
    followed = run(request, session, outcomes.follow_up, patient_id)
    return render(
        request,
        "outcomes.html",
        session,
        title="Outcomes",
        patient_id=patient_id,
        followed=followed,
        charts=[(series, chart(series)) for series in followed.series],
        scales=OutcomeScale,
        **CHOICES,
    )


@router.post("/patients/{patient_id}/outcomes")
@runs(outcomes.record)
def record_outcome(
    request: Request,
    session: Changing,
    patient_id: uuid.UUID,
    scale: Choice,
    score: Annotated[str, Form(max_length=20)],
    date: Annotated[str, Form(max_length=20)],
    patient_reported: Annotated[bool, Form()] = False,
    notes: Prose = "",
) -> Response:
    given = {"scale": scale, "score": score, "date": date, "patient_reported": patient_reported}
    try:
        data = OutcomeData.parse({"patient": str(patient_id), **given, "notes": _given(notes)})
        run(request, session.member, outcomes.record, data)
    except InvalidInput as refused:
        again = given | {"notes": notes}
        return _again(
            request,
            session,
            patient_id,
            refused,
            "Record the score",
            given=again,
            scales=OutcomeScale,
        )
    return _back(patient_id)


@router.post("/patients/{patient_id}/adverse-events")
@runs(adverse.record)
def record_event(
    request: Request, session: Changing, patient_id: uuid.UUID, event: SentEvent
) -> Response:
    try:
        run(request, session.member, adverse.record, event.data(patient_id))
    except InvalidInput as refused:
        return _event_again(request, session, patient_id, refused, "Record the event", event, None)
    return _back(patient_id)


@router.post("/patients/{patient_id}/adverse-events/{event_id}/follow-up")
@runs(adverse.follow_up)
def follow_up_event(
    request: Request,
    session: Changing,
    patient_id: uuid.UUID,
    event_id: uuid.UUID,
    event: SentEvent,
    reason: Line,
) -> Response:
    """A new version of the event with the reason for it; the one it follows is kept."""
    try:
        run(request, session.member, adverse.follow_up, event_id, event.data(patient_id), reason)
    except InvalidInput as refused:
        return _event_again(
            request, session, patient_id, refused, "Record the follow-up", event, reason
        )
    return _back(patient_id)


@router.post("/adverse-events/{event_id}/close")
@runs(adverse.close)
def close_event(request: Request, session: Changing, event_id: uuid.UUID) -> Response:
    closed = run(request, session.member, adverse.close, event_id)
    return _back(closed.patient_id)


@router.get("/recall")
@runs(sessions.recall)
def recall_page(
    request: Request, session: Browser, lot: Annotated[str, Query(max_length=100)] = ""
) -> HTMLResponse:
    """A lot's recall: every session that used it, with the patient's contact to call them,
    and the adverse events it was involved in (the search is audited)."""
    try:
        found: sessions.LotRecall | None = run(request, session, sessions.recall, lot)
    except InvalidInput:
        if lot.strip():
            raise
        found = None  # no lot asked yet: the form alone, to a member the use case lets through
    return render(request, "recall.html", session, title="Lot recall", lot=lot, found=found)
