"""Radiofrequency microneedling: the needling planned, given with a device that also heats.

Every microneedling rule binds it (it is microneedling); the rules naming it in `devices`
bind it alone and never the modality (a pacemaker rules out the current, not the pen). It
is offered only on areas where the needling goes ahead and its evidence treats a concern,
with the depth a source gives for the area - elsewhere the practitioner decides - and never
an energy setting, which belongs to each device.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache

from dermaplan.clinical.decision import SERIOUS, AreaConcerns, finding_reason
from dermaplan.clinical.facts import FactSheet
from dermaplan.clinical.plan import (
    ABSOLUTE,
    CAUTION,
    CONTRAINDICATED,
    DEFERRED,
    MISSING,
    RELATIVE,
    SUITABLE,
    Finding,
    ModalityDecision,
    RadiofrequencyArea,
    RadiofrequencyOption,
    Reason,
)
from dermaplan.knowledge import KnowledgeBase
from dermaplan.knowledge.schema import Radiofrequency, Statement


def radiofrequency_areas(knowledge: KnowledgeBase, needled: AreaConcerns) -> AreaConcerns:
    """The needled areas of its evidence with a concern its evidence treats."""
    evidence = _evidence(knowledge)
    if evidence is None:
        return {}
    where, wanted = evidence
    return {
        area: tuple([c for c in concerns if c in wanted])
        for area, concerns in needled.items()
        if area in where and not wanted.isdisjoint(concerns)
    }


@lru_cache(maxsize=16)
def _evidence(knowledge: KnowledgeBase) -> tuple[frozenset[str], frozenset[str]] | None:
    """The areas and the concerns of the device's evidence, once per knowledge base."""
    radio = knowledge.needling.radiofrequency
    return None if radio is None else (frozenset(radio.areas), frozenset(radio.concerns))


@lru_cache(maxsize=16)
def _ceiling_indications(knowledge: KnowledgeBase) -> tuple[tuple[str, Statement], ...]:
    """The concerns whose needling holds their whole area shallow, with why."""
    return tuple(
        (i.concern, i.ceiling) for i in knowledge.needling.indications if i.ceiling is not None
    )


def _ceilings(knowledge: KnowledgeBase, needled: AreaConcerns) -> dict[str, Reason]:
    """Areas held to a shallower depth by a concern there (melasma): no heating needles."""
    held: dict[str, Reason] = {}
    for concern, ceiling in _ceiling_indications(knowledge):
        for area, concerns in needled.items():
            if concern in concerns and area not in held:
                held[area] = Reason(
                    f"not on {area}: {concern} there — {ceiling.text}",
                    None,
                    tuple(ceiling.sources),
                    ceiling.evidence,
                )
    return held


def _area(radio: Radiofrequency, area: str, concerns: tuple[str, ...]) -> RadiofrequencyArea:
    entry = next((d for d in radio.depths if area in d.areas), None)
    if entry is None:
        return RadiofrequencyArea(
            area,
            concerns,
            None,
            f"no source gives a radiofrequency microneedling depth for {area}: the "
            "practitioner decides the depth (no number is proposed)",
            tuple(radio.sources),
            radio.evidence,
        )
    return RadiofrequencyArea(
        area, concerns, entry.depth_mm, entry.note, tuple(entry.sources), entry.evidence
    )


def _courses(radio: Radiofrequency, concerns: Iterable[str]) -> tuple[tuple[str, ...], set[str]]:
    lines: list[str] = []
    sources: set[str] = set()
    for concern in sorted(set(concerns)):
        course = next((c for c in radio.courses if concern in c.concerns), None)
        if course is None:
            lines.append(f"{concern}: no study here gives a course - practitioner to decide")
            continue
        lines.append(f"{concern}: {course.note} ({course.evidence.value})")
        sources.update(course.sources)
    return tuple(lines), sources


def build_radiofrequency(
    knowledge: KnowledgeBase,
    sheet: FactSheet,
    needled_now: AreaConcerns,
    findings: Iterable[Finding],
    needling: ModalityDecision,
) -> RadiofrequencyOption | None:
    """The device option for the needling going ahead, or None where its evidence treats
    none of the concerns needled. It is never further along than the needling itself: at
    caution, or provisional, where the needling is."""
    radio = knowledge.needling.radiofrequency
    if radio is None:
        return None
    candidates = radiofrequency_areas(knowledge, needled_now)
    if not candidates:
        return None
    ceilings = _ceilings(knowledge, needled_now)
    own = [f for f in findings if radio.id in f.devices]
    reasons: list[Reason] = [ceilings[a] for a in sorted(candidates) if a in ceilings]
    held: dict[str, list[Finding]] = {}
    for finding in own:
        if finding.severity is ABSOLUTE:
            for area in finding.areas:
                held.setdefault(area, []).append(finding)
    usable = {a: cs for a, cs in candidates.items() if a not in held and a not in ceilings}
    reasons += [finding_reason(f) for f in own]
    if needling.decision is CAUTION:
        reasons.append(Reason("the needling itself is at caution: its reasons hold for the device"))
    open_absolute = sorted(
        {
            sheet.question(fact)
            for f in own
            if f.severity is MISSING and f.rule_severity is ABSOLUTE
            for fact in f.unanswered
        }
    )
    until = None
    if not usable:
        blocking = [f for fs in held.values() for f in fs]
        if blocking and all(f.until_text is not None for f in blocking):
            decision = DEFERRED
            until = max((f.until for f in blocking if f.until is not None), default=None)
        else:
            decision = CONTRAINDICATED
    elif needling.decision is CAUTION or any(
        f.severity is RELATIVE or (f.severity is MISSING and f.rule_severity in SERIOUS)
        for f in own
    ):
        decision = CAUTION
    else:
        decision = SUITABLE
    courses, course_sources = _courses(radio, (c for cs in usable.values() for c in cs))
    areas = tuple(_area(radio, area, usable[area]) for area in sorted(usable))
    parts = (radio.energy, radio.downtime, radio.safety, *radio.needles)
    sources = (
        set(radio.sources)
        | course_sources
        | {s for part in parts for s in part.sources}
        | {s for row in areas for s in row.sources}
        | {s for reason in reasons for s in reason.sources}
    )
    return RadiofrequencyOption(
        device=radio.id,
        decision=decision,
        reasons=tuple(reasons),
        areas=areas,
        needles=tuple(f"{kind.name}: {kind.text}" for kind in radio.needles),
        energy=radio.energy.text,
        courses=courses,
        downtime=radio.downtime.text,
        safety=radio.safety.text,
        sources=tuple(sorted(sources)),
        until=until,
        provisional=tuple(sorted({*open_absolute, *needling.provisional})) if usable else (),
    )


def usable_devices(knowledge: KnowledgeBase, needled: AreaConcerns) -> Mapping[str, frozenset[str]]:
    """The areas each device could be used on, for screening its own rules."""
    radio = knowledge.needling.radiofrequency
    areas = radiofrequency_areas(knowledge, needled)
    return {radio.id: frozenset(areas)} if radio is not None and areas else {}
