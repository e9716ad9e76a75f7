"""The mesotherapy blend: formulary products chosen per area to cover the concerns.

A product is only proposed where every component is allowed for this patient there (no
allergen, no rule against it on that area, no evidence of no benefit or regulator's warning
for the concern), where its label allows the area and the concern's severity, and while its
label's total of sessions is not used up by earlier ones. For each concern the product with
the strongest evidence is chosen; coverage breaks ties. Products whose label forbids mixing
are given alone; incompatible ingredients are never put in one syringe. Every per-sitting
maximum holds: a product's volume and points, and an ingredient's mass summed over every
syringe of the sitting.
"""

from __future__ import annotations

import datetime as dt
import math
import operator
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from dermaplan.clinical.assessment import Assessment, Procedure
from dermaplan.clinical.course import templates_for
from dermaplan.clinical.plan import (
    ABSOLUTE,
    MISSING,
    RELATIVE,
    AreaDose,
    Blend,
    Check,
    Exclusion,
    Finding,
    Preparation,
    ProductUse,
)
from dermaplan.knowledge import KnowledgeBase
from dermaplan.knowledge.conditions import Comparison, walk
from dermaplan.knowledge.schema import (
    Evidence,
    Ingredient,
    IngredientConcern,
    Modality,
    NotFor,
    Product,
    Regulatory,
)
from dermaplan.vocabulary import COMBINED, MESOTHERAPY, MICRONEEDLING

NO_VOLUME = "no source gives a volume per point: the practitioner decides"
BLOCKING = (ABSOLUTE, RELATIVE, MISSING)
HELD = "held back until answered"
EVIDENCE_RANK = {level: rank for rank, level in enumerate(Evidence)}


def hardness(exclusion: Exclusion) -> int:
    """How hard a safety exclusion is, hardest first: contraindicated, deferred, then the
    ones a sign-off or an answer may lift; not safety last."""
    if exclusion.severity is ABSOLUTE:
        return 1 if exclusion.until_text is not None else 0
    if exclusion.severity in (RELATIVE, MISSING):
        return 2
    return 3


@dataclass(frozen=True, slots=True)
class Block:
    """Why an ingredient may not be given, and where (None: anywhere)."""

    exclusion: Exclusion
    areas: frozenset[str] | None
    level: int  # the exclusion's hardness

    def covers(self, areas: Iterable[str]) -> bool:
        return self.areas is None or not self.areas.isdisjoint(areas)


Blocks = Mapping[str, tuple[Block, ...]]
_LEVEL = operator.attrgetter("level")


def excluded_ingredients(
    knowledge: KnowledgeBase, assessment: Assessment, findings: Iterable[Finding]
) -> dict[str, tuple[Block, ...]]:
    """Ingredients this patient may not receive, with why and where: a rule's finding on
    the areas it concerns, a recorded allergy everywhere."""
    excluded: dict[str, list[Block]] = {}
    for finding in findings:
        if finding.severity not in BLOCKING or not finding.ingredients:
            continue
        held = HELD if finding.severity is MISSING else ""
        until = f"; until {finding.until}" if finding.until is not None else ""
        reason = f"{finding.title} ({held or finding.severity}: {finding.because}{until})"
        where = frozenset(finding.areas)
        level: int | None = None  # the same for every ingredient of the finding
        for ingredient in finding.ingredients:
            exclusion = Exclusion(
                ingredient,
                None,
                None,
                reason,
                finding.code,
                finding.sources,
                finding.severity,
                finding.until,
                finding.until_text,
            )
            if level is None:
                level = hardness(exclusion)
            excluded.setdefault(ingredient, []).append(Block(exclusion, where, level))
    recorded = set(assessment.allergies or ())
    allergic = formulary(knowledge).allergic
    for allergen in sorted(recorded):
        for entry in allergic.get(allergen, ()):
            hit = ", ".join(sorted(recorded.intersection(entry.allergens)))
            exclusion = Exclusion(
                entry.id,
                None,
                None,
                f"recorded allergy: {hit}",
                None,
                tuple(entry.sources),
                ABSOLUTE,
            )
            blocks = excluded.setdefault(entry.id, [])
            if all(b.exclusion.reason != exclusion.reason for b in blocks):
                blocks.append(Block(exclusion, None, hardness(exclusion)))
    return {
        ingredient: tuple(sorted(blocks, key=_LEVEL)) for ingredient, blocks in excluded.items()
    }


def blocks_on(blocked: Blocks, areas: Iterable[str]) -> dict[str, Exclusion]:
    """The hardest exclusion of each ingredient that applies to any of these areas."""
    wanted = frozenset(areas)
    found: dict[str, Exclusion] = {}
    for ingredient, blocks in blocked.items():
        for block in blocks:
            if block.covers(wanted):
                found[ingredient] = block.exclusion
                break
    return found


@dataclass(frozen=True)
class Formulary:
    """The products indexed once per knowledge base, for the hot path."""

    by_concern: dict[str, tuple[Product, ...]]
    claims: dict[str, dict[str, IngredientConcern]]  # product → concern → its claim
    vetoes: dict[str, dict[str, tuple[str, NotFor]]]  # product → concern → why not
    allergic: dict[str, tuple[Ingredient, ...]]  # allergen → ingredients that carry it
    # allergens a rule for mesotherapy reads (a device, not an ingredient): the rule decides
    ruled_allergens: frozenset[str]
    ingredients_for: dict[str, frozenset[str]]  # concern → ingredients of products claiming it
    additive_ingredients: frozenset[str]
    anaesthetic_ingredients: frozenset[str]
    counted: dict[str, frozenset[str]]  # product → procedure types that are its earlier sessions


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
        claims={p.id: {c.concern: c for c in p.concerns} for p in treating},
        vetoes=vetoes,
        allergic={
            allergen: tuple(i for i in knowledge.ingredients.values() if allergen in i.allergens)
            for allergen in knowledge.vocabulary["allergens"]
        },
        ruled_allergens=frozenset(
            node.fact.removeprefix("allergies.")
            for rule in knowledge.rules
            if MESOTHERAPY in rule.modalities
            for node in walk(rule.when)
            if isinstance(node, Comparison) and node.fact.startswith("allergies.")
        ),
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
        counted={
            p.id: frozenset(
                item.id
                for item in knowledge.screening.procedures
                if {c.ingredient for c in p.components}.intersection(item.ingredients)
            )
            for p in treating
            if p.max_sessions is not None
        },
    )


def candidate_ingredients(
    knowledge: KnowledgeBase,
    meso: Mapping[str, Iterable[str]],
    needled: Mapping[str, Iterable[str]],
    pain_relief: bool,
) -> dict[Modality, frozenset[str]]:
    """The ingredients each modality might use for these area concerns (with the pain-relief
    additive where it may be asked for): the rules about them are worth reading, and an open
    question about one holds the modality's plan."""
    index = formulary(knowledge)
    injected: set[str] = set()
    for concerns in meso.values():
        for concern in concerns:
            injected.update(index.ingredients_for[concern])
    if meso and pain_relief:
        injected.update(index.additive_ingredients)
    numbing = index.anaesthetic_ingredients if needled else frozenset()
    return {
        MESOTHERAPY: frozenset(injected),
        MICRONEEDLING: frozenset(numbing),
        COMBINED: frozenset(injected | numbing),
    }


def earlier_sessions(
    knowledge: KnowledgeBase, assessment: Assessment, product: Product, areas: Iterable[str]
) -> list[dt.date] | None:
    """The dates of earlier sessions that count against the product's label total: those
    procedures on its label areas (on these areas where it has none), or on no stated
    area; None while the procedures were not asked."""
    kinds = formulary(knowledge).counted.get(product.id)
    if not kinds:
        return []
    if assessment.procedures is None:
        return None
    return counted_sessions(knowledge, assessment.procedures, product, areas)


def counted_sessions(
    knowledge: KnowledgeBase,
    procedures: Iterable[Procedure],
    product: Product,
    areas: Iterable[str],
) -> list[dt.date]:
    """The days of these procedures that count against the product's label total: of a kind
    that carries its ingredient, on its label areas (on these areas where it has none) or on
    no stated area."""
    kinds = formulary(knowledge).counted.get(product.id, frozenset())
    where = set(product.areas or areas)
    return sorted(
        {
            p.date
            for p in procedures
            if p.type in kinds and (not p.areas or where.intersection(p.areas))
        }
    )


def label_ban(knowledge: KnowledgeBase, product: Product, area: str) -> Exclusion | None:
    """Why a product may not be used on this area whoever the patient: discontinued, off by
    the clinic's policy, or outside its label's areas."""
    if product.regulatory is Regulatory.DISCONTINUED:
        return Exclusion(product.id, None, area, "discontinued", None, tuple(product.sources))
    policy = product.requires_policy
    if policy is not None and not knowledge.policy(policy):
        return Exclusion(
            product.id,
            None,
            area,
            f"clinic policy {policy} is off: {product.regulatory_note}",
            None,
            tuple(knowledge.policies[policy].sources),
        )
    if product.areas is not None and area not in product.areas and product.areas_on_label:
        allowed = ", ".join(product.areas)
        return Exclusion(
            product.id, None, area, f"label limits it to {allowed}", None, tuple(product.sources)
        )
    return None


def _patient_ban(
    knowledge: KnowledgeBase,
    assessment: Assessment,
    blocked: Blocks,
    product: Product,
    area: str,
) -> Exclusion | None:
    """Why this patient may not have a product on this area, the hardest reason first: an
    ingredient a finding or an allergy rules out there, or its label's total of sessions used
    up (or not yet known) - a total used up outranks a wait, which it would otherwise hide."""
    bans = [
        Exclusion(
            product.id,
            None,
            area,
            f"contains {component.ingredient}: {block.exclusion.reason}",
            block.exclusion.rule,
            block.exclusion.sources,
            block.exclusion.severity,
            block.exclusion.until,
            block.exclusion.until_text,
        )
        for component in product.components
        for block in blocked.get(component.ingredient, ())
        if block.covers((area,))
    ]
    total = _label_total(knowledge, assessment, product, area)
    if total is not None:
        bans.append(total)
    return min(bans, key=hardness, default=None)


def _label_total(
    knowledge: KnowledgeBase, assessment: Assessment, product: Product, area: str
) -> Exclusion | None:
    """A product whose label total of sessions the earlier ones have used up, or that cannot
    be counted while the earlier procedures are unknown."""
    if product.max_sessions is None:
        return None
    given = earlier_sessions(knowledge, assessment, product, (area,))
    if given is None:
        return Exclusion(
            product.id,
            None,
            area,
            f"its label allows {product.max_sessions} sessions in all; earlier sessions "
            f"are unknown ({HELD})",
            None,
            tuple(product.sources),
            MISSING,
        )
    if len(given) < product.max_sessions:
        return None
    return Exclusion(
        product.id,
        None,
        area,
        f"its label allows {product.max_sessions} sessions in all, and {len(given)} "
        f"were given before ({', '.join(str(d) for d in given)})",
        None,
        tuple(product.sources),
        ABSOLUTE,
    )


@lru_cache(maxsize=4096)
def _candidates(
    knowledge: KnowledgeBase, area: str, concerns: tuple[str, ...]
) -> tuple[tuple[Product, ...], tuple[Exclusion, ...]]:
    """The products that claim one of these concerns and may be used on the area whoever
    the patient, and the label's exclusions of the others."""
    index = formulary(knowledge)
    found = {p.id: p for c in concerns for p in index.by_concern.get(c, ())}
    usable, excluded = [], []
    for product in (found[key] for key in sorted(found)):
        if product.areas is not None and area not in product.areas and not product.areas_on_label:
            continue
        ban = label_ban(knowledge, product, area)
        if ban is None:
            usable.append(product)
        else:
            excluded.append(ban)
    return tuple(usable), tuple(excluded)


@lru_cache(maxsize=4096)
def _pick(
    knowledge: KnowledgeBase,
    area: str,
    concerns: tuple[tuple[str, str], ...],  # (concern, severity)
    allowed: tuple[str, ...],  # product ids
) -> tuple[dict[str, tuple[str, ...]], tuple[str, ...], tuple[Exclusion, ...]]:
    """For one area, product → the concerns it is chosen for, the concerns left uncovered,
    and why an allowed product was not used for a concern (a claim's severities, evidence of
    no benefit, a regulator's warning). A product is chosen for a concern only where no
    allowed product has stronger evidence for it; among those, the fewest cover the most.
    Depends on no more than its arguments, so it is remembered."""
    index = formulary(knowledge)
    excluded: list[Exclusion] = []
    options: dict[str, set[str]] = {}
    for product_id in allowed:
        claims, vetoes = index.claims[product_id], index.vetoes[product_id]
        covered = set()
        for concern, severity in concerns:
            claim = claims.get(concern)
            if claim is None:
                continue
            if claim.severities is not None and severity not in claim.severities:
                excluded.append(
                    Exclusion(
                        product_id,
                        concern,
                        area,
                        f"claimed for {' or '.join(claim.severities)} {concern} only; "
                        f"this is {severity}",
                        None,
                        tuple(claim.sources),
                    )
                )
                continue
            veto = vetoes.get(concern)
            if veto is not None:
                ingredient, not_for = veto
                excluded.append(
                    Exclusion(
                        product_id,
                        concern,
                        area,
                        f"{ingredient}: {not_for.reason.replace('_', ' ')}: {not_for.message}",
                        None,
                        tuple(not_for.sources),
                    )
                )
                continue
            covered.add(concern)
        if covered:
            options[product_id] = covered
    rank = {
        (p, c): EVIDENCE_RANK[index.claims[p][c].evidence] for p, cs in options.items() for c in cs
    }
    best: dict[str, int] = {}
    for (_, concern), level in rank.items():
        best[concern] = min(level, best.get(concern, level))
    qualified = {p: {c for c in cs if rank[p, c] == best[c]} for p, cs in options.items()}
    remaining = {concern for concern, _ in concerns}
    picks: dict[str, tuple[str, ...]] = {}
    while remaining:
        pick = min(
            (p for p in qualified if qualified[p] & remaining),
            key=lambda p: (-len(qualified[p] & remaining), p),
            default=None,
        )
        if pick is None:
            break
        picks[pick] = tuple(sorted(qualified[pick] & remaining))
        remaining -= qualified[pick]
    return picks, tuple(sorted(remaining)), tuple(excluded)


def choose_products(
    knowledge: KnowledgeBase,
    assessment: Assessment,
    area_concerns: Mapping[str, tuple[str, ...]],
    blocked: Blocks,
) -> tuple[dict[str, dict[str, tuple[str, ...]]], list[str], list[Exclusion]]:
    """Per area, product → the concerns it is chosen for; plus uncovered concern:area pairs
    and every exclusion met on the way."""
    severity = {
        (entry.concern, area): entry.severity
        for entry in assessment.concerns
        for area in entry.areas
    }
    chosen: dict[str, dict[str, tuple[str, ...]]] = {}
    uncovered: list[str] = []
    excluded: list[Exclusion] = []
    for area, concerns in sorted(area_concerns.items()):
        usable, label_bans = _candidates(knowledge, area, concerns)
        excluded += label_bans
        allowed = []
        for product in usable:
            ban = _patient_ban(knowledge, assessment, blocked, product, area)
            if ban is None:
                allowed.append(product.id)
            else:
                excluded.append(ban)
        picks, left, vetoed = _pick(
            knowledge, area, tuple([(c, severity[c, area]) for c in concerns]), tuple(allowed)
        )
        excluded += vetoed
        uncovered.extend([f"{concern}:{area}" for concern in left])
        if picks:
            chosen[area] = picks
    return chosen, uncovered, excluded


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
        # one syringe is one course: products whose courses differ are given apart
        by_route: dict[tuple[str, tuple[str, ...]], list[str]] = {}
        for product_id in mixable:
            key = _course_key(knowledge, product_id, picks[product_id])
            by_route.setdefault(key, []).append(product_id)
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


@lru_cache(maxsize=1024)
def _course_key(
    knowledge: KnowledgeBase, product_id: str, concerns: tuple[str, ...]
) -> tuple[str, tuple[str, ...]]:
    """What a product's syringe shares with the others it may be mixed with: its route and
    the course its concerns give it."""
    course = templates_for(knowledge, MESOTHERAPY, concerns, (product_id,))
    return knowledge.products[product_id].route, tuple(t.id for t in course)


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
    blocked: Blocks,
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
    result: dict[tuple[str, ...], dict[str, tuple[str, ...]]] = {}
    for group, areas in syringes.items():
        bans = blocks_on(
            {c.ingredient: blocked.get(c.ingredient, ()) for c in additive.components}, areas
        )
        clashes = _incompatible(knowledge, _ingredients_of(knowledge, (*group, additive.id)))
        if bans:
            ban = min(bans.values(), key=hardness)
            excluded.append(
                Exclusion(
                    additive.id,
                    None,
                    None,
                    ban.reason,
                    ban.rule,
                    ban.sources,
                    ban.severity,
                    ban.until,
                    ban.until_text,
                )
            )
            result[group] = areas
        elif clashes:
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


def _volume(points: int, per_point: float | None) -> float | None:
    return None if per_point is None else round(points * per_point, 3)


def _scaled(
    doses: Sequence[AreaDose], scale: float, per_point: float | None, why: str
) -> list[AreaDose]:
    """Fewer points (or less volume, where a source gives only a volume) in every counted
    area, to stay within a maximum."""
    return [
        AreaDose(
            d.area,
            math.floor(d.points * scale),
            _volume(math.floor(d.points * scale), per_point),
            why,
        )
        if d.points is not None
        else AreaDose(d.area, None, math.floor(d.volume_ml * scale * 1000) / 1000, why)
        if d.volume_ml is not None
        else d
        for d in doses
    ]


def _total(doses: Iterable[AreaDose]) -> float | None:
    volumes = [d.volume_ml for d in doses if d.volume_ml is not None]
    return round(sum(volumes), 3) if volumes else None


@lru_cache(maxsize=4096)
def _doses(
    knowledge: KnowledgeBase, group: tuple[str, ...], areas: tuple[str, ...], paired: frozenset[str]
) -> tuple[AreaDose, ...]:
    """A syringe's dose on each of its areas, within its per-session maxima: knowledge-only
    (its products and areas), so remembered."""
    facts = _group(knowledge, group)
    per_point = facts.volume_per_point_ml
    doses: list[AreaDose] = []
    for area in areas:
        sourced = [d for p in facts.products for d in p.dosing if area in d.areas]
        sides = {id(d): 2 if d.per_side and area in paired else 1 for d in sourced}
        counts = [d.points * sides[id(d)] for d in sourced if d.points is not None]
        volumes = [d.volume_ml * sides[id(d)] for d in sourced if d.volume_ml is not None]
        points = min(counts) if counts else None
        volume = (
            round(min(volumes), 3)
            if volumes
            else _volume(points, per_point)
            if points is not None
            else None
        )
        note = None if points is not None else "points as the grid over the marked area requires"
        if volume is None and per_point is None:
            note = (note + "; " if note else "") + NO_VOLUME
        doses.append(AreaDose(area, points, volume, note))
    limit = facts.max_volume_per_session_ml
    cap_points = facts.max_points_per_session
    known = sum(d.volume_ml for d in doses if d.volume_ml is not None)
    total_points = sum(d.points for d in doses if d.points is not None)
    scale = 1.0
    if limit is not None and known > limit:
        scale = limit / known
    if cap_points is not None and total_points > cap_points:
        scale = min(scale, cap_points / total_points)
    if scale < 1.0:
        doses = _scaled(doses, scale, per_point, "reduced to stay within the per-session maximum")
    if limit is not None and known * min(scale, 1.0) >= limit - 1e-9:
        full = (
            f"the {limit:g} mL session maximum is used by the areas with a point count: "
            "share it (fewer points there) or treat this area at another sitting"
        )
        doses = [AreaDose(d.area, None, None, full) if d.points is None else d for d in doses]
    return tuple(doses)


@dataclass(frozen=True)
class _Group:
    """What a syringe's product set implies, whatever the patient: worked out once."""

    products: list[Product]
    lead: Product  # the first product that treats a concern: its route and technique lead
    ingredients: tuple[str, ...]
    volume_per_point_ml: float | None
    grid_spacing_cm: float | None
    max_volume_per_session_ml: float | None
    max_points_per_session: int | None
    regulatory: tuple[str, ...]
    sources: tuple[str, ...]
    checks: tuple[Check, ...]
    # ingredient → mg in each mL of the syringe, at most (a mixture dilutes it)
    mg_per_ml: tuple[tuple[str, float], ...]


@lru_cache(maxsize=1024)
def _group(knowledge: KnowledgeBase, group: tuple[str, ...]) -> _Group:
    products = [knowledge.products[p] for p in group]
    treating = [p for p in products if p.concerns]
    strength: dict[str, float] = {}
    for product in products:
        for component in product.components:
            mg = component.mg_per_ml
            if mg is not None and knowledge.ingredients[component.ingredient].max_mg_per_session:
                strength[component.ingredient] = max(strength.get(component.ingredient, 0.0), mg)
    return _Group(
        products=products,
        lead=treating[0] if treating else products[0],
        ingredients=_ingredients_of(knowledge, group),
        volume_per_point_ml=min(
            (p.volume_per_point_ml for p in products if p.volume_per_point_ml), default=None
        ),
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
        )
        + tuple(
            Check(f"{p.id}: {p.handling.text}", tuple(p.handling.sources))
            for p in products
            if p.handling is not None
        ),
        mg_per_ml=tuple(sorted(strength.items())),
    )


def _ingredient_caps(
    knowledge: KnowledgeBase,
    groups: list[tuple[_Group, Sequence[AreaDose]]],
    checks: list[Check],
) -> tuple[list[tuple[_Group, Sequence[AreaDose]]], dict[int, str]]:
    """Keep each capped ingredient's mass in one sitting, summed over every syringe that
    carries it, within its maximum. Syringes join the sitting whole, in order of evidence;
    one that does not fit is given on a day of its own (returned with the reason), reduced
    only where alone it is still above the maximum - never all shrunk alike into doses that
    treat nothing."""
    capped = {
        index: dict(facts.mg_per_ml) for index, (facts, _) in enumerate(groups) if facts.mg_per_ml
    }
    caps = {
        name: cap
        for name in sorted({n for carried in capped.values() for n in carried})
        if (cap := knowledge.ingredients[name].max_mg_per_session) is not None
    }
    order = sorted(capped, key=lambda i: (EVIDENCE_RANK[groups[i][0].lead.evidence], i))

    def mass(index: int) -> dict[str, float]:
        volume = _total(groups[index][1]) or 0.0
        return {n: mg * volume for n, mg in capped[index].items() if n in caps}

    def unmeasured(index: int) -> bool:
        return any(d.volume_ml is None for d in groups[index][1])

    requested = {n: sum(mass(i).get(n, 0.0) for i in order) for n in caps}
    sitting: dict[str, float] = {}
    together: list[int] = []
    apart: dict[int, str] = {}
    for index in order:
        asked = mass(index)
        over = {n: m for n, m in asked.items() if m > caps[n].mg + 1e-9}
        if over:
            facts, doses = groups[index]
            why = "reduced: " + "; ".join(
                f"{n} would be {m:g} mg, above {caps[n].mg:g} mg in one sitting"
                for n, m in over.items()
            )
            scale = min(caps[n].mg / m for n, m in over.items())
            groups[index] = (facts, _scaled(doses, scale, facts.volume_per_point_ml, why))
            asked = mass(index)
        clash = [i for i in together if set(mass(i)) & set(asked)]
        # a syringe whose volume is not set carries an unknown mass: it shares no sitting
        # with another carrier of the same capped ingredient
        blind = bool(clash) and (unmeasured(index) or any(unmeasured(i) for i in clash))
        if not blind and all(
            sitting.get(n, 0.0) + m <= caps[n].mg + 1e-9 for n, m in asked.items()
        ):
            together.append(index)
            for name, mg in asked.items():
                sitting[name] = sitting.get(name, 0.0) + mg
            continue
        shared = sorted({n for i in clash for n in mass(i)} & set(asked))
        others = sorted({p.id for i in clash for p in groups[i][0].products})
        apart[index] = f"on a day of its own, not with {', '.join(others)}: " + (
            f"a volume not set leaves the {', '.join(shared)} of one sitting unknown"
            if blind
            else f"together they would carry more {', '.join(shared)} than one sitting allows"
        )
    for name, cap in caps.items():
        text = f"{name}: at most {cap.mg:g} mg in one sitting, all syringes together"
        if apart and requested[name] > cap.mg + 1e-9:
            text += f" ({requested[name]:g} mg asked: some syringes on days of their own)"
        checks.append(Check(text, tuple(cap.sources)))
    return groups, apart


def _allergy_checks(knowledge: KnowledgeBase, allergies: Iterable[str]) -> list[Check]:
    """What the recorded allergies were checked against, and which the knowledge cannot
    check (no ingredient is known to carry them: the products' instructions must say)."""
    allergic = formulary(knowledge).allergic
    recorded = sorted(allergies)
    checked = [a for a in recorded if allergic.get(a)]
    unchecked = unchecked_allergies(knowledge, recorded)
    checks = []
    if checked:
        checks.append(Check("no component carries a recorded allergen: " + ", ".join(checked)))
    if unchecked:
        checks.append(Check(unchecked_allergens(unchecked)))
    return checks


def unchecked_allergies(knowledge: KnowledgeBase, allergies: Iterable[str]) -> list[str]:
    """The recorded allergies the knowledge cannot check for mesotherapy: no ingredient is
    known to carry them and no rule reads them."""
    known = formulary(knowledge)
    return sorted(
        a for a in allergies if not known.allergic.get(a) and a not in known.ruled_allergens
    )


def unchecked_allergens(allergens: Iterable[str]) -> str:
    return (
        "not checked: no ingredient in the knowledge is linked to "
        + ", ".join(allergens)
        + " - confirm with each product's instructions before use"
    )


def _uses(
    group: tuple[str, ...],
    areas: Iterable[str],
    chosen: Mapping[str, Mapping[str, tuple[str, ...]]],
) -> tuple[ProductUse, ...]:
    where: dict[tuple[str, str], list[str]] = {}
    for area in sorted(areas):
        for product in group:
            for concern in chosen.get(area, {}).get(product, ()):
                where.setdefault((product, concern), []).append(area)
    return tuple(ProductUse(p, c, tuple(a)) for (p, c), a in sorted(where.items()))


def build_blend(
    knowledge: KnowledgeBase,
    assessment: Assessment,
    area_concerns: Mapping[str, tuple[str, ...]],
    blocked: Blocks,
    paired_areas: frozenset[str],
) -> Blend:
    chosen, uncovered, excluded = choose_products(knowledge, assessment, area_concerns, blocked)
    checks: list[Check] = []
    syringes = _syringes(knowledge, chosen, checks)
    if assessment.goals.pain_tolerance == "low":
        syringes = _add_pain_relief(knowledge, syringes, blocked, checks, excluded)
    groups: list[tuple[_Group, Sequence[AreaDose]]] = [
        (
            _group(knowledge, group),
            _doses(knowledge, group, tuple(sorted(syringes[group])), paired_areas),
        )
        for group in sorted(syringes)
    ]
    groups, apart = _ingredient_caps(knowledge, groups, checks)
    preparations = []
    for index, (group, (facts, doses)) in enumerate(zip(sorted(syringes), groups, strict=True)):
        areas = syringes[group]
        preparations.append(
            Preparation(
                products=group,
                ingredients=facts.ingredients,
                mixed=len(group) > 1,
                concerns=tuple(sorted({c for cs in areas.values() for c in cs})),
                uses=_uses(group, areas, chosen),
                route=facts.lead.route,
                technique=facts.lead.technique,
                depth=facts.lead.depth,
                volume_per_point_ml=facts.volume_per_point_ml,
                grid_spacing_cm=facts.grid_spacing_cm,
                areas=tuple(doses),
                volume_ml=_total(doses),
                max_volume_per_session_ml=facts.max_volume_per_session_ml,
                max_points_per_session=facts.max_points_per_session,
                regulatory=facts.regulatory,
                sources=facts.sources,
                apart=apart.get(index),
            )
        )
        checks.extend(facts.checks)
    checks += _allergy_checks(knowledge, assessment.allergies or ())
    volumes = [p.volume_ml for p in preparations if p.volume_ml is not None]
    return Blend(
        preparations=tuple(preparations),
        total_volume_ml=round(sum(volumes), 3) if volumes else None,
        uncovered=tuple(sorted(set(uncovered))),
        excluded=tuple(
            sorted(set(excluded), key=lambda e: (e.item, e.area or "", e.concern or "", e.reason))
        ),
        checks=tuple(sorted(set(checks), key=lambda c: c.text)),
    )
