"""Working time: which days are working days, the working hours of a day, and the deadlines that
"N working hours" and "N working days" give.

The days come from ``data/calendar/cn_holidays.csv``, the State Council's yearly notice of public
holidays (国务院办公厅关于部分节假日安排的通知): its days off, and the weekend days it makes working
days (调休上班日). Outside the years the file covers it counts Monday to Friday and logs a
warning once per year: a deadline must still be set when a case moves late in December, before
the next notice is added (it is published in November), even if it may miss a day off.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from geoplatform.refdata import read_table

log = logging.getLogger(__name__)
CHINA = ZoneInfo("Asia/Shanghai")
# A common government office day: morning and afternoon with a lunch break.
GOVERNMENT_HOURS = ((time(8, 30), time(12, 0)), (time(13, 30), time(17, 30)))
HOLIDAY_TABLE = "calendar/cn_holidays"


@cache
def _warn_uncovered(year: int, years: frozenset[int]) -> None:
    covered = ", ".join(str(y) for y in sorted(years))
    log.warning(
        "the working calendar covers %s only: %d counts Monday to Friday without holidays; add "
        "the State Council's holiday notice for %d to data/%s.csv",
        covered,
        year,
        year,
        HOLIDAY_TABLE,
    )


@dataclass(frozen=True)
class WorkingCalendar:
    """Working days (Monday to Friday, less ``holidays``, plus ``workdays``) of the years in
    ``years``, each worked in ``windows`` of local time in ``zone``."""

    holidays: frozenset[date]
    workdays: frozenset[date]
    years: frozenset[int]
    windows: tuple[tuple[time, time], ...] = GOVERNMENT_HOURS
    zone: ZoneInfo = field(default=CHINA)

    def __post_init__(self) -> None:
        if not self.windows:
            raise ValueError("a working calendar needs at least one window of working hours")
        previous_end = time.min
        for start, end in self.windows:
            if not previous_end <= start < end:
                raise ValueError(
                    "working-hour windows must be in order, each ending after it starts and "
                    f"not overlapping the one before: {start:%H:%M}–{end:%H:%M}"
                )
            previous_end = end
        both = self.holidays & self.workdays
        if both:
            raise ValueError(f"days both off and working: {sorted(both)}")

    def is_working_day(self, day: date) -> bool:
        if day.year not in self.years:
            # A deadline must still be set (a transition late in December reaches into a year
            # whose notice is not in the table yet): Monday to Friday until it is added.
            _warn_uncovered(day.year, self.years)
            return day.weekday() < 5
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def after_working_hours(self, start: datetime, hours: int) -> datetime:
        """The moment ``hours`` working hours after ``start``; time outside the windows (nights,
        lunch, days off) does not count. Ends at a window's close rather than the next opening."""
        remaining = timedelta(hours=hours)
        cursor = self._local(start)
        day = cursor.date()
        while True:
            if self.is_working_day(day):
                for opens, closes in self._windows_of(day):
                    begin = max(cursor, opens)
                    if begin >= closes:
                        continue
                    if remaining <= closes - begin:
                        return begin + remaining
                    remaining -= closes - begin
            day += timedelta(days=1)
            cursor = datetime.combine(day, time.min, self.zone)

    def end_of_working_days(self, start: datetime, days: int) -> datetime:
        """The close of the ``days``-th working day after the day of ``start``: the day something
        starts is not counted, as the Civil Code (art. 201) counts periods in days."""
        day = self._local(start).date()
        counted = 0
        while counted < days:
            day += timedelta(days=1)
            counted += self.is_working_day(day)
        return datetime.combine(day, self.windows[-1][1], self.zone)

    def _local(self, moment: datetime) -> datetime:
        if moment.tzinfo is None:
            raise ValueError(f"{moment.isoformat()} has no time zone; deadlines need one")
        return moment.astimezone(self.zone)

    def _windows_of(self, day: date) -> Iterable[tuple[datetime, datetime]]:
        for opens, closes in self.windows:
            yield (
                datetime.combine(day, opens, self.zone),
                datetime.combine(day, closes, self.zone),
            )


def calendar_from_rows(
    rows: Iterable[Mapping[str, str]],
    windows: tuple[tuple[time, time], ...] = GOVERNMENT_HOURS,
) -> WorkingCalendar:
    """A calendar of rows as in the holiday table (``date``, ``kind`` holiday or workday)."""
    holidays: set[date] = set()
    workdays: set[date] = set()
    for row in rows:
        day = date.fromisoformat(row["date"])
        if row["kind"] == "holiday":
            holidays.add(day)
        elif row["kind"] == "workday":
            workdays.add(day)
        else:
            raise ValueError(f"{row['date']}: kind must be holiday or workday, not {row['kind']!r}")
    years = frozenset(day.year for day in holidays | workdays)
    return WorkingCalendar(frozenset(holidays), frozenset(workdays), years, windows)


@cache
def china_calendar() -> WorkingCalendar:
    """Mainland China's public holidays and adjusted working days, government office hours."""
    return calendar_from_rows(read_table(HOLIDAY_TABLE))
