"""The consult: assessment and knowledge in, an explained plan out.

screen → hold areas → blend → needling → combined → decide per modality → course → care
→ what is missing. Pure: no I/O, no clock (the consult date is in the assessment).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache

from dermaplan.clinical.assessment import Assessment
from dermaplan.clinical.blend import (
    blocks_on,
    build_blend,
    candidate_ingredients,
    earlier_sessions,
    excluded_ingredients,
)
from dermaplan.clinical.course import build_course, starts_after_event, templates_for
from dermaplan.clinical.decision import (
    SINGLE,
    AreaConcerns,
    Consultation,
    addressed,
    binds,
    combine,
    decide,
    holds,
    review_scars,
    sitting_uses,
)
from dermaplan.clinical.facts import PROCEDURES_QUESTION, FactSheet
from dermaplan.clinical.needling import build_needling, choose_anaesthetic
from dermaplan.clinical.plan import (
    ABSOLUTE,
    MISSING,
    PLAN_SCHEMA_VERSION,
    PRECAUTION,
    PROCEED,
    RELATIVE,
    Anaesthetic,
    Blend,
    CareAdvice,
    Citation,
    Course,
    Finding,
    ModalityDecision,
    NeedlingProtocol,
    Plan,
    ProductUse,
    Reason,
    Referral,
)
from dermaplan.clinical.radiofrequency import build_radiofrequency, usable_devices
from dermaplan.clinical.screening import MODALITIES, screen
from dermaplan.knowledge import KnowledgeBase
from dermaplan.knowledge.schema import Modality
from dermaplan.vocabulary import COMBINED, MESOTHERAPY, MICRONEEDLING


def _anaesthetic_considered(knowledge: KnowledgeBase, chosen: Anaesthetic) -> frozenset[str]:
    """The anaesthetic ingredients a needling plan depends on: those of the option chosen
    and of every option preferred to it."""
    found: set[str] = set()
    for option in knowledge.needling.anaesthesia:
        found.update(option.ingredients)
        if option.id == chosen.option:
            break
    return frozenset(found)


def _severities(assessment: Assessment) -> dict[tuple[str, str], str]:
    """(concern, area) → how severe, for the needling protocols."""
    return {
        (entry.concern, area): entry.severity
        for entry in assessment.concerns
        for area in entry.areas
    }


def _remaining(planned: AreaConcerns, held: Mapping[str, list[Finding]]) -> AreaConcerns:
    """What is planned on the areas nothing holds (the plan itself when nothing does: these
    mappings are only read)."""
    if not held:
        return planned
    return {area: concerns for area, concerns in planned.items() if area not in held}


def _care(
    knowledge: KnowledgeBase, chosen: Iterable[Modality], treated: frozenset[str]
) -> tuple[CareAdvice, ...]:
    return tuple(
        [
            advice
            for advice, areas in _care_items(knowledge, frozenset(chosen))
            if areas is None or treated & areas
        ]
    )


@lru_cache(maxsize=128)
def _care_items(
    knowledge: KnowledgeBase, chosen: frozenset[Modality]
) -> tuple[tuple[CareAdvice, frozenset[str] | None], ...]:
    """The care items for these modalities as advice, in reading order (before first), with
    the areas each is for; once per knowledge base and set of modalities."""
    wanted = set(chosen)
    if COMBINED in wanted:
        wanted.update(SINGLE)
    items = sorted(knowledge.care, key=lambda item: (item.phase != "before", item.text))
    return tuple(
        (
            CareAdvice(
                item.phase, item.text, tuple(item.modalities), tuple(item.sources), item.evidence
            ),
            None if item.areas is None else frozenset(item.areas),
        )
        for item in items
        if wanted.intersection(item.modalities)
    )


def _plain_for_open_skin(blend: Blend, open_skin: tuple[str, ...]) -> str:
    """What the syringes of the open-skin products carry that must not go onto needled
    skin: they are applied from their own vial, plain."""
    extra = sorted(
        {
            other
            for prep in blend.preparations
            if set(prep.products) & set(open_skin)
            for other in prep.products
            if other not in open_skin
        }
    )
    return f"not from the syringe mixed with {', '.join(extra)}" if extra else ""


def _courses(
    knowledge: KnowledgeBase,
    assessment: Assessment,
    decisions: Iterable[ModalityDecision],
    areas: Mapping[Modality, AreaConcerns],
    blend: Blend | None,
    open_skin: tuple[str, ...],
    protocols: Mapping[Modality, NeedlingProtocol | None],
    needled: frozenset[str],
    waits: Mapping[Modality, list[Finding]],
) -> list[Course]:
    """A course per going modality: needling at its own pace, a combined course at the
    needling's pace with the open-skin products' labels, and one mesotherapy course per
    preparation."""
    courses: list[Course] = []
    alone: list[ProductUse] = []
    for decision in decisions:
        if decision.decision not in PROCEED:
            continue
        modality = decision.modality
        if modality is MESOTHERAPY:
            # a preparation given only on needled skin has no mesotherapy course of its own
            alone = sitting_uses(knowledge, blend, areas[modality], ())[0] if blend else []
            serving = {u.product for u in alone}
            groups = [
                list(p.products)
                for p in (blend.preparations if blend is not None else ())
                if serving.intersection(p.products)
            ]
        elif modality is COMBINED:
            # one sitting: its pace is the needling's, bounded by every product it gives
            sitting = sitting_uses(knowledge, blend, areas[modality], needled)[0] if blend else []
            groups = [sorted({use.product for use in sitting})] if open_skin else []
        else:
            groups = [[]]
        for group in groups:
            products = [knowledge.products[p] for p in group]
            treating = [p for p in products if p.concerns]
            apart = None
            if modality is MESOTHERAPY:
                prep = next(p for p in blend.preparations if list(p.products) == group)  # type: ignore[union-attr]
                uses = [u for u in alone if u.product in group]
                concerns = {u.concern for u in uses}
                part = MESOTHERAPY
                apart = prep.apart
                where = sorted({a for u in uses for a in u.areas})
            else:
                concerns = {c for cs in areas[MICRONEEDLING].values() for c in cs}
                part = MICRONEEDLING
                where = list(areas[part])
            templates = templates_for(knowledge, part, concerns, [p.id for p in treating])
            if not templates:
                continue
            protocol = protocols.get(modality)
            given = {
                p.id: len(earlier_sessions(knowledge, assessment, p, where) or [])
                for p in treating
                if p.max_sessions is not None
            }
            courses.append(
                build_course(
                    knowledge,
                    assessment,
                    modality,
                    templates,
                    treating,
                    given,
                    decision.provisional,
                    max(len(protocol.sittings), 1) if protocol is not None else 1,
                    waits[modality],
                    apart,
                )
            )
    return courses


def consult(assessment: Assessment, knowledge: KnowledgeBase) -> Plan:
    sheet = FactSheet(assessment, knowledge)
    scars = review_scars(knowledge, assessment)
    concerns = assessment.concerns
    meso = addressed(knowledge, concerns, MESOTHERAPY)
    needled = addressed(knowledge, concerns, MICRONEEDLING, scars.not_targets)
    # what mesotherapy treats in the combined sitting: with the products whose evidence is on
    # needled skin, where the needling treats the same concern
    onto = not _needled_only(knowledge).isdisjoint([entry.concern for entry in concerns])
    onto_needled = addressed(knowledge, concerns, MESOTHERAPY, needled=needled) if onto else meso
    planned = {
        MESOTHERAPY: meso,
        MICRONEEDLING: needled,
        COMBINED: combine(onto_needled, needled),
    }
    pain_relief = assessment.goals.pain_tolerance == "low"
    candidates = candidate_ingredients(knowledge, meso, needled, pain_relief)
    in_sitting = (
        candidate_ingredients(knowledge, onto_needled, needled, pain_relief) if onto else candidates
    )
    findings = screen(
        sheet,
        {m: frozenset(a) for m, a in planned.items()},
        in_sitting[COMBINED],
        usable_devices(knowledge, needled),
    )
    # the findings by what the plan does with them, in one pass
    absolute: list[Finding] = []
    dated: list[Finding] = []  # a wait until a date the course may have to keep
    unanswered: list[str] = []
    for f in findings:
        if f.severity is ABSOLUTE:
            absolute.append(f)
        elif f.until is not None and f.severity in (RELATIVE, PRECAUTION):
            dated.append(f)
        unanswered += f.unanswered
    held = {m: holds(absolute, m, planned[m]) for m in MODALITIES}
    meso_now = _remaining(meso, held[MESOTHERAPY])
    needled_now = _remaining(needled, held[MICRONEEDLING])
    blended = (
        _remaining(
            addressed(knowledge, concerns, MESOTHERAPY, needled=needled_now),
            holds(absolute, MESOTHERAPY, onto_needled),
        )
        if onto
        else meso_now
    )
    remaining = {
        MESOTHERAPY: meso_now,
        MICRONEEDLING: needled_now,
        COMBINED: _remaining(combine(blended, needled_now), held[COMBINED]),
    }
    blocked = excluded_ingredients(knowledge, assessment, findings)
    blend = (
        build_blend(knowledge, assessment, blended, blocked, _paired(knowledge))
        if blended
        else None
    )
    shared = set(remaining[COMBINED]) & set(needled_now)
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
    told = []
    for entry in assessment.concerns:
        for area in entry.areas:
            told.append(f"{entry.concern}:{area}")
    all_pairs = tuple(sorted(told))
    anaesthetic = choose_anaesthetic(knowledge, blocks_on(blocked, needled_now))
    numbing = _anaesthetic_considered(knowledge, anaesthetic) if needled else frozenset()
    considered = {
        MESOTHERAPY: candidates[MESOTHERAPY],
        MICRONEEDLING: numbing,
        COMBINED: in_sitting[MESOTHERAPY] | numbing,
    }
    decisions = decide(
        Consultation(
            knowledge,
            assessment,
            sheet,
            findings,
            all_pairs,
            planned,
            remaining,
            held,
            scars,
            blend,
            open_skin,
            anaesthetic,
            considered,
        )
    )
    going = [d.modality for d in decisions if d.decision in PROCEED]
    needling: NeedlingProtocol | None = None
    combined_protocol: NeedlingProtocol | None = None
    radiofrequency = None
    combined_going = COMBINED in going and bool(open_skin)
    any_needling = MICRONEEDLING in going or combined_going
    severities = _severities(assessment) if any_needling else {}
    if MICRONEEDLING in going:
        needling = build_needling(knowledge, severities, needled_now, anaesthetic, scars.keep_off)
        radiofrequency = build_radiofrequency(
            knowledge,
            sheet,
            needled_now,
            findings,
            next(d for d in decisions if d.modality is MICRONEEDLING),
        )
    if combined_going:
        combined_needled = {a: cs for a, cs in needled_now.items() if a in remaining[COMBINED]}
        combined_protocol = build_needling(
            knowledge,
            severities,
            combined_needled,
            anaesthetic,
            scars.keep_off,
            open_skin,
            _plain_for_open_skin(blend, open_skin) if blend is not None else "",
        )
    meso_going = MESOTHERAPY in going or COMBINED in going
    protocols = {MICRONEEDLING: needling, COMBINED: combined_protocol}
    waits: dict[Modality, list[Finding]] = {m: [] for m in MODALITIES}
    for f in dated:
        for m in MODALITIES:
            if binds(f, m) and not set(remaining[m]).isdisjoint(f.areas):
                waits[m].append(f)
    courses = _courses(
        knowledge,
        assessment,
        decisions,
        remaining,
        blend,
        open_skin,
        protocols,
        frozenset(shared),
        waits,
    )
    decisions = _with_course_notes(decisions, courses, assessment, waits)
    care = _care(knowledge, going, sheet.treated_areas)
    questions = set(map(sheet.question, unanswered))
    if blend is not None and any(e.severity is MISSING and e.rule is None for e in blend.excluded):
        questions.add(PROCEDURES_QUESTION)
    plan_blend = blend if meso_going else None
    referrals = _referrals(knowledge, assessment, findings)
    cited = _cited(decisions, findings, plan_blend, needling, combined_protocol, courses, care)
    cited.update(*(r.sources for r in referrals))
    if radiofrequency is not None:
        cited.update(radiofrequency.sources)
    return Plan(
        schema_version=PLAN_SCHEMA_VERSION,
        knowledge_version=knowledge.version,
        knowledge_layers=knowledge.layers,
        consult_date=assessment.consult_date,
        policies=dict(_policies(knowledge)),
        decisions=decisions,
        findings=tuple(findings),
        missing=tuple(sorted(questions)),
        referrals=referrals,
        mesotherapy=plan_blend,
        microneedling=needling,
        combined=combined_protocol,
        radiofrequency=radiofrequency,
        courses=tuple(courses),
        care=care,
        references=tuple(map(_citations(knowledge).__getitem__, sorted(cited))),
    )


def _with_course_notes(
    decisions: tuple[ModalityDecision, ...],
    courses: Iterable[Course],
    assessment: Assessment,
    waits: Mapping[Modality, list[Finding]],
) -> tuple[ModalityDecision, ...]:
    """A decision whose course the patient's event pushes past it says so itself."""
    if assessment.goals.event_date is None:
        return decisions  # no event to push a course past
    late = {c.modality for c in courses if starts_after_event(c, assessment, waits[c.modality])}
    if not late:
        return decisions
    event = assessment.goals.event_date
    return tuple(
        ModalityDecision(
            d.modality,
            d.decision,
            (
                *d.reasons,
                Reason(f"no session fits before the event on {event}: start after the event"),
            ),
            d.concerns,
            d.until,
            d.provisional,
        )
        if d.modality in late
        else d
        for d in decisions
    )


def _referrals(
    knowledge: KnowledgeBase, assessment: Assessment, findings: Iterable[Finding]
) -> tuple[Referral, ...]:
    """A concern no modality here treats, and each rule that holds and asks for a referral."""
    found: list[Referral] = []
    concerns = knowledge.concerns
    for entry in assessment.concerns:
        refer = concerns[entry.concern].refer
        if refer is not None:
            found.append(
                Referral(
                    entry.concern,
                    refer.to,
                    refer.text,
                    tuple(entry.areas),
                    tuple(refer.sources),
                    refer.evidence,
                )
            )
    referring = _referring_rules(knowledge)
    for finding in findings:
        to = referring.get(finding.code)
        if to is not None and finding.severity is not MISSING:
            why = f"{finding.title}: {finding.action}"
            found.append(
                Referral(finding.code, to, why, finding.areas, finding.sources, finding.evidence)
            )
    return tuple(found)


@lru_cache(maxsize=16)
def _needled_only(knowledge: KnowledgeBase) -> frozenset[str]:
    """The concerns a mesotherapy product treats only on needled skin."""
    return frozenset(
        concern.id
        for concern in knowledge.concerns.values()
        if any(fit.on_needled_skin for fit in concern.addressed_by)
    )


@lru_cache(maxsize=16)
def _referring_rules(knowledge: KnowledgeBase) -> dict[str, str]:
    return {rule.id: rule.refer for rule in knowledge.rules if rule.refer is not None}


@lru_cache(maxsize=16)
def _citations(knowledge: KnowledgeBase) -> dict[str, Citation]:
    return {key: Citation(key, ref.citation, ref.kind) for key, ref in knowledge.references.items()}


@lru_cache(maxsize=16)
def _policies(knowledge: KnowledgeBase) -> tuple[tuple[str, float], ...]:
    return tuple((key, knowledge.policy(key)) for key in sorted(knowledge.policies))


@lru_cache(maxsize=16)
def _paired(knowledge: KnowledgeBase) -> frozenset[str]:
    """The areas dosed per side."""
    return frozenset(area.id for area in knowledge.areas.values() if area.paired)


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
    cited.update(
        *[reason.sources for decision in decisions for reason in decision.reasons],
        *[finding.sources for finding in findings],
        *[course.sources for course in courses],
        *[advice.sources for advice in care],
        *[protocol.sources for protocol in (needling, combined) if protocol is not None],
    )
    if blend is not None:
        cited.update(
            *(prep.sources for prep in blend.preparations),
            *(exclusion.sources for exclusion in blend.excluded),
            *(check.sources for check in blend.checks),
        )
    return cited
