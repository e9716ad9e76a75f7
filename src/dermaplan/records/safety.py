"""The checks a session record passes: safety at record time, completeness at signing.

Both are pure functions over the session, the knowledge, the patient's recorded allergies,
(for safety) the linked consult's plan and the patient's other sessions, and (for
completeness) what the caller found of consents and before-photos: no database, no clock.
The session's own date is the "today" an expiry is compared with. Each item names the field
it is about.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from dermaplan.clinical.assessment import Procedure
from dermaplan.clinical.blend import counted_sessions, label_ban
from dermaplan.knowledge import KnowledgeBase
from dermaplan.knowledge.schema import Modality
from dermaplan.records.clinics import UTC_ZONE, clinic_day
from dermaplan.records.enums import ConsentKind
from dermaplan.records.plans import StoredPlan
from dermaplan.records.schemas import SessionData

TREATMENT_CONSENT = {
    Modality.MESOTHERAPY: ConsentKind.TREATMENT_MESOTHERAPY,
    Modality.MICRONEEDLING: ConsentKind.TREATMENT_MICRONEEDLING,
    Modality.COMBINED: ConsentKind.TREATMENT_COMBINED,
}
NEEDLED = frozenset({Modality.MICRONEEDLING, Modality.COMBINED})


@dataclass(frozen=True, slots=True)
class Refusal:
    """A reason the session contradicts safety; only a practitioner's override passes it."""

    # depth_limit | expired_product | allergen | contraindicated_modality | label_area |
    # label_volume | label_total | label_interval | ingredient_maximum | needled_skin
    code: str
    message: str


def consent_covers(modality: Modality, kinds: Collection[ConsentKind]) -> bool:
    """Whether valid consents of these kinds cover a session of this modality: combined
    needs a combined consent, or both a mesotherapy and a microneedling one."""
    if TREATMENT_CONSENT[modality] in kinds:
        return True
    return modality is Modality.COMBINED and {
        ConsentKind.TREATMENT_MESOTHERAPY,
        ConsentKind.TREATMENT_MICRONEEDLING,
    } <= set(kinds)


def ingredient_hits(
    ingredients: Iterable[str], allergies: Sequence[str], knowledge: KnowledgeBase
) -> list[str]:
    """The recorded allergies these ingredients carry: an allergen they contain, named by
    any of its words (KnowledgeBase.allergen_terms), or the ingredient itself named."""
    recorded = {allergy.casefold() for allergy in allergies}
    hits: set[str] = set()
    for ingredient_id in ingredients:
        ingredient = knowledge.ingredients[ingredient_id]
        hits |= recorded & {ingredient.id, ingredient.name.casefold()}
        for allergen in ingredient.allergens:
            hits |= recorded & knowledge.allergen_terms.get(allergen, frozenset({allergen}))
    return sorted(hits)


def allergen_hits(product: str, allergies: Sequence[str], knowledge: KnowledgeBase) -> list[str]:
    """The recorded allergies a formulary product's ingredients carry; [] for a product
    outside the formulary, which can't be checked."""
    entry = knowledge.products.get(product)
    if entry is None:
        return []
    return ingredient_hits((c.ingredient for c in entry.components), allergies, knowledge)


def _label_refusals(
    session: SessionData, knowledge: KnowledgeBase, earlier: Sequence[Procedure], day: dt.date
) -> list[Refusal]:
    """What the products' labels forbid: a product discontinued or off by the clinic's
    policy, or outside its label's areas, more than a sitting
    allows (a product's volume, an ingredient's mass over all products), one session too
    many or too soon after the last (the record's earlier sessions counted), or a product
    not meant for needled skin given where the session needles."""
    needled = (
        (set(session.depths_mm) or set(session.areas)) if session.modality in NEEDLED else set()
    )
    refusals: list[Refusal] = []
    mass: dict[str, float] = {}
    carriers: dict[str, list[str]] = {}
    for index, use in enumerate(session.products):
        product = knowledge.products.get(use.product)
        if product is None:
            continue
        where = set(use.volumes_ml) or set(session.areas)
        at = f"products[{index}]: {product.id}"
        bans: dict[str, list[str]] = {}
        for area in sorted(where):
            ban = label_ban(knowledge, product, area)
            if ban is not None:
                bans.setdefault(ban.reason, []).append(area)
        refusals += [
            Refusal("label_area", f"{at} may not be given on {', '.join(areas)}: {reason}")
            for reason, areas in bans.items()
        ]
        volume = sum(use.volumes_ml.values())
        limit = product.max_volume_per_session_ml
        if limit is not None and volume > limit + 1e-9:
            refusals.append(
                Refusal(
                    "label_volume",
                    f"{at}: {volume:g} mL is more than the {limit:g} mL "
                    "its label allows in one sitting",
                )
            )
        for component in product.components:
            if component.mg_per_ml is not None:
                mass[component.ingredient] = mass.get(component.ingredient, 0.0) + (
                    component.mg_per_ml * volume
                )
                carriers.setdefault(component.ingredient, []).append(str(index))
        before = [d for d in counted_sessions(knowledge, earlier, product, where) if d <= day]
        if product.max_sessions is not None and len(before) + 1 > product.max_sessions:
            refusals.append(
                Refusal(
                    "label_total",
                    f"{at}: its label allows {product.max_sessions} sessions "
                    f"in all, and {len(before)} are on record ({', '.join(map(str, before))})",
                )
            )
        gap = product.min_interval_days
        if gap is not None and before and (day - before[-1]).days < gap:
            refusals.append(
                Refusal(
                    "label_interval",
                    f"{at}: {(day - before[-1]).days} days after the "
                    f"session of {before[-1]}; its label asks at least {gap}",
                )
            )
        if not product.open_skin and where & needled:
            refusals.append(
                Refusal(
                    "needled_skin",
                    f"{at} is not meant for needled skin, and this session "
                    f"needles {', '.join(sorted(where & needled))}",
                )
            )
    for ingredient, mg in sorted(mass.items()):
        cap = knowledge.ingredients[ingredient].max_mg_per_session
        if cap is not None and mg > cap.mg + 1e-9:
            refusals.append(
                Refusal(
                    "ingredient_maximum",
                    f"products[{', '.join(carriers[ingredient])}]: {mg:g} mg of {ingredient} "
                    f"in one sitting, above the {cap.mg:g} mg allowed",
                )
            )
    return refusals


def safety_refusals(
    session: SessionData,
    knowledge: KnowledgeBase,
    allergies: Sequence[str] | None,
    plan: StoredPlan | None,
    earlier: Sequence[Procedure] = (),
    where: ZoneInfo = UTC_ZONE,
) -> list[Refusal]:
    """What in this session contradicts safety: too deep, expired, allergen, against a
    product's label (`earlier`: the patient's other sessions on record, as procedures), or
    a modality the linked plan found contraindicated. Days are the clinic's (`where`)."""
    refusals = []
    if session.modality in NEEDLED:
        for area, depth in session.depths_mm.items():
            entry = knowledge.areas.get(area)
            limit = entry.deepest_cap_mm if entry else None
            if limit is not None and depth > limit:
                refusals.append(
                    Refusal(
                        "depth_limit",
                        f"depths_mm.{area}: {depth} mm is deeper than the {area} limit "
                        f"of {limit} mm",
                    )
                )
    day = clinic_day(session.performed_at, where)
    for index, use in enumerate(session.products):
        if use.expiry is not None and use.expiry < day:
            refusals.append(
                Refusal(
                    "expired_product",
                    f"products[{index}]: {use.product} lot {use.lot or '?'} expired on "
                    f"{use.expiry}, before the session ({day})",
                )
            )
        hits = allergen_hits(use.product, allergies or (), knowledge)
        if hits:
            refusals.append(
                Refusal(
                    "allergen",
                    f"products[{index}]: {use.product} contains what the patient is "
                    f"allergic to: {', '.join(hits)}",
                )
            )
    refusals += _label_refusals(session, knowledge, earlier, day)
    if plan is not None and plan.decision(session.modality) == "contraindicated":
        refusals.append(
            Refusal(
                "contraindicated_modality",
                f"modality: the linked consult's plan found {session.modality.value} "
                "contraindicated",
            )
        )
    return refusals


def missing_items(
    session: SessionData,
    knowledge: KnowledgeBase,
    allergies: Sequence[str] | None,
    consents: Collection[ConsentKind],
    photographed: Collection[str],
    planned: Collection[str] | None = None,
) -> list[str]:
    """What the record lacks before it can be signed without a reason; `consents` are the
    kinds of consent valid at the session (records.consents.consented_kinds), `photographed`
    the areas a before-photo shows (records.sessions.completeness), `planned` the products
    the plan the session follows gives for its modality (None: it follows no plan). A
    product given beyond that plan is a change from what was approved: the signature says
    why."""
    missing = []
    if not consent_covers(session.modality, consents):
        missing.append(f"no valid signed consent for {session.modality.value}")
    missing += [f"before-photo of {area}" for area in session.areas if area not in photographed]
    for index, use in enumerate(session.products):
        if use.lot is None:
            missing.append(f"products[{index}]: the lot number of {use.product}")
        if use.expiry is None:
            missing.append(f"products[{index}]: the expiry date of {use.product}")
        if use.product not in knowledge.products:
            missing.append(
                f"products[{index}]: {use.product} is not in the formulary, so its "
                "ingredients were not checked against allergies"
            )
        if planned is not None and use.product not in planned:
            missing.append(
                f"products[{index}]: {use.product} is not in the approved plan the session "
                f"follows, which gives {', '.join(sorted(planned)) or 'no product'} for "
                f"{session.modality.value}"
            )
    if session.products and allergies is None:
        missing.append("the patient's allergies (never asked): products were not checked")
    if session.modality in NEEDLED:
        for area in session.areas:
            entry = knowledge.areas.get(area)
            if area not in session.depths_mm:
                missing.append(f"depths_mm.{area}: the needling depth used")
            elif entry is not None and entry.deepest_cap_mm is None:
                missing.append(
                    f"depths_mm.{area}: no sourced depth limit for {area}, so the depth "
                    "was not checked"
                )
    return missing
