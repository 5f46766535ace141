"""One event rendered for one recipient: subject, plain text and HTML, from
templates/notifications/emails/<event>.subject.txt, .txt and .html."""

import datetime as dt
import re
import zoneinfo
from dataclasses import dataclass

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone, translation

from . import conf, tokens
from .events import EXTERNAL_EVENTS, Event
from .invites import Slot, as_datetime
from .recipients import Recipient

TEMPLATE_DIR = "notifications/emails"
# Context keys that may arrive as ISO 8601 text from callers passing plain data.
_DATETIME_KEYS = frozenset(
    {
        "start",
        "end",
        "previous_start",
        "previous_end",
        "requested_start",
        "requested_end",
        "planned_start",
        "planned_end",
    }
)
# The slot a message is about, under the names the templates use.
_ALIASES = {"start": "planned_start", "end": "planned_end"}


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def change_url(change_id: int | None) -> str:
    return f"{conf.base_url()}/changes/{change_id}/" if change_id is not None else ""


def render(
    *, event: str, recipient: Recipient, context: dict, change_id: int | None, slot: Slot | None = None
) -> Rendered:
    zone = reader_zone(recipient)
    ctx = _context(event=event, recipient=recipient, context=context, change_id=change_id, slot=slot)
    ctx["problems"] = [_problem_text(p, zone) for p in ctx.get("problems") or []]
    # Each reader's mail shows times in the zone their browser last reported (Preference.time_zone),
    # named; UTC, named, for people whose zone is unknown. Never the zone of whoever caused the event.
    # The .ics carries the instants for each reader's calendar.
    with timezone.override(zone), translation.override(settings.LANGUAGE_CODE):
        subject = render_to_string(f"{TEMPLATE_DIR}/{event}.subject.txt", ctx)
        text = render_to_string(f"{TEMPLATE_DIR}/{event}.txt", ctx)
        html = render_to_string(f"{TEMPLATE_DIR}/{event}.html", ctx)
    return Rendered(subject=_one_line(subject), text=_tidy_text(text), html=html.strip() + "\n")


def reader_zone(recipient: Recipient) -> dt.tzinfo:
    try:
        return zoneinfo.ZoneInfo(recipient.time_zone) if recipient.time_zone else dt.UTC
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def _range_text(start: dt.datetime, end: dt.datetime, zone: dt.tzinfo) -> str:
    a, b = start.astimezone(zone), end.astimezone(zone)
    if a.date() == b.date():
        return f"{a:%a} {a.day} {a:%b %Y, %H:%M}–{b:%H:%M %Z}"
    return f"{a:%a} {a.day} {a:%b %Y, %H:%M %Z} – {b:%a} {b.day} {b:%b %Y, %H:%M %Z}"


def _problem_text(problem, zone: dt.tzinfo) -> str:
    """A schedule problem as text in the reader's zone: ``{"message", "pieces"}`` where each piece is text
    or ``{"start", "end"}`` (ISO 8601); a plain string is shown as it is."""
    if not isinstance(problem, dict):
        return str(problem)
    out = []
    for piece in problem.get("pieces") or [problem.get("message", "")]:
        if isinstance(piece, dict):
            start, end = as_datetime(piece.get("start")), as_datetime(piece.get("end"))
            if start is None or end is None:
                return str(problem.get("message", ""))
            out.append(_range_text(start, end, zone))
        else:
            out.append(str(piece))
    return "".join(out)


def _context(*, event: str, recipient: Recipient, context: dict, change_id: int | None, slot: Slot | None) -> dict:
    ctx = {
        key: (as_datetime(value) or value) if key in _DATETIME_KEYS or key.endswith("_at") else value
        for key, value in context.items()
    }
    for name, alias in _ALIASES.items():
        if ctx.get(name) is None and ctx.get(alias) is not None:
            ctx[name] = ctx[alias]
    if slot is not None:
        ctx.setdefault("start", slot.start)
        ctx.setdefault("end", slot.end)
    external = event in EXTERNAL_EVENTS
    person = recipient.person
    ctx.update(
        {
            "event": event,
            "event_label": Event(event).label,
            "change_id": change_id,
            "change_url": "" if external else change_url(change_id),
            "external": external,
            "recipient": recipient,
            "slot": slot,
            "site_url": conf.base_url(),
            "unsubscribe_url": tokens.unsubscribe_url(person, event),
            "preferences_url": tokens.preferences_url(person),
        }
    )
    return ctx


def _one_line(subject: str) -> str:
    # A header must be one line; a title with a newline in it must not break the message.
    return re.sub(r"\s+", " ", subject).strip()[:255]


def _tidy_text(text: str) -> str:
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)) + "\n"
