"""Template tags the pages share (registered as the ``ccb`` library in settings.TEMPLATES)."""

from django import template

from ccb import risk
from ccb.choices import ChangeType

register = template.Library()


@register.filter
def risk_assessed(change) -> bool:
    """A level means something once the questionnaire is answered (a standard change's template set it)."""
    return change.change_type == ChangeType.STANDARD or not risk.unanswered(change.risk_answers or {})


@register.inclusion_tag("ccb/partials/risk_badge.html")
def risk_badge(change, suffix: str = ""):
    return {"c": change, "assessed": risk_assessed(change), "suffix": suffix}


@register.filter
def action_label(action: str) -> str:
    from ccb.web.words import action_label as label

    return label(action)
