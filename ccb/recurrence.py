"""RFC 5545 recurrence in a window's own time zone: pure functions on plain values, no database.

The time rules (DESIGN, "Windows and scheduling"): occurrences are generated as local wall-clock
times in the window's zone and then turned into instants; a local time that does not exist (the
spring-forward gap) is read with the UTC offset in force before the gap, which moves it forward past
the gap (RFC 5545 3.3.5); a local time that occurs twice means the first instant. EXDATE removes an
occurrence after COUNT was applied, so it never pulls in a replacement. An occurrence lasts an exact
duration (RFC 5545 3.8.5.3), so a four-hour window that spans a clock change is four real hours.
"""

import functools
import zoneinfo
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, timedelta

from dateutil.rrule import DAILY, HOURLY, MONTHLY, WEEKLY, YEARLY, rrule, rrulestr

ALLOWED_FREQUENCIES = {"HOURLY": HOURLY, "DAILY": DAILY, "WEEKLY": WEEKLY, "MONTHLY": MONTHLY, "YEARLY": YEARLY}
RRULE_PARTS = {
    "FREQ",
    "INTERVAL",
    "COUNT",
    "UNTIL",
    "BYDAY",
    "BYMONTHDAY",
    "BYYEARDAY",
    "BYWEEKNO",
    "BYMONTH",
    "BYSETPOS",
    "BYHOUR",
    "BYMINUTE",
    "WKST",
}


class RecurrenceError(ValueError):
    """A rule, a zone or an exception date that cannot be used; the message says why."""


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


def normalize_rrule(text: str) -> str:
    """The rule in canonical form (upper case, no ``RRULE:`` prefix), or a RecurrenceError.

    Only the RRULE value is accepted: DTSTART, EXDATE and the time zone are fields of the window.
    """
    text = (text or "").strip().upper()
    if text.startswith("RRULE:"):
        text = text[len("RRULE:") :]
    if not text:
        return ""
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
        parts[key] = value
    if parts.get("FREQ") not in ALLOWED_FREQUENCIES:
        raise RecurrenceError("FREQ must be one of " + ", ".join(ALLOWED_FREQUENCIES) + ".")
    if "COUNT" in parts and "UNTIL" in parts:
        raise RecurrenceError("A rule has COUNT or UNTIL, not both (RFC 5545 3.3.10).")
    return ";".join(f"{k}={v}" for k, v in parts.items())


def build_rule(text: str, dtstart: datetime, tz: zoneinfo.ZoneInfo) -> rrule:
    """The dateutil rule over naive local wall-clock times starting at ``dtstart``.

    UNTIL given in UTC (as RFC 5545 asks when DTSTART has a zone) is turned into the local wall time
    of that instant, because the rule iterates over wall-clock times.
    """
    parts = []
    for part in normalize_rrule(text).split(";"):
        key, _, value = part.partition("=")
        if key == "UNTIL" and value.endswith("Z"):
            try:
                instant = datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            except ValueError as exc:
                raise RecurrenceError(f"UNTIL {value} is not a UTC date-time like 20261231T235959Z.") from exc
            value = to_wall(instant, tz).strftime("%Y%m%dT%H%M%S")
        parts.append(f"{key}={value}")
    try:
        rule = rrulestr(";".join(parts), dtstart=dtstart)
    except (ValueError, TypeError) as exc:
        raise RecurrenceError(f"The rule cannot be read: {exc}.") from exc
    return rule  # type: ignore[return-value]


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


def occurrences(
    *,
    dtstart: datetime,
    duration: timedelta,
    tz: zoneinfo.ZoneInfo,
    rule_text: str,
    exdates: Iterable[str],
    start: datetime,
    end: datetime,
) -> Iterator[tuple[datetime, datetime]]:
    """(start, end) UTC instants of the occurrences that overlap the half-open [start, end), in order.

    ``dtstart`` is the naive local wall time of the first occurrence; without a rule it is the only one.
    """
    excluded = [parse_exdate(x) for x in exdates]
    whole_days = {x for x in excluded if not isinstance(x, datetime)}
    exact = {x for x in excluded if isinstance(x, datetime)}
    if not rule_text:
        walls: Iterable[datetime] = [dtstart]
    else:
        # Wall time is not monotonic in instants around a clock change: search a day wider each side,
        # then compare instants exactly.
        lo = to_wall(start - duration, tz) - timedelta(days=1)
        hi = to_wall(end, tz) + timedelta(days=1)
        walls = build_rule(rule_text, dtstart, tz).between(lo, hi, inc=True)
    for wall in walls:
        if wall in exact or wall.date() in whole_days:
            continue
        begin = to_instant(wall, tz)
        finish = begin + duration
        if begin < end and finish > start:
            yield begin, finish
