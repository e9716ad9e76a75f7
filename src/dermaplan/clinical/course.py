"""The course of sessions: templates merged, bounded by product labels, the patient's
limits and the event date, and laid out on dates when a start date is known."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from functools import lru_cache

from dermaplan.clinical.assessment import Assessment
from dermaplan.clinical.plan import Course
from dermaplan.knowledge import KnowledgeBase
from dermaplan.knowledge.schema import CourseTemplate, Modality, Product


def templates_for(
    knowledge: KnowledgeBase, modality: Modality, concerns: Iterable[str], products: Iterable[str]
) -> list[CourseTemplate]:
    """The templates for these concerns; one tied to products only if the plan uses one."""
    wanted, used = set(concerns), set(products)
    return [
        template
        for template, treats, needs in _by_modality(knowledge)[modality]
        if not treats.isdisjoint(wanted) and (needs is None or not needs.isdisjoint(used))
    ]


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


def build_course(
    knowledge: KnowledgeBase,
    assessment: Assessment,
    modality: Modality,
    templates: list[CourseTemplate],
    products: Iterable[Product],
) -> Course:
    notes: list[str] = []
    sessions = max(t.sessions for t in templates)
    low = max(t.interval_days.min for t in templates)
    high = min(t.interval_days.max for t in templates)
    if low > high:
        notes.append("the templates' interval ranges do not overlap; the longest minimum is used")
        high = low
    interval = min(max(max(t.interval_default_days for t in templates), int(low)), int(high))
    for product in products:
        if product.min_interval_days and product.min_interval_days > interval:
            interval = product.min_interval_days
            low = max(low, product.min_interval_days)
            high = max(high, interval)
            notes.append(
                f"{product.id}: at least {product.min_interval_days} days apart "
                f"({product.evidence.value})"
            )
        if product.max_sessions and product.max_sessions < sessions:
            sessions = product.max_sessions
            notes.append(
                f"{product.id}: at most {product.max_sessions} sessions ({product.evidence.value})"
            )
    wanted = assessment.goals.max_sessions
    if wanted is not None and wanted < sessions:
        notes.append(
            f"the patient accepts {wanted} sessions; the course usually takes {sessions}: "
            "expect a smaller result"
        )
        sessions = wanted
    start = assessment.goals.start_date or assessment.consult_date
    dates = [start + dt.timedelta(days=interval * i) for i in range(sessions)]
    event = assessment.goals.event_date
    buffer = int(knowledge.policy("event_buffer_days"))
    downtime = int(knowledge.modalities[modality].downtime_days.max)
    if event is not None:
        latest = event - dt.timedelta(days=max(buffer, downtime))
        kept = [d for d in dates if d <= latest]
        if len(kept) < len(dates):
            notes.append(
                f"{len(dates) - len(kept)} session(s) would fall within {max(buffer, downtime)} "
                f"days of the event on {event}: not scheduled before it"
            )
            dates = kept
    judge_after = max((t.judge_after_days or 0) for t in templates)
    judge_on = dates[-1] + dt.timedelta(days=judge_after) if dates and judge_after else None
    if event is not None and judge_on is not None:
        when = "before" if judge_on <= event else "after"
        notes.append(f"results are judged on {judge_on}, {when} the event on {event}")
    if event is not None and not dates:
        notes.append("no session fits before the event: start after it")
    return Course(
        modality=modality,
        templates=tuple(t.id for t in templates),
        sessions=len(dates) if event is not None else sessions,
        interval_days=interval,
        interval_range_days=(int(low), int(high)),
        dates=tuple(dates),
        judge_results_on=judge_on,
        maintenance=tuple(dict.fromkeys(t.maintenance for t in templates)),
        notes=tuple(notes),
        sources=tuple(sorted({s for t in templates for s in t.sources})),
    )
