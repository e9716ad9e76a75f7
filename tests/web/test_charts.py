"""The outcome chart's geometry: dates across the plot, the scale's whole range up it (its
low end at the bottom), a single day in the middle, every label inside the drawing."""

from __future__ import annotations

import datetime as dt
import uuid

from dermaplan.app.outcomes import OutcomeEntry, OutcomeSeries
from dermaplan.records.enums import OutcomeScale
from dermaplan.web.charts import BOTTOM, HEIGHT, LEFT, RIGHT, TOP, WIDTH, chart


def series(*scores: tuple[str, float]) -> OutcomeSeries:
    patient = uuid.uuid4()
    return OutcomeSeries(
        scale=OutcomeScale.GAIS,
        label="GAIS",
        low=1,
        high=5,
        better="lower",
        scores=[
            OutcomeEntry(
                id=uuid.uuid4(),
                patient_id=patient,
                scale=OutcomeScale.GAIS,
                label="GAIS",
                score=score,
                assessed_on=dt.date.fromisoformat(day),
                assessor_id=None,
                assessor=None,
                patient_reported=True,
                session_id=None,
                consult_id=None,
                notes=None,
            )
            for day, score in scores
        ],
    )


def test_scores_go_across_by_date_and_up_by_the_scales_range() -> None:
    drawn = chart(series(("2026-01-01", 5), ("2026-01-11", 3), ("2026-01-21", 1)))
    xs = [point.x for point in drawn.points]
    ys = [point.y for point in drawn.points]
    assert xs == [LEFT, (LEFT + WIDTH - RIGHT) / 2, WIDTH - RIGHT]
    assert ys == [TOP, (TOP + HEIGHT - BOTTOM) / 2, HEIGHT - BOTTOM]  # 5 at the top, 1 below
    assert drawn.line == " ".join(f"{x},{y}" for x, y in zip(xs, ys, strict=True))
    assert [tick.label for tick in drawn.y_ticks] == ["1", "2", "3", "4", "5"]
    assert [(tick.label, tick.anchor) for tick in drawn.x_ticks] == [
        ("2026-01-01", "start"),  # the first date's label starts at the left edge
        ("2026-01-21", "end"),  # the last one ends at the right edge: both inside
    ]


def test_one_day_alone_is_in_the_middle() -> None:
    drawn = chart(series(("2026-03-04", 2), ("2026-03-04", 4)))
    assert {point.x for point in drawn.points} == {(LEFT + WIDTH - RIGHT) / 2}
    assert [(tick.label, tick.anchor) for tick in drawn.x_ticks] == [("2026-03-04", "middle")]
