"""The microneedling protocol per area: depth, device, passes, endpoint, anaesthesia.

Depth comes from the indication and its severity, then is capped by the depth a source
gives for that indication on that area, and by the device; the plan says when a cap bit.
Where no source gives a depth for an indication on an area, the plan gives no number: the
practitioner decides, and the plan says so. The topical anaesthetic covers no more skin at
once than its label allows: areas that would together cover more are given in sittings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from functools import lru_cache

from dermaplan.clinical.plan import Anaesthetic, AreaNeedling, Exclusion, NeedlingProtocol
from dermaplan.knowledge import KnowledgeBase
from dermaplan.knowledge.schema import Device, Evidence, NeedlingIndication, ScarTypeInfo

EVIDENCE_RANK = {level: rank for rank, level in enumerate(Evidence)}


def _device(knowledge: KnowledgeBase, area: str) -> Device:
    devices = sorted(knowledge.needling.devices, key=lambda d: d.id)
    for device in devices:
        if device.areas is not None and area in device.areas:
            return device
    return next((d for d in devices if d.default), devices[0])


def _mm(value: float) -> str:
    return f"{value:g} mm"


@lru_cache(maxsize=16)
def _indications(knowledge: KnowledgeBase) -> dict[str, NeedlingIndication]:
    return {i.concern: i for i in knowledge.needling.indications}


@lru_cache(maxsize=16)
def _endpoint_choice(knowledge: KnowledgeBase) -> str:
    """The endpoints by depth, for a protocol whose depth the practitioner sets."""
    endpoints = sorted(knowledge.needling.endpoints, key=lambda e: -e.min_depth_mm)
    texts = [e.text.rstrip(".") for e in endpoints]
    return "by the depth chosen: " + "; ".join(
        f"from {_mm(e.min_depth_mm)}, {text[0].lower()}{text[1:]}"
        if e.min_depth_mm
        else f"below, {text[0].lower()}{text[1:]}"
        for e, text in zip(endpoints, texts, strict=True)
    )


@lru_cache(maxsize=4096)
def area_protocol(
    knowledge: KnowledgeBase, area: str, severities: tuple[tuple[str, str], ...]
) -> AreaNeedling:
    """The protocol for one area, from its (concern, severity) pairs; knowledge-only, so
    remembered."""
    indications = _indications(knowledge)
    wanted = {c: indications[c] for c, _ in severities if c in indications}
    entry = knowledge.areas[area]
    device = _device(knowledge, area)
    notes: list[str] = []
    sources: set[str] = set(entry.sources) | set(device.sources)
    backing: list[Evidence] = []  # the evidence behind the depth: indications and caps
    asked = 0.0
    caps: list[float] = []
    uncapped: list[str] = []
    for concern, severity in severities:
        indication = wanted.get(concern)
        if indication is None:
            continue
        asked = max(asked, knowledge.number(getattr(indication.by_severity, severity)))
        sources.update(indication.sources)
        backing.append(indication.evidence)
        cap = entry.depth_cap(concern)
        if cap is None:
            uncapped.append(concern)
            continue
        caps.append(cap.max_mm)
        backing.append(cap.evidence)
        sources.update(cap.sources)
        if cap.note not in notes:
            notes.append(cap.note)
    ceilings = [
        (knowledge.number(getattr(wanted[c].by_severity, severity)), wanted[c])
        for c, severity in severities
        if c in wanted and wanted[c].ceiling is not None
    ]
    depth: float | None = None
    if uncapped:
        notes.insert(
            0,
            f"no source gives a needling depth for {', '.join(uncapped)} on {area}: "
            "the practitioner decides the depth (no number is proposed)",
        )
    else:
        depth = asked
        limit = min(caps)
        if asked > limit:
            depth = limit
            notes.insert(
                0, f"the indication asks {_mm(asked)}; the {area} limit caps it at {_mm(limit)}"
            )
        if depth > device.depth_mm.max:
            notes.append(f"capped at the {device.name}'s maximum {_mm(device.depth_mm.max)}")
            depth = device.depth_mm.max
        for most, indication in ceilings:
            if depth > most and indication.ceiling is not None:
                notes.insert(
                    0,
                    f"held to {_mm(most)} for {indication.concern}: {indication.ceiling.text}",
                )
                sources.update(indication.ceiling.sources)
                depth = most
    if depth is None:
        endpoint = _endpoint_choice(knowledge)
        sources.update(s for e in knowledge.needling.endpoints for s in e.sources)
    else:
        endpoints = sorted(knowledge.needling.endpoints, key=lambda e: -e.min_depth_mm)
        chosen = next((e for e in endpoints if depth >= e.min_depth_mm), endpoints[-1])
        endpoint = chosen.text
        sources.update(chosen.sources)
    if entry.needling_note:
        notes.append(entry.needling_note)
    return AreaNeedling(
        area=area,
        concerns=tuple(sorted(wanted)),
        depth_mm=None if depth is None else round(depth, 2),
        device=device.id,
        passes=device.passes,
        endpoint=endpoint,
        notes=tuple(notes),
        sources=tuple(sorted(sources)),
        evidence=max(backing, key=EVIDENCE_RANK.__getitem__, default=entry.evidence)
        if depth is not None
        else entry.evidence,
    )


def choose_anaesthetic(knowledge: KnowledgeBase, blocked: Mapping[str, Exclusion]) -> Anaesthetic:
    """The first anaesthetic option whose every ingredient this patient may have."""
    refused: list[str] = []
    for index, option in enumerate(knowledge.needling.anaesthesia):
        bans = [blocked[i] for i in option.ingredients if i in blocked] if blocked else []
        if not bans:
            return _offer(knowledge, index)
        refused.append(f"{option.id}: {bans[0].reason}")
    return Anaesthetic(
        option=None,
        text="no topical anaesthetic may be used: " + "; ".join(refused),
        minutes=None,
        sources=tuple(sorted({s for b in blocked.values() for s in b.sources})),
    )


@lru_cache(maxsize=64)
def _offer(knowledge: KnowledgeBase, index: int) -> Anaesthetic:
    """An anaesthetic option as the plan gives it (knowledge-only, so remembered)."""
    option = knowledge.needling.anaesthesia[index]
    removal = knowledge.needling.anaesthesia_removal
    return Anaesthetic(
        option=option.id,
        text=f"{option.text}; {removal.text}",
        minutes=f"{option.minutes.min:g}–{option.minutes.max:g} min",
        sources=tuple(sorted({*option.sources, *removal.sources})),
    )


@lru_cache(maxsize=4096)
def sittings(
    knowledge: KnowledgeBase, areas: tuple[str, ...], option: str | None
) -> tuple[tuple[tuple[str, ...], ...], tuple[str, ...]]:
    """The areas grouped so that no sitting anaesthetises more skin than the option's label
    allows, with what the practitioner must do about it; one group needs no staging."""
    if option is None:
        return (), ()
    anaesthetic = next(a for a in knowledge.needling.anaesthesia if a.id == option)
    limit = knowledge.number(anaesthetic.max_area_cm2)
    body = knowledge.needling.body_surface.cm2
    regions = {r.id: r for r in knowledge.needling.body_regions}
    by_region: dict[str, list[str]] = {}
    for area in areas:
        by_region.setdefault(knowledge.areas[area].body_region, []).append(area)
    groups: list[tuple[list[str], float]] = []  # areas, the most skin they can be
    notes: list[str] = []
    for region_id, members in by_region.items():
        region = regions[region_id]
        size = region.percent_body_surface / 100 * body
        if size > limit:
            notes.append(
                f"{', '.join(members)}: {region.name} can be up to {size:,.0f} cm² "
                f"({region.percent_body_surface:g}% of the body surface), more than the "
                f"{limit:,.0f} cm² {option} may cover at once: anaesthetise only the marked "
                "zone, and measure it"
            )
        group = next((g for g in groups if g[1] + size <= limit), None)
        if group is None:
            groups.append((list(members), size))
        else:
            groups[groups.index(group)] = (group[0] + members, group[1] + size)
    staged = tuple(tuple(g[0]) for g in groups)
    return (staged if len(staged) > 1 else ()), tuple(notes)


def _around(protocol: AreaNeedling, scars: tuple[ScarTypeInfo, ...]) -> AreaNeedling:
    if not scars:
        return protocol
    notes = tuple(
        f"needle around the {kind.name.lower()} here, never into them: {kind.note}"
        for kind in scars
    )
    return replace(
        protocol,
        notes=notes + protocol.notes,
        sources=tuple(sorted({*protocol.sources, *(s for k in scars for s in k.sources)})),
    )


def build_needling(
    knowledge: KnowledgeBase,
    severities: Mapping[tuple[str, str], str],
    area_concerns: Mapping[str, tuple[str, ...]],
    anaesthesia: Anaesthetic,
    keep_off: Mapping[str, tuple[ScarTypeInfo, ...]],
    open_skin_products: tuple[str, ...] = (),
    plain: str = "",
) -> NeedlingProtocol:
    """The protocol over these areas; `keep_off`: the scars on an area that are no target
    (the needle goes around them); `plain` says what the open-skin products must be free of
    (an additive mixed into their syringe for injection)."""
    areas = tuple(
        _around(
            area_protocol(knowledge, area, tuple([(c, severities[c, area]) for c in concerns])),
            keep_off.get(area, ()),
        )
        for area, concerns in sorted(area_concerns.items())
    )
    open_skin = knowledge.needling.open_skin
    steps = [
        f"Topical anaesthesia: {anaesthesia.text}"
        + (f" ({anaesthesia.minutes})" if anaesthesia.minutes else ""),
        "Needle each area at its depth, to its endpoint (table)",
    ]
    staged, surface_notes = sittings(knowledge, tuple(a.area for a in areas), anaesthesia.option)
    sources = (
        {s for a in areas for s in a.sources} | set(anaesthesia.sources) | set(open_skin.sources)
    )
    if staged or surface_notes:
        why = knowledge.needling.anaesthesia_surface
        parts = [f"sitting {i}: {', '.join(group)}" for i, group in enumerate(staged, 1)]
        steps.insert(
            0,
            "Anaesthetised skin per sitting: "
            + "; ".join([*surface_notes, *parts])
            + f" — {why.text}",
        )
        sources |= set(why.sources) | set(knowledge.needling.body_surface.sources)
        sources |= {s for r in knowledge.needling.body_regions for s in r.sources}
    if open_skin_products:
        steps.append(
            "Onto the needled skin, apply only: "
            + ", ".join(open_skin_products)
            + (f", plain as supplied ({plain})" if plain else ", plain as supplied")
            + f" — {open_skin.text}"
        )
    else:
        steps.append(f"Glide and after-products: {open_skin.text}")
    return NeedlingProtocol(
        areas=areas,
        anaesthesia=anaesthesia,
        steps=tuple(steps),
        open_skin_products=open_skin_products,
        sources=tuple(sorted(sources)),
        sittings=staged,
    )
