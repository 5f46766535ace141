"""Who receives one event: the people named, the subscribers, the board's members, less those who said no."""

import logging
from collections.abc import Iterable
from dataclasses import dataclass, replace

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db.models import Q
from django.db.models.functions import Lower

from . import registry
from .models import Preference, Subscription
from .tokens import Person

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Recipient:
    email: str
    user_id: int | None = None
    name: str = ""
    time_zone: str = ""  # the IANA zone their mail is written in; blank: UTC

    @property
    def person(self) -> Person:
        return Person(user_id=self.user_id, email="" if self.user_id is not None else self.email.lower())


def resolve(
    *,
    event: str,
    change_id: int | None,
    board_id: int | None,
    service_ids: Iterable[int],
    user_ids: Iterable[int],
    emails: Iterable[str],
) -> list[Recipient]:
    """Everyone who should get this event, once each (by address), in a stable order."""
    wanted_users = set(user_ids)
    wanted_emails = {_clean_address(e) for e in emails} - {""}
    subscriptions = _subscriptions(change_id, board_id, set(service_ids))
    for sub in subscriptions:
        if sub.wants(event):
            if sub.user_id:
                wanted_users.add(sub.user_id)
            else:
                wanted_emails.add(sub.email.lower())
    if board_id is not None:
        # Members follow their board unless a row of their own for it says otherwise.
        own_rows = {s.user_id for s in subscriptions if s.board_id == board_id and s.user_id}
        wanted_users |= registry.board_member_ids(board_id) - own_rows
    people = _people(wanted_users, wanted_emails)
    preferences = _preferences(people)
    return [_with_zone(r, preferences) for r in people if _allowed(r, event, preferences)]


def _with_zone(recipient: Recipient, preferences: dict[str, Preference]) -> Recipient:
    preference = preferences.get(recipient.person.key)
    return replace(recipient, time_zone=preference.time_zone) if preference is not None else recipient


def _clean_address(address: str) -> str:
    address = (address or "").strip()
    try:
        validate_email(address)
    except ValidationError:
        if address:
            logger.warning("notifications: skipping invalid address %r", address)
        return ""
    return address.lower()


def _subscriptions(change_id: int | None, board_id: int | None, service_ids: set[int]) -> list[Subscription]:
    scope = Q(pk__in=[])
    if change_id is not None:
        scope |= Q(change_id=change_id)
    if board_id is not None:
        scope |= Q(board_id=board_id)
    if service_ids:
        scope |= Q(service_id__in=service_ids)
    return list(Subscription.objects.filter(scope))


def _people(user_ids: set[int], emails: set[str]) -> list[Recipient]:
    """Users by id, addresses as given; an address that belongs to a user becomes that user."""
    users = get_user_model().objects.filter(is_active=True).exclude(email="")
    by_id = {u.pk: u for u in users.filter(pk__in=user_ids)} if user_ids else {}
    if emails:
        matched = users.annotate(email_lower=Lower("email")).filter(email_lower__in=emails).order_by("pk")
        for user in matched:
            by_id.setdefault(user.pk, user)
    result: dict[str, Recipient] = {}
    for user in sorted(by_id.values(), key=lambda u: u.pk):
        result.setdefault(
            user.email.lower(),
            Recipient(email=user.email, user_id=user.pk, name=user.get_full_name() or user.get_username()),
        )
    for address in sorted(emails):
        result.setdefault(address, Recipient(email=address))
    return list(result.values())


def _preferences(people: list[Recipient]) -> dict[str, Preference]:
    user_ids = [r.user_id for r in people if r.user_id is not None]
    addresses = [r.email.lower() for r in people if r.user_id is None]
    rows = Preference.objects.filter(Q(user_id__in=user_ids) | Q(user__isnull=True, email__in=addresses))
    return {Person(user_id=p.user_id, email=p.email).key: p for p in rows}


def _allowed(recipient: Recipient, event: str, preferences: dict[str, Preference]) -> bool:
    preference = preferences.get(recipient.person.key)
    return preference is None or preference.allows(event)
