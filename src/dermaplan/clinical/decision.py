"""A decision per modality, with safety taking precedence wherever it lives.

Precedence: contraindicated > deferred > caution > suitable > recommended. `not_indicated`
means only "would treat none of the concerns", never "everything that would was removed
for safety": a modality whose every area is held by an absolute finding, or whose every
product is excluded for safety, takes the hardest of those exclusions. An absolute finding
on some areas holds those areas only. A question left open behind an absolute rule - on the
modality, one of its areas, or an ingredient it would use - makes the plan provisional: not
`recommended`, and no dated course until it is answered.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from dermaplan.clinical.assessment import CURRENT, Assessment, ConcernEntry
from dermaplan.clinical.blend import (
    HELD,
    formulary,
    hardness,
    unchecked_allergens,
    unchecked_allergies,
)
from dermaplan.clinical.facts import PROCEDURES_QUESTION, FactSheet
from dermaplan.clinical.plan import (
    ABSOLUTE,
    CAUTION,
    CONTRAINDICATED,
    DEFERRED,
    INFO,
    MISSING,
    NOT_INDICATED,
    PRECAUTION,
    RECOMMENDED,
    RELATIVE,
    SUITABLE,
    Anaesthetic,
    Blend,
    Decision,
    Exclusion,
    Finding,
    ModalityDecision,
    ProductUse,
    Reason,
)
from dermaplan.knowledge import KnowledgeBase
from dermaplan.knowledge.schema import Modality, ModalityFit, ScarResponse, ScarTypeInfo
from dermaplan.vocabulary import COMBINED, MESOTHERAPY, MICRONEEDLING

AreaConcerns = dict[str, tuple[str, ...]]
SINGLE = (MESOTHERAPY, MICRONEEDLING)
SIMPLEST_FIRST = {MESOTHERAPY: 0, MICRONEEDLING: 1, COMBINED: 2}
HARD = {0: CONTRAINDICATED, 1: DEFERRED, 2: CAUTION}
SERIOUS = (ABSOLUTE, RELATIVE)


def pairs(area_concerns: Mapping[str, Iterable[str]]) -> tuple[str, ...]:
    found = []
    for area, concerns in area_concerns.items():
        for concern in concerns:
            found.append(f"{concern}:{area}")
    found.sort()
    return tuple(found)


def binds(finding: Finding, modality: Modality) -> bool:
    """Whether a finding binds a modality; an ingredient rule on either single modality
    binds the combined one too."""
    return modality in finding.modalities or (
        modality is COMBINED and any(m in finding.modalities for m in SINGLE)
    )


@dataclass(frozen=True, slots=True)
class ScarReview:
    """What the kinds of scar to treat tell microneedling."""

    not_targets: frozenset[tuple[str, str]]  # (concern, area) needling does not treat
    weak: frozenset[tuple[str, str]]  # (concern, area) it treats poorly
    reasons: tuple[Reason, ...]
    # area → the kinds of scar on it that needling does not treat: needled around, never into
    keep_off: Mapping[str, tuple[ScarTypeInfo, ...]]


@lru_cache(maxsize=16)
def _scar_index(knowledge: KnowledgeBase) -> dict[str, ScarTypeInfo]:
    return {scar.id: scar for scar in knowledge.needling.scar_types}


NO_SCARS = ScarReview(frozenset(), frozenset(), (), {})


def review_scars(knowledge: KnowledgeBase, assessment: Assessment) -> ScarReview:
    if not any(entry.scar_types for entry in assessment.concerns):
        return NO_SCARS
    not_targets: set[tuple[str, str]] = set()
    weak: set[tuple[str, str]] = set()
    reasons: list[Reason] = []
    keep_off: dict[str, list[ScarTypeInfo]] = {}
    index = _scar_index(knowledge)
    for entry in assessment.concerns:
        if not entry.scar_types:
            continue
        kinds = [index[kind] for kind in entry.scar_types]
        responses = {kind.response for kind in kinds}
        where = {(entry.concern, area) for area in entry.areas}
        for area in entry.areas:
            for kind in kinds:
                if kind.response is ScarResponse.NOT_A_TARGET and kind not in keep_off.get(
                    area, []
                ):
                    keep_off.setdefault(area, []).append(kind)
        if responses == {ScarResponse.NOT_A_TARGET}:
            not_targets |= where
        elif ScarResponse.GOOD not in responses:
            weak |= where
        for kind in kinds:
            if kind.response is ScarResponse.GOOD:
                continue
            text = f"{kind.name} ({entry.concern}: {', '.join(entry.areas)}): {kind.note}"
            if kind.alternatives:
                text += f" Alternatives: {kind.alternatives}"
            reasons.append(Reason(text, None, tuple(kind.sources), kind.evidence))
    return ScarReview(
        frozenset(not_targets),
        frozenset(weak),
        tuple(dict.fromkeys(reasons)),
        {area: tuple(kinds) for area, kinds in keep_off.items()},
    )


def addressed(
    knowledge: KnowledgeBase,
    concerns: Iterable[ConcernEntry],
    modality: Modality,
    not_targets: frozenset[tuple[str, str]] = frozenset(),
    needled: AreaConcerns | None = None,
) -> AreaConcerns:
    """Area → the patient's concerns there that this modality treats; a product whose
    evidence is on needled skin counts only where `needled` treats the concern too."""
    found: dict[str, set[str]] = {}
    fits = _fits(knowledge)
    for entry in concerns:
        concern = entry.concern
        for where, on_needled_skin in fits.get((concern, modality), ()):
            for area in entry.areas:
                if on_needled_skin and (needled is None or concern not in needled.get(area, ())):
                    continue
                if (where is None or area in where) and (concern, area) not in not_targets:
                    found.setdefault(area, set()).add(concern)
    result: AreaConcerns = {}
    for area in sorted(found):
        result[area] = tuple(sorted(found[area]))
    return result


@lru_cache(maxsize=16)
def _fits(
    knowledge: KnowledgeBase,
) -> dict[tuple[str, Modality], tuple[tuple[frozenset[str] | None, bool], ...]]:
    """(concern, modality) → each way the modality treats the concern: on which areas (None:
    any), and whether only on needled skin; in the knowledge's order, once per knowledge base."""
    found: dict[tuple[str, Modality], list[tuple[frozenset[str] | None, bool]]] = {}
    for concern in knowledge.concerns.values():
        for fit in concern.addressed_by:
            where = None if fit.areas is None else frozenset(fit.areas)
            found.setdefault((concern.id, fit.modality), []).append((where, fit.on_needled_skin))
    return {key: tuple(fits) for key, fits in found.items()}


def combine(meso: AreaConcerns, needled: AreaConcerns) -> AreaConcerns:
    """Both in one sitting: only where an area has something for each."""
    if not set(meso) & set(needled):
        return {}
    return {
        area: tuple(sorted({*meso.get(area, ()), *needled.get(area, ())}))
        for area in sorted(set(meso) | set(needled))
    }


def holds(
    findings: Iterable[Finding], modality: Modality, areas: Iterable[str]
) -> dict[str, list[Finding]]:
    """Area → the absolute findings that keep this modality off it now, in the findings'
    order and each finding's areas' (never a set's, which changes from process to process)."""
    wanted = set(areas)
    held: dict[str, list[Finding]] = {}
    for finding in findings:
        if finding.severity is ABSOLUTE and not finding.ingredients and binds(finding, modality):
            for area in finding.areas:
                if area in wanted:
                    held.setdefault(area, []).append(finding)
    return held


def finding_reason(finding: Finding) -> Reason:
    if finding.severity is MISSING:
        text = f"unanswered ({finding.rule_severity} rule): {finding.title} — {finding.because}"
    else:
        text = f"{finding.severity}: {finding.title} — {finding.because}"
        if finding.until is not None:
            text += f"; until {finding.until}"
        elif finding.until_text:
            text += f"; until {finding.until_text}"
    return Reason(text, finding.code, finding.sources, finding.evidence)


def _finding_hardness(finding: Finding) -> int:
    return 1 if finding.until_text is not None else 0


@dataclass
class Consultation:
    """What every modality's decision reads: the patient, the findings and the parts."""

    knowledge: KnowledgeBase
    assessment: Assessment
    sheet: FactSheet
    findings: Sequence[Finding]
    all_pairs: tuple[str, ...]
    planned: Mapping[Modality, AreaConcerns]  # what each modality would treat
    remaining: Mapping[Modality, AreaConcerns]  # what it may treat now
    held: Mapping[Modality, Mapping[str, list[Finding]]]
    scars: ScarReview
    blend: Blend | None
    open_skin: tuple[str, ...]
    anaesthetic: Anaesthetic
    considered: Mapping[Modality, frozenset[str]]  # ingredients the modality would use
    reason_of: dict[int, Reason] = field(default_factory=dict)
    uses_of: dict[Modality, tuple[list[ProductUse], list[ProductUse]]] = field(default_factory=dict)
    needled_of: dict[Modality, AreaConcerns] = field(default_factory=dict)

    def reason(self, finding: Finding) -> Reason:
        key = id(finding)
        if key not in self.reason_of:
            self.reason_of[key] = finding_reason(finding)
        return self.reason_of[key]


@dataclass
class _Draft:
    modality: Modality
    decision: Decision
    reasons: list[Reason]
    covered: tuple[str, ...]
    bars: bool  # something keeps it from `recommended`
    until: dt.date | None = None
    provisional: tuple[str, ...] = ()


def _bearing(c: Consultation, modality: Modality) -> tuple[list[Finding], list[Finding]]:
    """The modality's own findings on the areas it may treat, and the ingredient findings
    about what it would use there."""
    areas = set(c.remaining[modality])
    considered = c.considered[modality]
    own, ingredient = [], []
    either = modality is COMBINED
    for finding in c.findings:
        bound = finding.modalities
        if not (
            modality in bound or (either and (MESOTHERAPY in bound or MICRONEEDLING in bound))
        ) or areas.isdisjoint(finding.areas):
            continue
        if not finding.ingredients:
            own.append(finding)
        elif considered.intersection(finding.ingredients):
            ingredient.append(finding)
    return own, ingredient


def _forced_by_holds(c: Consultation, modality: Modality) -> _Draft | None:
    """Contraindicated or deferred when absolute findings hold every area it would treat."""
    held = c.held[modality]
    if not held or c.remaining[modality]:
        return None
    # the hardest findings, in the order first met (a finding holds each of its areas)
    seen: set[int] = set()
    chosen: list[Finding] = []
    hardest = len(HARD)  # softer than any finding can be
    for found in held.values():
        for finding in found:
            if id(finding) in seen:
                continue
            seen.add(id(finding))
            level = _finding_hardness(finding)
            if level < hardest:
                hardest, chosen = level, [finding]
            elif level == hardest:
                chosen.append(finding)
    until = max((f.until for f in chosen if f.until is not None), default=None)
    if hardest == 1 and any(f.until is None for f in chosen):
        until = None
    return _Draft(
        modality,
        HARD[hardest],
        [c.reason(f) for f in chosen],
        pairs(c.planned[modality]),
        True,
        until,
    )


def _exclusion_reasons(excluded: Iterable[Exclusion]) -> list[Reason]:
    return list(dict.fromkeys(Reason(f"{e.item}: {e.reason}", e.rule, e.sources) for e in excluded))


def _forced_by_products(
    c: Consultation, modality: Modality, excluded: Iterable[Exclusion]
) -> tuple[Decision, list[Reason], dt.date | None] | None:
    """When safety removed every product that would treat (for the combined treatment: that
    would go onto the needled skin), they decide: each product is as far away as its hardest
    exclusion, and the modality as far as the nearest of its alternatives (what an answer or
    a sign-off would give back is not ruled out by a product the patient can never have)."""
    treating = formulary(c.knowledge).claims
    safety = [e for e in excluded if e.severity is not None and e.item in treating]
    if not safety:
        return None
    by_product: dict[str, list[Exclusion]] = {}
    for exclusion in safety:
        by_product.setdefault(exclusion.item, []).append(exclusion)
    level = {item: min(hardness(e) for e in found) for item, found in by_product.items()}
    hardest = max(level.values())
    until = None
    if hardest == 1:
        # deferred: back when the first of the deferred products is free again
        free = [
            None
            if any(e.until is None for e in by_product[item] if hardness(e) == 1)
            else max(e.until for e in by_product[item] if e.until is not None)
            for item in by_product
            if level[item] == 1
        ]
        until = None if None in free else min(d for d in free if d is not None)
    what = (
        "every product that may go onto needled skin"
        if modality is COMBINED
        else "every product that would treat"
    )
    if hardest == 0:
        lead = f"{what} is contraindicated for this patient"
    else:
        # the others may be further away still: the reasons below say each one's
        lead = f"{what} is kept away for now; the nearest " + (
            "is deferred" if hardest == 1 else f"is {HELD}, or needs a clinician's sign-off"
        )
    return HARD[hardest], [Reason(lead), *_exclusion_reasons(safety)], until


def _needled_areas(c: Consultation) -> set[str]:
    """The areas the combined sitting needles."""
    return set(c.remaining[MICRONEEDLING]) & set(c.remaining[COMBINED])


def sitting_uses(
    knowledge: KnowledgeBase,
    blend: Blend,
    area_concerns: Mapping[str, Iterable[str]],
    needled: Iterable[str],
) -> tuple[list[ProductUse], list[ProductUse]]:
    """The blend's product uses a sitting gives for its concerns on its areas, and those it
    may not give: nothing but a sterile open-skin product on the skin it needles."""
    wanted = {area: set(concerns) for area, concerns in area_concerns.items()}
    pierced = set(needled)
    given, apart = [], []
    for preparation in blend.preparations:
        for use in preparation.uses:
            where = [a for a in use.areas if use.concern in wanted.get(a, ())]
            if not where:
                continue
            if pierced.intersection(where) and not _open_skin(knowledge, use.product):
                apart.append(use)
                where = [a for a in where if a not in pierced]
                if not where:
                    continue
            given.append(ProductUse(use.product, use.concern, tuple(where)))
    return given, apart


def _uses(c: Consultation, modality: Modality) -> tuple[list[ProductUse], list[ProductUse]]:
    if c.blend is None:
        return [], []
    if modality not in c.uses_of:
        needled = _needled_areas(c) if modality is COMBINED else set()
        c.uses_of[modality] = sitting_uses(c.knowledge, c.blend, c.remaining[modality], needled)
    return c.uses_of[modality]


def _covered(c: Consultation, modality: Modality) -> tuple[str, ...]:
    """The concern-area pairs a modality treats: what its needling reaches and what its
    products are given for (for the combined sitting, only products it may give)."""
    found: set[str] = set()
    if modality is not MESOTHERAPY:
        found.update(pairs(_needled_part(c, modality)))
    if modality is not MICRONEEDLING:
        found.update([f"{u.concern}:{a}" for u in _uses(c, modality)[0] for a in u.areas])
    return tuple(sorted(found))


def _bears_alone(c: Consultation, exclusion: Exclusion) -> bool:
    """Whether an exclusion from the blend is of a product that would treat, by injection
    alone, a concern mesotherapy treats there (or of an additive, which goes with any)."""
    claims = formulary(c.knowledge).claims.get(exclusion.item)
    if claims is None:
        return True
    alone = c.remaining[MESOTHERAPY]
    areas = [exclusion.area] if exclusion.area is not None else list(alone)
    return any(
        concern in claims and exclusion.concern in (None, concern)
        for area in areas
        for concern in alone.get(area, ())
    )


def _uncovered_reasons(c: Consultation, modality: Modality, covered: set[str]) -> list[Reason]:
    """Each pair no allowed product treats (and the modality does not otherwise reach), with
    what kept each product that claims it away from that area."""
    assert c.blend is not None
    claims = formulary(c.knowledge).claims
    reasons = []
    treated = set(pairs(c.remaining[modality]))
    for pair in c.blend.uncovered:
        if pair in covered or pair not in treated:
            continue
        concern, area = pair.split(":")
        why = [
            e
            for e in c.blend.excluded
            if e.area == area
            and e.item in claims
            and concern in claims[e.item]
            and e.concern in (None, concern)
        ]
        text = f"no allowed product for {pair}"
        if why:
            text += ": " + "; ".join(f"{e.item}: {e.reason}" for e in why)
        reasons.append(
            Reason(text, why[0].rule if why else None, tuple(s for e in why for s in e.sources))
        )
    return reasons


def _blend_reasons(c: Consultation, uses: Iterable[ProductUse]) -> list[Reason]:
    """Why the blend treats what it treats: each product proposed, for the concerns it was
    chosen for, with the evidence of its own claim."""
    claims = formulary(c.knowledge).claims
    reasons = []
    for use in uses:
        claim = claims[use.product][use.concern]
        reasons.append(
            Reason(
                f"treats {use.concern} ({', '.join(use.areas)}) with "
                f"{c.knowledge.products[use.product].name} ({claim.evidence} evidence)",
                None,
                tuple(claim.sources),
                claim.evidence,
            )
        )
    return reasons


@lru_cache(maxsize=4096)
def _needling_reasons(
    knowledge: KnowledgeBase, area_concerns: tuple[tuple[str, tuple[str, ...]], ...]
) -> tuple[Reason, ...]:
    """Why microneedling fits these concerns (knowledge-only, so remembered)."""
    by_concern: dict[str, list[str]] = {}
    for area, concerns in area_concerns:
        for concern in concerns:
            by_concern.setdefault(concern, []).append(area)
    reasons = []
    for concern, areas in sorted(by_concern.items()):
        for fit in knowledge.concerns[concern].addressed_by:
            where = [a for a in areas if fit.areas is None or a in fit.areas]
            if fit.modality is not MICRONEEDLING or not where:
                continue
            reasons.append(
                Reason(
                    f"treats {concern} ({', '.join(where)}) by microneedling: {fit.note}",
                    None,
                    tuple(fit.sources),
                    fit.evidence,
                )
            )
    return tuple(reasons)


@lru_cache(maxsize=16)
def _adjuncts(knowledge: KnowledgeBase) -> dict[str, ModalityFit]:
    """The concerns whose needling evidence came with an adjunct, and that fit."""
    return {
        concern.id: fit
        for concern in knowledge.concerns.values()
        for fit in concern.addressed_by
        if fit.modality is MICRONEEDLING and fit.adjunct is not None
    }


def _without_adjunct(
    knowledge: KnowledgeBase,
    needled: AreaConcerns,
    given: Iterable[ProductUse],
    assessment: Assessment,
) -> list[Reason]:
    """The needled concerns whose evidence came with an adjunct this plan does not give (on
    the needled skin, or a medication the patient takes alongside): chosen, perhaps, but
    never on the strength of that evidence."""
    adjuncts = _adjuncts(knowledge)
    lacking: dict[str, list[str]] = {}
    onto: dict[str, set[str]] | None = None
    taking: frozenset[str] | None = None  # the medications taken now, read when first needed
    for area, concerns in sorted(needled.items()):
        for concern in concerns:
            fit = adjuncts.get(concern)
            if fit is None or (fit.areas is not None and area not in fit.areas):
                continue
            assert fit.adjunct is not None
            if taking is None:
                taking = _taking(assessment)
            if taking.intersection(fit.adjunct.medications):
                continue
            if onto is None:
                onto = {}
                for use in given:
                    carried = {c.ingredient for c in knowledge.products[use.product].components}
                    for where in use.areas:
                        onto.setdefault(where, set()).update(carried)
            if onto.get(area, set()).isdisjoint(fit.adjunct.ingredients):
                lacking.setdefault(concern, []).append(area)
    reasons = []
    for concern, areas in sorted(lacking.items()):
        fit = adjuncts[concern]
        assert fit.adjunct is not None
        missing = []
        if fit.adjunct.ingredients:
            missing.append(
                f"this plan puts no {_any_of(fit.adjunct.ingredients)} on the needled skin"
            )
        if fit.adjunct.medications:
            missing.append(f"the patient is not known to use {_any_of(fit.adjunct.medications)}")
        reasons.append(
            Reason(
                f"{concern} ({', '.join(areas)}): {fit.adjunct.text}; {'; '.join(missing)}",
                None,
                tuple(fit.sources),
                fit.evidence,
            )
        )
    return reasons


def _any_of(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else "any of " + ", ".join(names)


def _taking(assessment: Assessment) -> frozenset[str]:
    return frozenset(name for name, use in assessment.medications.items() if use.status is CURRENT)


def _open_skin(knowledge: KnowledgeBase, item: str) -> bool:
    product = knowledge.products.get(item)
    return product is not None and product.open_skin


def _needled_part(c: Consultation, modality: Modality) -> AreaConcerns:
    part = c.needled_of.get(modality)
    if part is None:
        needled = c.remaining[MICRONEEDLING]
        part = c.needled_of[modality] = {
            a: cs for a, cs in needled.items() if a in c.remaining[modality]
        }
    return part


def _draft(c: Consultation, modality: Modality) -> _Draft:
    planned = c.planned[modality]
    if not planned:
        why = (
            "no area has both a concern microneedling treats and one mesotherapy treats"
            if modality is COMBINED
            else f"addresses none of the concerns ({', '.join(c.all_pairs)})"
        )
        why_not = [Reason(why)]
        if modality is not MESOTHERAPY:
            why_not += c.scars.reasons
        return _Draft(modality, NOT_INDICATED, why_not, (), True)
    forced_draft = _forced_by_holds(c, modality)
    if forced_draft is not None:
        return forced_draft
    own, ingredient = _bearing(c, modality)
    reasons: list[Reason] = []
    bars = False
    forced: Decision | None = None
    until: dt.date | None = None
    # the findings that bear on it by what they do to it, each in the order met
    relative: list[Finding] = []
    precautions: list[Finding] = []
    serious_missing: list[Finding] = []  # open behind a serious rule on the modality itself
    other_missing: list[Finding] = []
    open_absolute: list[str] = []  # the facts open behind an absolute rule
    open_beyond_info = False  # an unanswered info rule can only add a note
    for f in own:
        if f.severity is RELATIVE:
            relative.append(f)
        elif f.severity is PRECAUTION:
            precautions.append(f)
    for f in own + ingredient:
        if f.severity is MISSING:
            if f.rule_severity is ABSOLUTE:
                open_absolute += f.unanswered
            if f.rule_severity is not INFO:
                open_beyond_info = True
            if f.rule_severity in SERIOUS and not f.ingredients:
                serious_missing.append(f)
            else:
                other_missing.append(f)
    provisional = {c.sheet.question(fact) for fact in open_absolute}
    held_now = c.held[modality]
    remaining = c.remaining[modality]
    uses_blend = modality is not MICRONEEDLING
    covered: tuple[str, ...] | None = None
    if uses_blend:
        blend = c.blend
        excluded: list[Exclusion] = list(blend.excluded) if blend is not None else []
        provisional |= {
            PROCEDURES_QUESTION for e in excluded if e.severity is MISSING and e.rule is None
        }
        empty = blend is None or not blend.preparations
        if modality is MESOTHERAPY:
            # the blend also holds what goes only onto needled skin: injected alone, what
            # counts is what treats the concerns mesotherapy treats by itself
            empty = not _uses(c, modality)[0]
        if modality is COMBINED:
            # what matters is what may go onto the needled skin
            empty = not c.open_skin
        if empty:
            # the exclusions that bear on it decide it (read only then)
            if modality is MESOTHERAPY:
                excluded = [e for e in excluded if _bears_alone(c, e)]
            if modality is COMBINED:
                needled = _needled_areas(c)
                excluded = [
                    e
                    for e in excluded
                    if _open_skin(c.knowledge, e.item) and (e.area is None or e.area in needled)
                ]
            hard = _forced_by_products(c, modality, excluded)
            if hard is None:
                why = (
                    "no product of the blend is sterile and meant for needled skin"
                    if modality is COMBINED
                    else "no product in the formulary may be proposed for this patient"
                )
                held = [Reason(why), *_exclusion_reasons(excluded)]
                return _Draft(modality, NOT_INDICATED, held, (), True)
            decision, held, until = hard
            if decision is not CAUTION:
                return _Draft(modality, decision, held, pairs(remaining), True, until)
            forced, bars = CAUTION, True
            reasons += held
        else:
            covered = _covered(c, modality)
    if covered is None:
        covered = pairs(remaining)
    fit: list[Reason] = []
    given, apart = _uses(c, modality) if uses_blend else ([], [])
    if modality is not MESOTHERAPY:
        needled_now = _needled_part(c, modality)
        fit += _needling_reasons(c.knowledge, tuple(needled_now.items()))
        lacking = _without_adjunct(c.knowledge, needled_now, given, c.assessment)
        bars = bars or bool(lacking)
        fit += lacking
    if uses_blend:
        fit += _blend_reasons(c, given)
        fit += [
            Reason(
                f"{use.product} for {use.concern} may not go into needled skin "
                f"({', '.join(sorted(set(use.areas) & _needled_areas(c)))}): "
                "give it at a mesotherapy sitting of its own",
                None,
                tuple(c.knowledge.needling.open_skin.sources),
            )
            for use in apart
        ]
    addressable = set(pairs(planned))
    untreated = [p for p in c.all_pairs if p not in addressable]
    if untreated:
        fit.append(Reason("does not address: " + ", ".join(untreated)))
    for area in sorted(held_now):
        for finding in held_now[area]:
            reason = c.reason(finding)
            fit.append(Reason(f"not on {area} now — {reason.text}", reason.rule, reason.sources))
    if uses_blend and c.blend is not None and c.blend.preparations:
        fit += _uncovered_reasons(c, modality, set(covered))
    if modality is not MESOTHERAPY:
        fit += c.scars.reasons
        needled_pairs = pairs(_needled_part(c, modality))
        weak = {f"{concern}:{area}" for concern, area in c.scars.weak}
        if needled_pairs and set(needled_pairs) <= weak:
            bars = True
    if relative or serious_missing:
        forced = CAUTION
    reasons += [c.reason(f) for f in (*relative, *serious_missing, *other_missing, *precautions)]
    # an unanswered info rule can only add a note: the question is asked, the choice stands
    bars = bars or open_beyond_info or forced is not None or bool(provisional)
    if modality is not MESOTHERAPY and c.anaesthetic.option is None:
        forced, bars = CAUTION, True
        reasons.append(
            Reason(
                f"{c.anaesthetic.text}: agree other pain relief with the patient before needling",
                None,
                c.anaesthetic.sources,
            )
        )
    if uses_blend:
        unchecked = unchecked_allergies(c.knowledge, c.assessment.allergies or ())
        if unchecked:
            bars = True
            reasons.append(Reason(unchecked_allergens(unchecked)))
    bars = _downtime(c, modality, fit) or bars
    if provisional:
        reasons.append(
            Reason(
                "provisional until answered (an absolute rule depends on it): "
                + "; ".join(sorted(provisional))
            )
        )
    return _Draft(
        modality,
        forced or SUITABLE,
        fit + reasons,
        covered,
        bars,
        until,
        tuple(sorted(provisional)),
    )


def _downtime(c: Consultation, modality: Modality, fit: list[Reason]) -> bool:
    """Whether the patient accepts less downtime than the treatment (or a product of it)
    brings; says so."""
    accepted = c.assessment.goals.downtime_days
    if accepted is None:
        return False
    info = c.knowledge.modalities[modality]
    sources = [
        (
            info.downtime_days.min,
            modality.value,
            info.downtime_days,
            tuple(info.sources),
            info.evidence,
        )
    ]
    if modality is not MICRONEEDLING and c.blend is not None:
        for preparation in c.blend.preparations:
            for product_id in preparation.products:
                downtime = c.knowledge.products[product_id].downtime
                if downtime is not None:
                    sources.append(
                        (
                            downtime.days.min,
                            product_id,
                            downtime.days,
                            tuple(downtime.sources),
                            downtime.evidence,
                        )
                    )
    too_long = [s for s in sources if s[0] > accepted]
    for _, what, days, refs, evidence in too_long:
        fit.append(
            Reason(
                f"expected downtime of {what} {days.min:g}–{days.max:g} days is more than the "
                f"{accepted} the patient accepts",
                None,
                refs,
                evidence,
            )
        )
    return bool(too_long)


def decide(c: Consultation) -> tuple[ModalityDecision, ...]:
    drafts = [_draft(c, modality) for modality in (MESOTHERAPY, MICRONEEDLING, COMBINED)]
    eligible = [d for d in drafts if d.decision is SUITABLE and not d.bars and d.covered]
    best = min(eligible, key=lambda d: (-len(d.covered), SIMPLEST_FIRST[d.modality]), default=None)
    decisions = []
    for draft in drafts:
        decision, reasons = draft.decision, draft.reasons
        if best is not None and draft is best:
            decision = RECOMMENDED
            reasons = [
                Reason(
                    f"best fit: covers {len(draft.covered)} of {len(c.all_pairs)} "
                    "concern-area pairs"
                ),
                *reasons,
            ]
        decisions.append(
            ModalityDecision(
                draft.modality,
                decision,
                tuple(reasons),
                draft.covered,
                draft.until if decision is DEFERRED else None,
                draft.provisional,
            )
        )
    return tuple(decisions)
