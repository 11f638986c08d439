"""NYSE trading calendar: which dates are sessions, when they open and close.

Backed by `exchange_calendars` (XNYS), which ships its rules and works offline.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

EXCHANGE_TZ = ZoneInfo("America/New_York")
REGULAR_OPEN = dt.time(9, 30)
REGULAR_CLOSE = dt.time(16, 0)


@dataclass(frozen=True)
class Session:
    date: dt.date
    open_utc: dt.datetime
    close_utc: dt.datetime

    @property
    def early_close(self) -> bool:
        return self.close_utc.astimezone(EXCHANGE_TZ).time() < REGULAR_CLOSE


@lru_cache(maxsize=1)
def _xnys() -> Any:
    with _quiet():
        import exchange_calendars

        return exchange_calendars.get_calendar("XNYS")


@contextmanager
def _quiet() -> Iterator[None]:
    """exchange_calendars trips pandas deprecation warnings that are not ours to fix."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _in_range(day: dt.date) -> bool:
    cal = _xnys()
    return bool(cal.first_session.date() <= day <= cal.last_session.date())


def non_trading_reason(day: dt.date) -> str | None:
    """Why `day` has no NYSE session ('weekend', a holiday's name), or None if it trades."""
    if day.weekday() >= 5:
        return f"weekend ({day:%A})"
    if not _in_range(day):
        return None  # outside the library's horizon: weekdays count as sessions
    import pandas as pd

    cal = _xnys()
    ts = pd.Timestamp(day)
    with _quiet():
        if cal.is_session(ts):
            return None
        names = cal.regular_holidays.holidays(ts, ts, return_name=True)
    if len(names):
        return f"holiday ({names.iloc[0]})"
    return "exchange closed"


def is_trading_day(day: dt.date) -> bool:
    return non_trading_reason(day) is None


def session(day: dt.date) -> Session:
    """Open and close of the trading session on `day` (UTC); regular hours off the horizon."""
    if _in_range(day) and is_trading_day(day):
        import pandas as pd

        cal = _xnys()
        ts = pd.Timestamp(day)
        with _quiet():
            return Session(
                day,
                cal.session_open(ts).to_pydatetime().astimezone(dt.UTC),
                cal.session_close(ts).to_pydatetime().astimezone(dt.UTC),
            )
    return Session(
        day,
        dt.datetime.combine(day, REGULAR_OPEN, EXCHANGE_TZ).astimezone(dt.UTC),
        dt.datetime.combine(day, REGULAR_CLOSE, EXCHANGE_TZ).astimezone(dt.UTC),
    )


def previous_trading_day(before: dt.date) -> dt.date:
    day = before - dt.timedelta(days=1)
    while not is_trading_day(day):
        day -= dt.timedelta(days=1)
    return day


def trading_days(start: dt.date, end: dt.date) -> list[dt.date]:
    days = []
    day = start
    while day <= end:
        if is_trading_day(day):
            days.append(day)
        day += dt.timedelta(days=1)
    return days


def utc_now() -> dt.datetime:
    """The clock every "has this session happened yet" question reads (tests set it)."""
    return dt.datetime.now(dt.UTC)


def default_trade_date(now: dt.datetime | None = None) -> dt.date:
    """The most recent completed trading day: T-1 in New York, as surveillance reviews yesterday."""
    now = now or utc_now()
    return previous_trading_day(now.astimezone(EXCHANGE_TZ).date())


def last_completed_session(now: dt.datetime | None = None) -> dt.date:
    """The latest trading day whose session has closed (its early close, on those days)."""
    now = now or utc_now()
    day = now.astimezone(EXCHANGE_TZ).date()
    if not is_trading_day(day) or session(day).close_utc > now:
        day = previous_trading_day(day)
    return day


def unfinished_reason(day: dt.date, now: dt.datetime | None = None) -> str | None:
    """Why `day` has no complete session to survey yet (a date after the last completed
    session), or None. Today without a session (a weekend, a holiday) has nothing
    unfinished: it is simply not a trading day."""
    now = now or utc_now()
    today = now.astimezone(EXCHANGE_TZ).date()
    if day > today:
        return (
            f"{day} is in the future (the last completed session is {last_completed_session(now)})"
        )
    if day == today and is_trading_day(day) and session(day).close_utc > now:
        close = session(day).close_utc.astimezone(EXCHANGE_TZ)
        return f"{day} is today and its session has not closed yet (closes {close:%H:%M} New York)"
    return None
