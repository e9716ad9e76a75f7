"""The session checks are pure: no database. Each finding names its field, and no session
the schema accepts makes them crash."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from dermaplan.clinical.assessment import Procedure
from dermaplan.knowledge import KnowledgeBase, load_knowledge
from dermaplan.records.enums import ConsentKind
from dermaplan.records.errors import InvalidInput
from dermaplan.records.plans import StoredPlan
from dermaplan.records.safety import allergen_hits, missing_items, safety_refusals
from dermaplan.records.schemas import SessionData
from tests.records.factories import session_fields

KB = load_knowledge()
PATIENT, PRACTITIONER = uuid.uuid4(), uuid.uuid4()
CONTRAINDICATED = StoredPlan.model_validate(
    {
        "schema_version": "2",
        "decisions": [{"modality": "microneedling", "decision": "contraindicated"}],
    }
)


ALL_CONSENTS = frozenset(ConsentKind)


def data(kb: KnowledgeBase, **fields: Any) -> SessionData:
    return SessionData.parse(session_fields(PATIENT, PRACTITIONER, **fields), kb)


def test_a_safe_complete_session_has_no_findings(kb: KnowledgeBase) -> None:
    session = data(kb)
    assert safety_refusals(session, kb, [], None) == []
    assert missing_items(session, kb, [], ALL_CONSENTS, session.areas) == []


@given(
    given_products=st.sets(st.sampled_from(sorted(KB.products)), max_size=3),
    planned=st.none() | st.sets(st.sampled_from(sorted(KB.products)), max_size=3),
)
@settings(max_examples=60, deadline=None)
def test_every_product_given_beyond_the_plan_followed_is_listed(
    given_products: set[str], planned: set[str] | None
) -> None:
    """Whatever the plan the session follows gives, and whatever the session gave: each
    product beyond the plan is listed at its place (a change from what was approved, which
    the signature must explain), none within it; a session that follows no plan, none."""
    session = data(
        KB,
        products=[
            {"product": name, "lot": "L1", "expiry": "2027-03-31", "volumes_ml": {"cheeks": 0.5}}
            for name in sorted(given_products)
        ],
    )
    listed = [
        item
        for item in missing_items(session, KB, [], ALL_CONSENTS, session.areas, planned)
        if "not in the approved plan" in item
    ]
    beyond = [
        f"products[{index}]: {name}"
        for index, name in enumerate(sorted(given_products))
        if planned is not None and name not in planned
    ]
    assert [item.split(" is not")[0] for item in listed] == beyond


def test_each_area_without_a_before_photo_is_listed(kb: KnowledgeBase) -> None:
    session = data(kb)  # cheeks and forehead
    assert missing_items(session, kb, [], ALL_CONSENTS, ["forehead", "neck"]) == [
        "before-photo of cheeks"
    ]
    assert missing_items(session, kb, [], ALL_CONSENTS, ()) == [
        "before-photo of cheeks",
        "before-photo of forehead",
    ]


def test_each_refusal_names_its_field(kb: KnowledgeBase) -> None:
    session = data(
        kb,
        depths_mm={"cheeks": 2.5, "forehead": 0.5},
        products=[{"product": "lidocaine_additive", "lot": "L1", "expiry": "2026-11-01"}],
    )
    refusals = safety_refusals(session, kb, ["Lidocaine"], CONTRAINDICATED)
    assert [(r.code, r.message.split(":")[0]) for r in refusals] == [
        ("depth_limit", "depths_mm.cheeks"),
        ("expired_product", "products[0]"),
        ("allergen", "products[0]"),
        ("needled_skin", "products[0]"),
        ("contraindicated_modality", "modality"),
    ]


def _dc(volumes: dict[str, float], **fields: Any) -> dict[str, Any]:
    use = {"product": "deoxycholic_acid_10mg_ml", "lot": "K1", "expiry": "2027-06-30"}
    return {
        "modality": "mesotherapy",
        "areas": sorted(volumes),
        "depths_mm": {},
        "passes": {},
        "injection_points": [],
        "products": [use | {"volumes_ml": volumes}],
        **fields,
    }


def _earlier(*days: str) -> list[Procedure]:
    return [
        Procedure(type="deoxycholic_acid", date=dt.date.fromisoformat(d), areas=["submental"])
        for d in days
    ]


def test_a_session_within_the_label_passes(kb: KnowledgeBase) -> None:
    session = data(kb, **_dc({"submental": 8.0}))
    assert safety_refusals(session, kb, [], None, _earlier("2026-09-01", "2026-10-01")) == []


def test_the_label_limits_a_session_may_not_pass(kb: KnowledgeBase) -> None:
    """What the review recorded without a word: a 7th deoxycholic acid session, 18 days after
    the last, 19 mL in one sitting, on the jawline."""
    session = data(kb, **_dc({"submental": 9.0, "jawline": 10.0}))
    six = _earlier(*(f"2026-{m:02d}-15" for m in range(5, 10)), "2026-10-15")
    codes = [r.code for r in safety_refusals(session, kb, [], None, six)]
    assert codes == [
        "label_area",
        "label_volume",
        "label_total",
        "label_interval",
        "ingredient_maximum",
    ]
    message = safety_refusals(session, kb, [], None, six)[2].message
    assert message.startswith("products[0]: deoxycholic_acid_10mg_ml: its label allows 6 sessions")


def test_a_product_the_clinic_has_switched_off_is_refused(kb: KnowledgeBase) -> None:
    """The unapproved lipolytic is off by the clinic's policy: a record of it is refused as
    a plan proposing it would be, on every area."""
    lipolytic = {"product": "pc_dc_lipolytic", "lot": "P1", "expiry": "2027-06-30"}
    session = data(
        kb,
        modality="mesotherapy",
        areas=["abdomen"],
        depths_mm={},
        passes={},
        injection_points=[],
        products=[lipolytic | {"volumes_ml": {"abdomen": 1.0}}],
    )
    refusals = safety_refusals(session, kb, [], None)
    assert [r.code for r in refusals] == ["label_area"]
    assert "allow_unapproved_lipolytics is off" in refusals[0].message


def test_nothing_but_open_skin_products_where_a_session_needles(kb: KnowledgeBase) -> None:
    vitamin_c = {"product": "vitamin_c_brightening", "lot": "V1", "expiry": "2027-06-30"}
    session = data(
        kb,
        modality="combined",
        products=[vitamin_c | {"volumes_ml": {"cheeks": 1.0}}],
    )
    assert [r.code for r in safety_refusals(session, kb, [], None)] == ["needled_skin"]
    booster = data(kb, modality="combined")  # the HA booster is made for needled skin
    assert safety_refusals(booster, kb, [], None) == []


def test_depth_limits_apply_to_needling_only(kb: KnowledgeBase) -> None:
    meso = data(kb, modality="mesotherapy", depths_mm={"forehead": 4.0})
    assert safety_refusals(meso, kb, [], None) == []


def test_an_expiry_on_the_session_day_is_still_good(kb: KnowledgeBase) -> None:
    today = [{"product": "ha_skin_booster", "lot": "L", "expiry": "2026-11-02"}]
    assert safety_refusals(data(kb, products=today), kb, [], None) == []


def test_allergens_match_by_id_name_example_or_ingredient(kb: KnowledgeBase) -> None:
    for allergy in ("amide_anaesthetic", "amide anaesthetic", "LIDOCAINE", "prilocaine"):
        assert allergen_hits("lidocaine_additive", [allergy], kb) == [allergy.casefold()]
    assert allergen_hits("lidocaine_additive", ["soy"], kb) == []
    assert allergen_hits("a clinic's own serum", ["lidocaine"], kb) == []


def test_what_cannot_be_checked_is_listed_as_missing(kb: KnowledgeBase) -> None:
    session = data(
        kb,
        areas=["hands"],
        depths_mm={"hands": 1.0},
        passes={},
        injection_points=[],
        products=[{"product": "home-made serum", "lot": "S1", "expiry": "2027-01-01"}],
    )
    assert missing_items(session, kb, None, ALL_CONSENTS, ["hands"]) == [
        "products[0]: home-made serum is not in the formulary, so its ingredients were not "
        "checked against allergies",
        "the patient's allergies (never asked): products were not checked",
        "depths_mm.hands: no sourced depth limit for hands, so the depth was not checked",
    ]


AREAS = sorted(KB.areas)
PRODUCTS = [*sorted(KB.products), "free text product"]
ALLERGY_WORDS = ["lidocaine", "soy", "fish", "hyaluronic_acid", "nickel", "Latex", ""]


@st.composite
def sessions(draw: st.DrawFn) -> dict[str, Any]:
    areas = draw(st.lists(st.sampled_from(AREAS), min_size=1, max_size=4, unique=True))
    depth = st.floats(min_value=0.01, max_value=5)
    return {
        "patient": str(PATIENT),
        "practitioner": str(PRACTITIONER),
        "performed_at": draw(st.datetimes(timezones=st.just(dt.UTC))).isoformat(),
        "modality": draw(st.sampled_from(["mesotherapy", "microneedling", "combined"])),
        "areas": areas,
        "depths_mm": draw(st.dictionaries(st.sampled_from(areas), depth)),
        "products": [
            {
                "product": draw(st.sampled_from(PRODUCTS)),
                "lot": draw(st.none() | st.text(min_size=1, max_size=8).map(str.strip)),
                "expiry": draw(st.none() | st.dates()),
                "volumes_ml": draw(st.dictionaries(st.sampled_from(areas), depth)),
            }
            for _ in range(draw(st.integers(0, 3)))
        ],
    }


@settings(max_examples=200, deadline=None)
@given(
    raw=sessions(),
    allergies=st.none() | st.lists(st.sampled_from(ALLERGY_WORDS)),
    plan=st.none() | st.just(CONTRAINDICATED),
)
def test_the_checks_never_crash_and_always_name_a_field(
    raw: dict[str, Any], allergies: list[str] | None, plan: StoredPlan | None
) -> None:
    try:
        session = SessionData.parse(raw, KB)
    except InvalidInput:  # refused input is another test's subject
        return
    fields = (
        "depths_mm.",
        "products[",
        "modality:",
        "the patient's",
        "no valid signed consent",
        "before-photo of ",
    )
    for refusal in safety_refusals(session, KB, allergies, plan):
        assert refusal.message.startswith(fields)
    for item in missing_items(session, KB, allergies, (), ()):
        assert item.startswith(fields)


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=5),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(
                st.sampled_from(["schema_version", "decisions", "courses", "modality", "x"]),
                inner,
                max_size=4,
            )
        ),
        max_leaves=12,
    )
)
def test_a_stored_plan_is_read_or_refused_never_crashes(document: Any) -> None:
    problems: list[str] = []
    try:
        plan = StoredPlan.read(json.dumps(document))
    except InvalidInput as error:
        problems = error.problems
    else:
        assert plan.schema_version in {"1", "2"}
    assert all(p.startswith("the consult's plan") for p in problems)
