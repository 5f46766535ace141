"""Reads for the preference pages: what one person (named by a signed link) has chosen and follows."""

from django.db.models import QuerySet

from .models import Preference, Subscription
from .tokens import Person


def preference_get(*, person: Person) -> Preference:
    """Their saved choices, or the defaults (everything on, no digest) unsaved."""
    if person.user_id is not None:
        found = Preference.objects.filter(user_id=person.user_id).first()
        return found or Preference(user_id=person.user_id)
    found = Preference.objects.filter(user__isnull=True, email=person.email).first()
    return found or Preference(email=person.email)


def subscription_list(*, person: Person) -> QuerySet[Subscription]:
    rows = Subscription.objects.select_related("service", "board", "change")
    if person.user_id is not None:
        return rows.filter(user_id=person.user_id)
    return rows.filter(user__isnull=True, email=person.email)
