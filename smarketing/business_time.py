"""Business time in an organisation's time zone.

For now working days are Monday to Friday; the SLA issue adds working hours and holidays
(the business-hours calendar) behind these same functions.
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime, timedelta

WEEKEND = (5, 6)


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
