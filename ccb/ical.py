"""The iCalendar (RFC 5545) feed people subscribe to. Only this module speaks the icalendar package in
ccb; the text is written (folded) by notifications.invites.to_ical, as the invites are.

Every event is written with UTC instants, so a calendar app shows it in its viewer's own zone and no
client has to agree with us on how a recurrence meets a clock change: window occurrences are
expanded here, by ccb.recurrence, exactly as scheduling sees them.
"""

from collections.abc import Iterable
from datetime import datetime, timedelta

from icalendar import Calendar, Event

from ccb.models import ChangeRequest, FreezeWindow, MaintenanceWindow
from notifications.invites import to_ical

PAST = timedelta(days=30)
AHEAD = timedelta(days=120)
MAX_OCCURRENCES_PER_WINDOW = 500


def _event(
    *,
    uid: str,
    stamp: datetime,
    start: datetime,
    end: datetime,
    summary: str,
    description: str,
    category: str,
    busy: bool,
) -> Event:
    event = Event()
    event.add("uid", uid)
    event.add("dtstamp", stamp)
    event.add("dtstart", start)
    event.add("dtend", end)
    event.add("summary", summary)
    event.add("description", description)
    event.add("categories", [category])
    event.add("transp", "OPAQUE" if busy else "TRANSPARENT")
    return event


def _window_events(window: MaintenanceWindow, stamp: datetime) -> Iterable[Event]:
    occurrences = window.occurrences(stamp - PAST, stamp + AHEAD)[:MAX_OCCURRENCES_PER_WINDOW]
    rule = f"Repeats {window.rrule} in {window.time_zone}." if window.rrule else f"One-off, {window.time_zone}."
    for start, end in occurrences:
        yield _event(
            uid=f"window-{window.pk}-{start:%Y%m%dT%H%M%SZ}@ccb",
            stamp=stamp,
            start=start,
            end=end,
            summary=f"Maintenance window: {window.name} ({window.service.name}, {window.environment})",
            description="\n".join(filter(None, [window.description, rule])),
            category="Maintenance window",
            busy=False,
        )


def _freeze_event(freeze: FreezeWindow, stamp: datetime) -> Event:
    names = ", ".join(s.name for s in freeze.services.all())
    scope = names or (f"every service of {freeze.board}" if freeze.board_id else "every service")
    env = freeze.environment or "every environment"
    return _event(
        uid=f"freeze-{freeze.pk}@ccb",
        stamp=stamp,
        start=freeze.start,
        end=freeze.end,
        summary=f"Freeze: {freeze.name}",
        description=f"{freeze.reason}\nCovers {scope} in {env}.",
        category="Freeze",
        busy=True,
    )


def _change_event(change: ChangeRequest, stamp: datetime, link: str) -> Event:
    flagged = bool(change.schedule_problems)
    lines = [
        f"Status: {change.get_status_display()}",
        f"Services: {', '.join(s.name for s in change.services.all())} ({change.environment})",
        f"Implementer: {change.implementer.get_username() if change.implementer_id else 'unassigned'}",
    ]
    if change.schedule_override_reason:
        lines.append(f"Scheduled by emergency override: {change.schedule_override_reason}")
    lines += [f"Schedule conflict: {p['message']}" for p in change.schedule_problems]
    lines.append(link)
    event = _event(
        uid=f"change-{change.pk}@ccb",
        stamp=stamp,
        start=change.planned_start,
        end=change.planned_end,
        summary=f"{'[CONFLICT] ' if flagged else ''}{change.reference} {change.title}",
        description="\n".join(lines),
        category="Change",
        busy=True,
    )
    event.add("sequence", change.schedule_sequence)
    event.add("status", "TENTATIVE" if flagged else "CONFIRMED")
    event.add("url", link)
    return event


def render(
    *,
    title: str,
    stamp: datetime,
    windows: Iterable[MaintenanceWindow],
    freezes: Iterable[FreezeWindow],
    changes: Iterable[ChangeRequest],
    change_link,
) -> bytes:
    """The feed as bytes; ``change_link(change)`` gives the address written into each change's event."""
    calendar = Calendar()
    calendar.add("prodid", "-//ccb//Change Control Board//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", title)
    calendar.add("x-published-ttl", "PT1H")
    for window in windows:
        for event in _window_events(window, stamp):
            calendar.add_component(event)
    for freeze in freezes:
        calendar.add_component(_freeze_event(freeze, stamp))
    for change in changes:
        calendar.add_component(_change_event(change, stamp, change_link(change)))
    return to_ical(calendar)
