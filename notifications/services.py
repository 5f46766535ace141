"""The one way ccb and deployments tell people about events. Imports neither of them.

notify() is called inside the caller's transaction: the outbox rows it writes commit or roll back
with the event itself, and sending starts only after commit (a Celery task per row, on the
``notifications`` queue; see ``delivery`` for how each row is sent exactly once).
"""

import logging
import zoneinfo
from collections.abc import Iterable
from email.utils import make_msgid, parseaddr
from functools import partial
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from . import conf, invites, recipients, registry, rendering, tokens
from .events import CALENDAR_METHODS, Event
from .models import OutboxMessage, Preference, Subscription
from .recipients import Recipient
from .tokens import Person

logger = logging.getLogger(__name__)


def notify(
    *,
    event: str,
    change_id: int | None = None,
    board_id: int | None = None,
    service_ids: Iterable[int] = (),
    user_ids: Iterable[int] = (),
    emails: Iterable[str] = (),
    context: dict | None = None,
    calendar: dict | None = None,
    exclude_user_ids: Iterable[int] = (),
) -> list[int]:
    """Queue the messages for one event; returns the outbox ids written.

    event: a stable name (submitted, on_agenda, vote_needed, decision, scheduled, rescheduled,
    unscheduled, schedule_conflict, deployment_started, gate_waiting, deployment_progress, completed,
    rolled_back, failed, closed, withdrawn, customer_notification; see ``events.Event``). An unknown name
    raises ValueError. Recipients: the users named, the plain addresses, and whoever subscribed to
    the change, the board or the services (a board's members are subscribed to it); each person
    once, and nobody who turned this event off. context: plain data for the templates (titles,
    reasons; datetimes or ISO 8601 text). calendar: for scheduling events, the slot
    {"uid", "start", "end", "summary", "description", "sequence", "method": "REQUEST"|"CANCEL"};
    every key is optional but start and end the first time a UID is sent, and the SEQUENCE sent
    is never lower than the last one sent for that UID. exclude_user_ids: people who already got a
    message about the same act (one message per person per act; see ``told_user_ids``).
    """
    if event not in Event.values or event == Event.DIGEST:
        raise ValueError(f"notify(): unknown event {event!r}; see notifications.events.Event")
    context = dict(context or {})
    with transaction.atomic():
        slot = None
        if calendar is not None:
            slot = invites.record(
                calendar=calendar,
                method=CALENDAR_METHODS.get(event, "REQUEST"),
                change_id=change_id,
                url=rendering.change_url(change_id),
            )
        people = recipients.resolve(
            event=event,
            change_id=change_id,
            board_id=board_id,
            service_ids=list(service_ids),
            user_ids=list(user_ids),
            emails=list(emails),
        )
        excluded = set(exclude_user_ids)
        people = [r for r in people if r.user_id is None or r.user_id not in excluded]
        rows = [_message(event=event, recipient=r, context=context, change_id=change_id, slot=slot) for r in people]
        ids = [row.pk for row in OutboxMessage.objects.bulk_create(rows)]
        enqueue_on_commit(ids)
    return ids


def told_user_ids(outbox_ids: Iterable[int]) -> set[int]:
    """The people the messages ``notify()`` returned go to: pass them on as ``exclude_user_ids`` to tell
    the rest of an audience about the same act without telling anyone twice."""
    return set(
        OutboxMessage.objects.filter(pk__in=list(outbox_ids), user__isnull=False).values_list("user_id", flat=True)
    )


def enqueue_on_commit(ids: list[int]) -> None:
    if ids:
        transaction.on_commit(partial(enqueue, ids))


def enqueue(ids: list[int]) -> None:
    """Wake a worker for each row. The rows are the truth: one the broker never gets is picked up by
    the sweep, so a broker outage delays mail but never fails the event that caused it."""
    from .tasks import QUEUE, send_message

    for outbox_id in ids:
        try:
            send_message.apply_async((outbox_id,), queue=QUEUE)
        except Exception:
            logger.exception("notifications: could not enqueue outbox %s; the sweep will retry it", outbox_id)
            return


def _message(
    *,
    event: str,
    recipient: Recipient,
    context: dict,
    change_id: int | None,
    slot: invites.Slot | None = None,
    dedupe_key: str | None = None,
) -> OutboxMessage:
    rendered = rendering.render(event=event, recipient=recipient, context=context, change_id=change_id, slot=slot)
    attachments = []
    if slot is not None:
        attachments.append(
            {
                "filename": "invite.ics",
                "mimetype": f"text/calendar; method={slot.method}",
                "content": invites.build_ics(slot, attendee=recipient.email),
            }
        )
    unsubscribe = tokens.unsubscribe_url(recipient.person, event)
    return OutboxMessage(
        event=event,
        change_id=change_id,
        user_id=recipient.user_id,
        to=[recipient.email],
        from_email=settings.DEFAULT_FROM_EMAIL,
        subject=rendered.subject,
        body_text=rendered.text,
        body_html=rendered.html,
        attachments=attachments,
        message_id=_message_id(),
        dedupe_key=dedupe_key,
        headers={
            # RFC 8058: mail clients offer one-click unsubscribe and POST to the link themselves.
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Auto-Submitted": "auto-generated",
            "X-Auto-Response-Suppress": "All",
        },
        next_attempt_at=timezone.now(),
    )


def _message_id() -> str:
    # An explicit domain: make_msgid() would otherwise ask DNS for this host's name on every call.
    domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or urlsplit(conf.base_url()).hostname
    return make_msgid(idstring="ccb", domain=domain or "ccb.invalid")


# Subscriptions and preferences ---------------------------------------------------------------

_TARGETS = ("service", "board", "change")


def subscription_save(
    *,
    target: str,
    target_id: int,
    user_id: int | None = None,
    email: str = "",
    events: Iterable[str] = (),
    active: bool = True,
    customer: bool = False,
) -> Subscription:
    """Follow a service, board or change (or, with active=False, stop following a board one is a member of).

    customer=True (services only): a customer of the service, who gets its customer notices only.
    """
    if target not in _TARGETS:
        raise ValueError(f"target must be one of {_TARGETS}")
    if customer and target != "service":
        raise ValueError("customers follow services")
    if (user_id is None) == (not email.strip()):
        raise ValueError("a subscription belongs to a user or to an address, exactly one")
    events = sorted(set(events))
    _check_events(events)
    person = {"user_id": user_id} if user_id is not None else {"user": None, "email": email.strip().lower()}
    with transaction.atomic():
        subscription, _ = Subscription.objects.select_for_update().update_or_create(
            **person, **{f"{target}_id": target_id}, defaults={"events": events, "active": active, "customer": customer}
        )
    return subscription


def subscription_delete(*, subscription_id: int) -> None:
    Subscription.objects.filter(pk=subscription_id).delete()


def preference_save(
    *,
    person: Person,
    muted_events: Iterable[str] | None = None,
    all_off: bool | None = None,
    digest: bool | None = None,
) -> Preference:
    """Change what reaches one person; arguments left as None keep their current value."""
    with transaction.atomic():
        preference = _preference_for_update(person)
        if muted_events is not None:
            muted = sorted(set(muted_events))
            _check_events(muted)
            preference.muted_events = muted
        if all_off is not None:
            preference.all_off = all_off
        if digest is not None:
            preference.digest = digest
        preference.save()
    return preference


def time_zone_record(*, user_id: int, name: str) -> bool:
    """Remember the IANA zone a signed-in person's browser reports, for their mail; True if it changed.

    A name that is not a zone is ignored (it comes from a cookie)."""
    if not name or len(name) > 64:
        return False
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    with transaction.atomic():
        preference = _preference_for_update(Person(user_id=user_id, email=""))
        if preference.time_zone == name:
            return False
        preference.time_zone = name
        preference.save(update_fields=["time_zone", "updated_at"])
    return True


def unsubscribe(*, token: str, everything: bool = False) -> tuple[Person, str, Preference]:
    """Apply a one-click unsubscribe link: that event off, or every email. Raises signing.BadSignature."""
    person, event = tokens.read_unsubscribe(token)
    with transaction.atomic():
        preference = _preference_for_update(person)
        if everything:
            preference.all_off = True
        elif event == Event.DIGEST:
            preference.digest = False
        elif event in Event.values and event not in preference.muted_events:
            preference.muted_events = sorted({*preference.muted_events, event})
        preference.save()
    return person, event, preference


def _preference_for_update(person: Person) -> Preference:
    rows = Preference.objects.select_for_update()
    if person.user_id is not None:
        return rows.get_or_create(user_id=person.user_id)[0]
    return rows.get_or_create(user=None, email=person.email.lower())[0]


def _check_events(events: list[str]) -> None:
    unknown = set(events) - set(Event.values)
    if unknown:
        raise ValueError(f"unknown events: {sorted(unknown)}")


# The daily digest ----------------------------------------------------------------------------


def digest_send(*, day) -> list[int]:
    """One email per opted-in member listing the changes awaiting their vote; once per person per day.

    The list comes from the source ccb registers (``registry``); members with nothing to vote on get
    nothing. Running it twice the same day writes nothing the second time.
    """
    source = registry.digest_source()
    if source is None:
        logger.warning("notifications: no digest source registered; no digest sent")
        return []
    opted_in = (
        Preference.objects.filter(digest=True, all_off=False, user__isnull=False, user__is_active=True)
        .exclude(user__email="")
        .select_related("user")
    )
    users = {p.user_id: p.user for p in opted_in if Event.DIGEST not in p.muted_events}
    zones = {p.user_id: p.time_zone for p in opted_in}
    if not users:
        return []
    awaiting = source(sorted(users))
    ids = []
    for user_id, changes in sorted(awaiting.items()):
        user = users.get(user_id)
        if user is None or not changes:
            continue
        ids += _digest_one(user=user, changes=list(changes), day=day, time_zone=zones.get(user_id, ""))
    return ids


def _digest_one(*, user, changes: list[dict], day, time_zone: str = "") -> list[int]:
    key = f"digest:{user.pk}:{day.isoformat()}"
    recipient = Recipient(
        email=user.email, user_id=user.pk, name=user.get_full_name() or user.get_username(), time_zone=time_zone
    )
    for change in changes:
        change.setdefault("url", rendering.change_url(change.get("id")))
    context = {"changes": changes, "count": len(changes), "day": day}
    if OutboxMessage.objects.filter(dedupe_key=key).exists():
        return []
    row = _message(event=Event.DIGEST, recipient=recipient, context=context, change_id=None, dedupe_key=key)
    try:
        with transaction.atomic():
            row.save(force_insert=True)
            enqueue_on_commit([row.pk])
    except IntegrityError:  # a second run of the same day's digest got there first
        return []
    return [row.pk]
