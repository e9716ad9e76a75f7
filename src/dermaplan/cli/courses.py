"""`dermaplan courses`: start a course from an approved plan, show it, cancel it, and link
its planned sessions to the sessions that fulfilled them (`dermaplan.app.courses`)."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from dermaplan.bounds import LARGEST
from dermaplan.cli.shell import FormatOption, OutputFormat, call, group, parse_id, say, show

if TYPE_CHECKING:
    import uuid

    from dermaplan.app.courses import CourseView

courses_app = group("Start courses from approved plans and follow them.")


class CourseModality(StrEnum):
    MESOTHERAPY = "mesotherapy"
    MICRONEEDLING = "microneedling"
    COMBINED = "combined"


def _course_id(text: str) -> uuid.UUID:
    return parse_id(text, "a course id (a UUID, as `dermaplan courses start` prints)")


def _course_lines(course: CourseView) -> list[str]:
    lines = [
        f"course {course.id}  {course.modality.value}"
        + (f" ({', '.join(course.products)})" if course.products else "")
        + f"  {course.status}",
        f"patient {course.patient_id}  from consult {course.consult_id}",
        f"{course.sessions_planned} sessions, every {course.interval_days} days",
    ]
    if course.cancellation_reason is not None:
        lines.append(f"cancelled {course.cancelled_at}: {course.cancellation_reason}")
    for planned in course.planned:
        done = f"done: session {planned.session_id}" if planned.session_id else "to do"
        lines.append(f"  {planned.number}  {planned.planned_on.isoformat()}  {done}")
    return lines


@courses_app.command("start")
def courses_start(
    consult: Annotated[str, typer.Argument(metavar="CONSULT_ID")],
    modality: Annotated[CourseModality, typer.Argument(metavar="MODALITY")],
    product: Annotated[
        str | None,
        typer.Option(
            help="A product the course gives, where the plan has a course for each of "
            "several preparations."
        ),
    ] = None,
) -> None:
    """Start a course of MODALITY with the sessions the approved consult's plan dates."""
    from dermaplan.app import courses
    from dermaplan.knowledge.schema import Modality

    consult_id = parse_id(consult, "a consult id (a UUID)")
    started = call(courses.start, consult_id, Modality(modality.value), product)
    say("\n".join(_course_lines(started)))


@courses_app.command("show")
def courses_show(
    course: Annotated[str, typer.Argument(metavar="COURSE_ID")],
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """A course's planned dates and which are done; the reading is audited."""
    from dermaplan.app import courses

    found = call(courses.show, _course_id(course))
    show(found, output, lambda: _course_lines(found))


@courses_app.command("cancel")
def courses_cancel(
    course: Annotated[str, typer.Argument(metavar="COURSE_ID")],
    reason: Annotated[str, typer.Option(help="Why the course stops (required).")],
) -> None:
    """Cancel a course under way, with the reason."""
    from dermaplan.app import courses

    say(f"cancelled course {call(courses.cancel, _course_id(course), reason).id}")


@courses_app.command("fulfil")
def courses_fulfil(
    course: Annotated[str, typer.Argument(metavar="COURSE_ID")],
    number: Annotated[
        int,
        typer.Argument(metavar="NUMBER", min=1, max=LARGEST, help="The planned session, from 1."),
    ],
    session_id: Annotated[str, typer.Argument(metavar="SESSION_ID")],
) -> None:
    """Link a planned session to the recorded treatment session that fulfilled it."""
    from dermaplan.app import courses

    treatment_id = parse_id(session_id, "a session id (a UUID, as `sessions record` prints)")
    updated = call(courses.fulfil, _course_id(course), number, treatment_id)
    say("\n".join(_course_lines(updated)))
