"""A patient's whole record in date order, read at once and audited as one read.

Consults, every version of every treatment session, courses with their planned sessions,
consents and their withdrawals, outcome scores, every version of every adverse event, and
photos (their metadata, with the photo-consent scopes in force now). Each kind is one or two
indexed queries, whatever the size of the record.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeAlias
from zoneinfo import ZoneInfo

from sqlalchemy import Row, RowMapping
from sqlalchemy.orm import Session

from dermaplan.records.adverse import AdverseEventLine, adverse_event_lines, adverse_event_state
from dermaplan.records.audit import AuditAction, record_event
from dermaplan.records.clinics import clinic_day
from dermaplan.records.consents import ConsentLine, WithdrawalLine, consent_lines, consent_state
from dermaplan.records.context import Context
from dermaplan.records.courses import CourseLine, PlannedLine, course_lines, course_state
from dermaplan.records.enums import ConsentKind, ConsentStatus, PhotoScope, PhotoStage
from dermaplan.records.errors import required
from dermaplan.records.models import Consult, Patient
from dermaplan.records.outcomes import OutcomeLine, outcome_state, patient_outcome_lines
from dermaplan.records.photos import scopes_allowed
from dermaplan.records.repository import (
    AdverseEventRepository,
    ClinicRepository,
    ConsentRepository,
    CourseRepository,
    PatientRepository,
    PhotoRepository,
    SessionRepository,
    nested,
)
from dermaplan.records.service import consult_state, patient_state
from dermaplan.records.sessions import session_state_of

DOCUMENT_FORMAT = "dermaplan.timeline/1"


class ProductLine(NamedTuple):
    """A product a session used, with its lot (None: no lot recorded)."""

    product: str
    lot_id: uuid.UUID | None
    volumes_ml: dict[str, float]
    lot_number: str | None
    lot_expiry: dt.date | None


@dataclass(frozen=True, slots=True)
class SessionLine:
    """A version of a treatment session as the timeline reads it: its row's columns (named
    as records.models.TreatmentSession's) and its products, no ORM objects."""

    columns: RowMapping
    products: list[ProductLine]


def _session_lines(rows: Sequence[Row[Any]]) -> list[SessionLine]:
    """The sessions of SessionRepository.rows_of_patient, a row per product line."""
    return nested(
        rows,
        lambda row: SessionLine(row._mapping, []),
        lambda row: (
            None
            if row.product_used is None
            else ProductLine(
                row.product_used,
                row.product_lot_id,
                row.product_volumes_ml,
                row.product_lot_number,
                row.product_lot_expiry,
            )
        ),
        lambda line: line.products,
    )


@dataclass(frozen=True, slots=True)
class PhotoEntry:
    """A photo as the timeline shows it (its metadata, no ORM object), with what the
    patient's photo consents allow it to be used for now."""

    id: uuid.UUID
    taken_at: dt.datetime
    stage: PhotoStage | None
    area: str
    angle: str
    session_id: uuid.UUID | None
    scopes: dict[PhotoScope, bool]


Entry: TypeAlias = (
    Consult
    | SessionLine
    | CourseLine
    | ConsentLine
    | WithdrawalLine
    | OutcomeLine
    | AdverseEventLine
    | PhotoEntry
)


@dataclass(frozen=True, slots=True)
class Timeline:
    """A patient's whole record in date order (see the module's docstring), by the days
    of the clinic's time zone (`zone`)."""

    patient: Patient
    entries: list[Entry]
    fulfilled: dict[uuid.UUID, tuple[CourseLine, PlannedLine]]  # session id -> what it did
    zone: ZoneInfo


def _when(entry: Entry, zone: ZoneInfo) -> tuple[dt.date, int, dt.datetime]:
    """A day's entries in the order a clinic works: the consult and the course it starts,
    consents, then the treatment and its photos, then what followed (events, scores). An
    instant's day is the clinic's (a session at 23:30 in Auckland is that day's, not the day
    before's in UTC)."""
    match entry:
        case Consult():
            return entry.consult_date, 0, entry.created_at
        case CourseLine():
            return clinic_day(entry.created_at, zone), 1, entry.created_at
        case ConsentLine():
            signed = entry.signed_at or entry.opened_at
            return clinic_day(signed, zone), 2, signed
        case WithdrawalLine():
            return clinic_day(entry.withdrawn_at, zone), 2, entry.withdrawn_at
        case SessionLine():
            performed: dt.datetime = entry.columns["performed_at"]
            return clinic_day(performed, zone), 3, performed
        case PhotoEntry():
            return clinic_day(entry.taken_at, zone), 3, entry.taken_at
        case AdverseEventLine():
            return entry.onset_date, 4, entry.created_at
        case OutcomeLine():
            return entry.assessed_on, 5, entry.created_at


def patient_timeline(
    session: Session, context: Context, clinic_id: uuid.UUID, patient_id: uuid.UUID
) -> Timeline:
    """Everything recorded for a patient, soft-deleted or not (history stays viewable);
    the read is audited like `read_patient`."""
    patient = required(
        PatientRepository(session, clinic_id).get_with_consults(patient_id),
        f"no patient {patient_id}",
    )
    records = _session_lines(SessionRepository(session, clinic_id).rows_of_patient(patient.id))
    courses = course_lines(CourseRepository(session, clinic_id).rows_of_patient(patient.id))
    consents = consent_lines(ConsentRepository(session, clinic_id).rows_of_patient(patient.id))
    outcomes = patient_outcome_lines(session, clinic_id, patient.id)
    events = adverse_event_lines(
        AdverseEventRepository(session, clinic_id).rows_of_patient(patient.id)
    )
    photos = PhotoRepository(session, clinic_id).lines_of_patient(patient.id)
    scopes = scopes_allowed(
        c for c in consents if c.kind is ConsentKind.PHOTO and c.status is ConsentStatus.SIGNED
    )
    entries: list[Entry] = [
        *patient.consults,
        *records,
        *courses,
        *consents,
        *(withdrawal for consent in consents for withdrawal in consent.withdrawals),
        *outcomes,
        *events,
        *(PhotoEntry(*photo, dict(scopes)) for photo in photos),
    ]
    zone = ClinicRepository(session).zone(clinic_id)
    entries.sort(key=lambda entry: _when(entry, zone))
    fulfilled = {
        planned.session_id: (course, planned)
        for course in courses
        for planned in course.planned_sessions
        if planned.session_id is not None
    }
    record_event(
        session,
        context,
        clinic_id,
        AuditAction.PATIENT_TIMELINE,
        "patient",
        patient.id,
        patient_id=patient.id,
        after={
            "patient": patient_state(patient),
            "consults": [consult_state(consult) for consult in patient.consults],
            "sessions": [
                session_state_of(line.columns, (p[:3] for p in line.products)) for line in records
            ],
            "courses": [course_state(course) for course in courses],
            "consents": [consent_state(c, c.withdrawals) for c in consents],
            "outcomes": [outcome_state(outcome) for outcome in outcomes],
            "adverse_events": [adverse_event_state(event) for event in events],
            "photos": [str(photo.id) for photo in photos],
        },
    )
    return Timeline(patient, entries, fulfilled, zone)


# -- how it is shown ---------------------------------------------------------------------


def _iso(value: dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _at(value: dt.datetime | None, zone: ZoneInfo) -> str | None:
    """An instant on the clinic's clock (the document is shown as it is: times as text)."""
    return value.astimezone(zone).isoformat() if value is not None else None


def _id(value: uuid.UUID | None) -> str | None:
    return str(value) if value is not None else None


def _entry(entry: Entry, timeline: Timeline) -> dict[str, Any]:
    """One entry as JSON: its day, its kind, and what a reader of the record needs."""
    zone = timeline.zone
    day = _when(entry, zone)[0].isoformat()
    match entry:
        case Consult():
            return {
                "date": day,
                "kind": "consult",
                "id": str(entry.id),
                "status": entry.status.value,
                "approved_by": _id(entry.approved_by_id),
                "approved_at": _at(entry.approved_at, zone),
                "supersedes": _id(entry.supersedes_id),
                "knowledge_version": entry.knowledge_version,
                "discarded_at": _at(entry.discarded_at, zone),
                "discard_reason": entry.discard_reason,
            }
        case CourseLine():
            return {
                "date": day,
                "kind": "course",
                "id": str(entry.id),
                "modality": entry.modality.value,
                "status": entry.status.value,
                "consult": str(entry.consult_id),
                "interval_days": entry.interval_days,
                "planned_sessions": [
                    {
                        "number": planned.number,
                        "planned_on": planned.planned_on.isoformat(),
                        "session": _id(planned.session_id),
                    }
                    for planned in entry.planned_sessions
                ],
                "cancelled_at": _at(entry.cancelled_at, zone),
                "cancellation_reason": entry.cancellation_reason,
            }
        case ConsentLine():
            return {
                "date": day,
                "kind": "consent",
                "id": str(entry.id),
                "consent_kind": entry.kind.value,
                "template_version": entry.template_version,
                "status": entry.status.value,
                "signed_at": _at(entry.signed_at, zone),
                "signer": entry.signer_name,
                "photo_scopes": entry.photo_scopes,
                "withdrawn": sorted(w.scope for w in entry.withdrawals),
            }
        case WithdrawalLine():
            return {
                "date": day,
                "kind": "consent_withdrawal",
                "consent": str(entry.consent_id),
                "scope": entry.scope,
                "withdrawn_at": _at(entry.withdrawn_at, zone),
                "reason": entry.reason,
            }
        case SessionLine():
            columns = entry.columns
            fulfils = timeline.fulfilled.get(columns["id"])
            return {
                "date": day,
                "kind": "session",
                "id": str(columns["id"]),
                "status": columns["status"].value,
                "performed_at": _at(columns["performed_at"], zone),
                "modality": columns["modality"].value,
                "areas": list(columns["areas"]),
                "practitioner": str(columns["practitioner_id"]),
                "consult": _id(columns["consult_id"]),
                "amends": _id(columns["amends_id"]),
                "products": [
                    {
                        "product": p.product,
                        "lot": p.lot_number,
                        "expiry": _iso(p.lot_expiry),
                        "volumes_ml": p.volumes_ml,
                    }
                    for p in entry.products
                ],
                "fulfils": (
                    {"course": str(fulfils[0].id), "number": fulfils[1].number} if fulfils else None
                ),
            }
        case PhotoEntry():
            return {
                "date": day,
                "kind": "photo",
                "id": str(entry.id),
                "taken_at": _at(entry.taken_at, zone),
                "stage": entry.stage.value if entry.stage else None,
                "area": entry.area,
                "angle": entry.angle,
                "session": _id(entry.session_id),
                "scopes": {scope.value: allowed for scope, allowed in entry.scopes.items()},
            }
        case AdverseEventLine():
            return {
                "date": day,
                "kind": "adverse_event",
                "id": str(entry.id),
                "status": entry.status.value,
                "type": entry.event_type.value,
                "severity": entry.severity.value,
                "onset": entry.onset_date.isoformat(),
                "causality": entry.causality.value,
                "outcome": entry.outcome.value,
                "description": entry.description,
                "session": _id(entry.session_id),
                "lots": [{"product": lot.product, "lot": lot.lot_number} for lot in entry.lots],
                "follows": _id(entry.follows_id),
                "follow_up_reason": entry.follow_up_reason,
                "closed_at": _at(entry.closed_at, zone),
            }
        case OutcomeLine():
            return {
                "date": day,
                "kind": "outcome",
                "id": str(entry.id),
                "scale": entry.scale.value,
                "score": entry.score,
                "assessor": _id(entry.assessor_id),
                "patient_reported": entry.patient_reported,
                "session": _id(entry.session_id),
                "consult": _id(entry.consult_id),
            }


def timeline_document(timeline: Timeline) -> dict[str, Any]:
    """The timeline as one JSON document, entries in date order."""
    patient = timeline.patient
    return {
        "format": DOCUMENT_FORMAT,
        "patient": {
            "id": str(patient.id),
            "family_name": patient.family_name,
            "given_names": patient.given_names,
            "birth_date": _iso(patient.birth_date),
            "deleted_at": _at(patient.deleted_at, timeline.zone),
        },
        "entries": [_entry(entry, timeline) for entry in timeline.entries],
    }


def _text(entry: dict[str, Any]) -> str:
    """One entry as a line: the day, the kind, then its facts."""
    kind = entry["kind"]
    head = f"{entry['date']}  {kind.replace('_', ' '):<13} "
    match kind:
        case "consult":
            approved = f" by {entry['approved_by']}" if entry["approved_by"] else ""
            return (
                f"{head}{entry['status']}{approved}  {entry['id']} "
                f"(knowledge {entry['knowledge_version']})"
            )
        case "course":
            planned = entry["planned_sessions"]
            done = sum(1 for p in planned if p["session"])
            line = (
                f"{head}{entry['status']}  {entry['id']} {entry['modality']}, "
                f"{done} of {len(planned)} planned sessions done "
                f"({', '.join(p['planned_on'] for p in planned)}), from consult {entry['consult']}"
            )
            if entry["cancellation_reason"]:
                line += f"; cancelled {entry['cancelled_at']}: {entry['cancellation_reason']}"
            return line
        case "consent":
            scopes = entry["photo_scopes"]
            granted = (
                " scopes " + (", ".join(s for s, yes in scopes.items() if yes) or "none")
                if scopes is not None
                else ""
            )
            withdrawn = (
                f"; withdrawn: {', '.join(entry['withdrawn'])}" if entry["withdrawn"] else ""
            )
            return (
                f"{head}{entry['status']}  {entry['id']} {entry['consent_kind']} "
                f"(version {entry['template_version']}) by {entry['signer']}{granted}{withdrawn}"
            )
        case "consent_withdrawal":
            return f"{head}{entry['scope']}  of consent {entry['consent']}: {entry['reason']}"
        case "session":
            products = ", ".join(
                p["product"] + (f" lot {p['lot']}" if p["lot"] else "") for p in entry["products"]
            )
            fulfils = entry["fulfils"]
            return (
                f"{head}{entry['status']}  {entry['id']} {entry['modality']} on "
                f"{', '.join(entry['areas'])}"
                + (f"; {products}" if products else "")
                + (f"; amends {entry['amends']}" if entry["amends"] else "")
                + (
                    f"; planned session {fulfils['number']} of course {fulfils['course']}"
                    if fulfils
                    else ""
                )
            )
        case "photo":
            scopes = ", ".join(s for s, yes in entry["scopes"].items() if yes) or "none"
            return (
                f"{head}{entry['stage'] or 'stage not stated'}: {entry['area']}, "
                f"{entry['angle']}  {entry['id']}"
                + (f" at session {entry['session']}" if entry["session"] else "")
                + f"; may be used for: {scopes}"
            )
        case "adverse_event":
            lots = ", ".join(f"{lot['product']} lot {lot['lot']}" for lot in entry["lots"])
            return (
                f"{head}{entry['status']}  {entry['id']} {entry['type']}, {entry['severity']}, "
                f"causality {entry['causality']}, outcome {entry['outcome']}"
                + (f"; {lots}" if lots else "")
                + f"; {entry['description']}"
                + (
                    f"; follows {entry['follows']}: {entry['follow_up_reason']}"
                    if entry["follows"]
                    else ""
                )
            )
    by = "patient-reported" if entry["patient_reported"] else f"by {entry['assessor']}"
    return f"{head}{entry['scale']} {entry['score']:g} {by}  {entry['id']}"


def timeline_lines(document: dict[str, Any]) -> list[str]:
    """The timeline document's entries as plain text, one line each."""
    return [_text(entry) for entry in document["entries"]]
