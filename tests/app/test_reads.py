"""Read models come back with every time on the clinic's clock, however deep it sits."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from dermaplan.app.reads import ReadModel, on_clinic_clock

BRISBANE = ZoneInfo("Australia/Brisbane")
PARIS = ZoneInfo("Europe/Paris")


class Inner(ReadModel):
    at: dt.datetime
    on: dt.date


class Outer(ReadModel):
    at: dt.datetime | None
    inner: list[Inner]
    pairs: tuple[tuple[str, dt.datetime], ...]
    by_name: dict[str, Inner]


instants = st.datetimes(  # hypothesis bounds are naive; the values it draws are in UTC
    min_value=dt.datetime(1900, 1, 2),  # noqa: DTZ001
    max_value=dt.datetime(2200, 1, 1),  # noqa: DTZ001
    timezones=st.just(dt.UTC),
)
inners = st.builds(Inner, at=instants, on=st.dates())
outers = st.builds(
    Outer,
    at=st.none() | instants,
    inner=st.lists(inners, max_size=3),
    pairs=st.lists(st.tuples(st.text(max_size=3), instants), max_size=3).map(tuple),
    by_name=st.dictionaries(st.text(max_size=3), inners, max_size=3),
)


def times(outer: Outer) -> list[dt.datetime]:
    found = [outer.at] if outer.at else []
    found += [inner.at for inner in outer.inner]
    found += [at for _, at in outer.pairs]
    return found + [inner.at for inner in outer.by_name.values()]


@given(outers, st.sampled_from([BRISBANE, PARIS, ZoneInfo("UTC")]))
def test_the_same_instants_on_the_clinics_clock(outer: Outer, where: ZoneInfo) -> None:
    shown = on_clinic_clock(outer, where)
    assert times(shown) == times(outer)  # aware datetimes compare as instants
    for at in times(shown):
        assert at.utcoffset() == at.astimezone(where).utcoffset()
        assert at.tzinfo is where
    assert [i.on for i in shown.inner] == [i.on for i in outer.inner]  # days are left alone


def test_lists_of_read_models_and_plain_values() -> None:
    noon = dt.datetime(2026, 11, 2, 2, 0, tzinfo=dt.UTC)
    [shown] = on_clinic_clock([Inner(at=noon, on=dt.date(2026, 11, 2))], BRISBANE)
    assert shown.at.isoformat() == "2026-11-02T12:00:00+10:00"
    assert on_clinic_clock("text", BRISBANE) == "text"
    naive = dt.datetime(2026, 1, 1)  # noqa: DTZ001 - no instant: left as it is
    assert on_clinic_clock(naive, BRISBANE) is naive
