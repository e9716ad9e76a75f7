"""Treatment sessions: refused when unsafe unless overridden, frozen once signed, amended
with their history kept; every change audited in the same transaction."""

from __future__ import annotations

import copy
import datetime as dt
import uuid
from typing import Any

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError

from dermaplan.clinical.assessment import parse_assessment
from dermaplan.clinical.consult import consult
from dermaplan.knowledge import KnowledgeBase
from dermaplan.records import service, sessions
from dermaplan.records.db import transaction
from dermaplan.records.enums import SessionStatus
from dermaplan.records.errors import (
    ImmutableRecord,
    IncompleteRecord,
    InvalidInput,
    NotFound,
    SafetyRefused,
)
from dermaplan.records.models import ProductLot, TreatmentSession
from dermaplan.records.photos import PhotoStorage
from dermaplan.records.schemas import ConsultDocument
from tests.conftest import healthy
from tests.records.factories import (
    NOW,
    add_consent,
    add_patient,
    add_photos,
    context,
    events,
    make_practitioner,
    session_counts,
    session_data,
)


@pytest.fixture
def practitioner_id(engine: Engine, clinic_id: uuid.UUID) -> uuid.UUID:
    return make_practitioner(engine, clinic_id)


@pytest.fixture
def patient_id(engine: Engine, clinic_id: uuid.UUID, storage: PhotoStorage) -> uuid.UUID:
    """A patient with all a session needs to be signed: consent, allergies, before-photos."""
    patient_id = add_patient(engine, clinic_id, allergies=[])
    add_consent(engine, clinic_id, patient_id)
    add_photos(engine, clinic_id, storage, patient_id, "cheeks", "forehead")
    return patient_id


def record(
    engine: Engine,
    clinic_id: uuid.UUID,
    kb: KnowledgeBase,
    patient_id: uuid.UUID,
    practitioner_id: uuid.UUID,
    override: str | None = None,
    **fields: Any,
) -> uuid.UUID:
    data = session_data(kb, patient_id, practitioner_id, **fields)
    with transaction(engine) as session:
        stored = sessions.record_session(
            session, context(), clinic_id, data, kb, override_reason=override
        )
        return stored.id


def sign(
    engine: Engine, clinic_id: uuid.UUID, kb: KnowledgeBase, session_id: uuid.UUID, **kw: Any
) -> TreatmentSession:
    with transaction(engine) as session:
        return sessions.sign_session(session, context(), clinic_id, session_id, kb, **kw)


def refused(
    engine: Engine,
    clinic_id: uuid.UUID,
    kb: KnowledgeBase,
    patient_id: uuid.UUID,
    practitioner_id: uuid.UUID,
    **fields: Any,
) -> list[str]:
    """The refusal's problems; the database is checked to be as it was."""
    before = session_counts(engine)
    with pytest.raises(SafetyRefused) as raised:
        record(engine, clinic_id, kb, patient_id, practitioner_id, **fields)
    assert session_counts(engine) == before
    return raised.value.problems


def test_a_safe_session_is_recorded_as_a_draft_with_its_lot(
    engine: Engine, clinic_id: uuid.UUID, kb: KnowledgeBase, patient_id: uuid.UUID,
    practitioner_id: uuid.UUID,
) -> None:  # fmt: skip
    session_id = record(engine, clinic_id, kb, patient_id, practitioner_id)
    with transaction(engine) as session:
        [stored] = sessions.session_history(session, context(), clinic_id, session_id)
        assert stored.status is SessionStatus.DRAFT
        assert stored.depths_mm == {"cheeks": 1.5, "forehead": 0.5}
        assert stored.injection_points == [{"area": "cheeks", "x": 0.31, "y": 0.55}]
        assert stored.performed_at.isoformat() == "2026-11-02T09:30:00+00:00"
        [product] = stored.products
        assert product.lot is not None
        assert (product.lot.lot_number, str(product.lot.expiry_date)) == ("HB2391", "2027-03-31")
        assert stored.overridden is None
    assert [e.action for e in events(engine)][-3:] == [
        "lot.create",
        "session.create",
        "session.read",
    ]


def test_a_depth_beyond_the_area_limit_needs_an_override_which_is_kept_and_audited(
    engine: Engine, clinic_id: uuid.UUID, kb: KnowledgeBase, patient_id: uuid.UUID,
    practitioner_id: uuid.UUID,
) -> None:  # fmt: skip
    too_deep = {"cheeks": 1.5, "forehead": 1.0}
    assert refused(engine, clinic_id, kb, patient_id, practitioner_id, depths_mm=too_deep) == [
        "depths_mm.forehead: 1.0 mm is deeper than the forehead limit of 0.75 mm"
    ]
    reason = "thick sun-damaged skin, discussed with the patient"
    session_id = record(
        engine, clinic_id, kb, patient_id, practitioner_id, override=reason, depths_mm=too_deep
    )
    with transaction(engine, write=False) as session:
        stored = session.get_one(TreatmentSession, session_id)
        assert stored.override_reason == reason
        assert stored.overridden == [
            "depths_mm.forehead: 1.0 mm is deeper than the forehead limit of 0.75 mm"
        ]
    override = events(engine)[-1]
    assert (override.action, override.record_id) == ("session.override", str(session_id))


def test_an_override_with_nothing_to_override_is_refused(
    engine: Engine, clinic_id: uuid.UUID, kb: KnowledgeBase, patient_id: uuid.UUID,
    practitioner_id: uuid.UUID,
) -> None:  # fmt: skip
    with pytest.raises(InvalidInput, match="nothing in this session is refused"):
        record(engine, clinic_id, kb, patient_id, practitioner_id, override="just in case")


def test_an_expired_lot_is_refused_even_when_the_file_leaves_the_expiry_out(
    engine: Engine, clinic_id: uuid.UUID, kb: KnowledgeBase, patient_id: uuid.UUID,
    practitioner_id: uuid.UUID,
) -> None:  # fmt: skip
    old = [{"product": "ha_skin_booster", "lot": "OLD1", "expiry": "2026-10-31"}]
    assert refused(engine, clinic_id, kb, patient_id, practitioner_id, products=old) == [
        "products[0]: ha_skin_booster lot OLD1 expired on 2026-10-31, "
        "before the session (2026-11-02)"
    ]
    record(
        engine, clinic_id, kb, patient_id, practitioner_id, override="last vial, checked",
        products=old,
    )  # fmt: skip
    again = [{"product": "ha_skin_booster", "lot": "OLD1"}]  # the lot's expiry is known
    assert refused(engine, clinic_id, kb, patient_id, practitioner_id, products=again)
    contradicting = [{"product": "ha_skin_booster", "lot": "OLD1", "expiry": "2027-10-31"}]
    with pytest.raises(InvalidInput, match=r"products\[0\].expiry: lot OLD1 .* 2026-10-31"):
        record(engine, clinic_id, kb, patient_id, practitioner_id, products=contradicting)


@pytest.mark.parametrize("allergy", ["lidocaine", "amide_anaesthetic", "Amide local anaesthetics"])
def test_a_product_carrying_a_recorded_allergen_is_refused(
    engine: Engine, clinic_id: uuid.UUID, kb: KnowledgeBase, practitioner_id: uuid.UUID,
    allergy: str,
) -> None:  # fmt: skip
    patient_id = add_patient(engine, clinic_id, allergies=[allergy])
    blend = [
        {"product": "ha_skin_booster", "lot": "HB1", "expiry": "2027-01-01"},
        {"product": "lidocaine_additive", "lot": "LD7", "expiry": "2027-01-01"},
    ]
    [problem] = refused(
        engine, clinic_id, kb, patient_id, practitioner_id, modality="mesotherapy",
        products=blend,
    )  # fmt: skip
    assert problem.startswith("products[1]: lidocaine_additive contains what the patient is")


def test_a_modality_the_linked_plan_found_contraindicated_is_refused(
    engine: Engine, clinic_id: uuid.UUID, kb: KnowledgeBase, patient_id: uuid.UUID,
    practitioner_id: uuid.UUID,
) -> None:  # fmt: skip
    pregnant = copy.deepcopy(healthy(kb))
    pregnant["patient"]["pregnant"] = True
    assessment = parse_assessment(pregnant, kb)
    plan = consult(assessment, kb)
    with transaction(engine) as session:
        consult_id = service.create_consult(
            session, context(), clinic_id, patient_id, ConsultDocument.from_engine(assessment, plan)
        ).id
    assert refused(engine, clinic_id, kb, patient_id, practitioner_id, consult=str(consult_id)) == [
        "modality: the linked consult's plan found microneedling contraindicated"
    ]
    other = add_patient(engine, clinic_id, family_name="Ravel")
    with pytest.raises(NotFound, match=r"no consult .* for this patient"):
        record(engine, clinic_id, kb, other, practitioner_id, consult=str(consult_id))


def test_a_signed_session_cannot_change_through_the_service_or_raw_sql(
    engine: Engine, clinic_id: uuid.UUID, kb: KnowledgeBase, patient_id: uuid.UUID,
    practitioner_id: uuid.UUID,
) -> None:  # fmt: skip
    session_id = record(engine, clinic_id, kb, patient_id, practitioner_id)
    signed = sign(engine, clinic_id, kb, session_id)
    assert (signed.status, signed.signed_by_id) == (SessionStatus.SIGNED, practitioner_id)
    data = session_data(kb, patient_id, practitioner_id, notes="changed")
    with pytest.raises(ImmutableRecord, match="record an amendment"), transaction(engine) as s:
        sessions.revise_session(s, context(), clinic_id, session_id, data, kb)
    with pytest.raises(ImmutableRecord):
        sign(engine, clinic_id, kb, session_id)
    for statement in (
        "UPDATE treatment_session SET notes = 'rewritten'",
        "DELETE FROM treatment_session",
        "UPDATE session_product SET volumes_ml = '{}'",
        "DELETE FROM session_product",
        f"INSERT INTO session_product (id, session_id, position, product, volumes_ml) "
        f"VALUES ('{uuid.uuid4().hex}', '{session_id.hex}', 9, 'x', '{{}}')",
    ):
        with (
            pytest.raises(DBAPIError, match="signed session is immutable"),
            engine.begin() as connection,
        ):
            connection.execute(text(statement))
    with transaction(engine, write=False) as session:
        assert session.get_one(TreatmentSession, session_id).notes == (
            "pinpoint bleeding on the cheeks"
        )


def test_a_draft_can_be_revised_and_its_products_replaced(
    engine: Engine, clinic_id: uuid.UUID, kb: KnowledgeBase, patient_id: uuid.UUID,
    practitioner_id: uuid.UUID,
) -> None:  # fmt: skip
    session_id = record(engine, clinic_id, kb, patient_id, practitioner_id)
    products = [{"product": "ha_skin_booster", "lot": "HB9", "expiry": "2027-05-01"}]
    data = session_data(kb, patient_id, practitioner_id, products=products, notes="revised")
    with transaction(engine) as session:
        revised = sessions.revise_session(session, context(), clinic_id, session_id, data, kb)
        assert [p.lot.lot_number for p in revised.products if p.lot] == ["HB9"]
    assert events(engine)[-1].action == "session.update"


def test_an_amendment_replaces_a_signed_session_and_keeps_its_history(
    engine: Engine, clinic_id: uuid.UUID, kb: KnowledgeBase, patient_id: uuid.UUID,
    practitioner_id: uuid.UUID,
) -> None:  # fmt: skip
    original = record(engine, clinic_id, kb, patient_id, practitioner_id)
    sign(engine, clinic_id, kb, original)
    corrected = session_data(
        kb, patient_id, practitioner_id,
        products=[{"product": "ha_skin_booster", "lot": "HB2392", "expiry": "2027-03-31"}],
    )  # fmt: skip
    with transaction(engine) as session:
        with pytest.raises(InvalidInput, match="needs a reason"):
            sessions.amend_session(session, context(), clinic_id, original, corrected, kb, " ")
        amendment = sessions.amend_session(
            session, context(), clinic_id, original, corrected, kb, "wrong lot number copied"
        ).id
    with (
        pytest.raises(InvalidInput, match=f"already has an amendment: {amendment}"),
        transaction(engine) as session,
    ):
        sessions.amend_session(session, context(), clinic_id, original, corrected, kb, "b")
    sign(engine, clinic_id, kb, amendment)
    with transaction(engine) as session:
        versions = sessions.session_history(session, context(), clinic_id, original)
        assert [v.id for v in versions] == [original, amendment]
        assert [v.status for v in versions] == [SessionStatus.AMENDED, SessionStatus.SIGNED]
        assert versions[1].amendment_reason == "wrong lot number copied"
        assert [p.lot.lot_number for p in versions[0].products if p.lot] == ["HB2391"]
        assert sessions.session_history(session, context(), clinic_id, amendment) == versions
    with (
        pytest.raises(InvalidInput, match=f"already amended by {amendment}"),
        transaction(engine) as session,
    ):
        sessions.amend_session(session, context(), clinic_id, original, corrected, kb, "c")
    actions = [e.action for e in events(engine)]
    assert actions[-4:-2] == ["session.supersede", "session.sign"]


def test_a_session_is_revised_and_amended_only_by_the_practitioner_who_treated(
    engine: Engine, clinic_id: uuid.UUID, kb: KnowledgeBase, patient_id: uuid.UUID,
    practitioner_id: uuid.UUID,
) -> None:  # fmt: skip
    colleague = make_practitioner(engine, clinic_id)
    draft = record(engine, clinic_id, kb, patient_id, practitioner_id)
    theirs = session_data(kb, patient_id, colleague, notes="rewritten by a colleague")
    with (
        pytest.raises(InvalidInput, match="practitioner: a revision is made by the practitioner"),
        transaction(engine) as session,
    ):
        sessions.revise_session(session, context(), clinic_id, draft, theirs, kb)
    sign(engine, clinic_id, kb, draft)
    before = session_counts(engine)
    with (
        pytest.raises(InvalidInput, match="practitioner: an amendment is made by the practit"),
        transaction(engine) as session,
    ):
        sessions.amend_session(session, context(), clinic_id, draft, theirs, kb, "why")
    assert session_counts(engine) == before
    with transaction(engine, write=False) as session:
        kept = session.get(TreatmentSession, draft)
        assert kept is not None
        assert (kept.practitioner_id, kept.status) == (practitioner_id, SessionStatus.SIGNED)


def test_signing_with_something_missing_needs_a_reason_which_is_recorded(
    engine: Engine, clinic_id: uuid.UUID, kb: KnowledgeBase, practitioner_id: uuid.UUID,
) -> None:  # fmt: skip
    patient_id = add_patient(engine, clinic_id)  # allergies never asked, no consent
    session_id = record(
        engine, clinic_id, kb, patient_id, practitioner_id,
        depths_mm={"cheeks": 1.5}, products=[{"product": "ha_skin_booster"}],
    )  # fmt: skip
    with pytest.raises(IncompleteRecord) as raised:
        sign(engine, clinic_id, kb, session_id)
    assert raised.value.problems == [
        "missing: no valid signed consent for microneedling",
        "missing: before-photo of cheeks",
        "missing: before-photo of forehead",
        "missing: products[0]: the lot number of ha_skin_booster",
        "missing: products[0]: the expiry date of ha_skin_booster",
        "missing: the patient's allergies (never asked): products were not checked",
        "missing: depths_mm.forehead: the needling depth used",
    ]
    signed = sign(engine, clinic_id, kb, session_id, reason="box discarded by the assistant")
    assert signed.incomplete_reason == "box discarded by the assistant"
    assert signed.missing_at_signing is not None
    assert len(signed.missing_at_signing) == 7


def test_a_complete_session_is_signed_without_a_reason(
    engine: Engine, clinic_id: uuid.UUID, kb: KnowledgeBase, patient_id: uuid.UUID,
    practitioner_id: uuid.UUID,
) -> None:  # fmt: skip
    session_id = record(engine, clinic_id, kb, patient_id, practitioner_id)
    with pytest.raises(InvalidInput, match="nothing is missing"):
        sign(engine, clinic_id, kb, session_id, reason="just because")
    assert sign(engine, clinic_id, kb, session_id).missing_at_signing is None


def test_each_treated_area_needs_a_before_photo_of_this_patient(
    engine: Engine, clinic_id: uuid.UUID, kb: KnowledgeBase, practitioner_id: uuid.UUID,
    storage: PhotoStorage,
) -> None:  # fmt: skip
    patient_id = add_patient(engine, clinic_id, allergies=[])
    add_consent(engine, clinic_id, patient_id)
    other = add_patient(engine, clinic_id, family_name="Ravel", allergies=[])
    add_photos(engine, clinic_id, storage, other, "forehead")  # another patient's
    add_photos(engine, clinic_id, storage, patient_id, "forehead", stage="after")
    add_photos(engine, clinic_id, storage, patient_id, "forehead", stage="follow_up")
    yesterday = NOW - dt.timedelta(days=1)  # not linked, and not of the session's day
    add_photos(engine, clinic_id, storage, patient_id, "forehead", taken_at=yesterday)
    session_id = record(engine, clinic_id, kb, patient_id, practitioner_id)
    add_photos(engine, clinic_id, storage, patient_id, "cheeks", session_id=session_id,
               taken_at=yesterday)  # fmt: skip
    with pytest.raises(IncompleteRecord) as raised:
        sign(engine, clinic_id, kb, session_id)
    assert raised.value.problems == ["missing: before-photo of forehead"]
    signed = sign(engine, clinic_id, kb, session_id, reason="patient declined the photo")
    assert signed.missing_at_signing == ["before-photo of forehead"]


def test_a_before_photo_linked_to_a_session_counts_for_its_amendment(
    engine: Engine, clinic_id: uuid.UUID, kb: KnowledgeBase, practitioner_id: uuid.UUID,
    storage: PhotoStorage,
) -> None:  # fmt: skip
    patient_id = add_patient(engine, clinic_id, allergies=[])
    add_consent(engine, clinic_id, patient_id)
    original = record(engine, clinic_id, kb, patient_id, practitioner_id, areas=["cheeks"],
                      depths_mm={"cheeks": 1.5}, passes={}, products=[])  # fmt: skip
    add_photos(engine, clinic_id, storage, patient_id, "cheeks", session_id=original,
               taken_at=NOW - dt.timedelta(days=1))  # fmt: skip
    sign(engine, clinic_id, kb, original)
    corrected = session_data(kb, patient_id, practitioner_id, areas=["cheeks"],
                             depths_mm={"cheeks": 1.0}, passes={}, products=[])  # fmt: skip
    with transaction(engine) as session:
        amendment = sessions.amend_session(
            session, context(), clinic_id, original, corrected, kb, "depth misread"
        ).id
    assert sign(engine, clinic_id, kb, amendment).missing_at_signing is None


def test_references_are_checked_and_nothing_is_written_when_they_fail(
    engine: Engine, clinic_id: uuid.UUID, kb: KnowledgeBase, patient_id: uuid.UUID,
    practitioner_id: uuid.UUID,
) -> None:  # fmt: skip
    receptionist = make_practitioner(engine, clinic_id, role=service.StaffRole.RECEPTION)
    before = session_counts(engine)
    with pytest.raises(NotFound, match="no patient"):
        record(engine, clinic_id, kb, uuid.uuid4(), practitioner_id)
    with pytest.raises(InvalidInput, match="not an active practitioner"):
        record(engine, clinic_id, kb, patient_id, receptionist)
    assert session_counts(engine) == before
    with transaction(engine, write=False) as session:
        assert session.scalars(select(ProductLot)).all() == []


@pytest.mark.parametrize(
    ("performed_at", "problem"),
    [
        ("2026-11-03T09:31:00+00:00", "performed_at: 2026-11-03T09:31:00+00:00 is more than a day"),
        ("1988-04-11T10:00:00+00:00", "performed_at: 1988-04-11 is before the patient's birth"),
        ("1890-06-01T10:00:00+00:00", "performed_at: 1890-06-01 is more than 130 years ago"),
        ("0001-01-01T00:00:00+01:00", "performed_at: 0001-01-01T00:00:00+01:00 is not between"),
    ],
)
def test_a_session_after_tomorrow_or_before_its_patient_is_refused(
    engine: Engine, clinic_id: uuid.UUID, kb: KnowledgeBase, storage: PhotoStorage,
    practitioner_id: uuid.UUID, performed_at: str, problem: str,
) -> None:  # fmt: skip
    """A year typed wrong (2062, 0001) is caught: a session is recorded once given, with a
    day's slack, and not before its patient was born (or 130 years back, the oldest birth
    date the records take)."""
    born = dt.date(1988, 4, 12) if "birth" in problem else None
    patient = add_patient(engine, clinic_id, allergies=[], birth_date=born)
    before = session_counts(engine)
    with pytest.raises(InvalidInput) as raised:
        record(engine, clinic_id, kb, patient, practitioner_id, performed_at=performed_at)
    assert [p[: len(problem)] for p in raised.value.problems] == [problem]
    assert session_counts(engine) == before
    tomorrow = "2026-11-03T09:29:00+00:00"  # within the day's slack of the clock (NOW)
    assert record(engine, clinic_id, kb, patient, practitioner_id, performed_at=tomorrow)


def _dc_session(day: str) -> dict[str, Any]:
    return {
        "performed_at": f"{day}T10:00:00+01:00",
        "modality": "mesotherapy",
        "areas": ["submental"],
        "depths_mm": {},
        "passes": {},
        "injection_points": [],
        "products": [
            {
                "product": "deoxycholic_acid_10mg_ml",
                "lot": "KY1",
                "expiry": "2027-12-31",
                "volumes_ml": {"submental": 6.0},
            }
        ],
    }


def test_the_record_counts_earlier_sessions_against_the_label(
    engine: Engine, clinic_id: uuid.UUID, kb: KnowledgeBase, practitioner_id: uuid.UUID,
) -> None:  # fmt: skip
    """A 7th deoxycholic acid session, or one too soon after the last, is refused; revising
    or amending a session does not count it twice."""
    patient_id = add_patient(engine, clinic_id, allergies=[])
    days = [f"2026-{month:02d}-02" for month in range(5, 11)]
    ids = [
        record(engine, clinic_id, kb, patient_id, practitioner_id, **_dc_session(day))
        for day in days
    ]
    problems = refused(
        engine, clinic_id, kb, patient_id, practitioner_id, **_dc_session("2026-10-20")
    )
    assert problems == [
        "products[0]: deoxycholic_acid_10mg_ml: its label allows 6 sessions in all, and 6 are "
        "on record (" + ", ".join(days) + ")",
        "products[0]: deoxycholic_acid_10mg_ml: 18 days after the session of 2026-10-02; its "
        "label asks at least 30",
    ]
    data = session_data(kb, patient_id, practitioner_id, **_dc_session(days[-1]))
    with transaction(engine) as session:
        sessions.revise_session(session, context(), clinic_id, ids[-1], data, kb)
    sign(engine, clinic_id, kb, ids[-1], reason="no before-photo: demonstration")
    with transaction(engine) as session:
        sessions.amend_session(session, context(), clinic_id, ids[-1], data, kb, "volume typo")
