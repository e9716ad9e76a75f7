"""The words of the records: roles, statuses, kinds and scales.

Plain enumerations, with no database import, so every front end, read model and exporter
can use them without loading SQLAlchemy; the models store their values.
"""

from __future__ import annotations

from enum import StrEnum


class StaffRole(StrEnum):
    """What a member of staff may do (app.principal says which use case needs which)."""

    ADMIN = "admin"  # staff, clinic settings, consent texts, the audit log, backups
    PRACTITIONER = "practitioner"  # clinical work: plans, sessions, photos, outcomes
    RECEPTION = "reception"  # patients' contact details, consents and bookings


class ConsultStatus(StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"
    SUPERSEDED = "superseded"
    DISCARDED = "discarded"  # a draft never to be approved (kept, with who and why)


class DraftStatus(StrEnum):
    """An assessment draft's state, derived from whether it names the consult it became."""

    OPEN = "open"
    STORED = "stored"


class SessionStatus(StrEnum):
    DRAFT = "draft"
    SIGNED = "signed"
    AMENDED = "amended"  # replaced by a signed amendment; kept as history


class AdverseEventType(StrEnum):
    BRUISING = "bruising"
    INFECTION = "infection"
    GRANULOMA = "granuloma"
    HYPERPIGMENTATION = "hyperpigmentation"
    NECROSIS = "necrosis"
    ALLERGIC_REACTION = "allergic_reaction"
    NERVE_INJURY = "nerve_injury"
    SCARRING = "scarring"
    OTHER = "other"


class Severity(StrEnum):
    MILD = "mild"
    MODERATE = "moderate"
    SEVERE = "severe"
    LIFE_THREATENING = "life_threatening"


class Causality(StrEnum):
    """WHO-UMC causality categories (the subset a clinic assesses)."""

    CERTAIN = "certain"
    PROBABLE = "probable"
    POSSIBLE = "possible"
    UNLIKELY = "unlikely"
    UNCLASSIFIED = "unclassified"


class EventOutcome(StrEnum):
    RECOVERED = "recovered"
    RECOVERING = "recovering"
    NOT_RECOVERED = "not_recovered"
    RECOVERED_WITH_SEQUELAE = "recovered_with_sequelae"
    FATAL = "fatal"
    UNKNOWN = "unknown"


class AdverseEventStatus(StrEnum):
    OPEN = "open"  # may still change
    CLOSED = "closed"  # frozen; a follow-up is a new version
    SUPERSEDED = "superseded"  # replaced by a follow-up; kept as history


class OutcomeScale(StrEnum):
    GAIS = "gais"
    GOODMAN_BARON_QUALITATIVE = "goodman_baron_qualitative"
    PATIENT_SATISFACTION = "patient_satisfaction"
    MMASI = "mmasi"
    CR_SMFRS = "cr_smfrs"


class ConsentKind(StrEnum):
    TREATMENT_MESOTHERAPY = "treatment_mesotherapy"
    TREATMENT_MICRONEEDLING = "treatment_microneedling"
    TREATMENT_COMBINED = "treatment_combined"
    PHOTO = "photo"


class PhotoScope(StrEnum):
    CLINICAL_RECORD = "clinical_record"
    TEACHING = "teaching"
    MARKETING = "marketing"


class PhotoStage(StrEnum):
    BEFORE = "before"  # before treatment: what the completeness check asks for
    AFTER = "after"  # immediately after treatment
    FOLLOW_UP = "follow_up"


class ConsentStatus(StrEnum):
    OPENED = "opened"  # shown, not yet signed (not counted by any check)
    SIGNED = "signed"  # frozen; only withdrawals are added to it


class CourseStatus(StrEnum):
    PLANNED = "planned"  # under way: planned sessions still to fulfil
    COMPLETED = "completed"  # every planned session fulfilled
    CANCELLED = "cancelled"  # stopped, with the reason
