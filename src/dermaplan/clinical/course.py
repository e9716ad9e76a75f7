"""The course of sessions: templates merged, bounded by product labels (their totals
counting earlier sessions), the patient's limits and the event date, and laid out on dates
from the start the patient asked for (or the consult), after any wait a finding asks - unless
a question behind an absolute rule is open, or the preparation takes days of its own. A
mesotherapy course belongs to one preparation: products given apart keep their own course."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

from dermaplan.bounds import LAST_DAY, days_later
from dermaplan.clinical.assessment import Assessment
from dermaplan.clinical.plan import Course, Finding
from dermaplan.knowledge import KnowledgeBase
from dermaplan.knowledge.schema import CourseTemplate, Modality, Product


def templates_for(
    knowledge: KnowledgeBase, modality: Modality, concerns: Iterable[str], products: Iterable[str]
) -> list[CourseTemplate]:
    """The templates for these concerns; one tied to products only if the plan uses one,
    and then in place of the general ones."""
    return list(_templates_for(knowledge, modality, frozenset(concerns), frozenset(products)))


@lru_cache(maxsize=4096)
def _templates_for(
    knowledge: KnowledgeBase, modality: Modality, wanted: frozenset[str], used: frozenset[str]
) -> tuple[CourseTemplate, ...]:
    found = [
        (template, needs is not None)
        for template, treats, needs in _by_modality(knowledge)[modality]
        if not treats.isdisjoint(wanted) and (needs is None or not needs.isdisjoint(used))
    ]
    tied = tuple(template for template, specific in found if specific)
    return tied or tuple(template for template, _ in found)


@lru_cache(maxsize=16)
def _by_modality(
    knowledge: KnowledgeBase,
) -> dict[Modality, tuple[tuple[CourseTemplate, frozenset[str], frozenset[str] | None], ...]]:
    return {
        modality: tuple(
            (c, frozenset(c.concerns), None if c.products is None else frozenset(c.products))
            for c in knowledge.courses
            if c.modality == modality
        )
        for modality in Modality
    }


def recovery_days(
    knowledge: KnowledgeBase, modality: Modality, products: Iterable[Product]
) -> float:
    """The longest visible recovery of the modality or of a product it gives."""
    return max(
        [knowledge.modalities[modality].downtime_days.max]
        + [p.downtime.days.max for p in products if p.downtime is not None]
    )


@dataclass(frozen=True, slots=True)
class _Frame:
    """What templates and product labels make of a course, whoever the patient."""

    sessions: int
    interval: int
    low: float
    high: float
    notes: tuple[str, ...]
    judge_after: int
    maintenance: tuple[str, ...]
    sources: tuple[str, ...]


@lru_cache(maxsize=16)
def _templates(knowledge: KnowledgeBase) -> dict[str, CourseTemplate]:
    return {template.id: template for template in knowledge.courses}


@lru_cache(maxsize=4096)
def _frame(
    knowledge: KnowledgeBase,
    template_ids: tuple[str, ...],
    product_ids: tuple[str, ...],
    given: tuple[int, ...],  # for each product, its sessions already given
) -> _Frame:
    templates = [_templates(knowledge)[t] for t in template_ids]
    products = [knowledge.products[p] for p in product_ids]
    notes: list[str] = []
    sessions = max(t.sessions for t in templates)
    low = max(t.interval_days.min for t in templates)
    high = min(t.interval_days.max for t in templates)
    if low > high:
        notes.append("the templates' interval ranges do not overlap; the longest minimum is used")
        high = low
    interval = min(max(max(t.interval_default_days for t in templates), int(low)), int(high))
    for product, before in zip(products, given, strict=True):
        if product.min_interval_days and product.min_interval_days > interval:
            interval = product.min_interval_days
            low = max(low, product.min_interval_days)
            high = max(high, interval)
            notes.append(
                f"{product.id}: at least {product.min_interval_days} days apart "
                f"({product.evidence.value})"
            )
        if product.max_sessions:
            left = max(product.max_sessions - before, 0)
            if left < sessions:
                sessions = left
                counted = f", {before} given before" if before else ""
                notes.append(
                    f"{product.id}: at most {product.max_sessions} sessions in all{counted} "
                    f"({product.evidence.value})"
                )
    return _Frame(
        sessions,
        interval,
        low,
        high,
        tuple(notes),
        max((t.judge_after_days or 0) for t in templates),
        tuple(dict.fromkeys(t.maintenance for t in templates)),
        tuple(sorted({s for t in templates for s in t.sources})),
    )


def build_course(
    knowledge: KnowledgeBase,
    assessment: Assessment,
    modality: Modality,
    templates: list[CourseTemplate],
    products: Iterable[Product],
    given: Mapping[str, int],
    provisional: tuple[str, ...],
    staged: int = 1,
    waits: Iterable[Finding] = (),
    apart: str | None = None,
) -> Course:
    """`given`: the sessions of each product already given, which its label total counts;
    `staged`: the sittings each session takes, where the anaesthetic cannot cover all its
    areas at once; `waits`: findings whose rule asks to wait until their date (a precaution
    or a relative rule: the practitioner may start sooner, with the sign-off it asks for);
    `apart`: why the preparation takes days of its own (they are agreed, not planned)."""
    products = list(products)
    waits = tuple(waits)
    notes: list[str] = []
    if staged > 1:
        notes.append(
            f"each session is given in {staged} sittings on separate days (see the protocol): "
            "no sitting anaesthetises more skin than the label allows"
        )
    template_ids = tuple([t.id for t in templates])
    product_ids = tuple([p.id for p in products])
    frame = _frame(
        knowledge, template_ids, product_ids, tuple([given.get(p, 0) for p in product_ids])
    )
    notes += frame.notes
    sessions, interval, low, high = frame.sessions, frame.interval, frame.low, frame.high
    wanted = assessment.goals.max_sessions
    if wanted is not None and wanted < sessions:
        notes.append(
            f"the patient accepts {wanted} sessions; the course usually takes {sessions}: "
            "expect a smaller result"
        )
        sessions = wanted
    judge_after = frame.judge_after
    dates: list[dt.date] = []
    judge_on: dt.date | None = None
    if provisional:
        notes.append(
            "no dates until the open safety questions are answered: " + "; ".join(provisional)
        )
    elif apart is not None:
        notes.append(f"no dates: given {apart}; agree its days with the patient")
    else:
        start = first_day(assessment, waits)
        asked = assessment.goals.start_date or assessment.consult_date
        if start > asked:
            why = "; ".join(
                f"{w.until_text or w.until} ({w.title})"
                for w in sorted(
                    (w for w in waits if w.until is not None and w.until > asked),
                    key=lambda f: (f.until, f.code),
                )
            )
            notes.append(
                f"starts on {start}, after the waits the findings ask: {why}; earlier only "
                "with the sign-off they ask for"
            )
        dates = _dates(knowledge, assessment, modality, products, sessions, interval, notes, start)
        judge_on = days_later(dates[-1], judge_after) if dates and judge_after else None
        if max([*dates, judge_on or start]) > LAST_DAY:
            notes.append(f"no dates: the course would run past {LAST_DAY}")
            dates, judge_on = [], None
        event = assessment.goals.event_date
        if event is not None and judge_on is not None and dates[0] <= event:
            when = "before" if judge_on <= event else "after"
            notes.append(f"results are judged on {judge_on}, {when} the event on {event}")
    return Course(
        modality=modality,
        products=product_ids,
        templates=template_ids,
        sessions=sessions,
        interval_days=interval,
        interval_range_days=(int(low), int(high)),
        dates=tuple(dates),
        judge_results_on=judge_on,
        maintenance=frame.maintenance,
        notes=tuple(notes),
        sources=frame.sources,
    )


def _dates(
    knowledge: KnowledgeBase,
    assessment: Assessment,
    modality: Modality,
    products: list[Product],
    sessions: int,
    interval: int,
    notes: list[str],
    start: dt.date,
) -> list[dt.date]:
    """The sittings from the start date, kept clear of the patient's event by its margin
    (those too close to it resume after it)."""
    dates = [days_later(start, interval * i) for i in range(sessions)]
    event = assessment.goals.event_date
    if event is None or start > event:
        return dates
    margin = max(
        int(knowledge.policy("event_buffer_days")),
        int(recovery_days(knowledge, modality, products)),
    )
    kept = [d for d in dates if d <= days_later(event, -margin)]
    if len(kept) == len(dates):
        return dates
    # the sittings that would fall too close to the event resume after it, none earlier than
    # the start the patient asked for
    after = max(days_later(event, 1), start)
    if kept:
        after = max(after, days_later(kept[-1], interval))
    rest = [days_later(after, interval * i) for i in range(len(dates) - len(kept))]
    if not kept:
        notes.append(
            f"no session fits before the event on {event} (each needs {margin} days before "
            f"it): the course starts after the event, on {after}"
        )
    else:
        notes.append(
            f"{len(rest)} session(s) would fall within {margin} days of the event on {event}: "
            f"they resume after it, from {after}"
        )
    return kept + rest


def first_day(assessment: Assessment, waits: Iterable[Finding]) -> dt.date:
    """The day a course may start: the one the patient asked for (or the consult), unless a
    finding asks to wait past it."""
    asked = assessment.goals.start_date or assessment.consult_date
    return max([asked, *(w.until for w in waits if w.until is not None)])


def starts_after_event(course: Course, assessment: Assessment, waits: Iterable[Finding]) -> bool:
    """Whether the event itself pushed the whole course past it (not a start already later)."""
    event = assessment.goals.event_date
    return (
        event is not None
        and bool(course.dates)
        and first_day(assessment, waits) <= event < course.dates[0]
    )
