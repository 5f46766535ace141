"""RFC 5545 recurrence in a window's own time zone: pure functions on plain values, no database.

The time rules (DESIGN, "Windows and scheduling"): occurrences are generated as local wall-clock
times in the window's zone and then turned into instants; a local time that does not exist (the
spring-forward gap) is read with the UTC offset in force before the gap, which moves it forward past
the gap (RFC 5545 3.3.5); a local time that occurs twice means the first instant. EXDATE removes an
occurrence after COUNT was applied, so it never pulls in a replacement. An occurrence lasts an exact
duration (RFC 5545 3.8.5.3), so a four-hour window that spans a clock change is four real hours.
"""

import functools
import logging
import re
import time
import zoneinfo
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, timedelta

from dateutil.rrule import DAILY, HOURLY, MONTHLY, WEEKLY, YEARLY, rrule, weekday

logger = logging.getLogger(__name__)

ALLOWED_FREQUENCIES = {"HOURLY": HOURLY, "DAILY": DAILY, "WEEKLY": WEEKLY, "MONTHLY": MONTHLY, "YEARLY": YEARLY}
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
# RFC 5545 3.3.10, the numeric list parts: (lowest, highest, whether a negative value counts from the end).
NUMBER_LISTS = {
    "BYSECOND": (0, 60, False),
    "BYMINUTE": (0, 59, False),
    "BYHOUR": (0, 23, False),
    "BYMONTHDAY": (1, 31, True),
    "BYYEARDAY": (1, 366, True),
    "BYWEEKNO": (1, 53, True),
    "BYMONTH": (1, 12, False),
    "BYSETPOS": (1, 366, True),
}
RRULE_PARTS = {"FREQ", "INTERVAL", "COUNT", "UNTIL", "BYDAY", "WKST", *NUMBER_LISTS}
BY_PARTS = {"BYDAY", *NUMBER_LISTS} - {"BYSETPOS"}
# Which frequencies each part may be used with (RFC 5545 3.3.10: BYWEEKNO only YEARLY; BYYEARDAY not
# DAILY, WEEKLY or MONTHLY; BYMONTHDAY not WEEKLY).
ALLOWED_WITH = {
    "BYWEEKNO": {"YEARLY"},
    "BYYEARDAY": {"YEARLY", "HOURLY"},
    "BYMONTHDAY": set(ALLOWED_FREQUENCIES) - {"WEEKLY"},
}
MAX_INTERVAL = 1000
_NUMBER = re.compile(r"[+-]?[0-9]{1,3}", re.ASCII)
_WEEKDAYNUM = re.compile(r"(?:([+-]?)([0-9]{1,2}))?(MO|TU|WE|TH|FR|SA|SU)", re.ASCII)
_UNTIL = re.compile(r"[0-9]{8}T[0-9]{6}Z", re.ASCII)

# Expansion bounds. Every expansion gets a budget of steps (each occurrence dateutil produces, and each
# month or year it looks at while it skips periods that produce nothing) and of wall time; a rule that
# exhausts either stops there, so no stored rule can stall a request, whatever it says.
MAX_EXPANSION_STEPS = 100_000
MAX_EXPANSION_SECONDS = 0.25


class RecurrenceError(ValueError):
    """A rule, a zone or an exception date that cannot be used; the message says why."""


class ExpansionLimit(RecurrenceError):
    """An expansion ran out of its budget (steps or wall time)."""


class Budget:
    """What one expansion may spend; ``exhausted`` tells afterwards whether it was cut short."""

    def __init__(self, *, steps: int = MAX_EXPANSION_STEPS, seconds: float = MAX_EXPANSION_SECONDS):
        self.steps = steps
        self.deadline = time.monotonic() + seconds
        self.exhausted = False

    def tick(self) -> None:
        self.steps -= 1
        if self.steps < 0 or time.monotonic() > self.deadline:
            self.exhausted = True
            raise ExpansionLimit("The rule took too long to expand.")


class _BudgetedRule(rrule):
    """A dateutil rule that spends a Budget while it iterates.

    dateutil's iterator reads ``_byeaster`` each time it moves to another month or year (in
    ``_iterinfo.rebuild``), also while it skips periods that produce nothing, which a rule such as
    FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30 does until the year 9999. That read is the one place a budget
    can see such a rule; tests/ccb/test_recurrence.py checks it still works.
    """

    def __init__(self, *args, budget: Budget, **kwargs):
        self._budget = budget
        super().__init__(*args, **kwargs)

    @property
    def _byeaster(self):
        self._budget.tick()
        return self.__byeaster

    @_byeaster.setter
    def _byeaster(self, value):
        self.__byeaster = value


@functools.cache
def _zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def zone(name: str) -> zoneinfo.ZoneInfo:
    """The IANA zone called ``name``; a RecurrenceError for anything else (paths, typos, blanks)."""
    if name not in _zone_names():
        raise RecurrenceError(f"Unknown time zone {name!r}: use an IANA name such as Europe/London.")
    return zoneinfo.ZoneInfo(name)


def to_instant(wall: datetime, tz: zoneinfo.ZoneInfo) -> datetime:
    """A local wall-clock time as a UTC instant: fold=0 means the first of two, and the pre-gap offset."""
    return wall.replace(tzinfo=tz, fold=0).astimezone(UTC)


def to_wall(instant: datetime, tz: zoneinfo.ZoneInfo) -> datetime:
    return instant.astimezone(tz).replace(tzinfo=None)


# --- parsing and validating a rule (RFC 5545 3.3.10) -------------------------------------------------


def _range_text(low: int, high: int, signed: bool) -> str:
    return f"{low} to {high} or -{high} to -{low}" if signed else f"{low} to {high}"


def _numbers(key: str, value: str) -> list[int]:
    low, high, signed = NUMBER_LISTS[key]
    out = []
    for item in value.split(","):
        number = int(item) if _NUMBER.fullmatch(item) and (signed or item[0] not in "+-") else None
        if number is None or not low <= abs(number) <= high or (number == 0 and signed):
            raise RecurrenceError(
                f"{key} takes whole numbers from {_range_text(low, high, signed)}, separated by commas; "
                f"{item!r} is not one."
            )
        out.append(number)
    if key == "BYSECOND" and 60 in out:
        raise RecurrenceError("BYSECOND=60 names a leap second, which ccb's clock does not have: use 0 to 59.")
    return out


def _positive(key: str, value: str, highest: int | None = None) -> int:
    if not re.fullmatch(r"[0-9]{1,9}", value, re.ASCII) or int(value) < 1 or (highest and int(value) > highest):
        limit = f" from 1 to {highest}" if highest else ""
        raise RecurrenceError(f"{key} must be a whole number{limit} (at least 1); {value!r} is not.")
    return int(value)


def _weekdays(value: str, freq: str, parts: dict[str, str]) -> list[tuple[int, int | None]]:
    out = []
    for item in value.split(","):
        match = _WEEKDAYNUM.fullmatch(item)
        if not match:
            raise RecurrenceError(
                f"BYDAY takes weekdays (MO, TU, WE, TH, FR, SA, SU), each with an optional ordinal such as 1MO or "
                f"-1FR, separated by commas; {item!r} is not one."
            )
        sign, digits, day = match.groups()
        ordinal = None
        if digits is not None:
            ordinal = -int(digits) if sign == "-" else int(digits)
            if freq not in ("MONTHLY", "YEARLY"):
                raise RecurrenceError(
                    f"BYDAY={item}: an ordinal (the 1st, the last…) is allowed only with FREQ=MONTHLY or "
                    f"FREQ=YEARLY, not FREQ={freq} (RFC 5545 3.3.10)."
                )
            if freq == "YEARLY" and "BYWEEKNO" in parts:
                raise RecurrenceError(f"BYDAY={item}: an ordinal cannot be used together with BYWEEKNO.")
            highest = 5 if freq == "MONTHLY" else 53
            if not 1 <= abs(ordinal) <= highest:
                raise RecurrenceError(
                    f"BYDAY={item}: with FREQ={freq} the ordinal runs from 1 to {highest} or -{highest} to -1."
                )
        out.append((WEEKDAYS.index(day), ordinal))
    return out


def _until(value: str) -> datetime:
    """UNTIL as a UTC instant. A window's start is always a local time in a named zone, and RFC 5545
    says UNTIL must then be a UTC date-time (a floating or date-only UNTIL is refused)."""
    try:
        if not _UNTIL.fullmatch(value):
            raise ValueError(value)
        return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise RecurrenceError(
            f"UNTIL={value}: give a UTC date-time such as 20261231T235959Z (RFC 5545: the window starts at a "
            f"local time in a named zone, so UNTIL must be in UTC)."
        ) from None


def parse_rrule(text: str) -> dict[str, str]:
    """The parts of a rule, upper case, in the order given, each checked as RFC 5545 3.3.10 says.

    A RecurrenceError names the part that is wrong and why. Only the RRULE value is accepted: DTSTART,
    EXDATE and the time zone are fields of the window.
    """
    text = (text or "").strip().upper()
    if text.startswith("RRULE:"):
        text = text[len("RRULE:") :]
    if not text:
        return {}
    if any(c in text for c in ":\n\r"):
        raise RecurrenceError(
            "Give one RRULE value such as FREQ=WEEKLY;BYDAY=SU; the start, the time zone and "
            "the exception dates are separate fields."
        )
    parts: dict[str, str] = {}
    for part in filter(None, text.split(";")):
        key, sep, value = part.partition("=")
        if not sep or not value or key not in RRULE_PARTS:
            raise RecurrenceError(f"Unknown or empty rule part {part!r}.")
        if key in parts:
            raise RecurrenceError(f"The rule part {key} appears twice.")
        if "" in value.split(","):
            raise RecurrenceError(f"{key}={value} has an empty item in its list.")
        parts[key] = value
    freq = parts.get("FREQ")
    if freq not in ALLOWED_FREQUENCIES:
        raise RecurrenceError("FREQ must be one of " + ", ".join(ALLOWED_FREQUENCIES) + ".")
    if "COUNT" in parts and "UNTIL" in parts:
        raise RecurrenceError("A rule has COUNT or UNTIL, not both (RFC 5545 3.3.10).")
    for key, value in parts.items():
        if key == "INTERVAL":
            _positive(key, value, MAX_INTERVAL)
        elif key == "COUNT":
            _positive(key, value)
        elif key == "UNTIL":
            _until(value)
        elif key == "WKST" and value not in WEEKDAYS:
            raise RecurrenceError(f"WKST must be a weekday (MO, TU, WE, TH, FR, SA or SU), not {value!r}.")
        elif key == "BYDAY":
            _weekdays(value, freq, parts)
        elif key in NUMBER_LISTS:
            _numbers(key, value)
        if key in ALLOWED_WITH and freq not in ALLOWED_WITH[key]:
            allowed = " or ".join(f"FREQ={f}" for f in ALLOWED_FREQUENCIES if f in ALLOWED_WITH[key])
            raise RecurrenceError(f"{key} can be used only with {allowed}, not FREQ={freq} (RFC 5545 3.3.10).")
    if "BYSETPOS" in parts and not BY_PARTS & set(parts):
        raise RecurrenceError("BYSETPOS picks among the occurrences another BYxxx part makes: add one (e.g. BYDAY).")
    return parts


def normalize_rrule(text: str) -> str:
    """The rule in canonical form (upper case, no ``RRULE:`` prefix), or a RecurrenceError naming the part."""
    return ";".join(f"{k}={v}" for k, v in parse_rrule(text).items())


_KWARGS = {
    "BYSECOND": "bysecond",
    "BYMINUTE": "byminute",
    "BYHOUR": "byhour",
    "BYMONTHDAY": "bymonthday",
    "BYYEARDAY": "byyearday",
    "BYWEEKNO": "byweekno",
    "BYMONTH": "bymonth",
    "BYSETPOS": "bysetpos",
}


def _period_before(parts: dict[str, str], dtstart: datetime, wkst: int, lo: datetime) -> datetime | None:
    """The start of the rule's last period (dtstart's own plus a whole number of intervals) that begins a
    period or more before ``lo``; None when that is dtstart's own period.

    Starting the rule there instead of at ``dtstart`` gives the same occurrences from then on, once the
    values dateutil reads from dtstart are given explicitly (see ``_explicit_defaults``), so an old window
    is not expanded from its first occurrence every time. Not used with COUNT, which counts from dtstart.
    """
    freq, interval = parts["FREQ"], int(parts.get("INTERVAL", 1))
    if freq == "YEARLY":
        n = (lo.year - 1 - dtstart.year) // interval
        return (
            dtstart.replace(year=dtstart.year + n * interval, month=1, day=1, hour=0, minute=0, second=0)
            if n >= 1
            else None
        )
    if freq == "MONTHLY":
        first = dtstart.year * 12 + dtstart.month - 1
        n = (lo.year * 12 + lo.month - 2 - first) // interval
        month = first + n * interval
        return (
            dtstart.replace(year=month // 12, month=month % 12 + 1, day=1, hour=0, minute=0, second=0)
            if n >= 1
            else None
        )
    if freq == "WEEKLY":  # dateutil's weeks after the first begin on WKST
        week = dtstart.date() - timedelta(days=(dtstart.weekday() - wkst) % 7)
        n = ((lo.date() - week).days - 7) // (7 * interval)
        return datetime.combine(week + timedelta(days=7 * interval * n), datetime.min.time()) if n >= 1 else None
    if freq == "DAILY":
        n = ((lo.date() - dtstart.date()).days - 1) // interval
        return datetime.combine(dtstart.date() + timedelta(days=interval * n), datetime.min.time()) if n >= 1 else None
    hour = dtstart.replace(minute=0, second=0, microsecond=0)
    n = (int((lo - hour).total_seconds()) // 3600 - 1) // interval
    return hour + timedelta(hours=interval * n) if n >= 1 else None


def _explicit_defaults(parts: dict[str, str], dtstart: datetime) -> dict:
    """What dateutil would otherwise take from dtstart (the day in its period and the time of day)."""
    freq, out = parts["FREQ"], {}
    if not {"BYWEEKNO", "BYYEARDAY", "BYMONTHDAY", "BYDAY"} & set(parts):
        if freq == "YEARLY":
            out["bymonthday"] = dtstart.day
            if "BYMONTH" not in parts:
                out["bymonth"] = dtstart.month
        elif freq == "MONTHLY":
            out["bymonthday"] = dtstart.day
        elif freq == "WEEKLY":
            out["byweekday"] = dtstart.weekday()
    if freq != "HOURLY" and "BYHOUR" not in parts:
        out["byhour"] = dtstart.hour
    if "BYMINUTE" not in parts:
        out["byminute"] = dtstart.minute
    if "BYSECOND" not in parts:
        out["bysecond"] = dtstart.second
    return out


def build_rule(
    text: str,
    dtstart: datetime,
    tz: zoneinfo.ZoneInfo,
    budget: Budget | None = None,
    not_before: datetime | None = None,
) -> rrule:
    """The dateutil rule over naive local wall-clock times starting at ``dtstart``, spending ``budget``.

    UNTIL (a UTC instant) is turned into the local wall time of that instant, because the rule iterates
    over wall-clock times. With ``not_before`` (a wall time) the rule may start at a later period than
    dtstart's, giving the same occurrences from ``not_before`` on.
    """
    parts = parse_rrule(text)
    wkst = WEEKDAYS.index(parts.get("WKST", "MO"))  # RFC 5545's default, not the process's locale
    kwargs: dict = {"dtstart": dtstart, "interval": int(parts.get("INTERVAL", 1)), "wkst": wkst}
    if "COUNT" in parts:
        kwargs["count"] = int(parts["COUNT"])
    elif not_before is not None and (later := _period_before(parts, dtstart, wkst, not_before)) is not None:
        kwargs.update(_explicit_defaults(parts, dtstart), dtstart=later)
    if "UNTIL" in parts:
        kwargs["until"] = to_wall(_until(parts["UNTIL"]), tz)
    if "BYDAY" in parts:
        kwargs["byweekday"] = [weekday(d, n) for d, n in _weekdays(parts["BYDAY"], parts["FREQ"], parts)]
    for key, name in _KWARGS.items():
        if key in parts:
            kwargs[name] = _numbers(key, parts[key])
    try:
        return _BudgetedRule(ALLOWED_FREQUENCIES[parts["FREQ"]], budget=budget or Budget(), **kwargs)
    except (ValueError, TypeError) as exc:
        raise RecurrenceError(f"The rule cannot be used: {exc}.") from exc


def parse_exdate(text: str) -> date | datetime:
    """An exception: a local date-time (removes the occurrence starting then) or a date (every one that day)."""
    value = str(text).strip()
    try:
        parsed = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
    except ValueError as exc:
        raise RecurrenceError(f"{value!r} is not a date (2026-12-25) or a local date-time (2026-12-25T01:00).") from exc
    if isinstance(parsed, datetime) and parsed.tzinfo is not None:
        raise RecurrenceError(f"{value!r}: exception dates are local times in the window's zone, without an offset.")
    return parsed


def normalize_exdates(values: Iterable[str]) -> list[str]:
    out = []
    for value in values:
        parsed = parse_exdate(value)
        out.append(parsed.isoformat(timespec="minutes") if isinstance(parsed, datetime) else parsed.isoformat())
    return sorted(set(out))


def _walls(rule: rrule, lo: datetime, hi: datetime, budget: Budget) -> Iterator[datetime]:
    """The rule's wall times in [lo, hi], spending ``budget`` on every one it produces (those before ``lo``
    too); it stops early, with ``budget.exhausted`` set, when the budget runs out."""
    try:
        for wall in rule:
            budget.tick()
            if wall > hi:
                return
            if wall >= lo:
                yield wall
    except ExpansionLimit:
        return
    except (ValueError, OverflowError):  # dateutil reaching the year 9999
        return


def occurrences(
    *,
    dtstart: datetime,
    duration: timedelta,
    tz: zoneinfo.ZoneInfo,
    rule_text: str,
    exdates: Iterable[str],
    start: datetime,
    end: datetime,
    budget: Budget | None = None,
) -> Iterator[tuple[datetime, datetime]]:
    """(start, end) UTC instants of the occurrences that overlap the half-open [start, end), in order.

    ``dtstart`` is the naive local wall time of the first occurrence; without a rule it is the only one.
    The expansion spends ``budget`` (a fresh default one if none is given) and ends where it runs out:
    ``budget.exhausted`` then says the list is cut short.
    """
    excluded = [parse_exdate(x) for x in exdates]
    whole_days = {x for x in excluded if not isinstance(x, datetime)}
    exact = {x for x in excluded if isinstance(x, datetime)}
    if not rule_text:
        walls: Iterable[datetime] = [dtstart]
    else:
        budget = budget or Budget()
        # Wall time is not monotonic in instants around a clock change: search a day wider each side,
        # then compare instants exactly.
        lo = to_wall(start - duration, tz) - timedelta(days=1)
        hi = to_wall(end, tz) + timedelta(days=1)
        walls = _walls(build_rule(rule_text, dtstart, tz, budget, not_before=lo), lo, hi, budget)
    for wall in walls:
        if wall in exact or wall.date() in whole_days:
            continue
        begin = to_instant(wall, tz)
        finish = begin + duration
        if begin < end and finish > start:
            yield begin, finish
