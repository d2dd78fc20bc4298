"""The monthly reading window as dates (pure): when the one a day falls in opens and closes.

The window runs from day `start_day` to day `end_day` of the month (settings.meters), and
may run across the month's end (25th to 5th); a day past the month's length is its last day.
"""

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

from housing.clock import add_months, month_of


@dataclass(frozen=True)
class Window:
    opens: date
    closes: date  # the last day a reading is accepted

    def closing_from(self, days_before: int) -> date:
        """The first day of its last stretch: `days_before` the close, never before it opens."""
        return max(self.opens, self.closes - timedelta(days=days_before))


def _day(month: date, day: int) -> date:
    return month.replace(day=min(day, calendar.monthrange(month.year, month.month)[1]))


def window_of(day: date, start_day: int, end_day: int) -> Window | None:
    """The window `day` falls in, or None when it falls in none."""
    month = month_of(day)
    if start_day <= end_day:
        window = Window(_day(month, start_day), _day(month, end_day))
    elif day.day >= start_day:
        window = Window(_day(month, start_day), _day(add_months(month, 1), end_day))
    else:
        window = Window(_day(add_months(month, -1), start_day), _day(month, end_day))
    return window if window.opens <= day <= window.closes else None
