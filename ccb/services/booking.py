"""Booking an approved change into its slot: the scheduling rules, the override, and the invite."""

from datetime import datetime

from django.contrib.auth.models import User
from django.utils import timezone

from ccb import audit, notices, policies, scheduling
from ccb.choices import (
    OVERRIDABLE_SCHEDULE_RULES,
    AuditAction,
    NotificationTiming,
    Status,
)
from ccb.exceptions import Conflict, PacketInvalid
from ccb.models import ChangeRequest
from notifications import services as notifications

from .base import assert_transition, lock_change, lock_scheduling, service
from .windows import change_schedules_recheck


@service
def change_request_schedule(
    *, change_id: int, actor: User, planned_start: datetime, override_reason: str = ""
) -> ChangeRequest:
    """Book an approved change at ``planned_start``; the end follows from its timeline.

    Refused with ScheduleRefused (409) when the timeline leaves a maintenance window, meets a freeze or
    overlaps another change on a related service. With ``override_reason`` the chair may book it
    outside a window or over a conflict, never into a freeze; the override is audited on its own.
    """
    lock_scheduling()
    change = lock_change(change_id)
    policies.assert_can_schedule(actor=actor, change=change)
    reason = override_reason.strip()
    if reason:
        policies.assert_can_override_schedule(actor=actor, change=change)
    assert_transition(change, Status.SCHEDULED, "schedule")
    if timezone.is_naive(planned_start):
        raise PacketInvalid({"planned_start": ["Give the start as an instant: with its offset or time zone."]})
    if planned_start < timezone.now():
        raise PacketInvalid({"planned_start": ["The planned start is in the past."]})
    if change.implementer_id is None:
        raise Conflict("Assign an implementer before scheduling.")
    planned_end = planned_start + scheduling.require_timeline(change)
    problems = scheduling.check(change, planned_start, planned_end)
    blocking = [p for p in problems if not (reason and p.rule in OVERRIDABLE_SCHEDULE_RULES)]
    if blocking:
        raise scheduling.ScheduleRefused(
            blocking, note="An override does not lift a freeze: end or shorten the freeze first." if reason else ""
        )
    previous = (change.planned_start, change.planned_end)
    rescheduled = change.status == Status.SCHEDULED
    change.planned_start, change.planned_end, change.status = planned_start, planned_end, Status.SCHEDULED
    change.schedule_sequence += 1 if rescheduled else 0
    change.schedule_problems, change.schedule_checked_at = [], timezone.now()
    change.schedule_override_reason = reason if problems else ""
    change.schedule_overridden_by = actor if problems else None
    change.save(
        update_fields=[
            "planned_start",
            "planned_end",
            "status",
            "schedule_sequence",
            "schedule_problems",
            "schedule_checked_at",
            "schedule_override_reason",
            "schedule_overridden_by",
            "updated_at",
        ]
    )
    change_schedules_recheck(
        actor=actor,
        service_ids=scheduling.related_services(change.services.values_list("pk", flat=True)),
        trigger=f"{change.reference} was {'rescheduled' if rescheduled else 'scheduled'} by {actor.get_username()}.",
        exclude_change=change.pk,
    )
    audit.record(
        actor=actor,
        action=AuditAction.CHANGE_SCHEDULED,
        target=change,
        data={
            "start": planned_start,
            "end": planned_end,
            "timeline_minutes": int((planned_end - planned_start).total_seconds() // 60),
            "previous": [p.isoformat() if p else None for p in previous],
            "overridden": bool(change.schedule_override_reason),
        },
    )
    if change.schedule_override_reason:
        audit.record(
            actor=actor,
            action=AuditAction.CHANGE_SCHEDULE_OVERRIDDEN,
            target=change,
            data={
                "reason": reason,
                "start": planned_start,
                "end": planned_end,
                "problems": [p.as_dict() for p in problems],
            },
        )
    _notify_scheduled(change, rescheduled, previous)
    if not rescheduled and change.notification_timing == NotificationTiming.ON_SCHEDULE:
        notices.customer_notice(change)
    return change


def _notify_scheduled(change: ChangeRequest, rescheduled: bool, previous: tuple) -> None:
    """The requester, the implementer and the subscribers get the slot, with a calendar invite."""
    assert change.planned_start and change.planned_end  # just booked
    start, end = change.planned_start.isoformat(), change.planned_end.isoformat()
    summary = f"{change.reference} {change.title}"
    notifications.notify(
        event="rescheduled" if rescheduled else "scheduled",
        change_id=change.pk,
        board_id=change.board_id,
        service_ids=list(change.services.values_list("pk", flat=True)),
        user_ids=sorted(i for i in (change.requester_id, change.implementer_id) if i is not None),
        context={
            "reference": change.reference,
            "title": change.title,
            "start": start,
            "end": end,
            "planned_start": start,
            "planned_end": end,
            "environment": change.environment,
            "previous_start": previous[0].isoformat() if rescheduled and previous[0] else None,
            "previous_end": previous[1].isoformat() if rescheduled and previous[1] else None,
            "implementer": change.implementer.get_username() if change.implementer else None,
            "override_reason": change.schedule_override_reason,
        },
        calendar={
            "uid": f"change-{change.pk}@ccb",
            "start": start,
            "end": end,
            "summary": summary,
            "description": change.summary,
            "sequence": change.schedule_sequence,
            "method": "REQUEST",
        },
    )
