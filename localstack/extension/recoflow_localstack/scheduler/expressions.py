"""EventBridge Scheduler schedule expressions: parsing them as strictly as the service, and the
instants at which a schedule fires.

    cron(minutes hours day-of-month month day-of-week year)   wall-clock times in the schedule's zone
    rate(value unit)                                          every value minutes|hours|days of elapsed time
    at(yyyy-mm-ddThh:mm:ss)                                   once, a wall-clock time in the schedule's zone

Daylight saving time, as the Scheduler guide documents it: a cron time that does not exist on a
spring-forward day is skipped; a cron time that occurs twice on a fall-back day fires once, at
its first occurrence; a rate counts elapsed time (``rate(1 day)`` is 24 hours, so its wall-clock
time moves by an hour across a change). For ``at()`` the guide says nothing: a time in the gap
fires at the same instant as the time before the change would (02:30 in New York on the spring
day is 03:30 EDT), an ambiguous one at its first occurrence.
"""

from __future__ import annotations

import calendar
import functools
import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Iterator
from zoneinfo import ZoneInfo, available_timezones

UTC = timezone.utc


class ExpressionError(ValueError):
    """A schedule expression the service refuses; the message says which part and why."""


# --- cron ----------------------------------------------------------------------------------

MONTHS = {name: i for i, name in enumerate(("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), 1)}
WEEKDAYS = {name: i for i, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), 1)}
SATURDAY = 7


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: dict[str, int] | None = None
    # the largest increment after "/" (Quartz, which the service follows, refuses */60 for minutes)
    max_step: int | None = None


MINUTES = _Field("minutes", 0, 59, max_step=59)
HOURS = _Field("hours", 0, 23, max_step=23)
DAY_OF_MONTH = _Field("day-of-month", 1, 31, max_step=31)
MONTH = _Field("month", 1, 12, MONTHS, max_step=12)
DAY_OF_WEEK = _Field("day-of-week", 1, 7, WEEKDAYS, max_step=7)
YEAR = _Field("year", 1970, 2199)


def _value(field: _Field, token: str) -> int:
    if field.names and token.upper() in field.names:
        return field.names[token.upper()]
    if not token.isdigit():
        raise ExpressionError(f"{field.name} value {token!r} is not a number{' or name' if field.names else ''}")
    value = int(token)
    if not field.low <= value <= field.high:
        raise ExpressionError(f"{field.name} value {value} is out of range {field.low}-{field.high}")
    return value


def _values(field: _Field, text: str) -> set[int]:
    """``*``, ``a``, ``a-b``, ``a/n``, ``*/n``, ``a-b/n`` and comma lists of them."""
    values: set[int] = set()
    for part in text.split(","):
        if not part:
            raise ExpressionError(f"{field.name} field {text!r} has an empty list item")
        base, slash, step_text = part.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) < 1:
                raise ExpressionError(f"{field.name} increment {step_text!r} is not a positive number")
            step = int(step_text)
            if field.max_step is not None and step > field.max_step:
                raise ExpressionError(f"{field.name} increment {step} is larger than {field.max_step}")
        if base == "*":
            start, end = field.low, field.high
        elif "-" in base:
            first, _, last = base.partition("-")
            start, end = _value(field, first), _value(field, last)
            if start > end:
                raise ExpressionError(f"{field.name} range {base} runs backwards")
        else:
            start = _value(field, base)
            end = field.high if slash else start
        values.update(range(start, end + 1, step))
    return values


@dataclass(frozen=True)
class _DayOfMonth:
    days: frozenset[int]
    last: bool = False  # L
    last_weekday: bool = False  # LW
    nearest_weekday: frozenset[int] = frozenset()  # nW

    def matches(self, year: int, month: int, day: int) -> bool:
        last_day = calendar.monthrange(year, month)[1]
        if day in self.days or (self.last and day == last_day):
            return True
        if self.last_weekday and day == _weekday_near(year, month, last_day, last_day):
            return True
        return any(n <= last_day and day == _weekday_near(year, month, n, last_day) for n in self.nearest_weekday)


def _weekday_near(year: int, month: int, day: int, last_day: int) -> int:
    """The weekday (Mon-Fri) nearest to ``day`` without leaving the month (Quartz's ``W``)."""
    weekday = calendar.weekday(year, month, day)  # Monday 0 .. Sunday 6
    if weekday == 5:  # Saturday: the Friday before, or the Monday after the 1st
        return day - 1 if day > 1 else day + 2
    if weekday == 6:  # Sunday: the Monday after, or the Friday before the last day
        return day + 1 if day < last_day else day - 2
    return day


def _aws_weekday(year: int, month: int, day: int) -> int:
    """1 = Sunday .. 7 = Saturday, as cron's day-of-week counts."""
    return (calendar.weekday(year, month, day) + 1) % 7 + 1


@dataclass(frozen=True)
class _DayOfWeek:
    days: frozenset[int]
    last_of_month: frozenset[int] = frozenset()  # dL: the last such weekday of the month
    nth: tuple[int, int] | None = None  # d#k: the k-th such weekday of the month

    def matches(self, year: int, month: int, day: int) -> bool:
        weekday = _aws_weekday(year, month, day)
        if weekday in self.days:
            return True
        if weekday in self.last_of_month and day + 7 > calendar.monthrange(year, month)[1]:
            return True
        return self.nth is not None and weekday == self.nth[0] and (day - 1) // 7 + 1 == self.nth[1]


def _day_of_month(text: str) -> _DayOfMonth:
    days: set[int] = set()
    last = last_weekday = False
    nearest: set[int] = set()
    for part in text.split(","):
        if part == "L":
            last = True
        elif part == "LW":
            last_weekday = True
        elif part.endswith("W") and part[:-1].isdigit():
            nearest.add(_value(DAY_OF_MONTH, part[:-1]))
        else:
            days |= _values(DAY_OF_MONTH, part)
    return _DayOfMonth(frozenset(days), last, last_weekday, frozenset(nearest))


def _day_of_week(text: str) -> _DayOfWeek:
    if "#" in text:
        if "," in text:
            raise ExpressionError(f"day-of-week field {text!r}: with '#' the field holds one expression only")
        day_text, _, nth_text = text.partition("#")
        if not nth_text.isdigit() or not 1 <= int(nth_text) <= 5:
            raise ExpressionError(f"day-of-week field {text!r}: the number after '#' must be 1-5")
        return _DayOfWeek(frozenset(), nth=(_value(DAY_OF_WEEK, day_text), int(nth_text)))
    days: set[int] = set()
    last_of_month: set[int] = set()
    for part in text.split(","):
        if part == "L":
            days.add(SATURDAY)  # the last day of the week
        elif len(part) > 1 and part.endswith("L"):
            last_of_month.add(_value(DAY_OF_WEEK, part[:-1]))
        else:
            days |= _values(DAY_OF_WEEK, part)
    return _DayOfWeek(frozenset(days), frozenset(last_of_month))


@dataclass(frozen=True)
class Cron:
    text: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    day_of_month: _DayOfMonth | None  # None: "?"
    months: tuple[int, ...]
    day_of_week: _DayOfWeek | None  # None: "?"
    years: tuple[int, ...]

    def day_matches(self, year: int, month: int, day: int) -> bool:
        if self.day_of_month is not None:
            return self.day_of_month.matches(year, month, day)
        return self.day_of_week.matches(year, month, day)

    def wall_times_from(self, start: datetime) -> Iterator[datetime]:
        """Naive wall-clock times matching the expression, from ``start`` (naive) on, in order."""
        first_minute = start.replace(second=0, microsecond=0)
        for year in (y for y in self.years if y >= start.year):
            for month in self.months:
                if (year, month) < (start.year, start.month):
                    continue
                for day in range(1, calendar.monthrange(year, month)[1] + 1):
                    if (year, month, day) < (start.year, start.month, start.day) or not self.day_matches(year, month, day):
                        continue
                    for hour in self.hours:
                        for minute in self.minutes:
                            wall = datetime(year, month, day, hour, minute)
                            if wall >= first_minute:
                                yield wall


def _parse_cron(text: str, body: str) -> Cron:
    fields = body.split()
    if len(fields) != 6:
        raise ExpressionError(
            f"a cron expression has 6 fields (minutes hours day-of-month month day-of-week year), this one has {len(fields)}"
        )
    minutes, hours, dom, month, dow, year = fields
    if (dom == "?") == (dow == "?"):
        raise ExpressionError("exactly one of day-of-month and day-of-week must be '?'")
    return Cron(
        text=text,
        minutes=tuple(sorted(_values(MINUTES, minutes))),
        hours=tuple(sorted(_values(HOURS, hours))),
        day_of_month=None if dom == "?" else _day_of_month(dom),
        months=tuple(sorted(_values(MONTH, month))),
        day_of_week=None if dow == "?" else _day_of_week(dow),
        years=tuple(sorted(_values(YEAR, year))),
    )


# --- rate and at -----------------------------------------------------------------------------

RATE_UNITS = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}
_RATE = re.compile(r"(\d+) ([a-z]+)")
_AT = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})")


@dataclass(frozen=True)
class Rate:
    text: str
    seconds: int


@dataclass(frozen=True)
class At:
    text: str
    wall_time: datetime  # naive, in the schedule's zone


def _parse_rate(text: str, body: str) -> Rate:
    match = _RATE.fullmatch(body)
    if not match:
        raise ExpressionError("a rate expression is rate(value unit), e.g. rate(5 minutes)")
    value, unit = int(match.group(1)), match.group(2)
    if unit not in RATE_UNITS:
        raise ExpressionError(f"rate unit {unit!r} is not one of {' | '.join(RATE_UNITS)}")
    if value < 1:
        raise ExpressionError(f"rate value {value} is not a positive integer")
    return Rate(text, value * RATE_UNITS[unit])


def _parse_at(text: str, body: str) -> At:
    match = _AT.fullmatch(body)
    if not match:
        raise ExpressionError("an at expression is at(yyyy-mm-ddThh:mm:ss)")
    try:
        return At(text, datetime(*(int(g) for g in match.groups())))
    except ValueError as e:
        raise ExpressionError(f"at time {body}: {e}") from None


Expression = Cron | Rate | At
_PARSERS = {"cron": _parse_cron, "rate": _parse_rate, "at": _parse_at}
_OUTER = re.compile(r"(cron|rate|at)\((.*)\)", re.DOTALL)


def parse(text: str) -> Expression:
    """The expression, or ExpressionError naming what the service would refuse."""
    match = _OUTER.fullmatch(text or "")
    if not match:
        raise ExpressionError("the expression must be cron(...), rate(...) or at(...)")
    return _PARSERS[match.group(1)](text, match.group(2))


# files of a zoneinfo directory that are not zone names
_NOT_ZONES = {"localtime", "posixrules", "Factory"}


@functools.lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(
        name for name in available_timezones()
        if name not in _NOT_ZONES and not name.startswith(("posix/", "right/"))
    )


def time_zone(name: str) -> ZoneInfo:
    """The IANA zone of that name (zoneinfo's database), or ExpressionError. Only names of the
    database count: files of the zoneinfo directory such as ``localtime`` are not zones."""
    if name not in _zone_names():
        raise ExpressionError(f"{name!r} is not an IANA time zone name (e.g. America/New_York, Asia/Tokyo, UTC)")
    return ZoneInfo(name)


# --- when a schedule fires -------------------------------------------------------------------


def wall_to_instant(wall: datetime, zone: ZoneInfo, *, skip_gap: bool) -> datetime | None:
    """The UTC instant of a naive wall-clock time; an ambiguous time is its first occurrence
    (fold 0). A time in a spring-forward gap: None with ``skip_gap``, else the instant the
    offset before the change gives."""
    instant = wall.replace(tzinfo=zone).astimezone(UTC)
    if skip_gap and instant.astimezone(zone).replace(tzinfo=None) != wall:
        return None
    return instant


@dataclass(frozen=True)
class Timing:
    """When one schedule fires: its expression evaluated in its zone, between its StartDate and
    EndDate (recurring schedules only: one-time schedules ignore both, as the service does).
    ``anchor`` is when a rate schedule without StartDate begins: its creation or last update."""

    expression: Expression
    zone: ZoneInfo
    start: datetime | None = None
    end: datetime | None = None
    anchor: datetime | None = None

    def first(self, after: datetime) -> datetime | None:
        """The first firing at or after ``after`` (UTC), or None. A one-time schedule's firing
        is returned whenever it is: one whose time had passed when it was created fires at once."""
        expression = self.expression
        if isinstance(expression, At):
            return wall_to_instant(expression.wall_time, self.zone, skip_gap=False)
        if self.start is not None and self.start > after:
            after = self.start
        if isinstance(expression, Rate):
            base = self.start or self.anchor or after
            steps = max(0, math.ceil((after - base).total_seconds() / expression.seconds))
            instant = base + timedelta(seconds=steps * expression.seconds)
            return instant if self.end is None or instant <= self.end else None
        for wall in expression.wall_times_from(after.astimezone(self.zone).replace(tzinfo=None)):
            instant = wall_to_instant(wall, self.zone, skip_gap=True)
            if instant is None or instant < after:
                continue
            return instant if self.end is None or instant <= self.end else None
        return None

    def following(self, fired: datetime) -> datetime | None:
        """The firing after the one at ``fired``."""
        if isinstance(self.expression, At):
            return None
        return self.first(fired + timedelta(seconds=1))

    def upcoming(self, after: datetime, count: int) -> list[datetime]:
        firings: list[datetime] = []
        instant = self.first(after)
        while instant is not None and len(firings) < count:
            firings.append(instant)
            instant = self.following(instant)
        return firings


def as_instant(value) -> datetime | None:
    """A StartDate/EndDate as the parser (datetime, naive meaning UTC) or moto's store (epoch
    seconds, int or float) holds it, as an aware UTC datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, str):
        try:
            return datetime.fromtimestamp(float(value), tz=UTC)
        except ValueError:
            return as_instant(datetime.fromisoformat(value.replace("Z", "+00:00")))
    return datetime.fromtimestamp(float(value), tz=UTC)
