"""Refusals on the audit chain, coalesced so that a flood of them cannot slow anyone else's writes.

Every refusal is a 403 naming its rule. The first one by a person under a rule in each window of
``CCB_REFUSAL_WINDOW_SECONDS`` is appended to the chain at once, exactly as before; repeats in that
window only increment a counter row (``RefusalWindow``), which takes no chain lock and contends only
with the same person's own repeats. Once the window has closed, ``refusal_windows_digest`` (Celery
beat, every minute) appends one ``policy.refused_repeated`` event per window that had repeats, with
their count, the window and the last one's details, so the chain still accounts for every refusal.
"""

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from ccb import audit
from ccb.choices import AuditAction
from ccb.exceptions import PolicyViolation
from ccb.models import RefusalWindow


def window_seconds() -> int:
    return int(getattr(settings, "CCB_REFUSAL_WINDOW_SECONDS", 60))


def _window(now: datetime) -> tuple[datetime, datetime]:
    size = window_seconds()
    start = datetime.fromtimestamp(int(now.timestamp()) // size * size, tz=now.tzinfo)
    return start, start + timedelta(seconds=size)


def _actor_name(actor: Any) -> str:
    return actor.get_username() if actor is not None and getattr(actor, "pk", None) else "system"


def refusal_record(exc: PolicyViolation, **data: Any) -> None:
    """Record one refusal, in a transaction of its own (the refused one has rolled back)."""
    now = timezone.now()
    start, end = _window(now)
    name = _actor_name(exc.actor)
    details = {"rule": exc.rule, "message": exc.message, **data}
    with transaction.atomic():
        if _count_repeat(name, exc.rule, start, now, details):
            return
        event = audit.record(
            actor=exc.actor,
            action=AuditAction.POLICY_REFUSED,
            target=exc.target,
            data={**details, "repeats_until": end},
        )
        try:
            with transaction.atomic():
                RefusalWindow.objects.create(
                    actor=exc.actor if getattr(exc.actor, "pk", None) else None,
                    actor_name=name,
                    rule=exc.rule,
                    window_start=start,
                    window_end=end,
                    first_seq=event.seq,
                    last_at=now,
                    last_data=audit.json_safe(details),
                )
            return
        except IntegrityError:
            # The same person's other request opened this window while we appended: theirs is the first
            # event of the window, so ours is dropped with this transaction and counted as a repeat.
            transaction.set_rollback(True)
    _count_repeat(name, exc.rule, start, now, details)


def _count_repeat(name: str, rule: str, start: datetime, now: datetime, details: dict) -> bool:
    """Count a repeat in an open window; False when the window has no row yet (this is its first)."""
    updated = RefusalWindow.objects.filter(actor_name=name, rule=rule, window_start=start).update(
        count=F("count") + 1, last_at=now, last_data=audit.json_safe(details)
    )
    return bool(updated)


def refusal_windows_digest(*, now: datetime | None = None) -> int:
    """Put the repeats of every closed window on the chain, one event each; returns how many were written."""
    now = now or timezone.now()
    written = 0
    with transaction.atomic():
        closed = (
            RefusalWindow.objects.select_for_update(skip_locked=True)
            .filter(digested_seq__isnull=True, window_end__lte=now)
            .order_by("window_start", "pk")
        )
        for window in closed:
            if window.count > 1:
                event = audit.record(
                    actor=window.actor if window.actor_id else None,
                    action=AuditAction.POLICY_REFUSED_REPEATED,
                    target_type="ccb.refusalwindow",
                    target_id=str(window.pk),
                    data={
                        "rule": window.rule,
                        "actor": window.actor_name,
                        "repeats": window.count - 1,
                        "first_seq": window.first_seq,
                        "window": [window.window_start, window.window_end],
                        "last_at": window.last_at,
                        "last": window.last_data,
                    },
                )
                written += 1
                window.digested_seq = event.seq
            else:
                window.digested_seq = window.first_seq  # nothing beyond the first, already on the chain
            window.save(update_fields=["digested_seq"])
    return written
