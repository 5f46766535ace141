"""Scheduling facts as the change page shows them: the booked length and the no-longer-fits reasons,
rendered when the page is, in the viewer's zone."""

from django import template
from django.utils import timezone

from ccb import scheduling

register = template.Library()


@register.filter
def timeline_text(change) -> str:
    """'65 min: 45 min deployment (the packet's estimate) + 20 min to roll back', or '' when unknown."""
    line = scheduling.timeline(change)
    if not line.minutes:
        return ""
    source = "the runbook's step timeouts" if line.deployment == line.runbook else "the packet's estimate"
    text = f"{line.minutes} min: {line.deployment} min deployment ({source})"
    return f"{text} + {line.rollback} min to roll back" if line.rollback else f"{text}, no rollback time given"


@register.filter
def problem_text(problem: dict) -> str:
    """A stored schedule problem in the viewer's zone (older rows: the text as it was stored)."""
    return scheduling.problem_text(problem, timezone.get_current_timezone())
