"""Filters the deployment pages share: durations and plan values in words."""

from __future__ import annotations

import json
from typing import Any

from django import template

register = template.Library()


@register.filter
def duration(seconds: Any) -> str:
    """45 s, 5 min, 1 h 5 min, 2 d 3 h: how long, in the fewest words that say it."""
    try:
        total = int(round(float(seconds)))
    except (TypeError, ValueError):
        return ""
    if total < 60:
        return f"{total} s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes} min" + (f" {secs} s" if secs and minutes < 10 else "")
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h" + (f" {minutes} min" if minutes else "")
    days, hours = divmod(hours, 24)
    return f"{days} d" + (f" {hours} h" if hours else "")


@register.filter
def plain(value: Any) -> str:
    """A plan's value as a person reads it: text as it is, numbers and lists plainly, mappings as JSON."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return ", ".join(str(v) for v in value) if value else "none"
    if isinstance(value, int | float):
        return f"{value:g}" if isinstance(value, float) else str(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


@register.filter
def percent(share: Any) -> str:
    try:
        return f"{float(share):g}%"
    except (TypeError, ValueError):
        return ""


@register.filter
def with_article(word: Any) -> str:
    """'an implementer', 'a verifier': a role named in a sentence."""
    text = str(word or "")
    return f"an {text}" if text[:1].lower() in "aeiou" and text else f"a {text}"
