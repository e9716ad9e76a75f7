"""The checks a session record passes: safety at record time, completeness at signing.

Both are pure functions over the session, the knowledge, the patient's recorded allergies,
(for safety) the linked consult's plan and (for completeness) what the caller found of
consents and before-photos: no database, no clock. The session's own date
is the "today" an expiry is compared with. Each item names the field it is about.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dermaplan.knowledge import KnowledgeBase
from dermaplan.knowledge.schema import Modality
from dermaplan.records.models import ConsentKind
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

    code: str  # depth_limit | expired_product | allergen | contraindicated_modality
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


def _plan_decision(plan: Mapping[str, Any] | None, modality: Modality) -> str | None:
    if plan is None:
        return None
    for decision in plan.get("decisions") or ():
        if isinstance(decision, dict) and decision.get("modality") == modality.value:
            value = decision.get("decision")
            return value if isinstance(value, str) else None
    return None


def safety_refusals(
    session: SessionData,
    knowledge: KnowledgeBase,
    allergies: Sequence[str] | None,
    plan: Mapping[str, Any] | None,
) -> list[Refusal]:
    """What in this session contradicts safety: too deep, expired, allergen, or a modality
    the linked plan found contraindicated."""
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
    day = session.performed_at.date()
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
    if _plan_decision(plan, session.modality) == "contraindicated":
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
) -> list[str]:
    """What the record lacks before it can be signed without a reason; `consents` are the
    kinds of consent valid at the session (records.consents.consented_kinds), `photographed`
    the areas a before-photo shows (records.sessions.completeness)."""
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
