"""Adverse events: recorded with the product lots involved, frozen once closed, followed up
by new versions, and reported to a manufacturer or regulator without identifying the patient.

A follow-up is a new version pointing at the one it follows (`follows_id`, unique), with a
reason; the version it follows becomes `superseded` in the same transaction, and both stay
readable. Services never commit (see records.service).
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import Row
from sqlalchemy.orm import Session

from dermaplan.clinical.assessment import age_on
from dermaplan.records.audit import AuditAction, record_event
from dermaplan.records.clinics import clinic_day
from dermaplan.records.context import Context
from dermaplan.records.enums import (
    AdverseEventStatus,
    AdverseEventType,
    Causality,
    EventOutcome,
    Severity,
)
from dermaplan.records.errors import InvalidInput, NotFound, required
from dermaplan.records.lifecycle import RecordKind, written_reason
from dermaplan.records.models import AdverseEvent, Clinic, Patient, ProductLot, Staff, new_id
from dermaplan.records.redaction import Identifying, redact
from dermaplan.records.repository import (
    AdverseEventRepository,
    ClinicRepository,
    PatientRepository,
    SessionRepository,
    StaffRepository,
    nested,
)
from dermaplan.records.schemas import AdverseEventData, ProductUse
from dermaplan.records.sessions import registered_lot

REPORT_FORMAT = "dermaplan.adverse_event_report/1"


class LotLine(NamedTuple):
    """A product lot involved in an adverse event, as the timeline reads it."""

    id: uuid.UUID
    product: str
    lot_number: str


@dataclass(frozen=True, slots=True)
class AdverseEventLine:
    """A version of an adverse event as the timeline reads it: its columns (named as
    AdverseEvent's) and its lots, by product then lot number; no ORM objects."""

    id: uuid.UUID
    patient_id: uuid.UUID
    session_id: uuid.UUID | None
    status: AdverseEventStatus
    event_type: AdverseEventType
    severity: Severity
    onset_date: dt.date
    causality: Causality
    treatment_given: str | None
    outcome: EventOutcome
    description: str
    reporter_id: uuid.UUID
    created_by: str
    closed_at: dt.datetime | None
    closed_by: str | None
    follows_id: uuid.UUID | None
    follow_up_reason: str | None
    created_at: dt.datetime
    lots: list[LotLine]


def adverse_event_lines(rows: Iterable[Row[*tuple[Any, ...]]]) -> list[AdverseEventLine]:
    """The events of AdverseEventRepository.rows_of_patient, a row per lot."""
    return nested(
        rows,
        lambda row: AdverseEventLine(
            row.id,
            row.patient_id,
            row.session_id,
            row.status,
            row.event_type,
            row.severity,
            row.onset_date,
            row.causality,
            row.treatment_given,
            row.outcome,
            row.description,
            row.reporter_id,
            row.created_by,
            row.closed_at,
            row.closed_by,
            row.follows_id,
            row.follow_up_reason,
            row.created_at,
            [],
        ),
        lambda row: (
            None if row.lot_id is None else LotLine(row.lot_id, row.lot_product, row.lot_number)
        ),
        lambda line: line.lots,
    )


def adverse_event_state(record: AdverseEvent | AdverseEventLine) -> dict[str, Any]:
    """Everything an adverse event says, lots included, for the audit digests (of an
    AdverseEvent or an AdverseEventLine)."""
    return {
        "id": record.id,
        "patient_id": record.patient_id,
        "session_id": record.session_id,
        "status": record.status,
        "event_type": record.event_type,
        "severity": record.severity,
        "onset_date": record.onset_date,
        "causality": record.causality,
        "treatment_given": record.treatment_given,
        "outcome": record.outcome,
        "description": record.description,
        "reporter_id": record.reporter_id,
        "created_by": record.created_by,
        "closed_at": record.closed_at,
        "closed_by": record.closed_by,
        "follows_id": record.follows_id,
        "follow_up_reason": record.follow_up_reason,
        "lots": sorted(str(lot.id) for lot in record.lots),
    }


# adverse_event_state also takes an AdverseEventLine; the kind audits AdverseEvents only
_EVENT_STATE: Callable[[AdverseEvent], dict[str, Any]] = adverse_event_state
_EVENTS = RecordKind("adverse_event", "adverse event", _EVENT_STATE, "record a follow-up instead")


def _event(repository: AdverseEventRepository, event_id: uuid.UUID) -> AdverseEvent:
    return required(repository.get(event_id), f"no adverse event {event_id}")


def _reporter(session: Session, clinic_id: uuid.UUID, staff_id: uuid.UUID | None) -> Staff:
    if staff_id is None:
        raise InvalidInput.one("reporter: give the member of staff who reports the event")
    staff = required(
        StaffRepository(session, clinic_id).get(staff_id),
        f"reporter: no member of staff {staff_id}",
    )
    if not staff.active:
        raise InvalidInput.one(f"reporter: {staff.name} is no longer active")
    return staff


def _resolve(
    session: Session, context: Context, clinic_id: uuid.UUID, data: AdverseEventData
) -> tuple[Patient, Staff, list[ProductLot]]:
    """What the event refers to, checked to be this clinic's and this patient's, or raise."""
    patient = required(
        PatientRepository(session, clinic_id).get(data.patient),
        f"patient: no patient {data.patient}",
    )
    problems = []
    if data.session is not None:
        treated = SessionRepository(session, clinic_id).get(data.session)
        if treated is None or treated.patient_id != patient.id:
            raise NotFound.one(f"session: no session {data.session} for this patient")
        treated_on = clinic_day(treated.performed_at, ClinicRepository(session).zone(clinic_id))
        if data.onset < treated_on:
            problems.append(f"onset: {data.onset} is before the session it follows ({treated_on})")
    if data.onset > ClinicRepository(session).today(clinic_id, context.now):
        problems.append(f"onset: {data.onset} is in the future")
    if problems:
        raise InvalidInput(problems)
    reporter = _reporter(session, clinic_id, data.reporter)
    lots = []
    for index, involved in enumerate(data.lots):
        use = ProductUse(product=involved.product, lot=involved.lot, expiry=involved.expiry)
        lot = registered_lot(session, context, clinic_id, use, f"lots[{index}]")
        assert lot is not None  # a lot number is required here
        lots.append(lot)
    return patient, reporter, lots


def _new_event(
    session: Session,
    context: Context,
    clinic_id: uuid.UUID,
    data: AdverseEventData,
    *,
    follows: AdverseEvent | None = None,
    reason: str | None = None,
) -> AdverseEvent:
    patient, reporter, lots = _resolve(session, context, clinic_id, data)
    record = AdverseEvent(
        id=new_id(),
        patient=patient,
        session_id=data.session,
        status=AdverseEventStatus.OPEN,  # lots are linked while open; closed after
        event_type=data.type,
        severity=data.severity,
        onset_date=data.onset,
        causality=data.causality,
        treatment_given=data.treatment,
        outcome=data.outcome,
        description=data.description,
        reporter_id=reporter.id,
        created_by=context.actor,
        follows_id=follows.id if follows else None,
        follow_up_reason=reason,
        created_at=context.now,
        updated_at=context.now,
        lots=lots,
    )
    AdverseEventRepository(session, clinic_id).add(record)
    _EVENTS.audit(session, context, clinic_id, AuditAction.ADVERSE_EVENT_CREATE, record)
    if data.closed:
        _close(session, context, clinic_id, record)
    return record


def _close(session: Session, context: Context, clinic_id: uuid.UUID, record: AdverseEvent) -> None:
    with _EVENTS.change(session, context, clinic_id, AuditAction.ADVERSE_EVENT_CLOSE, record):
        record.status = AdverseEventStatus.CLOSED
        record.closed_at = context.now
        record.closed_by = context.actor


def record_adverse_event(
    session: Session, context: Context, clinic_id: uuid.UUID, data: AdverseEventData
) -> AdverseEvent:
    """Store an adverse event, open (or closed at once when the file says so)."""
    return _new_event(session, context, clinic_id, data)


def close_adverse_event(
    session: Session, context: Context, clinic_id: uuid.UUID, event_id: uuid.UUID
) -> AdverseEvent:
    """Freeze an open adverse event; from then on it changes only by a follow-up."""
    record = _event(AdverseEventRepository(session, clinic_id), event_id)
    if record.status is not AdverseEventStatus.OPEN:
        raise _EVENTS.frozen(record)
    _close(session, context, clinic_id, record)
    return record


def follow_up_adverse_event(
    session: Session,
    context: Context,
    clinic_id: uuid.UUID,
    event_id: uuid.UUID,
    data: AdverseEventData,
    reason: str,
) -> AdverseEvent:
    """A new version of the latest version of an event (open or closed), which it supersedes."""
    events = AdverseEventRepository(session, clinic_id)
    original = _event(events, event_id)
    newer = events.follow_up_of(original.id)
    if newer is not None:
        raise InvalidInput.one(
            f"adverse event {original.id} is already followed up by {newer.id}; follow that one"
        )
    if data.patient != original.patient_id:
        raise InvalidInput.one("patient: a follow-up cannot move an event to another patient")
    written = written_reason(reason, "a follow-up")
    record = _new_event(session, context, clinic_id, data, follows=original, reason=written)
    with _EVENTS.change(session, context, clinic_id, AuditAction.ADVERSE_EVENT_SUPERSEDE, original):
        original.status = AdverseEventStatus.SUPERSEDED
    return record


def adverse_event_history(
    session: Session, clinic_id: uuid.UUID, event_id: uuid.UUID
) -> list[AdverseEvent]:
    """Every version of an event, oldest first, whichever version is asked for (not audited:
    callers audit what they show)."""
    events = AdverseEventRepository(session, clinic_id)
    versions = [_event(events, event_id)]
    while versions[0].follows_id is not None:
        versions.insert(0, _event(events, versions[0].follows_id))
    while (newer := events.follow_up_of(versions[-1].id)) is not None:
        versions.append(_event(events, newer.id))
    return versions


# -- the report ------------------------------------------------------------------------


def initials(patient: Patient) -> str:
    """Given names then family name, one capital each: Claire Anne Moreau → C.A.M."""
    words = re.findall(r"[^\W\d_]+", f"{patient.given_names} {patient.family_name}")
    return "".join(f"{word[0].upper()}." for word in words)


def _redacted(text: str | None, patient: Patient) -> str | None:
    """Free text with whatever identifies the patient replaced by [patient], in case the
    writer put it in, however it was spelled (records.redaction)."""
    if text is None:
        return None
    who = Identifying(
        names=(patient.family_name, patient.given_names),
        birth_date=patient.birth_date,
        phone=patient.phone,
        email=patient.email,
        identifiers=tuple(patient.identifiers.values()),
    )
    return redact(text, who)


def adverse_event_report(
    session: Session, context: Context, clinic_id: uuid.UUID, event_id: uuid.UUID
) -> dict[str, Any]:
    """The report a clinic sends a manufacturer or regulator: the patient as initials, age
    at onset and sex only (no name, contact, birth date or identifier); the products with lot
    and expiry; the event, causality and outcome; every version's date. The read is audited."""
    versions = adverse_event_history(session, clinic_id, event_id)
    record = next(version for version in versions if version.id == event_id)
    patient = record.patient
    clinic = session.get_one(Clinic, clinic_id)
    reporter = session.get_one(Staff, record.reporter_id)
    treated = (
        SessionRepository(session, clinic_id).get(record.session_id) if record.session_id else None
    )
    report: dict[str, Any] = {
        "format": REPORT_FORMAT,
        "adverse_event": str(record.id),
        "status": record.status.value,
        "version": versions.index(record) + 1,
        "versions": len(versions),
        "follow_up_reason": _redacted(record.follow_up_reason, patient),
        "reported_by": {
            "clinic": clinic.name,
            "reporter": reporter.name,
            "registration": reporter.registration,
        },
        "patient": {
            "initials": initials(patient),
            "age_at_onset": (
                age_on(patient.birth_date, record.onset_date) if patient.birth_date else None
            ),
            "sex": patient.sex.value if patient.sex else None,
        },
        "treatment_session": (
            {
                "date": treated.performed_at.date().isoformat(),
                "modality": treated.modality.value,
                "areas": list(treated.areas),
            }
            if treated
            else None
        ),
        "products": [
            {
                "product": lot.product,
                "lot": lot.lot_number,
                "expiry": lot.expiry_date.isoformat() if lot.expiry_date else None,
            }
            for lot in record.lots
        ],
        "event": {
            "type": record.event_type.value,
            "severity": record.severity.value,
            "onset": record.onset_date.isoformat(),
            "description": _redacted(record.description, patient),
            "treatment_given": _redacted(record.treatment_given, patient),
            "causality": record.causality.value,
            "outcome": record.outcome.value,
        },
        "recorded": record.created_at.isoformat(),
        "closed": record.closed_at.isoformat() if record.closed_at else None,
    }
    record_event(
        session,
        context,
        clinic_id,
        AuditAction.ADVERSE_EVENT_REPORT,
        "adverse_event",
        record.id,
        patient_id=record.patient_id,
        after=report,
    )
    return report


def report_text(report: dict[str, Any]) -> str:
    """The report as plain text, one labelled line per fact."""
    patient, event, by = report["patient"], report["event"], report["reported_by"]
    lines = [
        f"Adverse event report {report['adverse_event']}",
        f"status: {report['status']} (version {report['version']} of {report['versions']})",
        f"reported by: {by['reporter']}"
        + (f" ({by['registration']})" if by["registration"] else "")
        + f", {by['clinic']}",
        f"patient: {patient['initials']}, age {patient['age_at_onset'] or 'unknown'}, "
        f"sex {patient['sex'] or 'unknown'}",
    ]
    if report["treatment_session"]:
        treated = report["treatment_session"]
        lines.append(
            f"treatment session: {treated['date']}, {treated['modality']}, "
            f"{', '.join(treated['areas'])}"
        )
    lines += [
        f"product: {p['product']}  lot {p['lot']}  expiry {p['expiry'] or 'not recorded'}"
        for p in report["products"]
    ] or ["product: none recorded"]
    lines += [
        f"event: {event['type']}, {event['severity']}, onset {event['onset']}",
        f"description: {event['description']}",
        f"treatment given: {event['treatment_given'] or '-'}",
        f"causality (WHO-UMC): {event['causality']}",
        f"outcome: {event['outcome']}",
    ]
    if report["follow_up_reason"]:
        lines.append(f"follow-up: {report['follow_up_reason']}")
    return "\n".join(lines) + "\n"
