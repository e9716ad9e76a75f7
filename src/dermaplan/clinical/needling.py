"""The microneedling protocol per area: depth, device, passes, endpoint, anaesthesia.

Depth comes from the indication and its severity, then is capped by the area's limit
and the device's range; the plan says when a cap bit. An area with no sourced limit gets
the indication's lowest depth, marked for the practitioner to confirm.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

from dermaplan.clinical.assessment import Assessment
from dermaplan.clinical.plan import Anaesthetic, AreaNeedling, Exclusion, NeedlingProtocol
from dermaplan.knowledge import KnowledgeBase
from dermaplan.knowledge.schema import Device, Evidence, NeedlingIndication

EVIDENCE_RANK = {level: rank for rank, level in enumerate(Evidence)}


def _device(knowledge: KnowledgeBase, area: str) -> Device:
    devices = sorted(knowledge.needling.devices, key=lambda d: d.id)
    for device in devices:
        if device.areas is not None and area in device.areas:
            return device
    return next((d for d in devices if d.default), devices[0])


def _mm(value: float) -> str:
    return f"{value:g} mm"


@lru_cache(maxsize=4096)
def area_protocol(
    knowledge: KnowledgeBase, area: str, severities: tuple[tuple[str, str], ...]
) -> AreaNeedling:
    """The protocol for one area, from its (concern, severity) pairs; knowledge-only, so
    remembered."""
    concerns = tuple(concern for concern, _ in severities)
    indications: dict[str, NeedlingIndication] = {
        i.concern: i for i in knowledge.needling.indications
    }
    wanted = {c: indications[c] for c in concerns if c in indications}
    limit = knowledge.areas[area].needling_max_depth_mm
    device = _device(knowledge, area)
    notes: list[str] = []
    sources: set[str] = set(knowledge.areas[area].sources) | set(device.sources)
    weakest = knowledge.areas[area].evidence
    asked = 0.0
    for concern, indication in wanted.items():
        depth = getattr(indication.by_severity, dict(severities)[concern])
        asked = max(asked, depth)
        sources.update(indication.sources)
        if EVIDENCE_RANK[indication.evidence] > EVIDENCE_RANK[weakest]:
            weakest = indication.evidence
    depth = asked
    if limit is None:
        depth = min(i.range_mm.min for i in wanted.values())
        notes.append(
            f"no sourced depth limit for {area}: the indication's lowest depth "
            f"({_mm(depth)}) is proposed; practitioner to confirm"
        )
    elif asked > limit:
        depth = limit
        notes.append(f"the indication asks {_mm(asked)}; the {area} limit caps it at {_mm(limit)}")
    if depth > device.depth_mm.max:
        notes.append(f"capped at the {device.name}'s maximum {_mm(device.depth_mm.max)}")
        depth = device.depth_mm.max
    endpoints = sorted(knowledge.needling.endpoints, key=lambda e: -e.min_depth_mm)
    endpoint = next((e for e in endpoints if depth >= e.min_depth_mm), endpoints[-1])
    sources.update(endpoint.sources)
    note = knowledge.areas[area].needling_note
    if note:
        notes.append(note)
    return AreaNeedling(
        area=area,
        concerns=tuple(sorted(wanted)),
        depth_mm=round(depth, 2),
        device=device.id,
        passes=device.passes,
        endpoint=endpoint.text,
        notes=tuple(notes),
        sources=tuple(sorted(sources)),
        evidence=weakest,
    )


def choose_anaesthetic(knowledge: KnowledgeBase, blocked: Mapping[str, Exclusion]) -> Anaesthetic:
    """The first anaesthetic option whose every ingredient this patient may have."""
    refused: list[str] = []
    for option in knowledge.needling.anaesthesia:
        bans = [blocked[i] for i in option.ingredients if i in blocked]
        if not bans:
            minutes = f"{option.minutes.min:g}–{option.minutes.max:g} min"
            removal = knowledge.needling.anaesthesia_removal
            return Anaesthetic(
                option=option.id,
                text=f"{option.text}; {removal.text}",
                minutes=minutes,
                sources=tuple(sorted({*option.sources, *removal.sources})),
            )
        refused.append(f"{option.id}: {bans[0].reason}")
    return Anaesthetic(
        option=None,
        text="no topical anaesthetic may be used: " + "; ".join(refused),
        minutes=None,
        sources=tuple(sorted({s for b in blocked.values() for s in b.sources})),
    )


def build_needling(
    knowledge: KnowledgeBase,
    assessment: Assessment,
    area_concerns: Mapping[str, tuple[str, ...]],
    anaesthesia: Anaesthetic,
    open_skin_products: tuple[str, ...] = (),
) -> NeedlingProtocol:
    severities: dict[str, str] = {}
    for entry in assessment.concerns:
        for area in entry.areas:
            severities[f"{entry.concern}@{area}"] = entry.severity
    areas = tuple(
        area_protocol(knowledge, area, tuple((c, severities[f"{c}@{area}"]) for c in concerns))
        for area, concerns in sorted(area_concerns.items())
    )
    open_skin = knowledge.needling.open_skin
    steps = [
        f"Topical anaesthesia: {anaesthesia.text}"
        + (f" ({anaesthesia.minutes})" if anaesthesia.minutes else ""),
        "Needle each area at its depth, to its endpoint (table)",
    ]
    if open_skin_products:
        steps.append(
            "Onto the needled skin, apply only: "
            + ", ".join(open_skin_products)
            + f" — {open_skin.text}"
        )
    else:
        steps.append(f"Glide and after-products: {open_skin.text}")
    sources = (
        {s for a in areas for s in a.sources} | set(anaesthesia.sources) | set(open_skin.sources)
    )
    return NeedlingProtocol(
        areas=areas,
        anaesthesia=anaesthesia,
        steps=tuple(steps),
        open_skin_products=open_skin_products,
        sources=tuple(sorted(sources)),
    )
