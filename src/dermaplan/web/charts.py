"""Outcome scores over time as a chart drawn on the server (SVG, no script): the geometry
of one scale's scores, dates across and the scale's range up, for outcomes.html to draw."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from dermaplan.app.outcomes import OutcomeSeries

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 48, 24, 16, 40  # room for the axes' labels
MOST_TICKS = 11  # a scale of more whole values than this gets ticks at 5 even steps


@dataclass(frozen=True, slots=True)
class Point:
    x: float
    y: float
    day: dt.date
    score: float


@dataclass(frozen=True, slots=True)
class Tick:
    at: float  # where on its axis
    label: str
    anchor: str = "end"  # which end of the label is at `at` (SVG text-anchor)


@dataclass(frozen=True, slots=True)
class Chart:
    width: int
    height: int
    left: int
    right: int  # the x of the plot's right edge
    top: int
    bottom: int  # the y of the plot's bottom edge
    points: list[Point]
    line: str  # the polyline's points
    y_ticks: list[Tick]
    x_ticks: list[Tick]


def _ticks(low: float, high: float) -> list[float]:
    whole = range(int(low), int(high) + 1)
    if float(low).is_integer() and float(high).is_integer() and len(whole) <= MOST_TICKS:
        return [float(value) for value in whole]
    return [low + (high - low) * step / 4 for step in range(5)]


def _day_ticks(x: Callable[[dt.date], float], first: dt.date, last: dt.date) -> list[Tick]:
    """The first and last days under the plot, each label kept inside it."""
    if first == last:
        return [Tick(round(x(first), 1), first.isoformat(), "middle")]
    return [
        Tick(round(x(first), 1), first.isoformat(), "start"),
        Tick(round(x(last), 1), last.isoformat(), "end"),
    ]


def chart(series: OutcomeSeries) -> Chart:
    """Where each score of `series` goes: its date across (the first on the left, the last on
    the right; one day alone in the middle), its score up the scale's whole range."""
    right, bottom = WIDTH - RIGHT, HEIGHT - BOTTOM
    days = [entry.assessed_on for entry in series.scores]
    first, span = min(days), (max(days) - min(days)).days

    def x(day: dt.date) -> float:
        if span == 0:
            return (LEFT + right) / 2
        return LEFT + (right - LEFT) * (day - first).days / span

    def y(score: float) -> float:
        return bottom - (bottom - TOP) * (score - series.low) / (series.high - series.low)

    points = [
        Point(
            round(x(entry.assessed_on), 1), round(y(entry.score), 1), entry.assessed_on, entry.score
        )
        for entry in series.scores
    ]
    return Chart(
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        right=right,
        top=TOP,
        bottom=bottom,
        points=points,
        line=" ".join(f"{point.x},{point.y}" for point in points),
        y_ticks=[
            Tick(round(y(value), 1), f"{value:g}") for value in _ticks(series.low, series.high)
        ],
        x_ticks=_day_ticks(x, min(days), max(days)),
    )
