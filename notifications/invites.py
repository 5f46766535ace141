"""Calendar invites for a change's slot (RFC 5545 / iTIP RFC 5546), built with icalendar.

One UID per slot for its whole life: the first invite is METHOD:REQUEST, a move is another REQUEST
with a higher SEQUENCE, a withdrawal is METHOD:CANCEL with a higher SEQUENCE still. The last one
sent is kept in CalendarInvite, so the sequence only grows even when the caller does not track it.

``to_ical`` is the one place iCalendar text is written, for these invites and for ccb's feed.
"""

import datetime as dt
from dataclasses import dataclass
from email.utils import parseaddr
from urllib.parse import urlsplit

import icalendar
from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from . import conf
from .models import CalendarInvite

PRODID = "-//ccb//Change Control Board//EN"
FOLD_OCTETS = 75  # RFC 5545 3.1: a physical line is at most 75 octets, not counting the CRLF


def _units(line: str):
    r"""A content line in the pieces a fold must not separate: one character, or an escape (a TEXT
    backslash escape such as \\ or \; and an RFC 6868 parameter escape such as ^n) with what it escapes."""
    i = 0
    while i < len(line):
        step = 2 if i + 1 < len(line) and (line[i] == "\\" or (line[i] == "^" and line[i + 1] in "n^'")) else 1
        yield line[i : i + step]
        i += step


def fold(line: str) -> str:
    r"""One content line folded at 75 octets (a continuation line's leading space counts), never inside a
    UTF-8 character or an escape. icalendar's own folding can leave a lone backslash of a ``\\`` pair at
    the end of a line, which strict clients read as a different text."""
    lines: list[str] = []
    current: list[str] = []
    size = 0
    for unit in _units(line):
        octets = len(unit.encode())
        limit = FOLD_OCTETS - (1 if lines else 0)
        if current and size + octets > limit:
            lines.append("".join(current))
            current, size = [], 0
        current.append(unit)
        size += octets
    lines.append("".join(current))
    return "\r\n ".join(lines)


def to_ical(component: icalendar.Component) -> bytes:
    """The component (a calendar with its events) as iCalendar bytes, folded by ``fold``."""
    return "".join(fold(str(line)) + "\r\n" for line in component.content_lines() if line).encode()


@dataclass(frozen=True)
class Slot:
    uid: str
    sequence: int
    method: str
    start: dt.datetime
    end: dt.datetime
    summary: str
    description: str
    url: str


def as_datetime(value) -> dt.datetime | None:
    if isinstance(value, str):
        value = parse_datetime(value)
    if isinstance(value, dt.datetime) and timezone.is_naive(value):
        value = timezone.make_aware(value, dt.UTC)
    return value if isinstance(value, dt.datetime) else None


def default_uid(change_id: int | None) -> str:
    host = urlsplit(conf.base_url()).hostname or "ccb"
    return f"ccb-change-{change_id}-slot@{host}"


def record(*, calendar: dict, method: str, change_id: int | None, url: str) -> Slot:
    """Store this invite as the latest for its UID and return what to put in the .ics.

    Runs in the caller's transaction; the UID row is locked so two updates cannot share a SEQUENCE.
    """
    uid = str(calendar.get("uid") or default_uid(change_id))
    method = str(calendar.get("method") or method).upper()
    if method not in ("REQUEST", "CANCEL"):
        raise ValueError(f"calendar method must be REQUEST or CANCEL, not {method!r}")
    asked = int(calendar.get("sequence") or 0)
    invite = CalendarInvite.objects.select_for_update().filter(uid=uid).first()
    start, end = as_datetime(calendar.get("start")), as_datetime(calendar.get("end"))
    if invite is None:
        if start is None or end is None:
            raise ValueError("a calendar invite needs start and end the first time its UID is sent")
        invite = CalendarInvite(uid=uid, change_id=change_id, sequence=asked)
    else:
        invite.sequence = max(invite.sequence + 1, asked)
    invite.method = method
    invite.start, invite.end = start or invite.start, end or invite.end
    invite.summary = str(calendar.get("summary") or invite.summary or "")[:255]
    invite.save()
    return Slot(
        uid=uid,
        sequence=invite.sequence,
        method=method,
        start=invite.start,
        end=invite.end,
        summary=invite.summary,
        description=str(calendar.get("description") or ""),
        url=url,
    )


def build_ics(slot: Slot, *, attendee: str) -> str:
    """The .ics text for one recipient (named as the attendee, as iTIP expects)."""
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("method", slot.method)
    event = icalendar.Event()
    event.add("uid", slot.uid)
    event.add("sequence", slot.sequence)
    event.add("dtstamp", timezone.now().astimezone(dt.UTC))
    event.add("dtstart", slot.start.astimezone(dt.UTC))
    event.add("dtend", slot.end.astimezone(dt.UTC))
    event.add("summary", slot.summary)
    if slot.description:
        event.add("description", slot.description)
    if slot.url:
        event.add("url", slot.url)
    event.add("status", "CANCELLED" if slot.method == "CANCEL" else "CONFIRMED")
    event.add("transp", "OPAQUE")
    name, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    organizer = icalendar.vCalAddress(f"mailto:{address}")
    organizer.params["cn"] = icalendar.vText(name or "ccb")
    event.add("organizer", organizer)
    guest = icalendar.vCalAddress(f"mailto:{attendee}")
    guest.params.update(
        {
            "role": icalendar.vText("REQ-PARTICIPANT"),
            "partstat": icalendar.vText("NEEDS-ACTION"),
            "rsvp": icalendar.vText("FALSE"),
        }
    )
    event.add("attendee", guest)
    cal.add_component(event)
    return to_ical(cal).decode()
