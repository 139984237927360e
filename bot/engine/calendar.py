"""Wall-clock times in a zone: when a daily schedule fires, across DST changes.

A local time that does not exist on a spring-forward day moves to the first valid
minute after it (02:30 in New York on 2026-03-08 fires at 03:00 EDT); a local time
that happens twice on a fall-back day fires once, at its first occurrence (fold=0).
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
MAX_GAP_MINUTES = 24 * 60  # no zone skips more than a day; a safety bound for the minute walk
SATURDAY = 5


def parse_hhmm(text: str) -> time | None:
    """'9:05' or '09:05' -> time(9, 5); anything else (25:00, 9.05, 9h) -> None."""
    match = _HHMM.match(text.strip())
    if match is None:
        return None
    return time(int(match.group(1)), int(match.group(2)))


def exists(day: date, at: time, tz: ZoneInfo) -> bool:
    """Whether the wall-clock time `at` happens on `day` in `tz` (False inside a spring-forward gap)."""
    naive = datetime.combine(day, at)
    back = naive.replace(tzinfo=tz).astimezone(UTC).astimezone(tz).replace(tzinfo=None)
    return back == naive


def local_instant(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The UTC instant of wall-clock `at` on `day` in `tz`: a skipped time moves on, a repeated one is the first."""
    naive = datetime.combine(day, at)
    if not exists(day, at, tz):
        for minutes in range(1, MAX_GAP_MINUTES):
            candidate = naive + timedelta(minutes=minutes)
            if exists(candidate.date(), candidate.time(), tz):
                naive = candidate
                break
    return naive.replace(tzinfo=tz, fold=0).astimezone(UTC)


def runs_on(day: date, weekdays_only: bool) -> bool:
    return not weekdays_only or day.weekday() < SATURDAY


@functools.lru_cache(maxsize=1024)
def next_fire(after: datetime, at: time, tz: ZoneInfo, *, weekdays_only: bool = False) -> tuple[datetime, date]:
    """The first fire instant strictly after `after` (UTC) and the local date it belongs to.

    Cached (it is pure): the schedules fired in one batch share the instant they are fired at,
    so those with the same zone and time share the answer.
    """
    day = after.astimezone(tz).date() - timedelta(days=1)
    for _ in range(10):
        if runs_on(day, weekdays_only):
            when = local_instant(day, at, tz)
            if when > after:
                return when, day
        day += timedelta(days=1)
    raise AssertionError("no fire time within ten days")  # unreachable: every week has weekdays


def next_local(after: datetime, at: time, tz: ZoneInfo) -> datetime:
    """The first instant strictly after `after` at wall-clock `at` in `tz` (for --reveal-at)."""
    when, _day = next_fire(after, at, tz)
    return when
