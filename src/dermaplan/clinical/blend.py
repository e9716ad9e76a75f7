"""The mesotherapy blend: formulary products chosen per area to cover the concerns.

A product is only proposed where every component is allowed for this patient (no
allergen, no rule against it, no evidence of no benefit or regulator's warning for the
concern) and where its label allows the area. Products whose label forbids mixing are
given alone; incompatible ingredients are never put in one syringe.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

from dermaplan.clinical.assessment import Assessment
from dermaplan.clinical.plan import (
    AreaDose,
    Blend,
    Check,
    Exclusion,
    Finding,
    FindingSeverity,
    Preparation,
)
from dermaplan.knowledge import KnowledgeBase
from dermaplan.knowledge.schema import Evidence, Ingredient, NotFor, Product, Regulatory

BLOCKING = (FindingSeverity.ABSOLUTE, FindingSeverity.RELATIVE, FindingSeverity.MISSING)
HELD = "held back until answered"
EVIDENCE_RANK = {level: rank for rank, level in enumerate(Evidence)}


def excluded_ingredients(
    knowledge: KnowledgeBase, assessment: Assessment, findings: Iterable[Finding]
) -> dict[str, Exclusion]:
    """Ingredients this patient may not receive, each with the first reason found."""
    excluded: dict[str, Exclusion] = {}
    for finding in findings:
        if finding.severity not in BLOCKING:
            continue
        held = HELD if finding.severity is FindingSeverity.MISSING else ""
        for ingredient in finding.ingredients:
            reason = f"{finding.title} ({held or finding.severity.value}: {finding.because})"
            excluded.setdefault(
                ingredient,
                Exclusion(ingredient, None, None, reason, finding.code, finding.sources),
            )
    allergic = formulary(knowledge).allergic
    for allergen in sorted(assessment.allergies or ()):
        for entry in allergic.get(allergen, ()):
            hit = set(assessment.allergies or ()).intersection(entry.allergens)
            excluded.setdefault(
                entry.id,
                Exclusion(
                    entry.id,
                    None,
                    None,
                    f"recorded allergy: {', '.join(sorted(hit))}",
                    None,
                    tuple(entry.sources),
                ),
            )
    return excluded


@dataclass(frozen=True)
class Formulary:
    """The products indexed once per knowledge base, for the hot path."""

    by_concern: dict[str, tuple[Product, ...]]
    claims: dict[str, frozenset[str]]
    vetoes: dict[str, dict[str, tuple[str, NotFor]]]  # product → concern → why not
    strength: dict[str, int]
    allergic: dict[str, tuple[Ingredient, ...]]  # allergen → ingredients that carry it
    ingredients_for: dict[str, frozenset[str]]  # concern → ingredients of products claiming it
    additive_ingredients: frozenset[str]
    anaesthetic_ingredients: frozenset[str]


@lru_cache(maxsize=16)
def formulary(knowledge: KnowledgeBase) -> Formulary:
    treating = sorted((p for p in knowledge.products.values() if p.concerns), key=lambda p: p.id)
    by_concern: dict[str, list[Product]] = {}
    vetoes: dict[str, dict[str, tuple[str, NotFor]]] = {}
    for product in treating:
        for claim in product.concerns:
            by_concern.setdefault(claim.concern, []).append(product)
        vetoes[product.id] = {}
        for component in product.components:
            for not_for in knowledge.ingredients[component.ingredient].not_for:
                vetoes[product.id].setdefault(not_for.concern, (component.ingredient, not_for))
    return Formulary(
        by_concern={concern: tuple(products) for concern, products in by_concern.items()},
        claims={p.id: frozenset(c.concern for c in p.concerns) for p in treating},
        vetoes=vetoes,
        strength={p.id: min(EVIDENCE_RANK[c.evidence] for c in p.concerns) for p in treating},
        allergic={
            allergen: tuple(i for i in knowledge.ingredients.values() if allergen in i.allergens)
            for allergen in knowledge.vocabulary["allergens"]
        },
        ingredients_for={
            concern: frozenset(
                c.ingredient for p in by_concern.get(concern, ()) for c in p.components
            )
            for concern in knowledge.concerns
        },
        additive_ingredients=frozenset(
            c.ingredient
            for p in knowledge.products.values()
            if p.additive_for
            for c in p.components
        ),
        anaesthetic_ingredients=frozenset(
            i for option in knowledge.needling.anaesthesia for i in option.ingredients
        ),
    )


@dataclass
class _Chooser:
    knowledge: KnowledgeBase
    blocked: Mapping[str, Exclusion]
    excluded: list[Exclusion]

    def product_ban(self, product: Product, area: str) -> Exclusion | None:
        """Why a product may not be used on this area for this patient, if it may not."""
        if product.regulatory is Regulatory.DISCONTINUED:
            return Exclusion(product.id, None, area, "discontinued", None, tuple(product.sources))
        policy = product.requires_policy
        if policy is not None and not self.knowledge.policy(policy):
            return Exclusion(
                product.id,
                None,
                area,
                f"clinic policy {policy} is off: {product.regulatory_note}",
                None,
                tuple(self.knowledge.policies[policy].sources),
            )
        if product.areas is not None and area not in product.areas and product.areas_on_label:
            allowed = ", ".join(product.areas)
            return Exclusion(
                product.id,
                None,
                area,
                f"label limits it to {allowed}",
                None,
                tuple(product.sources),
            )
        for component in product.components:
            ban = self.blocked.get(component.ingredient)
            if ban is not None:
                return Exclusion(
                    product.id,
                    None,
                    area,
                    f"contains {component.ingredient}: {ban.reason}",
                    ban.rule,
                    ban.sources,
                )
        return None

    def covers(self, product: Product, concerns: Iterable[str], area: str) -> set[str]:
        """The concerns a product may be proposed for here; logs what it may not."""
        index = formulary(self.knowledge)
        claimed = index.claims[product.id]
        vetoes = index.vetoes[product.id]
        covered = set()
        for concern in concerns:
            if concern not in claimed:
                continue
            veto = vetoes.get(concern)
            if veto is None:
                covered.add(concern)
                continue
            ingredient, not_for = veto
            self.excluded.append(
                Exclusion(
                    product.id,
                    concern,
                    area,
                    f"{ingredient}: {not_for.reason.replace('_', ' ')}: {not_for.message}",
                    None,
                    tuple(not_for.sources),
                )
            )
        return covered


def choose_products(
    knowledge: KnowledgeBase,
    area_concerns: Mapping[str, tuple[str, ...]],
    blocked: Mapping[str, Exclusion],
) -> tuple[dict[str, dict[str, tuple[str, ...]]], list[str], list[Exclusion]]:
    """Per area, product → concerns it covers; plus uncovered concern:area pairs."""
    chooser = _Chooser(knowledge, blocked, [])
    index = formulary(knowledge)
    chosen: dict[str, dict[str, tuple[str, ...]]] = {}
    uncovered: list[str] = []
    for area, concerns in sorted(area_concerns.items()):
        remaining = set(concerns)
        options: dict[str, set[str]] = {}
        candidates = {p.id: p for c in concerns for p in index.by_concern.get(c, ())}
        for product in (candidates[key] for key in sorted(candidates)):
            if (
                product.areas is not None
                and area not in product.areas
                and not product.areas_on_label
            ):
                continue
            ban = chooser.product_ban(product, area)
            if ban is not None:
                chooser.excluded.append(ban)
                continue
            covered = chooser.covers(product, concerns, area)
            if covered:
                options[product.id] = covered
        picks: dict[str, tuple[str, ...]] = {}
        while remaining:
            best = min(
                (p for p in options if options[p] & remaining),
                key=lambda p: (
                    -len(options[p] & remaining),
                    index.strength[p],
                    p,
                ),
                default=None,
            )
            if best is None:
                break
            picks[best] = tuple(sorted(options[best] & remaining))
            remaining -= options[best]
        uncovered.extend(f"{concern}:{area}" for concern in sorted(remaining))
        if picks:
            chosen[area] = picks
    return chosen, uncovered, chooser.excluded


def _incompatible(knowledge: KnowledgeBase, ingredients: Iterable[str]) -> list[tuple[str, str]]:
    present = set(ingredients)
    clashes = set()
    for ingredient in present:
        for clash in knowledge.ingredients[ingredient].incompatible_with:
            if clash.ingredient in present:
                clashes.add(tuple(sorted((ingredient, clash.ingredient))))
    return sorted((a, b) for a, b in clashes)


def _ingredients_of(knowledge: KnowledgeBase, products: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted({c.ingredient for p in products for c in knowledge.products[p].components}))


def _no_mixing(knowledge: KnowledgeBase, product: Product) -> bool:
    return not product.mixable or any(
        knowledge.ingredients[c.ingredient].no_mixing for c in product.components
    )


def _syringes(
    knowledge: KnowledgeBase,
    chosen: Mapping[str, Mapping[str, tuple[str, ...]]],
    checks: list[Check],
) -> dict[tuple[str, ...], dict[str, tuple[str, ...]]]:
    """Group chosen products into syringes: area → concerns, keyed by product tuple."""
    syringes: dict[tuple[str, ...], dict[str, tuple[str, ...]]] = {}
    for area, picks in chosen.items():
        mixable = sorted(p for p in picks if not _no_mixing(knowledge, knowledge.products[p]))
        groups: list[tuple[str, ...]] = [(p,) for p in sorted(picks) if p not in mixable]
        by_route: dict[str, list[str]] = {}
        for product_id in mixable:
            by_route.setdefault(knowledge.products[product_id].route, []).append(product_id)
        for members in by_route.values():
            clashes = _incompatible(knowledge, _ingredients_of(knowledge, members))
            if clashes:
                groups.extend((p,) for p in members)
                for a, b in clashes:
                    checks.append(
                        Check(f"{a} and {b} are incompatible: given in separate syringes")
                    )
            else:
                groups.append(tuple(members))
        for group in groups:
            concerns = sorted({c for p in group for c in picks[p]})
            syringes.setdefault(group, {})[area] = tuple(concerns)
    return syringes


def _clash_reason(knowledge: KnowledgeBase, a: str, b: str) -> tuple[str, tuple[str, ...]]:
    """Why two ingredients may not share a syringe, from whichever side records it."""
    found = [
        clash
        for first, second in ((a, b), (b, a))
        for clash in knowledge.ingredients[first].incompatible_with
        if clash.ingredient == second
    ]
    return "; ".join(c.effect for c in found), tuple(s for c in found for s in c.sources)


def _add_pain_relief(
    knowledge: KnowledgeBase,
    syringes: dict[tuple[str, ...], dict[str, tuple[str, ...]]],
    blocked: Mapping[str, Exclusion],
    checks: list[Check],
    excluded: list[Exclusion],
) -> dict[tuple[str, ...], dict[str, tuple[str, ...]]]:
    """Mix the clinic's pain-relief additive into each syringe that may take it."""
    additive = next(
        (p for p in sorted(knowledge.products.values(), key=lambda p: p.id) if p.additive_for),
        None,
    )
    if additive is None:
        return syringes
    ban = next(
        (blocked[c.ingredient] for c in additive.components if c.ingredient in blocked), None
    )
    if ban is not None:
        excluded.append(Exclusion(additive.id, None, None, ban.reason, ban.rule, ban.sources))
        return syringes
    result: dict[tuple[str, ...], dict[str, tuple[str, ...]]] = {}
    for group, areas in syringes.items():
        clashes = _incompatible(knowledge, _ingredients_of(knowledge, (*group, additive.id)))
        if clashes:
            effect, sources = _clash_reason(knowledge, *clashes[0])
            reason = f"not mixed into {', '.join(group)}: {effect}"
            excluded.append(Exclusion(additive.id, None, None, reason, None, sources))
            result[group] = areas
        elif any(_no_mixing(knowledge, knowledge.products[p]) for p in group):
            text = f"{additive.id} not added to {', '.join(group)}: supplied ready to use"
            checks.append(Check(text))
            result[group] = areas
        else:
            result[tuple(sorted((*group, additive.id)))] = areas
    return result


def _doses(
    products: list[Product], areas: Mapping[str, tuple[str, ...]], paired: frozenset[str]
) -> tuple[list[AreaDose], float | None]:
    per_point = min(p.volume_per_point_ml for p in products if p.volume_per_point_ml)
    doses: list[AreaDose] = []
    for area in sorted(areas):
        counts = [
            dosing.points * (2 if dosing.per_side and area in paired else 1)
            for p in products
            for dosing in p.dosing
            if area in dosing.areas
        ]
        points = min(counts) if counts else None
        volume = round(points * per_point, 3) if points is not None else None
        note = None if points is not None else "points as the grid over the marked area requires"
        doses.append(AreaDose(area, points, volume, note))
    limits = [p.max_volume_per_session_ml for p in products if p.max_volume_per_session_ml]
    cap_points = [p.max_points_per_session for p in products if p.max_points_per_session]
    known = sum(d.volume_ml for d in doses if d.volume_ml is not None)
    total_points = sum(d.points for d in doses if d.points is not None)
    scale = 1.0
    if limits and known > min(limits):
        scale = min(limits) / known
    if cap_points and total_points > min(cap_points):
        scale = min(scale, min(cap_points) / total_points)
    if scale < 1.0:
        doses = [
            AreaDose(
                d.area,
                math.floor(d.points * scale),
                round(math.floor(d.points * scale) * per_point, 3),
                "reduced to stay within the per-session maximum",
            )
            if d.points is not None
            else d
            for d in doses
        ]
    if limits and scale == 1.0 and known >= min(limits):
        full = (
            f"the {min(limits):g} mL session maximum is used by the areas with a point count: "
            "share it (fewer points there) or treat this area at another sitting"
        )
        doses = [AreaDose(d.area, None, None, full) if d.points is None else d for d in doses]
    volumes = [d.volume_ml for d in doses]
    total = (
        round(sum(v for v in volumes if v is not None), 3)
        if any(v is not None for v in volumes)
        else None
    )
    return doses, total


@dataclass(frozen=True)
class _Group:
    """What a syringe's product set implies, whatever the patient: worked out once."""

    products: list[Product]
    lead: Product  # the first product that treats a concern: its route and technique lead
    ingredients: tuple[str, ...]
    volume_per_point_ml: float
    grid_spacing_cm: float | None
    max_volume_per_session_ml: float | None
    max_points_per_session: int | None
    regulatory: tuple[str, ...]
    sources: tuple[str, ...]
    checks: tuple[Check, ...]


@lru_cache(maxsize=1024)
def _group(knowledge: KnowledgeBase, group: tuple[str, ...]) -> _Group:
    products = [knowledge.products[p] for p in group]
    treating = [p for p in products if p.concerns]
    return _Group(
        products=products,
        lead=treating[0] if treating else products[0],
        ingredients=_ingredients_of(knowledge, group),
        volume_per_point_ml=min(p.volume_per_point_ml for p in products if p.volume_per_point_ml),
        grid_spacing_cm=min(
            (p.grid_spacing_cm for p in products if p.grid_spacing_cm), default=None
        ),
        max_volume_per_session_ml=min(
            (p.max_volume_per_session_ml for p in products if p.max_volume_per_session_ml),
            default=None,
        ),
        max_points_per_session=min(
            (p.max_points_per_session for p in products if p.max_points_per_session),
            default=None,
        ),
        regulatory=tuple(f"{p.id}: {p.regulatory.value}" for p in products),
        sources=tuple(sorted({s for p in products for s in p.sources})),
        checks=tuple(
            Check(f"{p.id} is given alone, never diluted or mixed (label)", tuple(p.sources))
            for p in products
            if any(knowledge.ingredients[c.ingredient].no_mixing for c in p.components)
        ),
    )


def build_blend(
    knowledge: KnowledgeBase,
    assessment: Assessment,
    area_concerns: Mapping[str, tuple[str, ...]],
    blocked: Mapping[str, Exclusion],
    paired_areas: frozenset[str],
) -> Blend:
    chosen, uncovered, excluded = choose_products(knowledge, area_concerns, blocked)
    checks: list[Check] = []
    syringes = _syringes(knowledge, chosen, checks)
    if assessment.goals.pain_tolerance == "low":
        syringes = _add_pain_relief(knowledge, syringes, blocked, checks, excluded)
    preparations = []
    for group in sorted(syringes):
        areas = syringes[group]
        facts = _group(knowledge, group)
        doses, total = _doses(facts.products, areas, paired_areas)
        preparations.append(
            Preparation(
                products=group,
                ingredients=facts.ingredients,
                mixed=len(group) > 1,
                concerns=tuple(sorted({c for cs in areas.values() for c in cs})),
                route=facts.lead.route,
                technique=facts.lead.technique,
                depth=facts.lead.depth,
                volume_per_point_ml=facts.volume_per_point_ml,
                grid_spacing_cm=facts.grid_spacing_cm,
                areas=tuple(doses),
                volume_ml=total,
                max_volume_per_session_ml=facts.max_volume_per_session_ml,
                max_points_per_session=facts.max_points_per_session,
                regulatory=facts.regulatory,
                sources=facts.sources,
            )
        )
        checks.extend(facts.checks)
    volumes = [p.volume_ml for p in preparations if p.volume_ml is not None]
    if assessment.allergies:
        checks.append(
            Check("no component carries a recorded allergen: " + ", ".join(assessment.allergies))
        )
    return Blend(
        preparations=tuple(preparations),
        total_volume_ml=round(sum(volumes), 3) if volumes else None,
        uncovered=tuple(uncovered),
        excluded=tuple(
            sorted(set(excluded), key=lambda e: (e.item, e.area or "", e.concern or ""))
        ),
        checks=tuple(sorted(set(checks), key=lambda c: c.text)),
    )
