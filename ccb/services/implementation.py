"""Carrying out an approved change: the binding check before it starts, the outcome, and closing."""

from django.contrib.auth.models import User
from django.utils import timezone

from ccb import audit, execution, notices, policies, revisions
from ccb.choices import (
    APPROVED_STATES,
    OUTCOME_STATES,
    AuditAction,
    NotificationTiming,
    Status,
)
from ccb.exceptions import Conflict, PacketInvalid
from ccb.models import ChangeRequest

from .base import assert_transition, lock_change, service

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
    runbook = execution.runbook_of(change=change)
    if (
        runbook is None
        or decision.runbook_hash != runbook.computed_hash
        or decision.runbook_hash != (runbook.content_hash)
    ):
        return "The runbook differs from the approved runbook version."
    if revisions.content_hash(revisions.snapshot(change)) != decision.revision_hash:
        return "The packet differs from the approved revision; it must be approved again."
    return ""


@service
def change_request_start_implementation(*, change_id: int, actor: User, run_id: int) -> ChangeRequest:
    """The change is being implemented, by deployment run ``run_id`` that ``actor`` started.

    Called by the engine when it starts a run, in the run's transaction: the approval must still bind
    and every manual condition of it be met. The run keeps its own times and log.
    """
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
    change.status = Status.IMPLEMENTING
    change.save(update_fields=["status", "updated_at"])
    if change.notification_timing == NotificationTiming.AT_START:
        notices.customer_notice(change)
    audit.record(
        actor=actor,
        action=AuditAction.CHANGE_IMPLEMENTATION_STARTED,
        target=change,
        data={"revision": change.revision.content_hash, "runbook": change.revision.runbook_hash, "run": run_id},
    )
    return change


@service
def change_request_record_outcome(
    *, change_id: int, actor: User, on_behalf_of: User, outcome: str, notes: str, run_id: int
) -> ChangeRequest:
    """How the change's deployment run ended: recorded by the engine (the system principal) alone."""
    change = lock_change(change_id)
    policies.assert_is_engine(actor=actor, change=change)
    if outcome not in OUTCOME_STATES:
        raise PacketInvalid({"outcome": [f"Choose one of: {', '.join(sorted(OUTCOME_STATES))}."]})
    assert_transition(change, outcome, "record the outcome of")
    change.status = outcome
    change.save(update_fields=["status", "updated_at"])
    audit.record(
        actor=actor,
        action=AuditAction.CHANGE_IMPLEMENTATION_FINISHED,
        target=change,
        data={"outcome": outcome, "notes": notes, "run": run_id, "on_behalf_of": on_behalf_of.get_username()},
    )
    return change


@service
def change_request_close(*, change_id: int, actor: User, exit_criteria: dict[str, bool], review: str) -> ChangeRequest:
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
