"""What a layer may do to an entry it replaces: add and tighten, never weaken.

A clinic layer replaces entries by id. Its wording, sources and dosing are its own; what
keeps a patient safe is not: a rule's condition and reach, a product's label limits, an
ingredient's allergens and maxima, an area's depth caps, the needling limits and the
screening questions, where a concern occurs and what treats it, downtimes and the pace of
courses. Each function returns one line per weakening, naming the field.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from pydantic import BaseModel

from dermaplan.knowledge.conditions import render
from dermaplan.knowledge.schema import (
    SEVERITY_RANK,
    Area,
    Concern,
    CourseTemplate,
    Ingredient,
    ModalityInfo,
    Needling,
    Product,
    Radiofrequency,
    Rule,
    Screening,
    Temporary,
)


def _fewer(what: str, before: Iterable[Any], after: Iterable[Any]) -> list[str]:
    lost = sorted(str(item) for item in set(before) - set(after))
    return [f"{what}: drops {', '.join(lost)}"] if lost else []


def _at_most(what: str, before: float | None, after: float | None) -> list[str]:
    """A maximum may be lowered, never raised or removed."""
    if before is None or (after is not None and after <= before):
        return []
    return [f"{what}: {before:g} may not become {'none' if after is None else f'{after:g}'}"]


def _at_least(what: str, before: float | None, after: float | None) -> list[str]:
    """A minimum may be raised, never lowered or removed."""
    if before is None or (after is not None and after >= before):
        return []
    return [f"{what}: {before:g} may not become {'none' if after is None else f'{after:g}'}"]


def _kept_true(what: str, before: bool, after: bool) -> list[str]:
    return [f"{what}: may not be turned off"] if before and not after else []


def _rule(before: Rule, after: Rule) -> list[str]:
    found = []
    if SEVERITY_RANK[after.severity] < SEVERITY_RANK[before.severity]:
        found.append(f"severity: {before.severity} may not become {after.severity}")
    if render(after.when) != render(before.when):
        found.append("when: the condition may not change (add a rule of the clinic's own)")
    found += _fewer("modalities", before.modalities, after.modalities)
    if not before.ingredients and after.ingredients:
        found.append("ingredients: a rule for the whole modality may not be narrowed to some")
    found += _fewer("ingredients", before.ingredients, after.ingredients)
    if not before.devices and after.devices:
        found.append("devices: a rule for the whole modality may not be narrowed to a device")
    elif after.devices:
        found += _fewer("devices", before.devices, after.devices)
    if before.areas is None and after.areas is not None:
        found.append("areas: a rule for whatever is treated may not be narrowed to some areas")
    elif before.areas is not None and after.areas is not None:
        found += _fewer("areas", before.areas, after.areas)
    found += _lasting(before.temporary, after.temporary)
    if before.refer is not None and after.refer is None:
        found.append("refer: the referral may not be dropped")
    return found


def _lasting(before: Temporary | None, after: Temporary | None) -> list[str]:
    """A rule may hold longer (or for good), never for less time; its wording is free."""
    if after is None:
        return []
    if before is None:
        return ["temporary: a rule that holds for good may not become temporary"]
    if after.from_fact != before.from_fact:
        return [f"temporary.from_fact: {before.from_fact} may not change"]
    was, now = before.days, after.days
    if now == was or (isinstance(was, float) and isinstance(now, float) and now >= was):
        return []
    return [f"temporary.days: {was} may not become {now}"]


def _product(before: Product, after: Product) -> list[str]:
    found = _fewer(
        "components",
        (c.ingredient for c in before.components),
        (c.ingredient for c in after.components),
    )
    strengths = {c.ingredient: (c.amount, c.unit) for c in after.components}
    for component in before.components:
        now = strengths.get(component.ingredient, (component.amount, component.unit))
        if now != (component.amount, component.unit):
            found.append(
                f"components.{component.ingredient}: {component.amount:g} {component.unit} "
                "may not change (what each sitting's totals are counted from)"
            )
    found += _at_most("max_sessions", before.max_sessions, after.max_sessions)
    found += _at_most(
        "max_points_per_session", before.max_points_per_session, after.max_points_per_session
    )
    found += _at_most(
        "max_volume_per_session_ml",
        before.max_volume_per_session_ml,
        after.max_volume_per_session_ml,
    )
    found += _at_least("min_interval_days", before.min_interval_days, after.min_interval_days)
    if before.downtime is not None:
        found += _at_least(
            "downtime.days.max",
            before.downtime.days.max,
            None if after.downtime is None else after.downtime.days.max,
        )
    if after.open_skin and not before.open_skin:
        found.append("open_skin: may not be turned on (what may go onto needled skin)")
    if after.mixable and not before.mixable:
        found.append("mixable: may not be turned on")
    found += _kept_true("areas_on_label", before.areas_on_label, after.areas_on_label)
    if before.areas_on_label and before.areas is not None:
        found += _wider("areas", before.areas, after.areas)
    if before.handling is not None and after.handling is None:
        found.append("handling: may not be dropped")
    if before.requires_policy is not None and after.requires_policy != before.requires_policy:
        found.append(f"requires_policy: {before.requires_policy} may not be dropped")
    limits = {c.concern: c.severities for c in before.concerns if c.severities is not None}
    for claim in after.concerns:
        if claim.concern in limits:
            found += _wider(
                f"concerns.{claim.concern}.severities", limits[claim.concern], claim.severities
            )
    return found


def _wider(what: str, before: Iterable[str], after: Iterable[str] | None) -> list[str]:
    """A limit to these values may be narrowed, never widened or lifted."""
    allowed = set(before)
    if after is None:
        return [f"{what}: the limit to {', '.join(sorted(allowed))} may not be lifted"]
    extra = sorted(set(after) - allowed)
    return [f"{what}: may not add {', '.join(extra)}"] if extra else []


def _ingredient(before: Ingredient, after: Ingredient) -> list[str]:
    found = _fewer("allergens", before.allergens, after.allergens)
    found += _fewer(
        "incompatible_with",
        (c.ingredient for c in before.incompatible_with),
        (c.ingredient for c in after.incompatible_with),
    )
    found += _fewer(
        "not_for", (n.concern for n in before.not_for), (n.concern for n in after.not_for)
    )
    found += _kept_true("no_mixing", before.no_mixing, after.no_mixing)
    found += _at_most(
        "max_mg_per_session",
        None if before.max_mg_per_session is None else before.max_mg_per_session.mg,
        None if after.max_mg_per_session is None else after.max_mg_per_session.mg,
    )
    return found


def _area(before: Area, after: Area) -> list[str]:
    """Every indication's cap (the general one included) may only get shallower; the chart
    region and pairing, which size the skin to numb and the doses, stay."""
    named = {c for cap in (*before.needling_caps, *after.needling_caps) for c in cap.concerns or ()}
    found = []
    for concern in [*sorted(named), ""]:
        was, now = before.depth_cap(concern), after.depth_cap(concern)
        found += _at_most(
            f"needling_caps ({concern or 'any other indication'})",
            None if was is None else was.max_mm,
            None if now is None else now.max_mm,
        )
    if after.body_region != before.body_region:
        found.append(f"body_region: {before.body_region} may not change")
    if after.paired != before.paired:
        found.append(f"paired: {before.paired} may not change")
    return found


def _needling(before: Needling, after: Needling) -> list[str]:
    found = []
    indications = {i.concern: i for i in after.indications}
    for old in before.indications:
        new = indications.get(old.concern)
        if new is None:
            found.append(f"indications: drops {old.concern}")
            continue
        found += _at_most(
            f"indications.{old.concern}.range_mm.max", old.range_mm.max, new.range_mm.max
        )
        for severity in ("mild", "moderate", "severe"):
            was, now = getattr(old.by_severity, severity), getattr(new.by_severity, severity)
            if isinstance(was, float) and isinstance(now, float):
                found += _at_most(f"indications.{old.concern}.{severity}", was, now)
            elif was != now:
                found.append(f"indications.{old.concern}.{severity}: may not change from {was}")
        if old.ceiling is not None and new.ceiling is None:
            found.append(f"indications.{old.concern}.ceiling: may not be removed")
    options = {a.id: a for a in after.anaesthesia}
    for old_option in before.anaesthesia:
        option = options.get(old_option.id)
        if option is not None and option.max_area_cm2 != old_option.max_area_cm2:
            was, now = old_option.max_area_cm2, option.max_area_cm2
            if not (isinstance(was, float) and isinstance(now, float) and now <= was):
                found.append(f"anaesthesia.{old_option.id}.max_area_cm2: may not change from {was}")
    scars = {s.id: s for s in after.scar_types}
    found += _fewer("scar_types", (s.id for s in before.scar_types), scars)
    for scar in before.scar_types:
        kept = scars.get(scar.id)
        if kept is None:
            continue
        if kept.response != scar.response:
            found.append(f"scar_types.{scar.id}.response: may not change from {scar.response}")
        found += _fewer(f"scar_types.{scar.id}.implies", scar.implies, kept.implies)
    if after.body_surface.cm2 != before.body_surface.cm2 or {
        (r.id, r.percent_body_surface) for r in after.body_regions
    } != {(r.id, r.percent_body_surface) for r in before.body_regions}:
        found.append("body_surface, body_regions: the chart may not change")
    return found + _radiofrequency(before.radiofrequency, after.radiofrequency)


def _radiofrequency(before: Radiofrequency | None, after: Radiofrequency | None) -> list[str]:
    """The device may not be offered for more, nor given deeper."""
    if before is None or after is None:
        return []
    found = [
        f"radiofrequency.{field}: adds {', '.join(sorted(set(new) - set(old)))}"
        for field, old, new in (
            ("concerns", before.concerns, after.concerns),
            ("areas", before.areas, after.areas),
        )
        if set(new) - set(old)
    ]
    found += _at_most("radiofrequency.depth_mm.max", before.depth_mm.max, after.depth_mm.max)
    depths = {area: entry.depth_mm for entry in after.depths for area in entry.areas}
    for entry in before.depths:
        for area in entry.areas:
            found += _at_most(f"radiofrequency.depths.{area}", entry.depth_mm, depths.get(area))
    return found


def _screening(before: Screening, after: Screening) -> list[str]:
    found = []
    for section in ("conditions", "medications", "allergens", "procedures"):
        old = {i.id: i for i in getattr(before, section)}
        new = {i.id: i for i in getattr(after, section)}
        found += _fewer(section, old, new)
        for item_id, item in old.items():
            if item_id in new:
                found += _kept_true(
                    f"{section}.{item_id}.treated_skin",
                    item.treated_skin,
                    new[item_id].treated_skin,
                )
                if new[item_id].female_only and not item.female_only:
                    found.append(
                        f"{section}.{item_id}.female_only: may not be turned on (it settles a "
                        "man's answer as no)"
                    )
                found += _fewer(
                    f"{section}.{item_id}.ingredients", item.ingredients, new[item_id].ingredients
                )
    return found


def _concern(before: Concern, after: Concern) -> list[str]:
    found = _wider("occurs_on.areas", before.occurs_on.areas, after.occurs_on.areas)
    found += _wider(
        "addressed_by",
        (f.modality for f in before.addressed_by),
        [f.modality for f in after.addressed_by],
    )
    if before.refer is not None and after.refer is None:
        found.append("refer: the referral may not be dropped")
    found += _fewer("implies", before.implies, after.implies)
    alone = {f.modality for f in before.addressed_by if not f.on_needled_skin}
    found += [
        f"addressed_by.{modality}: on_needled_skin may not be turned off"
        for modality in sorted({f.modality for f in after.addressed_by if not f.on_needled_skin})
        if modality not in alone
    ]
    return found


def _modality(before: ModalityInfo, after: ModalityInfo) -> list[str]:
    return _at_least(
        "downtime_days.min", before.downtime_days.min, after.downtime_days.min
    ) + _at_least("downtime_days.max", before.downtime_days.max, after.downtime_days.max)


def _template(before: CourseTemplate, after: CourseTemplate) -> list[str]:
    found = _at_most("sessions", before.sessions, after.sessions)
    found += _at_most("sessions_range.max", before.sessions_range.max, after.sessions_range.max)
    found += _at_least("interval_days.min", before.interval_days.min, after.interval_days.min)
    found += _at_least(
        "interval_default_days", before.interval_default_days, after.interval_default_days
    )
    if before.products is not None:
        found += _wider("products", before.products, after.products)
    return found


_CHECKS: dict[type[BaseModel], Callable[[Any, Any], list[str]]] = {
    Rule: _rule,
    Product: _product,
    Ingredient: _ingredient,
    Area: _area,
    Needling: _needling,
    Screening: _screening,
    Concern: _concern,
    ModalityInfo: _modality,
    CourseTemplate: _template,
}


def weakenings(before: BaseModel, after: BaseModel) -> list[str]:
    """How `after`, replacing `before`, would weaken what keeps a patient safe."""
    check = _CHECKS.get(type(before))
    return check(before, after) if check is not None and type(after) is type(before) else []
