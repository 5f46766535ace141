"""What the engine tells people, through notifications, in the transaction of the event."""

from __future__ import annotations

from guardian.shortcuts import get_users_with_perms

from ccb.choices import Status
from notifications import services as notifications

from .models import DeploymentRun, StepRun

ROLE_PERMISSION = {
    "implementer": "board_implementer",
    "verifier": "board_verifier",
    "chair": "board_chair",
    "member": "board_member",
}


def _context(run: DeploymentRun, step: StepRun | None = None, **extra: object) -> dict:
    change = run.change
    return {
        "reference": change.reference,
        "title": change.title,
        "board": change.board.name,
        "run": run.pk,
        "rehearsal": run.rehearsal,
        "environment": run.environment,
        "step": step.name if step else "",
        "stage": step.stage_name if step else "",
        "started_by": run.started_by.get_username(),
        **extra,
    }


def role_holders(run: DeploymentRun, role: str) -> list[int]:
    holders = get_users_with_perms(run.change.board, with_group_users=True, only_with_perms_in=[ROLE_PERMISSION[role]])
    return sorted(u.pk for u in holders if u.is_active)


def gate_waiting(run: DeploymentRun, step: StepRun) -> None:
    """Everyone who may answer the go/no-go is asked (the engine's policy still decides who may)."""
    role = step.params.get("role") or step.pause_role or "implementer"
    notifications.notify(
        event="gate_waiting",
        change_id=run.change_id,
        user_ids=role_holders(run, role),
        context=_context(
            run, step, question=step.params.get("question") or f"'{step.name}' failed: {step.message}", role=role
        ),
    )


def step_notice(
    run: DeploymentRun,
    step: StepRun,
    *,
    event: str,
    audience: list[str],
    emails: list[str],
    message: str,
    context: dict,
) -> list[int]:
    """A runbook's notify step: the change's people and followers, its board, its services' followers."""
    change = run.change
    return notifications.notify(
        event=event,
        change_id=change.pk if "change" in audience or event != "customer_notification" else None,
        board_id=change.board_id if "board" in audience else None,
        service_ids=list(change.services.values_list("pk", flat=True)) if "services" in audience else [],
        user_ids=sorted({change.requester_id, change.implementer_id} - {None}) if "change" in audience else [],
        emails=emails,
        context={**_context(run, step), **context, "message": message},
    )


def deployment_started(run: DeploymentRun) -> None:
    """The change's people, followers and services hear its deployment began."""
    from ccb.notices import change_context, change_people, change_service_ids

    change = run.change
    notifications.notify(
        event="deployment_started",
        change_id=change.pk,
        service_ids=change_service_ids(change),
        user_ids=change_people(change),
        context=change_context(change, run.started_by, started_at=run.started_at or run.created_at, run=run.pk),
    )


def deployment_finished(run: DeploymentRun, outcome: str) -> None:
    """Completed, rolled back or failed: the board, the change's people and followers hear how it ended."""
    from ccb.notices import change_context, change_people, change_service_ids

    change = run.change
    notifications.notify(
        event=outcome,
        change_id=change.pk,
        board_id=change.board_id,
        service_ids=change_service_ids(change),
        user_ids=change_people(change),
        context=change_context(
            change, run.started_by, notes=run.outcome, outcome_label=Status(outcome).label, run=run.pk
        ),
    )
