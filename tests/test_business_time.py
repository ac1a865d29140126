"""Business hours: Monday–Friday, 09:00–17:00 in the organisation's time zone."""

from __future__ import annotations

import zoneinfo
from datetime import datetime

from smarketing.business_time import add_business_hours

LONDON = zoneinfo.ZoneInfo("Europe/London")
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")


def test_friday_evening_start_with_four_hours_is_due_monday_1300_local():
    friday_evening = datetime(2026, 11, 27, 18, 30, tzinfo=BERLIN)
    due = add_business_hours(friday_evening, 4, time_zone="Europe/Berlin")
    assert due == datetime(2026, 11, 30, 13, 0, tzinfo=BERLIN)
    assert due.astimezone(BERLIN).weekday() == 0


def test_a_start_at_1600_with_two_hours_ends_1000_next_working_day():
    thursday = datetime(2026, 11, 26, 16, 0, tzinfo=LONDON)
    assert add_business_hours(thursday, 2, time_zone="Europe/London") == datetime(2026, 11, 27, 10, 0, tzinfo=LONDON)
    friday = datetime(2026, 11, 27, 16, 0, tzinfo=LONDON)
    assert add_business_hours(friday, 2, time_zone="Europe/London") == datetime(2026, 11, 30, 10, 0, tzinfo=LONDON)


def test_across_the_spring_dst_change_working_hours_stay_on_the_wall_clock():
    # Clocks go forward in London on Sunday 29 March 2026: Friday is GMT, Monday is BST.
    friday = datetime(2026, 3, 27, 16, 0, tzinfo=LONDON)
    due = add_business_hours(friday, 4, time_zone="Europe/London")
    assert due == datetime(2026, 3, 30, 12, 0, tzinfo=LONDON)
    assert due.utcoffset().total_seconds() == 3600  # BST
    assert due.astimezone(zoneinfo.ZoneInfo("UTC")).hour == 11


def test_across_the_autumn_dst_change():
    # Clocks go back on Sunday 25 October 2026: Friday is BST, Monday is GMT.
    friday = datetime(2026, 10, 23, 15, 0, tzinfo=LONDON)
    due = add_business_hours(friday, 3, time_zone="Europe/London")
    assert due == datetime(2026, 10, 26, 10, 0, tzinfo=LONDON)
    assert due.utcoffset().total_seconds() == 0


def test_a_start_in_another_zone_is_counted_in_the_organisations_zone():
    # 07:00 UTC on a Monday is 08:00 in Berlin: before opening, so from 09:00 Berlin.
    start = datetime(2026, 11, 23, 7, 0, tzinfo=zoneinfo.ZoneInfo("UTC"))
    assert add_business_hours(start, 1, time_zone="Europe/Berlin") == datetime(2026, 11, 23, 10, 0, tzinfo=BERLIN)


def test_a_weekend_start_counts_from_monday_opening_and_long_windows_span_days():
    saturday = datetime(2026, 11, 28, 11, 0, tzinfo=LONDON)
    assert add_business_hours(saturday, 1, time_zone="Europe/London") == datetime(2026, 11, 30, 10, 0, tzinfo=LONDON)
    monday = datetime(2026, 11, 30, 9, 0, tzinfo=LONDON)
    # 8 hours a day: 20 hours from Monday 09:00 is Wednesday 13:00.
    assert add_business_hours(monday, 20, time_zone="Europe/London") == datetime(2026, 12, 2, 13, 0, tzinfo=LONDON)


def test_ending_exactly_at_closing_stays_that_day():
    monday = datetime(2026, 11, 30, 13, 0, tzinfo=LONDON)
    assert add_business_hours(monday, 4, time_zone="Europe/London") == datetime(2026, 11, 30, 17, 0, tzinfo=LONDON)


# --- An organisation's own calendar: working days, hours and holidays ------------------------


def test_a_holiday_is_skipped_like_a_weekend():
    from datetime import date

    from smarketing.business_time import BusinessCalendar

    christmas = BusinessCalendar(time_zone="Europe/London", holidays=frozenset({date(2026, 12, 25)}))
    thursday_evening = datetime(2026, 12, 24, 16, 0, tzinfo=LONDON)
    # One hour on Thursday, the rest on Monday 28th: Friday 25th is a holiday.
    assert christmas.add_hours(thursday_evening, 4) == datetime(2026, 12, 28, 12, 0, tzinfo=LONDON)
    assert christmas.add_days(thursday_evening, 1) == datetime(2026, 12, 28, 16, 0, tzinfo=LONDON)


def test_custom_hours_and_a_six_day_week():
    from datetime import time

    from smarketing.business_time import BusinessCalendar

    shop = BusinessCalendar(
        time_zone="Europe/Berlin", working_days=frozenset({0, 1, 2, 3, 4, 5}), opens=time(8), closes=time(12)
    )
    friday = datetime(2026, 11, 27, 11, 0, tzinfo=BERLIN)
    assert shop.add_hours(friday, 2) == datetime(2026, 11, 28, 9, 0, tzinfo=BERLIN)  # Saturday works


def test_hours_between_counts_only_working_time_across_a_dst_change():
    from smarketing.business_time import BusinessCalendar

    calendar = BusinessCalendar(time_zone="Europe/London")
    friday = datetime(2026, 3, 27, 16, 0, tzinfo=LONDON)  # GMT
    monday = datetime(2026, 3, 30, 10, 30, tzinfo=LONDON)  # BST
    assert calendar.hours_between(friday, monday) == 2.5
    assert calendar.hours_between(monday, friday) == 0.0


def test_a_calendar_without_working_time_is_refused():
    from datetime import time

    import pytest

    from smarketing.business_time import BusinessCalendar

    with pytest.raises(ValueError, match="end after"):
        BusinessCalendar(opens=time(17), closes=time(9))
    with pytest.raises(ValueError, match="working day"):
        BusinessCalendar(working_days=frozenset())
