"""The records schema: SQLAlchemy 2 typed models, one migration-checked source of truth.

Keys are UUIDs made by the application (time-ordered, version 7), so a record has its id
before it is flushed, ids never reveal how many patients a clinic has, and records from two
databases can be merged. The audit log is keyed by numbers instead: the order its events were
written in, and each event's place in its chain (records.audit).
"""

# No postponed annotations: SQLAlchemy would evaluate each column's annotation from its text
# (a compile per column) on import, which every records command pays; forward references are
# quoted instead.
import datetime as dt
import os
import time
import uuid
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    Enum,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, synonym
from sqlalchemy.types import TypeEngine

from dermaplan.records.enums import (
    AdverseEventStatus,
    AdverseEventType,
    Causality,
    ConsentKind,
    ConsentStatus,
    ConsultStatus,
    CourseStatus,
    DraftStatus,
    EventOutcome,
    OutcomeScale,
    PhotoScope,
    PhotoStage,
    SessionStatus,
    Severity,
    StaffRole,
)
from dermaplan.vocabulary import Modality, Sex

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_id() -> uuid.UUID:
    """A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds then randomness, so B-trees append."""
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10))
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 9562 variant
    return uuid.UUID(int=value)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware in, UTC out, on both backends (SQLite keeps no offset of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} refused: give it a timezone")
        return value.astimezone(dt.UTC)

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class PortableJSON(TypeDecorator[Any]):
    """JSON, stored as JSONB on PostgreSQL: its dialect is imported only there."""

    impl = JSON
    cache_ok = True
    hashable = False  # as JSON's: dicts and lists

    def __init__(self, *, none_as_null: bool = False) -> None:
        super().__init__(none_as_null=none_as_null)
        self.none_as_null = none_as_null
        self.should_evaluate_none = not none_as_null  # as JSON's: None is JSON's null

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name != "postgresql":
            return self.impl_instance
        from sqlalchemy.dialects.postgresql import JSONB

        return JSONB(none_as_null=self.none_as_null)


JSONDocument = PortableJSON()
# Python None is SQL NULL here, not the JSON `null`, so CHECK constraints can see it.
OptionalJSONDocument = PortableJSON(none_as_null=True)
# Byte order on both backends: what makes a prefix a key range (see records.names).
SearchKey = String(400).with_variant(String(400, collation="C"), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dt.datetime: UTCDateTime()}


class Timestamped:
    """Set by the services from the command's clock, never by the database's."""

    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]


def _enum(kind: type[StrEnum], name: str, length: int = 20) -> Enum:
    """A portable enum: VARCHAR plus a named CHECK, no PostgreSQL TYPE to migrate."""
    return Enum(
        kind,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=length,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


class Clinic(Timestamped, Base):
    __tablename__ = "clinic"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    # an IANA zone name: the clinic's day (records.clinics.clinic_day)
    time_zone: Mapped[str] = mapped_column(String(64), server_default="UTC")


class Staff(Timestamped, Base):
    """A practitioner or member of staff: identity and role (logins come with the web app)."""

    __tablename__ = "staff"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    clinic_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clinic.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[StaffRole] = mapped_column(_enum(StaffRole, "role"))
    registration: Mapped[str | None] = mapped_column(String(100))  # professional register no.
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Patient(Timestamped, Base):
    __tablename__ = "patient"
    __table_args__ = (
        CheckConstraint(
            "(deleted_at IS NULL) = (deletion_reason IS NULL)", name="deletion_has_reason"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    clinic_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clinic.id"))
    family_name: Mapped[str] = mapped_column(String(200))
    given_names: Mapped[str] = mapped_column(String(200), default="")
    search_name: Mapped[str] = mapped_column(SearchKey)  # records.names.search_key
    birth_date: Mapped[dt.date | None] = mapped_column(Date)
    sex: Mapped[Sex | None] = mapped_column(_enum(Sex, "sex"))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(40))
    identifiers: Mapped[dict[str, str]] = mapped_column(JSONDocument)  # system → value
    allergies: Mapped[list[str] | None] = mapped_column(JSONDocument)  # None: not asked
    history: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    deleted_at: Mapped[dt.datetime | None]
    deleted_by: Mapped[str | None] = mapped_column(String(200))
    deletion_reason: Mapped[str | None] = mapped_column(Text)

    consults: Mapped[list["Consult"]] = relationship(
        back_populates="patient", lazy="raise", order_by="[Consult.created_at, Consult.id]"
    )


# Serves clinic-scoped prefix search and the alphabetical list, in order, without a sort.
Index("ix_patient_search_name", Patient.clinic_id, Patient.search_name, Patient.id)


class Consult(Timestamped, Base):
    """An assessment and the plan the engine made of it; approved means frozen."""

    __tablename__ = "consult"
    __table_args__ = (
        CheckConstraint(
            "(status IN ('draft', 'discarded')) = (approved_at IS NULL AND approved_by_id IS NULL)",
            name="approval_matches_status",
        ),
        CheckConstraint(
            "(status = 'discarded') = (discarded_at IS NOT NULL AND discarded_by_id IS NOT NULL"
            " AND discard_reason IS NOT NULL)",
            name="discard_matches_status",
        ),
        CheckConstraint(
            "(supersedes_id IS NULL) = (correction_reason IS NULL)",
            name="correction_has_reason",
        ),
        CheckConstraint("supersedes_id <> id", name="not_self_superseding"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patient.id"), index=True)
    status: Mapped[ConsultStatus] = mapped_column(_enum(ConsultStatus, "status"))
    consult_date: Mapped[dt.date] = mapped_column(Date)
    # Kept as the exact text the engine wrote: a plan is reproducible byte for byte.
    assessment_json: Mapped[str] = mapped_column(Text)
    plan_json: Mapped[str] = mapped_column(Text)
    knowledge_version: Mapped[str] = mapped_column(String(100))
    created_by: Mapped[str] = mapped_column(String(200))
    approved_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff.id"))
    approved_at: Mapped[dt.datetime | None]
    supersedes_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("consult.id"))
    correction_reason: Mapped[str | None] = mapped_column(Text)
    discarded_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff.id"))
    discarded_at: Mapped[dt.datetime | None]
    discard_reason: Mapped[str | None] = mapped_column(Text)

    patient: Mapped[Patient] = relationship(back_populates="consults", lazy="raise")


LIVE_CORRECTION = "uq_consult_live_supersedes_id"


def declare_partial_indexes() -> None:
    """The indexes that hold only some rows: one live correction of a consult at most (any
    number discarded). Their WHERE is a dialect's option, and naming a dialect's option loads
    that dialect: they are declared where the migrations run (records.migrations.env), not
    when every command starts; the database holds them either way."""
    table = Base.metadata.tables[Consult.__tablename__]
    if any(index.name == LIVE_CORRECTION for index in table.indexes):
        return
    live = text("status <> 'discarded'")
    Index(
        LIVE_CORRECTION,
        table.c.supersedes_id,
        unique=True,
        sqlite_where=live,
        postgresql_where=live,
    )


class AssessmentDraft(Timestamped, Base):
    """An assessment being filled in, kept as it is typed until it is stored as a consult
    (then `consult_id` names it, and the draft no longer changes)."""

    __tablename__ = "assessment_draft"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    clinic_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clinic.id"))
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patient.id"), index=True)
    created_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff.id"))
    corrects_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("consult.id"))
    data: Mapped[dict[str, Any]] = mapped_column(JSONDocument)  # the assessment so far
    consult_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("consult.id"))

    @property
    def status(self) -> DraftStatus:
        return DraftStatus.OPEN if self.consult_id is None else DraftStatus.STORED


class ProductLot(Timestamped, Base):
    """One manufacturing lot of a product: what a recall names."""

    __tablename__ = "product_lot"
    __table_args__ = (UniqueConstraint("clinic_id", "product", "lot_number"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    clinic_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clinic.id"))
    product: Mapped[str] = mapped_column(String(200))  # a formulary id, or a name as written
    lot_number: Mapped[str] = mapped_column(String(100))
    expiry_date: Mapped[dt.date | None] = mapped_column(Date)  # None: not recorded


# A recall names the lot, not the product: (clinic, lot) finds its rows without a scan.
Index("ix_product_lot_lot_number", ProductLot.clinic_id, ProductLot.lot_number)


class TreatmentSession(Timestamped, Base):
    """What was done to a patient on one occasion; signed means frozen."""

    __tablename__ = "treatment_session"
    __table_args__ = (
        CheckConstraint(
            "(status = 'draft') = (signed_at IS NULL AND signed_by_id IS NULL)",
            name="signature_matches_status",
        ),
        CheckConstraint(
            "(amends_id IS NULL) = (amendment_reason IS NULL)", name="amendment_has_reason"
        ),
        CheckConstraint("amends_id <> id", name="not_self_amending"),
        CheckConstraint(
            "(override_reason IS NULL) = (overridden IS NULL)", name="override_has_reason"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patient.id"), index=True)
    practitioner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff.id"))
    consult_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("consult.id"))
    status: Mapped[SessionStatus] = mapped_column(_enum(SessionStatus, "status"))
    performed_at: Mapped[dt.datetime]
    modality: Mapped[Modality] = mapped_column(_enum(Modality, "modality"))
    areas: Mapped[list[str]] = mapped_column(JSONDocument)
    device: Mapped[str | None] = mapped_column(String(200))
    needle_cartridge: Mapped[str | None] = mapped_column(String(200))
    depths_mm: Mapped[dict[str, float]] = mapped_column(JSONDocument)  # area → depth used
    passes: Mapped[dict[str, int]] = mapped_column(JSONDocument)  # area → passes
    injection_points: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument)  # area, x, y
    anaesthesia: Mapped[str | None] = mapped_column(Text)
    deviations: Mapped[list[dict[str, str]]] = mapped_column(JSONDocument)  # change, reason
    notes: Mapped[str | None] = mapped_column(Text)
    # A safety refusal the practitioner overrode: what was refused, and why it was done anyway.
    overridden: Mapped[list[str] | None] = mapped_column(OptionalJSONDocument)
    override_reason: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    signed_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff.id"))
    signed_at: Mapped[dt.datetime | None]
    # What the completeness check found missing at signing, and the signer's reason.
    missing_at_signing: Mapped[list[str] | None] = mapped_column(OptionalJSONDocument)
    incomplete_reason: Mapped[str | None] = mapped_column(Text)
    amends_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("treatment_session.id"), unique=True
    )
    amendment_reason: Mapped[str | None] = mapped_column(Text)

    patient: Mapped[Patient] = relationship(lazy="raise")
    products: Mapped[list["SessionProduct"]] = relationship(
        back_populates="session", lazy="raise", order_by="SessionProduct.position"
    )


class SessionProduct(Base):
    """A product given in a session: its lot (when recorded) and the volume per area."""

    __tablename__ = "session_product"
    __table_args__ = (UniqueConstraint("session_id", "position"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("treatment_session.id"))
    position: Mapped[int]  # the order of the session file
    product: Mapped[str] = mapped_column(String(200))
    lot_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("product_lot.id"), index=True)
    volumes_ml: Mapped[dict[str, float]] = mapped_column(JSONDocument)  # area → mL

    session: Mapped[TreatmentSession] = relationship(back_populates="products", lazy="raise")
    lot: Mapped["ProductLot | None"] = relationship(lazy="raise")


# -- adverse events and outcomes (revision 0003) ---------------------------------------


class AdverseEventLot(Base):
    """A product lot involved in an adverse event (one version of it)."""

    __tablename__ = "adverse_event_lot"

    adverse_event_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("adverse_event.id"), primary_key=True
    )
    lot_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("product_lot.id"), primary_key=True, index=True
    )


class AdverseEvent(Timestamped, Base):
    """An adverse event; closed means frozen, and a follow-up is a new version of it."""

    __tablename__ = "adverse_event"
    __table_args__ = (
        CheckConstraint("status <> 'closed' OR closed_at IS NOT NULL", name="closed_has_time"),
        CheckConstraint(
            "(follows_id IS NULL) = (follow_up_reason IS NULL)", name="follow_up_has_reason"
        ),
        CheckConstraint("follows_id <> id", name="not_self_following"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patient.id"), index=True)
    session_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("treatment_session.id"))
    status: Mapped[AdverseEventStatus] = mapped_column(_enum(AdverseEventStatus, "status"))
    event_type: Mapped[AdverseEventType] = mapped_column(_enum(AdverseEventType, "event_type", 30))
    severity: Mapped[Severity] = mapped_column(_enum(Severity, "severity", 30))
    onset_date: Mapped[dt.date] = mapped_column(Date)
    causality: Mapped[Causality] = mapped_column(_enum(Causality, "causality", 30))
    treatment_given: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[EventOutcome] = mapped_column(_enum(EventOutcome, "outcome", 30))
    description: Mapped[str] = mapped_column(Text)
    reporter_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff.id"))
    created_by: Mapped[str] = mapped_column(String(200))
    closed_at: Mapped[dt.datetime | None]
    closed_by: Mapped[str | None] = mapped_column(String(200))
    follows_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("adverse_event.id"), unique=True
    )
    follow_up_reason: Mapped[str | None] = mapped_column(Text)

    patient: Mapped[Patient] = relationship(lazy="raise")
    lots: Mapped[list[ProductLot]] = relationship(
        secondary="adverse_event_lot",
        lazy="raise",
        order_by="[ProductLot.product, ProductLot.lot_number]",
    )


class Outcome(Timestamped, Base):
    """A score on an outcome scale, by a member of staff or reported by the patient."""

    __tablename__ = "outcome"
    __table_args__ = (
        CheckConstraint(
            "(assessor_id IS NOT NULL) <> patient_reported", name="assessor_or_patient"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patient.id"), index=True)
    session_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("treatment_session.id"))
    consult_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("consult.id"))
    scale: Mapped[OutcomeScale] = mapped_column(_enum(OutcomeScale, "scale", 30))
    score: Mapped[float] = mapped_column(Float)
    assessed_on: Mapped[dt.date] = mapped_column(Date)
    assessor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff.id"))
    patient_reported: Mapped[bool] = mapped_column(Boolean)
    notes: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))


# -- consents (revision 0004) -----------------------------------------------------------


class ConsentTemplate(Base):
    """One published version of a consent text; never changed, a new version is a new row."""

    __tablename__ = "consent_template"
    __table_args__ = (
        UniqueConstraint("clinic_id", "kind", "version"),
        UniqueConstraint("id", "kind"),  # the target of consent's (template_id, kind) key
        CheckConstraint("version >= 1", name="version_positive"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    clinic_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clinic.id"))
    kind: Mapped[ConsentKind] = mapped_column(_enum(ConsentKind, "kind", 30))
    version: Mapped[int]
    text: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))  # sha256 of the UTF-8 text
    published_at: Mapped[dt.datetime]
    published_by: Mapped[str] = mapped_column(String(200))


class Consent(Timestamped, Base):
    """A consent a patient was shown (the exact template version) and signed."""

    __tablename__ = "consent"
    __table_args__ = (
        ForeignKeyConstraint(
            ["template_id", "kind"], ["consent_template.id", "consent_template.kind"]
        ),
        CheckConstraint(
            "status <> 'signed' OR (signed_at IS NOT NULL AND signer_name IS NOT NULL"
            " AND ((signature_text IS NOT NULL AND signature_image IS NULL"
            " AND signature_media_type IS NULL) OR (signature_text IS NULL"
            " AND signature_image IS NOT NULL AND signature_media_type IS NOT NULL)))",
            name="signed_has_signature",
        ),
        CheckConstraint("(kind = 'photo') = (photo_scopes IS NOT NULL)", name="photo_has_scopes"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patient.id"), index=True)
    template_id: Mapped[uuid.UUID]
    kind: Mapped[ConsentKind] = mapped_column(_enum(ConsentKind, "kind", 30))
    status: Mapped[ConsentStatus] = mapped_column(_enum(ConsentStatus, "status"))
    opened_at: Mapped[dt.datetime]
    signed_at: Mapped[dt.datetime | None]
    signer_name: Mapped[str | None] = mapped_column(String(200))
    signature_text: Mapped[str | None] = mapped_column(String(200))  # a typed signature
    signature_image: Mapped[bytes | None] = mapped_column(LargeBinary)  # a drawn one
    signature_media_type: Mapped[str | None] = mapped_column(String(50))
    # Photo consent only: scope → granted, for every PhotoScope.
    photo_scopes: Mapped[dict[str, bool] | None] = mapped_column(OptionalJSONDocument)
    created_by: Mapped[str] = mapped_column(String(200))

    patient: Mapped[Patient] = relationship(lazy="raise")
    template: Mapped[ConsentTemplate] = relationship(lazy="raise", viewonly=True)
    withdrawals: Mapped[list["ConsentWithdrawal"]] = relationship(
        lazy="raise", order_by="ConsentWithdrawal.withdrawn_at", viewonly=True
    )

    @property
    def template_version(self) -> int:
        """The version of the template shown (loaded with it), named as a consent's line
        names it (records.consents.ConsentLine)."""
        return self.template.version


class ConsentWithdrawal(Base):
    """A withdrawal of a whole consent (scope 'all') or of one photo scope; append-only."""

    __tablename__ = "consent_withdrawal"

    consent_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("consent.id"), primary_key=True)
    scope: Mapped[str] = mapped_column(
        Enum(
            "all",
            *(scope.value for scope in PhotoScope),
            name="scope",
            native_enum=False,
            create_constraint=True,
            length=20,
        ),
        primary_key=True,
    )
    withdrawn_at: Mapped[dt.datetime]
    reason: Mapped[str] = mapped_column(Text)
    withdrawn_by: Mapped[str] = mapped_column(String(200))


# -- photos (revision 0005) -------------------------------------------------------------


class Photo(Timestamped, Base):
    """A clinical photo's metadata; the file itself is in a storage backend
    (records.photos), EXIF and GPS stripped on intake. Never changed once stored."""

    __tablename__ = "photo"
    __table_args__ = (
        CheckConstraint("media_type IN ('image/jpeg', 'image/png')", name="media_type"),
        CheckConstraint("size_bytes > 0", name="size_positive"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patient.id"), index=True)
    session_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("treatment_session.id"))
    area: Mapped[str] = mapped_column(String(100))
    angle: Mapped[str] = mapped_column(String(50))
    taken_at: Mapped[dt.datetime]
    # None for photos stored before revision 0007, which recorded no stage
    stage: Mapped[PhotoStage | None] = mapped_column(_enum(PhotoStage, "stage"))
    media_type: Mapped[str] = mapped_column(String(50))
    sha256: Mapped[str] = mapped_column(String(64))  # of the stored (stripped) file
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    storage_key: Mapped[str] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(200))


# -- courses (revision 0006) ------------------------------------------------------------


class Course(Timestamped, Base):
    """A course of one modality started from an approved consult's plan."""

    __tablename__ = "course"
    __table_args__ = (
        CheckConstraint(
            "(status = 'cancelled') = (cancellation_reason IS NOT NULL"
            " AND cancelled_at IS NOT NULL AND cancelled_by IS NOT NULL)",
            name="cancellation_has_reason",
        ),
        CheckConstraint("sessions_planned >= 1", name="sessions_positive"),
        CheckConstraint("interval_days >= 0", name="interval_not_negative"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    clinic_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clinic.id"))
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patient.id"), index=True)
    consult_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("consult.id"), index=True)
    modality: Mapped[Modality] = mapped_column(_enum(Modality, "modality"))
    # the preparation a mesotherapy course gives (formulary ids); [] for needling, and for
    # courses started before revision 0008
    products: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    sessions_planned: Mapped[int]
    interval_days: Mapped[int]
    status: Mapped[CourseStatus] = mapped_column(_enum(CourseStatus, "status"))
    created_by: Mapped[str] = mapped_column(String(200))
    cancelled_at: Mapped[dt.datetime | None]
    cancelled_by: Mapped[str | None] = mapped_column(String(200))
    cancellation_reason: Mapped[str | None] = mapped_column(Text)

    patient: Mapped[Patient] = relationship(lazy="raise")
    planned_sessions: Mapped[list["PlannedSession"]] = relationship(
        back_populates="course", lazy="raise", order_by="PlannedSession.number"
    )


class PlannedSession(Timestamped, Base):
    """One session of a course, on its planned date; fulfilled by a recorded session."""

    __tablename__ = "planned_session"
    __table_args__ = (
        UniqueConstraint("course_id", "number"),
        CheckConstraint("number >= 1", name="number_positive"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    course_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("course.id"))
    number: Mapped[int]  # 1, 2, ... in date order
    planned_on: Mapped[dt.date] = mapped_column(Date)
    session_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("treatment_session.id"), unique=True
    )

    course: Mapped[Course] = relationship(back_populates="planned_sessions", lazy="raise")


class AuditEvent(Base):
    """One link of the append-only, hash-chained audit log: event `seq` of the chain
    (`clinic_id`, `lane`) (see records.audit and records.lanes)."""

    __tablename__ = "audit_event"
    __table_args__ = (UniqueConstraint("clinic_id", "lane", "seq"),)

    # the order events were written in, across chains (on SQLite, the rowid)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    # the chain: a clinic's lane; a null clinic is the one chain of revision 0011 and before
    clinic_id: Mapped[uuid.UUID | None]
    lane: Mapped[int] = mapped_column(SmallInteger)
    seq: Mapped[int] = mapped_column(BigInteger)  # the place in its chain, from 1
    occurred_at: Mapped[dt.datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(50))
    record_type: Mapped[str] = mapped_column(String(50))
    record_id: Mapped[str | None] = mapped_column(String(36), index=True)
    patient_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    # the member of staff who acted (`actor` keeps the operating-system user or service)
    staff_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    before_digest: Mapped[str | None] = mapped_column(String(64))
    after_digest: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    # the audit key whose HMAC `hash` is (records.keyring); None: a plain SHA-256, the form
    # of revision 0012 and before
    key_id: Mapped[str | None] = mapped_column(String(32))


class DatabaseIdentity(Base):
    """This database's random id, made once by the migration that created the table (0011).
    The audit anchor records it, so an anchor is never checked against another database's
    log (records.anchor); a backup or a restored copy is the same database, with the same id.
    """

    __tablename__ = "database_identity"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)


# -- logins (revision 0014) ------------------------------------------------------------


class StaffCredential(Timestamped, Base):
    """How a member of staff signs in: a login name, an argon2id password hash, and a TOTP
    secret where they have a second factor. Kept apart from `staff`, so identities are read
    everywhere and credentials only where someone signs in (records.logins)."""

    __tablename__ = "staff_credential"

    staff_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff.id"), primary_key=True)
    login: Mapped[str] = mapped_column(String(64), unique=True)  # records.logins.login_key
    password_hash: Mapped[str] = mapped_column(String(200))
    # sealed (records.logins.seal_totp); base32 in clear if enrolled before revision 0016
    totp_secret: Mapped[str | None] = mapped_column(String(160))
    # the last TOTP time step accepted: a code is never accepted twice
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    # the id its audit events name it by, as every audited record has one
    id: Mapped[uuid.UUID] = synonym("staff_id")

    staff: Mapped[Staff] = relationship(lazy="raise")


class LoginSession(Base):
    """A signed-in browser: the SHA-256 of its cookie's token (the token itself is never
    stored), who it is, its CSRF token, when it began, was last seen and ended, and its
    signature under the audit key."""

    __tablename__ = "login_session"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    staff_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff.id"), index=True)
    clinic_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clinic.id"))
    # the password was right and the second factor is still to come
    awaiting_code: Mapped[bool] = mapped_column(Boolean)
    csrf_token: Mapped[str] = mapped_column(String(64))
    address: Mapped[str | None] = mapped_column(String(64))  # where the login came from
    started_at: Mapped[dt.datetime]
    last_seen_at: Mapped[dt.datetime]
    ended_at: Mapped[dt.datetime | None]
    end_reason: Mapped[str | None] = mapped_column(String(20))  # logout, rotated, locked
    # the audit key that signed the session, and its HMAC (records.logins.session_mac):
    # a row without the right one opens nothing
    key_id: Mapped[str | None] = mapped_column(String(32))
    mac: Mapped[str | None] = mapped_column(String(64))


class LoginAttempt(Base):
    """One try at a password or a code, kept a day: what throttling and lockout count."""

    __tablename__ = "login_attempt"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    login: Mapped[str] = mapped_column(String(64), index=True)  # as typed, normalised
    address: Mapped[str | None] = mapped_column(String(64), index=True)
    at: Mapped[dt.datetime] = mapped_column(index=True)
    succeeded: Mapped[bool] = mapped_column(Boolean)


class ApiToken(Base):
    """A personal access token for the API: it acts as the member who made it, in their
    role, until it expires or is revoked. Only the SHA-256 of the secret is stored."""

    __tablename__ = "api_token"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    staff_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff.id"), index=True)
    clinic_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clinic.id"))
    name: Mapped[str] = mapped_column(String(100))  # what it is for, as its maker put it
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))  # the secret's first characters, shown
    created_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]
    last_used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]
