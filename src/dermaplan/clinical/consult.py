"""The consult: assessment and knowledge in, an explained plan out.

screen → decide per modality → blend → needling → combined → course → care → what is
missing. Pure: no I/O, no clock (the consult date is in the assessment).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache

from dermaplan.clinical.assessment import Assessment
from dermaplan.clinical.blend import HELD, build_blend, excluded_ingredients, formulary
from dermaplan.clinical.course import build_course, templates_for
from dermaplan.clinical.facts import FactSheet
from dermaplan.clinical.needling import build_needling, choose_anaesthetic
from dermaplan.clinical.plan import (
    PLAN_SCHEMA_VERSION,
    PROCEED,
    Anaesthetic,
    Blend,
    CareAdvice,
    Citation,
    Course,
    Decision,
    Finding,
    FindingSeverity,
    ModalityDecision,
    NeedlingProtocol,
    Plan,
    Reason,
)
from dermaplan.clinical.screening import MODALITIES, screen
from dermaplan.knowledge import KnowledgeBase
from dermaplan.knowledge.schema import Modality, Product

AreaConcerns = dict[str, tuple[str, ...]]
SINGLE = (Modality.MESOTHERAPY, Modality.MICRONEEDLING)
SIMPLEST_FIRST = {Modality.MESOTHERAPY: 0, Modality.MICRONEEDLING: 1, Modality.COMBINED: 2}


def addressed(knowledge: KnowledgeBase, assessment: Assessment, modality: Modality) -> AreaConcerns:
    """Area → the patient's concerns there that this modality treats."""
    found: dict[str, set[str]] = {}
    for entry in assessment.concerns:
        for fit in knowledge.concerns[entry.concern].addressed_by:
            if fit.modality != modality:
                continue
            for area in entry.areas:
                if fit.areas is None or area in fit.areas:
                    found.setdefault(area, set()).add(entry.concern)
    return {area: tuple(sorted(concerns)) for area, concerns in sorted(found.items())}


def _pairs(area_concerns: Mapping[str, Iterable[str]]) -> tuple[str, ...]:
    return tuple(sorted(f"{c}:{a}" for a, cs in area_concerns.items() for c in cs))


def _candidate_ingredients(
    knowledge: KnowledgeBase, assessment: Assessment, meso: AreaConcerns, needled: AreaConcerns
) -> frozenset[str]:
    """Ingredients this consult might propose: the rules about them are worth reading."""
    index = formulary(knowledge)
    found: set[str] = set()
    for concern in {c for concerns in meso.values() for c in concerns}:
        found.update(index.ingredients_for[concern])
    if meso and assessment.goals.pain_tolerance == "low":
        found.update(index.additive_ingredients)
    if needled:
        found.update(index.anaesthetic_ingredients)
    return frozenset(found)


@lru_cache(maxsize=4096)
def _fit_reasons(
    knowledge: KnowledgeBase,
    modality: Modality,
    area_concerns: tuple[tuple[str, tuple[str, ...]], ...],
) -> tuple[Reason, ...]:
    """Why a modality fits these concerns (knowledge-only, so remembered)."""
    reasons = []
    by_concern: dict[str, list[str]] = {}
    for area, concerns in area_concerns:
        for concern in concerns:
            by_concern.setdefault(concern, []).append(area)
    parts = [modality] if modality in SINGLE else list(SINGLE)
    for concern, areas in sorted(by_concern.items()):
        for fit in knowledge.concerns[concern].addressed_by:
            where = [a for a in areas if fit.areas is None or a in fit.areas]
            if fit.modality not in parts or not where:
                continue
            reasons.append(
                Reason(
                    f"treats {concern} ({', '.join(where)}) by {fit.modality}: {fit.note}",
                    None,
                    tuple(fit.sources),
                    fit.evidence,
                )
            )
    return tuple(reasons)


def _finding_reason(finding: Finding) -> Reason:
    if finding.severity is FindingSeverity.MISSING:
        text = (
            f"unanswered ({finding.rule_severity.value} rule): {finding.title} — {finding.because}"
        )
    else:
        text = f"{finding.severity.value}: {finding.title} — {finding.because}"
        if finding.until is not None:
            text += f"; until {finding.until}"
        elif finding.until_text:
            text += f"; until {finding.until_text}"
    return Reason(text, finding.code, finding.sources, finding.evidence)


def _safety(
    modality: Modality, findings: Iterable[Finding], reason_of: Mapping[int, Reason]
) -> tuple[Decision | None, list[Reason], bool, list[Finding]]:
    """The decision safety forces (or None), its reasons, whether it bars `recommended`."""
    own = [f for f in findings if modality in f.modalities and not f.ingredients]
    absolute = [f for f in own if f.severity is FindingSeverity.ABSOLUTE]
    permanent = [f for f in absolute if f.until_text is None]
    if permanent:
        return Decision.CONTRAINDICATED, [reason_of[id(f)] for f in permanent], True, own
    if absolute:
        return Decision.DEFERRED, [reason_of[id(f)] for f in absolute], True, own
    serious = (FindingSeverity.ABSOLUTE, FindingSeverity.RELATIVE)
    missing = [f for f in own if f.severity is FindingSeverity.MISSING]
    relative = [f for f in own if f.severity is FindingSeverity.RELATIVE]
    cautions = relative + [f for f in missing if f.rule_severity in serious]
    reasons = [reason_of[id(f)] for f in cautions]
    if cautions:
        return Decision.CAUTION, reasons, True, own
    return None, [reason_of[id(f)] for f in missing], bool(missing), own


def decide(
    knowledge: KnowledgeBase,
    assessment: Assessment,
    areas: Mapping[Modality, AreaConcerns],
    findings: list[Finding],
    blend: Blend | None,
    open_skin: tuple[str, ...],
    all_pairs: tuple[str, ...],
    anaesthetic: Anaesthetic,
) -> tuple[ModalityDecision, ...]:
    drafts: list[tuple[Modality, Decision, list[Reason], tuple[str, ...], bool]] = []
    reason_of = {id(f): _finding_reason(f) for f in findings}
    for modality in MODALITIES:
        pairs = _pairs(areas[modality])
        if not pairs:
            why = (
                "no area has both a concern microneedling treats and one mesotherapy treats"
                if modality is Modality.COMBINED
                else f"addresses none of the concerns ({', '.join(all_pairs)})"
            )
            drafts.append((modality, Decision.NOT_INDICATED, [Reason(why)], (), True))
            continue
        forced, reasons, bars, own = _safety(modality, findings, reason_of)
        untreated = [p for p in all_pairs if p not in pairs]
        if forced in (Decision.CONTRAINDICATED, Decision.DEFERRED):
            drafts.append((modality, forced, reasons, pairs, True))
            continue
        uses_blend = modality is not Modality.MICRONEEDLING
        if uses_blend and (blend is None or not blend.preparations):
            excluded = blend.excluded if blend else ()
            waiting = any(HELD in e.reason for e in excluded)
            held = [
                Reason(
                    "no product may be proposed until the open safety questions are answered"
                    if waiting
                    else "no product in the formulary may be proposed for this patient"
                )
            ]
            held += list(
                dict.fromkeys(Reason(f"{e.item}: {e.reason}", e.rule, e.sources) for e in excluded)
            )
            outcome = Decision.CAUTION if waiting else Decision.NOT_INDICATED
            drafts.append((modality, outcome, held + reasons, pairs if waiting else (), True))
            continue
        if modality is Modality.COMBINED and not open_skin:
            why = "no product of the blend is sterile and meant for needled skin"
            drafts.append((modality, Decision.NOT_INDICATED, [Reason(why), *reasons], (), True))
            continue
        covered = pairs
        if uses_blend and blend is not None:
            meso_uncovered = set(blend.uncovered)
            covered = tuple(p for p in pairs if p not in meso_uncovered)
        fit = list(_fit_reasons(knowledge, modality, tuple(areas[modality].items())))
        if untreated:
            fit.append(Reason("does not address: " + ", ".join(untreated)))
        if uses_blend and blend is not None and blend.uncovered:
            fit.append(Reason("no allowed product for: " + ", ".join(blend.uncovered)))
        precautions = [f for f in own if f.severity is FindingSeverity.PRECAUTION]
        reasons += [reason_of[id(f)] for f in precautions]
        if modality is not Modality.MESOTHERAPY and anaesthetic.option is None:
            forced = Decision.CAUTION
            bars = True
            reasons.append(
                Reason(
                    f"{anaesthetic.text}: agree other pain relief with the patient before needling",
                    None,
                    anaesthetic.sources,
                )
            )
        accepted = assessment.goals.downtime_days
        downtime = knowledge.modalities[modality].downtime_days
        if accepted is not None and downtime.min > accepted:
            bars = True
            fit.append(
                Reason(
                    f"expected downtime {downtime.min:g}–{downtime.max:g} days is more than the "
                    f"{accepted} the patient accepts",
                    None,
                    tuple(knowledge.modalities[modality].sources),
                    knowledge.modalities[modality].evidence,
                )
            )
        decision: Decision = forced or Decision.SUITABLE
        drafts.append((modality, decision, fit + reasons, covered, bars))
    eligible = [d for d in drafts if d[1] is Decision.SUITABLE and not d[4] and d[3]]
    best = min(eligible, key=lambda d: (-len(d[3]), SIMPLEST_FIRST[d[0]]), default=None)
    decisions = []
    for modality, decision, reasons, covered, _ in drafts:
        if best is not None and modality is best[0]:
            decision = Decision.RECOMMENDED
            reasons = [
                Reason(f"best fit: covers {len(covered)} of {len(all_pairs)} concern-area pairs"),
                *reasons,
            ]
        until = (
            max(
                (
                    f.until
                    for f in findings
                    if modality in f.modalities and not f.ingredients and f.until is not None
                ),
                default=None,
            )
            if decision is Decision.DEFERRED
            else None
        )
        decisions.append(ModalityDecision(modality, decision, tuple(reasons), covered, until))
    return tuple(decisions)


def _care(
    knowledge: KnowledgeBase, chosen: Iterable[Modality], treated: frozenset[str]
) -> tuple[CareAdvice, ...]:
    wanted = set(chosen)
    if Modality.COMBINED in wanted:
        wanted.update(SINGLE)
    return tuple(
        advice
        for advice, areas in _care_items(knowledge)
        if wanted.intersection(advice.modalities) and (areas is None or treated & areas)
    )


@lru_cache(maxsize=16)
def _care_items(
    knowledge: KnowledgeBase,
) -> tuple[tuple[CareAdvice, frozenset[str] | None], ...]:
    """Every care item as advice, in reading order (before first), once per knowledge base."""
    items = sorted(knowledge.care, key=lambda item: (item.phase != "before", item.text))
    return tuple(
        (
            CareAdvice(
                item.phase, item.text, tuple(item.modalities), tuple(item.sources), item.evidence
            ),
            None if item.areas is None else frozenset(item.areas),
        )
        for item in items
    )


def _products_in(blend: Blend | None, knowledge: KnowledgeBase) -> list[Product]:
    if blend is None:
        return []
    ids = sorted({p for prep in blend.preparations for p in prep.products})
    return [knowledge.products[i] for i in ids]


def consult(assessment: Assessment, knowledge: KnowledgeBase) -> Plan:
    sheet = FactSheet(assessment, knowledge)
    meso = addressed(knowledge, assessment, Modality.MESOTHERAPY)
    needled = addressed(knowledge, assessment, Modality.MICRONEEDLING)
    shared = set(meso) & set(needled)
    combined: AreaConcerns = {}
    if shared:
        for area in sorted(set(meso) | set(needled)):
            combined[area] = tuple(sorted({*meso.get(area, ()), *needled.get(area, ())}))
    areas = {
        Modality.MESOTHERAPY: meso,
        Modality.MICRONEEDLING: needled,
        Modality.COMBINED: combined,
    }
    frozen_areas = {m: frozenset(a) for m, a in areas.items()}
    candidates = _candidate_ingredients(knowledge, assessment, meso, needled)
    findings = screen(sheet, frozen_areas, candidates)
    blocked = excluded_ingredients(knowledge, assessment, findings)
    paired = frozenset(area.id for area in knowledge.areas.values() if area.paired)
    blend = build_blend(knowledge, assessment, meso, blocked, paired) if meso else None
    open_skin = tuple(
        sorted(
            {
                product
                for prep in (blend.preparations if blend else ())
                for product in prep.products
                if knowledge.products[product].open_skin
                and shared.intersection(d.area for d in prep.areas)
            }
        )
    )
    all_pairs = _pairs(
        {a: [e.concern for e in assessment.concerns if a in e.areas] for a in sheet.treated_areas}
    )
    anaesthetic = choose_anaesthetic(knowledge, blocked)
    decisions = decide(
        knowledge, assessment, areas, findings, blend, open_skin, all_pairs, anaesthetic
    )
    going = [d.modality for d in decisions if d.decision in PROCEED]
    needling: NeedlingProtocol | None = None
    combined_protocol: NeedlingProtocol | None = None
    if Modality.MICRONEEDLING in going:
        needling = build_needling(knowledge, assessment, needled, anaesthetic)
    if Modality.COMBINED in going:
        combined_protocol = build_needling(knowledge, assessment, needled, anaesthetic, open_skin)
    meso_going = Modality.MESOTHERAPY in going or Modality.COMBINED in going
    courses: list[Course] = []
    for modality in going:
        # the needling sets the pace of combined sittings; mesotherapy-only work follows
        # the mesotherapy course
        parts = (Modality.MICRONEEDLING,) if modality is Modality.COMBINED else (modality,)
        products = _products_in(blend, knowledge) if modality is not Modality.MICRONEEDLING else []
        templates = [
            t
            for part in parts
            for t in templates_for(
                knowledge,
                part,
                {c for cs in areas[part].values() for c in cs},
                [p.id for p in products],
            )
        ]
        if templates:
            courses.append(build_course(knowledge, assessment, modality, templates, products))
    care = _care(knowledge, going, sheet.treated_areas)
    missing = tuple(sorted({sheet.question(fact) for f in findings for fact in f.unanswered}))
    plan_blend = blend if meso_going else None
    cited = _cited(decisions, findings, plan_blend, needling, combined_protocol, courses, care)
    return Plan(
        schema_version=PLAN_SCHEMA_VERSION,
        knowledge_version=knowledge.version,
        knowledge_layers=knowledge.layers,
        consult_date=assessment.consult_date,
        policies=dict(_policies(knowledge)),
        decisions=decisions,
        findings=tuple(findings),
        missing=missing,
        mesotherapy=plan_blend,
        microneedling=needling,
        combined=combined_protocol,
        courses=tuple(courses),
        care=care,
        references=tuple(sorted((_citations(knowledge)[ref] for ref in cited), key=_by_id)),
    )


@lru_cache(maxsize=16)
def _citations(knowledge: KnowledgeBase) -> dict[str, Citation]:
    return {key: Citation(key, ref.citation, ref.kind) for key, ref in knowledge.references.items()}


@lru_cache(maxsize=16)
def _policies(knowledge: KnowledgeBase) -> tuple[tuple[str, float], ...]:
    return tuple((key, knowledge.policy(key)) for key in sorted(knowledge.policies))


def _by_id(citation: Citation) -> str:
    return citation.id


def _cited(
    decisions: Iterable[ModalityDecision],
    findings: Iterable[Finding],
    blend: Blend | None,
    needling: NeedlingProtocol | None,
    combined: NeedlingProtocol | None,
    courses: Iterable[Course],
    care: Iterable[CareAdvice],
) -> set[str]:
    cited: set[str] = set()
    for decision in decisions:
        for reason in decision.reasons:
            cited.update(reason.sources)
    for finding in findings:
        cited.update(finding.sources)
    if blend is not None:
        for prep in blend.preparations:
            cited.update(prep.sources)
        for exclusion in blend.excluded:
            cited.update(exclusion.sources)
        for check in blend.checks:
            cited.update(check.sources)
    for protocol in (needling, combined):
        if protocol is not None:
            cited.update(protocol.sources)
    for course in courses:
        cited.update(course.sources)
    for advice in care:
        cited.update(advice.sources)
    return cited
