"""Working time over China's holiday arrangement: deadlines across weekends, public holidays
and the weekend days made working days (调休上班日)."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest

from geoplatform.refdata import DATA_DIR
from geoplatform.workflow import china_calendar, working_days, working_hours
from geoplatform.workflow.calendar import calendar_from_rows

SHANGHAI = ZoneInfo("Asia/Shanghai")
CALENDAR = china_calendar()


def at(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def table_rows() -> list[dict[str, str]]:
    with (DATA_DIR / "calendar" / "cn_holidays.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_national_day_2025_days_off_and_adjusted_working_days():
    assert CALENDAR.is_working_day(date(2025, 9, 26))  # Friday
    assert not CALENDAR.is_working_day(date(2025, 9, 27))  # Saturday
    assert CALENDAR.is_working_day(date(2025, 9, 28))  # Sunday, 调休上班
    assert not any(CALENDAR.is_working_day(date(2025, 10, d)) for d in range(1, 9))
    assert CALENDAR.is_working_day(date(2025, 10, 9))
    assert CALENDAR.is_working_day(date(2025, 10, 11))  # Saturday, 调休上班
    assert not CALENDAR.is_working_day(date(2025, 10, 12))


def test_four_working_hours_from_the_friday_before_national_day():
    # 15:00–17:30 on Friday, then the adjusted working Sunday from 08:30.
    assert working_hours(4).due(CALENDAR, at(2025, 9, 26, 15)) == at(2025, 9, 28, 10)


def test_four_working_hours_from_the_eve_of_national_day_resume_after_it():
    assert working_hours(4).due(CALENDAR, at(2025, 9, 30, 15)) == at(2025, 10, 9, 10)


def test_working_days_from_the_friday_before_national_day():
    friday = at(2025, 9, 26, 15)
    # The adjusted Sunday 28th, Monday 29th, Tuesday 30th; then the eight days off.
    assert working_days(1).due(CALENDAR, friday) == at(2025, 9, 28, 17, 30)
    assert working_days(3).due(CALENDAR, friday) == at(2025, 9, 30, 17, 30)
    assert working_days(4).due(CALENDAR, friday) == at(2025, 10, 9, 17, 30)
    assert working_days(5).due(CALENDAR, friday) == at(2025, 10, 10, 17, 30)
    # The adjusted working Saturday after the holiday counts.
    assert working_days(6).due(CALENDAR, friday) == at(2025, 10, 11, 17, 30)
    assert working_days(7).due(CALENDAR, friday) == at(2025, 10, 13, 17, 30)


def test_working_hours_over_a_plain_weekend():
    assert working_hours(4).due(CALENDAR, at(2025, 11, 14, 16)) == at(2025, 11, 17, 11)
    assert working_days(1).due(CALENDAR, at(2025, 11, 14, 16)) == at(2025, 11, 17, 17, 30)


def test_working_hours_skip_the_lunch_break_and_the_night():
    assert working_hours(2).due(CALENDAR, at(2025, 11, 17, 11)) == at(2025, 11, 17, 14, 30)
    assert working_hours(1).due(CALENDAR, at(2025, 11, 17, 7)) == at(2025, 11, 17, 9, 30)
    assert working_hours(1).due(CALENDAR, at(2025, 11, 17, 12, 15)) == at(2025, 11, 17, 14, 30)
    assert working_hours(1).due(CALENDAR, at(2025, 11, 17, 18)) == at(2025, 11, 18, 9, 30)
    assert working_hours(8).due(CALENDAR, at(2025, 11, 17, 8, 30)) == at(2025, 11, 18, 9, 0)


def test_a_limit_that_ends_at_closing_time_ends_then():
    assert working_hours(4).due(CALENDAR, at(2025, 11, 17, 13, 30)) == at(2025, 11, 17, 17, 30)
    assert working_hours(1).due(CALENDAR, at(2025, 11, 17, 11)) == at(2025, 11, 17, 12)


def test_the_day_entered_is_not_counted_even_before_opening():
    assert working_days(1).due(CALENDAR, at(2025, 11, 17, 7)) == at(2025, 11, 18, 17, 30)


def test_spring_festival_2026_with_its_working_saturdays():
    # Friday 13 February: the Saturday after is a working day, then nine days off.
    assert working_hours(2).due(CALENDAR, at(2026, 2, 13, 16, 30)) == at(2026, 2, 14, 9, 30)
    assert working_days(2).due(CALENDAR, at(2026, 2, 13, 10)) == at(2026, 2, 24, 17, 30)
    assert not CALENDAR.is_working_day(date(2026, 2, 23))  # Monday, still off
    assert CALENDAR.is_working_day(date(2026, 2, 28))  # Saturday, 调休上班


def test_an_instant_in_another_zone_counts_in_china_time():
    friday_in_utc = datetime(2025, 9, 26, 7, 0, tzinfo=UTC)
    assert working_hours(4).due(CALENDAR, friday_in_utc) == at(2025, 9, 28, 10)


def test_a_year_the_table_does_not_cover_counts_weekdays_and_says_so(caplog):
    # Thursday 31 Dec 2026 + 2 working days: Friday 1 Jan 2027 (no notice yet), then Monday 4.
    with caplog.at_level("WARNING", logger="geoplatform.workflow.calendar"):
        assert working_days(2).due(CALENDAR, at(2026, 12, 31, 10)) == at(2027, 1, 4, 17, 30)
    assert CALENDAR.is_working_day(date(2027, 1, 1))
    assert not CALENDAR.is_working_day(date(2027, 1, 2))
    assert "covers 2025, 2026 only: 2027 counts Monday to Friday" in caplog.text


def test_a_time_without_zone_is_refused():
    with pytest.raises(ValueError, match="has no time zone"):
        working_hours(1).due(CALENDAR, datetime(2025, 11, 17, 9))


def test_other_working_hours_can_be_declared():
    shifts = calendar_from_rows(table_rows(), windows=((time(9), time(17)),))
    assert working_hours(8).due(shifts, at(2025, 11, 17, 9)) == at(2025, 11, 17, 17)
    with pytest.raises(ValueError, match="in order"):
        calendar_from_rows(table_rows(), windows=((time(13), time(17)), (time(9), time(12))))


def test_the_table_marks_every_row_and_its_working_days_fall_on_weekends():
    rows = table_rows()
    assert {row["confidence"] for row in rows} <= {"verified", "unverified"}
    assert all(row["source"] for row in rows)
    workdays = [date.fromisoformat(r["date"]) for r in rows if r["kind"] == "workday"]
    assert len(workdays) == 11
    assert all(day.weekday() >= 5 for day in workdays)


def test_every_day_of_2025_and_2026_agrees_with_the_holidays_package():
    """A second source, kept by others, for each day: a typo in our table shows here."""
    theirs = holidays.China(years=(2025, 2026))
    day, differ = date(2025, 1, 1), []
    while day.year < 2027:
        if CALENDAR.is_working_day(day) != theirs.is_working_day(day):
            differ.append(day)
        day += timedelta(days=1)
    assert differ == []
