"""Calendar arithmetic in a channel's time zone: leaderboard periods and reply streaks."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo


def period_start(now: datetime, tz: ZoneInfo, period: str) -> datetime | None:
    """The UTC instant the current week (Monday 00:00) or month began in `tz`; None for all time."""
    local = now.astimezone(tz)
    if period == "week":
        day = local.date() - timedelta(days=local.weekday())
    elif period == "month":
        day = local.date().replace(day=1)
    else:
        return None
    return datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC)


def streaks(times: Iterable[datetime], tz: ZoneInfo, now: datetime) -> tuple[int, int]:
    """(current, longest) runs of consecutive local days with a reply; today not yet counts as kept."""
    days = sorted({t.astimezone(tz).date() for t in times})
    return current_and_longest(days, now.astimezone(tz).date())


def current_and_longest(days: list[date], today: date) -> tuple[int, int]:
    longest = run = 0
    previous: date | None = None
    for day in days:
        run = run + 1 if previous is not None and day - previous == timedelta(days=1) else 1
        longest = max(longest, run)
        previous = day
    current = run if previous is not None and (today - previous) <= timedelta(days=1) else 0
    return current, longest
