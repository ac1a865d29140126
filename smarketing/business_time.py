"""Business time in an organisation's time zone.

For now working days are Monday to Friday and working hours 09:00–17:00 local time; the SLA
issue makes them configurable and adds holidays (the business-hours calendar) behind these
same functions.
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime, time, timedelta

WEEKEND = (5, 6)
OPENS = time(9, 0)
CLOSES = time(17, 0)


def add_business_days(start: datetime, days: int, *, time_zone: str) -> datetime:
    """``start`` plus ``days`` working days, at the same local time of day.

    A start on a weekend counts from the next working day's start of day.
    """
    tz = zoneinfo.ZoneInfo(time_zone)
    local = start.astimezone(tz)
    if local.weekday() in WEEKEND:
        while local.weekday() in WEEKEND:
            local += timedelta(days=1)
        local = local.replace(hour=0, minute=0, second=0, microsecond=0)
    remaining = days
    while remaining > 0:
        local += timedelta(days=1)
        if local.weekday() not in WEEKEND:
            remaining -= 1
    # Re-attach the zone: a DST change between start and end keeps the wall-clock time.
    return local.replace(tzinfo=None).replace(tzinfo=tz)


def _next_opening(local: datetime) -> datetime:
    """``local`` (naive wall-clock) if within working hours, else the next opening."""
    if local.weekday() not in WEEKEND and OPENS <= local.time() < CLOSES:
        return local
    if local.weekday() not in WEEKEND and local.time() < OPENS:
        return datetime.combine(local.date(), OPENS)
    day = local.date() + timedelta(days=1)
    while day.weekday() in WEEKEND:
        day += timedelta(days=1)
    return datetime.combine(day, OPENS)


def add_business_hours(start: datetime, hours: float, *, time_zone: str) -> datetime:
    """``start`` plus ``hours`` working hours (Monday–Friday, 09:00–17:00 in ``time_zone``).

    A start outside working hours counts from the next opening: Friday 18:00 plus four hours
    is Monday 13:00. The arithmetic is on local wall-clock time, so a DST change in between
    moves nothing: opening is 09:00 on both sides of it.
    """
    tz = zoneinfo.ZoneInfo(time_zone)
    local = _next_opening(start.astimezone(tz).replace(tzinfo=None))
    remaining = timedelta(hours=hours)
    while True:
        closing = datetime.combine(local.date(), CLOSES)
        if remaining <= closing - local:
            return (local + remaining).replace(tzinfo=tz)
        remaining -= closing - local
        local = _next_opening(closing)
