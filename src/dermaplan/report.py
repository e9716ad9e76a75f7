"""A plan for people to read: one outline, drawn as Rich text or as Markdown."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dermaplan.clinical.plan import Decision, FindingSeverity, Plan
from dermaplan.knowledge.schema import Modality
from dermaplan.text import shown

if TYPE_CHECKING:
    from rich.console import RenderableType

DECISION_STYLE = {
    Decision.RECOMMENDED: "bold green",
    Decision.SUITABLE: "green",
    Decision.CAUTION: "yellow",
    Decision.DEFERRED: "magenta",
    Decision.CONTRAINDICATED: "bold red",
    Decision.NOT_INDICATED: "dim",
}
SEVERITY_STYLE = {
    FindingSeverity.ABSOLUTE: "bold red",
    FindingSeverity.MISSING: "bold yellow",
    FindingSeverity.RELATIVE: "yellow",
    FindingSeverity.PRECAUTION: "cyan",
    FindingSeverity.INFO: "dim",
}


@dataclass
class Section:
    title: str
    headers: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    styles: list[str] = field(default_factory=list)  # one per row, for the terminal
    bullets: list[str] = field(default_factory=list)


def _refs(sources: tuple[str, ...]) -> str:
    return f" [{', '.join(sources)}]" if sources else ""


def _num(value: float | None, unit: str = "") -> str:
    return "—" if value is None else f"{value:g}{unit}"


def outline(plan: Plan) -> list[Section]:
    """The plan's content in reading order; both renderers draw exactly this."""
    sections = []
    decisions = Section("Decisions", ["Modality", "Decision", "Why"])
    for d in plan.decisions:
        why = "\n".join(
            f"• {r.text}{_refs(r.sources)}"
            + (" (convention)" if r.evidence == "expert_opinion" else "")
            for r in d.reasons
        )
        label = d.decision.value + (f" until {d.until}" if d.until else "")
        if d.provisional:
            label += "\n(provisional)"
        decisions.rows.append([d.modality.value, label, why])
        decisions.styles.append(DECISION_STYLE[d.decision])
    sections.append(decisions)

    findings = Section("Findings", ["Severity", "Finding", "Because", "What to do"])
    for f in plan.findings:
        scope = ", ".join(f.modalities) + (
            f" · {', '.join(f.ingredients)}" if f.ingredients else ""
        )
        until = (
            f" (until {f.until or f.until_text})"
            if f.until or (f.until_text and f.severity is FindingSeverity.ABSOLUTE)
            else ""
        )
        findings.rows.append(
            [
                f.severity.value,
                f"{f.title} [{f.code}] — {scope}\n"
                f"{f.message}{_refs(f.sources)} ({f.evidence.value})",
                f.because,
                f.action + until,
            ]
        )
        findings.styles.append(SEVERITY_STYLE[f.severity])
    if not findings.rows:
        findings.bullets.append("No rule applies.")
    sections.append(findings)

    missing = Section("Safety questions still open")
    missing.bullets = list(plan.missing) or [
        "None: every safety question the rules ask was answered."
    ]
    sections.append(missing)

    if plan.referrals:
        referrals = Section("Referrals", ["To", "For", "Why"])
        for r in plan.referrals:
            referrals.rows.append(
                [
                    r.to,
                    f"{r.code} ({', '.join(r.areas)})",
                    r.why
                    + _refs(r.sources)
                    + (" (convention)" if r.evidence == "expert_opinion" else ""),
                ]
            )
            referrals.styles.append("bold")
        sections.append(referrals)

    if plan.mesotherapy is not None:
        blend = plan.mesotherapy
        table = Section("Mesotherapy blend", ["Preparation", "Areas", "Dose", "Technique"])
        for prep in blend.preparations:
            areas = "\n".join(
                f"{a.area}: {a.points} points, {_num(a.volume_ml, ' mL')}"
                if a.points
                else f"{a.area}: {_num(a.volume_ml, ' mL')}" + (f" ({a.note})" if a.note else "")
                if a.volume_ml is not None
                else f"{a.area}: {a.note}"
                for a in prep.areas
            )
            limits = [
                f"{_num(prep.volume_per_point_ml, ' mL')} per point"
                if prep.volume_per_point_ml is not None
                else "volume per point: practitioner decides",
                f"grid {_num(prep.grid_spacing_cm, ' cm')}" if prep.grid_spacing_cm else "",
                f"session max {_num(prep.max_volume_per_session_ml, ' mL')}"
                if prep.max_volume_per_session_ml
                else "",
                f"max {prep.max_points_per_session} points" if prep.max_points_per_session else "",
                f"total {_num(prep.volume_ml, ' mL')}" if prep.volume_ml is not None else "",
            ]
            kind = "mixed: " if prep.mixed else ""
            uses = (
                "; ".join(f"{u.concern} ({u.product})" for u in prep.uses if u.product)
                if prep.mixed
                else ""
            )
            table.rows.append(
                [
                    kind + " + ".join(prep.products) + f"\nfor {uses or ', '.join(prep.concerns)}",
                    areas,
                    "; ".join(x for x in limits if x),
                    f"{prep.technique.rstrip('.')}; {prep.depth} ({prep.route})",
                ]
            )
            table.styles.append("")
        table.bullets += [f"✓ {c.text}{_refs(c.sources)}" for c in blend.checks]
        table.bullets += [
            f"✗ {e.item}"
            + (f" for {e.concern}" if e.concern else "")
            + (f" on {e.area}" if e.area else "")
            + f": {e.reason}{_refs(e.sources)}"
            for e in blend.excluded
        ]
        if blend.uncovered:
            table.bullets.append(
                "Not covered by any allowed product: " + ", ".join(blend.uncovered)
            )
        if blend.total_volume_ml is not None:
            table.bullets.append(
                "Total volume per sitting (areas with a sourced point count): "
                f"{blend.total_volume_ml:g} mL"
            )
        sections.append(table)

    provisional = {d.modality for d in plan.decisions if d.provisional}
    for modality, title, protocol in (
        (Modality.MICRONEEDLING, "Microneedling protocol", plan.microneedling),
        (Modality.COMBINED, "Combined protocol", plan.combined),
    ):
        if protocol is None:
            continue
        if modality in provisional:
            title += " (provisional until the open questions are answered)"
        table = Section(title, ["Area", "Depth", "Device, passes", "Endpoint", "Notes"])
        for a in protocol.areas:
            table.rows.append(
                [
                    a.area + f"\n({', '.join(a.concerns)})",
                    "practitioner decides" if a.depth_mm is None else f"{a.depth_mm:g} mm",
                    f"{a.device}; {a.passes}",
                    a.endpoint,
                    "\n".join(a.notes)
                    + _refs(a.sources)
                    + (" (convention)" if a.evidence == "expert_opinion" else ""),
                ]
            )
            table.styles.append("")
        table.bullets = [f"{i}. {step}" for i, step in enumerate(protocol.steps, 1)]
        sections.append(table)

    radio = plan.radiofrequency
    if radio is not None:
        title = f"Radiofrequency microneedling ({radio.device}): {radio.decision.value}"
        title += f" until {radio.until}" if radio.until else ""
        if radio.provisional:
            title += " (provisional until the open questions are answered)"
        table = Section(title, ["Area", "Depth", "Notes"])
        for row in radio.areas:
            table.rows.append(
                [
                    row.area + f"\n({', '.join(row.concerns)})",
                    "practitioner decides" if row.depth_mm is None else f"{row.depth_mm:g} mm",
                    row.note
                    + _refs(row.sources)
                    + (" (convention)" if row.evidence == "expert_opinion" else ""),
                ]
            )
            table.styles.append("")
        table.bullets = [
            *(
                f"{r.text}{_refs(r.sources)}"
                + (" (convention)" if r.evidence == "expert_opinion" else "")
                for r in radio.reasons
            ),
            f"Energy: {radio.energy} (convention)",
            *(f"Needles — {n}" for n in radio.needles),
            *(f"Course — {c}" for c in radio.courses),
            f"Downtime: {radio.downtime}",
            f"Safety: {radio.safety}",
            f"Sources:{_refs(radio.sources)}",
        ]
        sections.append(table)

    for course in plan.courses:
        given = f" ({', '.join(course.products)})" if course.products else ""
        section = Section(f"Course — {course.modality.value}{given}")
        dates = ", ".join(str(d) for d in course.dates) or "no dates yet"
        low, high = course.interval_range_days
        section.bullets = [
            f"{course.sessions} sittings, {course.interval_days} days apart "
            f"(range {low}–{high}): {dates}",
            *([f"Results judged on {course.judge_results_on}"] if course.judge_results_on else []),
            *(f"Maintenance: {m}" for m in course.maintenance),
            *course.notes,
            f"Templates: {', '.join(course.templates)}{_refs(course.sources)}",
        ]
        sections.append(section)

    for phase, title in (("before", "Before each sitting"), ("after", "Aftercare")):
        section = Section(title)
        section.bullets = [
            f"{c.text}{_refs(c.sources)}"
            + (" (convention)" if c.evidence == "expert_opinion" else "")
            for c in plan.care
            if c.phase == phase
        ]
        if section.bullets:
            sections.append(section)

    knowledge = Section("Knowledge")
    knowledge.bullets = [
        f"version {plan.knowledge_version} ({' + '.join(plan.knowledge_layers)})",
        "policies: " + ", ".join(f"{k} = {v:g}" for k, v in plan.policies.items()),
    ]
    sections.append(knowledge)
    references = Section("References")
    references.bullets = [f"[{c.id}] {c.citation}" for c in plan.references]
    sections.append(references)
    return sections


def markdown(plan: Plan, title: str) -> str:
    lines = [f"# {title}", "", f"Consult date: {plan.consult_date}", ""]
    for section in outline(plan):
        lines += [f"## {section.title}", ""]
        if section.rows:
            lines.append("| " + " | ".join(section.headers) + " |")
            lines.append("|" + "---|" * len(section.headers))
            for row in section.rows:
                cells = [cell.replace("|", "\\|").replace("\n", "<br>") for cell in row]
                lines.append("| " + " | ".join(cells) + " |")
            lines.append("")
        if section.bullets:
            lines += [f"- {b}" for b in section.bullets] + [""]
    return "\n".join(lines)


def rich_view(plan: Plan, title: str) -> list[RenderableType]:
    """The plan as Rich renderables, every text in them shown safe (dermaplan.text): the
    styles are the only control sequences they draw."""
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    heading = f"{title}\nconsult {plan.consult_date} · knowledge {plan.knowledge_version}"
    parts: list[RenderableType] = [Panel(Text(shown(heading)), style="bold")]
    for section in outline(plan):
        if section.rows:
            table = Table(title=section.title, title_justify="left", show_lines=True, expand=True)
            for header in section.headers:
                table.add_column(header, overflow="fold")
            for row, style in zip(section.rows, section.styles, strict=True):
                table.add_row(*map(shown, row), style=style or None)
            parts.append(table)
        else:
            parts.append(Text(section.title, style="bold underline"))
        if section.bullets:
            parts.append(Text(shown("\n".join(f"  {b}" for b in section.bullets))))
    return parts
