"""One event rendered for one recipient: subject, plain text and HTML, from
templates/notifications/emails/<event>.subject.txt, .txt and .html."""

import datetime as dt
import re
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
    ctx = _context(event=event, recipient=recipient, context=context, change_id=change_id, slot=slot)
    # Mail is read by many people in many places: times are shown in UTC, said so, and the .ics
    # carries the instant for each reader's calendar. Never the zone of whoever caused the event.
    with timezone.override(dt.UTC), translation.override(settings.LANGUAGE_CODE):
        subject = render_to_string(f"{TEMPLATE_DIR}/{event}.subject.txt", ctx)
        text = render_to_string(f"{TEMPLATE_DIR}/{event}.txt", ctx)
        html = render_to_string(f"{TEMPLATE_DIR}/{event}.html", ctx)
    return Rendered(subject=_one_line(subject), text=_tidy_text(text), html=html.strip() + "\n")


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
