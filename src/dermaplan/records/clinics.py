"""The clinic's day. Every rule that means a day - a product expired before the session, a
before-photo taken the same day, a session's place in a course, the spacing of sessions -
means the day on the clinic's wall clock, in its IANA time zone: never UTC's day, and never
the day of whatever offset an input file carried. Pure: the clinic's zone is read by
ClinicRepository.zone."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from dermaplan.records.errors import InvalidInput

UTC_ZONE = ZoneInfo("UTC")


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    """The IANA zone `name`, or InvalidInput naming it."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput.one(
            f"time_zone: '{name}' is not an IANA time zone (e.g. Europe/Paris, "
            "Australia/Sydney, UTC)"
        ) from None


@lru_cache(maxsize=1)
def known_zones() -> tuple[str, ...]:
    """The IANA time zones this machine knows, in name order (what a clinic may choose)."""
    return tuple(sorted(available_timezones()))


def clinic_day(instant: dt.datetime, where: ZoneInfo) -> dt.date:
    """The day `instant` falls on in the clinic."""
    return instant.astimezone(where).date()


def day_starts(day: dt.date, where: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """The first instant of `day` in the clinic and of the day after (a day is not always
    24 hours long: clocks change)."""
    start = dt.datetime.combine(day, dt.time(), where)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), where)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)
