"""After the decision: conditions, scheduling, implementation, closing and the emergency retrospective."""

from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from ccb import audit, notices, policies, revisions, scheduling
from ccb.choices import (
    APPROVED_STATES,
    OUTCOME_STATES,
    OVERRIDABLE_SCHEDULE_RULES,
    AuditAction,
    ChangeType,
    NotificationTiming,
    Status,
)
from ccb.exceptions import Conflict, IllegalTransition, PacketInvalid
from ccb.models import ChangeRequest, Condition
from notifications import services as notifications

from .base import assert_transition, lock_change, lock_scheduling, service
from .windows import change_schedules_recheck

EXIT_CRITERIA = {
    "smoke_tests_passed": "Smoke tests passed in production.",
    "monitoring_normal": "Monitoring shows normal behaviour.",
    "notifications_sent": "Customer and stakeholder notifications were sent.",
}


def approval_binding_error(change: ChangeRequest) -> str:
    """Why what would execute now differs from what the board approved, or '' when it matches."""
    decision = change.decisions.filter(revision=change.current_revision).first()
    if decision is None or decision.outcome not in APPROVED_STATES:
        return "The current revision of this change has no approval."
    runbook = change.runbook_version
    if (
        runbook is None
        or runbook.computed_hash() != decision.runbook_hash
        or runbook.content_hash != (decision.runbook_hash)
    ):
        return "The runbook differs from the approved runbook version."
    if revisions.content_hash(revisions.snapshot(change)) != decision.revision_hash:
        return "The packet differs from the approved revision; it must be approved again."
    return ""


@service
def condition_satisfy(*, condition_id: int, actor: AbstractBaseUser, evidence: str) -> Condition:
    condition = Condition.objects.select_for_update().select_related("change__board").get(pk=condition_id)
    change = condition.change
    if actor.pk not in (change.requester_id, change.implementer_id):
        policies.assert_can_implement(actor=actor, change=change)
    if condition.satisfied_at:
        raise Conflict("This condition was already met.")
    if not evidence.strip():
        raise PacketInvalid({"evidence": ["Say how the condition was met (a link or a note)."]})
    condition.satisfied_at, condition.satisfied_by, condition.evidence = timezone.now(), actor, evidence.strip()
    condition.save()
    audit.record(
        actor=actor,
        action=AuditAction.CONDITION_SATISFIED,
        target=change,
        data={"condition": condition.pk, "text": condition.text, "evidence": condition.evidence},
    )
    return condition


@service
def change_request_schedule(
    *, change_id: int, actor: AbstractBaseUser, planned_start: datetime, override_reason: str = ""
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
    start, end = change.planned_start.isoformat(), change.planned_end.isoformat()
    summary = f"{change.reference} {change.title}"
    notifications.notify(
        event="rescheduled" if rescheduled else "scheduled",
        change_id=change.pk,
        board_id=change.board_id,
        service_ids=list(change.services.values_list("pk", flat=True)),
        user_ids=sorted({change.requester_id, change.implementer_id} - {None}),
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
            "implementer": change.implementer.get_username() if change.implementer_id else None,
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


@service
def change_request_start_implementation(*, change_id: int, actor: AbstractBaseUser) -> ChangeRequest:
    change = lock_change(change_id)
    policies.assert_can_implement(actor=actor, change=change)
    assert_transition(change, Status.IMPLEMENTING, "start implementing")
    binding = approval_binding_error(change)
    if binding:
        raise Conflict(binding)
    open_conditions = list(
        change.conditions.filter(satisfied_at__isnull=True, kind="manual").values_list("text", flat=True)
    )
    if open_conditions:
        raise Conflict("Conditions of the approval are not met yet: " + "; ".join(open_conditions))
    change.status, change.implementation_started_at = Status.IMPLEMENTING, timezone.now()
    change.save(update_fields=["status", "implementation_started_at", "updated_at"])
    notices.deployment_started(change, actor)
    if change.notification_timing == NotificationTiming.AT_START:
        notices.customer_notice(change)
    audit.record(
        actor=actor,
        action=AuditAction.CHANGE_IMPLEMENTATION_STARTED,
        target=change,
        data={"revision": change.current_revision.content_hash, "runbook": change.current_revision.runbook_hash},
    )
    return change


@service
def change_request_finish_implementation(
    *, change_id: int, actor: AbstractBaseUser, outcome: str, notes: str = ""
) -> ChangeRequest:
    change = lock_change(change_id)
    policies.assert_can_implement(actor=actor, change=change)
    if outcome not in OUTCOME_STATES:
        raise PacketInvalid({"outcome": [f"Choose one of: {', '.join(sorted(OUTCOME_STATES))}."]})
    assert_transition(change, outcome, "record the outcome of")
    change.status, change.implementation_finished_at = outcome, timezone.now()
    change.implementation_notes = notes.strip()
    change.save(update_fields=["status", "implementation_finished_at", "implementation_notes", "updated_at"])
    notices.finished(change, actor)
    audit.record(
        actor=actor,
        action=AuditAction.CHANGE_IMPLEMENTATION_FINISHED,
        target=change,
        data={"outcome": outcome, "notes": change.implementation_notes},
    )
    return change


@service
def change_request_close(
    *, change_id: int, actor: AbstractBaseUser, exit_criteria: dict[str, bool], review: str
) -> ChangeRequest:
    change = lock_change(change_id)
    policies.assert_can_close(actor=actor, change=change)
    assert_transition(change, Status.CLOSED, "close")
    errors: dict[str, list[str]] = {}
    if not review.strip():
        errors["review"] = ["Write the post-implementation review."]
    if change.status == Status.COMPLETED:
        for key, text in EXIT_CRITERIA.items():
            if exit_criteria.get(key) is not True:
                errors[key] = [f"Exit criterion not confirmed: {text}"]
    if errors:
        raise PacketInvalid(errors)
    change.exit_criteria = {**{k: bool(exit_criteria.get(k)) for k in EXIT_CRITERIA}, "review": review.strip()}
    change.status, change.closed_at = Status.CLOSED, timezone.now()
    change.save(update_fields=["exit_criteria", "status", "closed_at", "updated_at"])
    notices.closed(change, actor)
    audit.record(actor=actor, action=AuditAction.CHANGE_CLOSED, target=change, data=change.exit_criteria)
    return change


@service
def change_request_record_retrospective(*, change_id: int, actor: AbstractBaseUser, notes: str) -> ChangeRequest:
    """The full board review an emergency change owes after the fact."""
    change = lock_change(change_id)
    policies.assert_can_review_retrospective(actor=actor, change=change)
    if change.change_type != ChangeType.EMERGENCY:
        raise Conflict("Only emergency changes have a retrospective review.")
    if change.decided_at is None:
        raise IllegalTransition(change.status, "review the retrospective of")
    if change.retrospective_at:
        raise Conflict("The retrospective review is already recorded.")
    if not notes.strip():
        raise PacketInvalid({"notes": ["Record what the board found in its review."]})
    change.retrospective_at, change.retrospective_by = timezone.now(), actor
    change.retrospective_notes = notes.strip()
    change.save(update_fields=["retrospective_at", "retrospective_by", "retrospective_notes", "updated_at"])
    audit.record(
        actor=actor,
        action=AuditAction.CHANGE_RETROSPECTIVE,
        target=change,
        data={
            "notes": change.retrospective_notes,
            "overdue": bool(change.review_due_at and change.review_due_at < change.retrospective_at),
        },
    )
    return change
