"""Business time: an organisation's working days, opening hours and holidays in its time zone.

``BusinessCalendar`` does the arithmetic (``add_hours``, ``add_days``, ``hours_between``) on
local wall-clock time, so a DST change in between moves nothing: opening is 09:00 on both
sides of it. ``calendar_for(org)`` builds an organisation's calendar (its settings and
holidays, read once per organisation object). The module functions keep the default week
(Monday–Friday, 09:00–17:00, no holidays) for callers that only know a time zone.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from smarketing.accounts.models import Organization

DEFAULT_WORKING_DAYS = frozenset({0, 1, 2, 3, 4})  # Monday … Friday (date.weekday())
OPENS = time(9, 0)
CLOSES = time(17, 0)
# Looking further than this for a working day means the calendar has none (all holidays).
MAX_DAYS_AHEAD = 3 * 366


@dataclass(frozen=True)
class BusinessCalendar:
    time_zone: str = "UTC"
    working_days: frozenset[int] = DEFAULT_WORKING_DAYS
    opens: time = OPENS
    closes: time = CLOSES
    holidays: frozenset[date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if not self.working_days:
            raise ValueError("A business calendar needs at least one working day.")
        if self.closes <= self.opens:
            raise ValueError("Business hours must end after they start.")

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    def is_working_day(self, day: date) -> bool:
        return day.weekday() in self.working_days and day not in self.holidays

    def _next_working_day(self, day: date) -> date:
        for _ in range(MAX_DAYS_AHEAD):
            day += timedelta(days=1)
            if self.is_working_day(day):
                return day
        raise ValueError("No working day in the next three years: check the working days and holidays.")

    def _next_opening(self, local: datetime) -> datetime:
        """``local`` (naive wall-clock) if within working hours, else the next opening."""
        if self.is_working_day(local.date()):
            if self.opens <= local.time() < self.closes:
                return local
            if local.time() < self.opens:
                return datetime.combine(local.date(), self.opens)
        return datetime.combine(self._next_working_day(local.date()), self.opens)

    def _local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.tz).replace(tzinfo=None)

    def add_hours(self, start: datetime, hours: float) -> datetime:
        """``start`` plus ``hours`` working hours; a start outside them counts from the next
        opening (Friday 18:00 plus four hours is Monday 13:00)."""
        local = self._next_opening(self._local(start))
        remaining = timedelta(hours=hours)
        while True:
            closing = datetime.combine(local.date(), self.closes)
            if remaining <= closing - local:
                return (local + remaining).replace(tzinfo=self.tz)
            remaining -= closing - local
            local = self._next_opening(closing)

    def add_days(self, start: datetime, days: int) -> datetime:
        """``start`` plus ``days`` working days at the same local time of day; a start on a day
        off counts from the next working day's start of day."""
        local = self._local(start)
        if not self.is_working_day(local.date()):
            local = datetime.combine(self._next_working_day(local.date()), time(0, 0))
        day = local.date()
        for _ in range(days):
            day = self._next_working_day(day)
        return datetime.combine(day, local.time()).replace(tzinfo=self.tz)

    def hours_between(self, start: datetime, end: datetime) -> float:
        """Working hours from ``start`` to ``end`` (0 when ``end`` is not later)."""
        if end <= start:
            return 0.0
        local, stop = self._next_opening(self._local(start)), self._local(end)
        total = timedelta(0)
        while local < stop:
            closing = datetime.combine(local.date(), self.closes)
            total += min(closing, stop) - local
            local = self._next_opening(closing)
        return total.total_seconds() / 3600


def calendar_for(org: Organization) -> BusinessCalendar:
    """The organisation's calendar: its time zone, working week, hours and holidays.

    Read once per organisation object (it is kept on it), so a bulk operation pays one query.
    """
    cached = getattr(org, "_business_calendar", None)
    if cached is None:
        holidays = frozenset(org.holidays.values_list("date", flat=True)) if org.pk else frozenset()
        cached = BusinessCalendar(
            time_zone=org.time_zone,
            working_days=frozenset(org.working_days),
            opens=org.opens_at,
            closes=org.closes_at,
            holidays=holidays,
        )
        org._business_calendar = cached
    return cached


def add_business_days(start: datetime, days: int, *, time_zone: str) -> datetime:
    """``start`` plus ``days`` working days of the default week, at the same local time of day."""
    return BusinessCalendar(time_zone=time_zone).add_days(start, days)


def add_business_hours(start: datetime, hours: float, *, time_zone: str) -> datetime:
    """``start`` plus ``hours`` working hours of the default week (Monday–Friday, 09:00–17:00)."""
    return BusinessCalendar(time_zone=time_zone).add_hours(start, hours)
