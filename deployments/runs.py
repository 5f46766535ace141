"""Every write on a deployment run: start (by a person, or armed to start itself), answer a go/no-go,
retry or accept a paused step, abort, extend a held run's window. Each is one transaction with its
audit events; the engine's workers are woken after commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from ccb import audit, policies
from ccb import services as ccb_services
from ccb.choices import AuditAction, Status
from ccb.exceptions import Conflict, IllegalTransition, PacketInvalid
from ccb.principals import system_user
from ccb.services.base import lock_change, service

from . import documents, engine, links
from .checks import freeze_problem, window_problem
from .models import ACTIVE_RUN_STATES, DeploymentRun, DriftAcceptance, RunStatus, StepRun, StepStatus
from .notices import deployment_started


class DriftRefused(Conflict):
    """Live state differs from the plan the board approved (409); ``drift`` says how."""

    def __init__(self, drift: list[dict]):
        names = ", ".join(dict.fromkeys(d["name"] for d in drift))
        super().__init__(
            f"Live state has drifted from the plan the board approved ({names}). The chair may accept the "
            "drift with a written reason, or the change must be revised and approved again."
        )
        self.drift = drift


@dataclass(frozen=True)
class LivePlan:
    steps: list[dict]
    digest: str


def live_plan(change: Any, environment: str) -> LivePlan:
    """The plan read from live state now: outside any transaction (it calls AWS)."""
    version = links.version_of(change)
    plans = engine.compute_plan(version.document, environment, aws_factory=lambda: _plan_aws(change, version))
    return LivePlan(plans, engine.plan_digest(plans))


def _plan_aws(change: Any, version: Any) -> Any:
    from .context import aws_session

    return aws_session(
        document=version.document,
        environment=change.environment,
        change_reference=change.reference,
        run_id="plan",
        started_by=change.requester.get_username(),
    )


def _approved_plan(change: Any) -> list[dict]:
    from .models import RevisionPlan

    snapshot = RevisionPlan.objects.filter(revision_id=change.current_revision_id).first()
    return snapshot.steps if snapshot else []


@service
def run_start(
    *, change_id: int, actor: User, plan: LivePlan, drift_reason: str = "", armed_by: User | None = None
) -> DeploymentRun:
    """Start the approved change's runbook now, in its slot. ``plan`` was read from live state just before
    (``live_plan``); a difference from the approved plan stops the start unless the chair accepts it.

    ``armed_by``: the system principal starts a change its implementer armed; every check a person's
    start makes is made for that implementer."""
    person = armed_by or actor
    change = lock_change(change_id)
    if armed_by is not None:
        policies.assert_is_engine(actor=actor, change=change)
    policies.assert_can_implement(actor=person, change=change)
    if change.status != Status.SCHEDULED:
        raise IllegalTransition(change.status, "start the deployment of")
    version = links.version_of(change)
    if version is None or documents.needs_review(version.document):
        raise Conflict("The runbook version predates typed runbooks and needs review: make a new version.")
    now = timezone.now()
    run = DeploymentRun(
        change=change,
        runbook_version=version,
        environment=change.environment,
        started_by=person,
        armed=armed_by is not None,
        window_end=change.planned_end,
        window_closes=version.document.get("window_closes", "rollback"),
    )
    for why in (window_problem(run, now), freeze_problem(run, now)):
        if why:
            raise Conflict(f"Not now: {why}")
    binding = ccb_services.approval_binding_error(change)
    if binding:  # what would run is not what was approved: no drift to accept, it must be approved again
        raise Conflict(binding)
    drift = engine.plan_drift(_approved_plan(change), plan.steps)
    acceptance = _accepted(change, plan, drift, drift_reason.strip(), person if armed_by is None else actor)
    reason = acceptance.reason if acceptance else ""
    decision = change.decisions.filter(revision=change.current_revision).order_by("-pk").first()
    run.revision_hash = change.revision.content_hash
    run.runbook_hash = version.content_hash
    run.plan_digest = decision.plan_digest if decision and decision.plan_digest else plan.digest
    run.plan = {"steps": plan.steps, "digest": plan.digest}
    run.drift = drift
    if acceptance is not None:
        run.drift_accepted_by, run.drift_reason = acceptance.accepted_by, acceptance.reason
    run.save()
    _create_steps(run, version.document)
    ccb_services.change_request_start_implementation(change_id=change.pk, actor=person, run_id=run.pk)
    deployment_started(run)
    engine.record(
        run,
        AuditAction.DEPLOYMENT_STARTED,
        armed=run.armed,
        plan_digest=plan.digest,
        drift=[f"{d['name']}: {d['field']}" for d in drift],
        drift_reason=reason,
    )
    _wake(run)
    return run


def _accepted(change: Any, plan: LivePlan, drift: list[dict], reason: str, actor: User) -> DriftAcceptance | None:
    """The chair's acceptance of exactly this drift (this revision, this reading of live state), or None
    when there is no drift; DriftRefused when there is drift nobody accepted. A chair who starts the run
    may accept it in the same act, with ``reason``."""
    if not drift:
        return None
    found = DriftAcceptance.objects.filter(
        change=change, revision_id=change.current_revision_id, live_digest=plan.digest
    ).first()
    if found is None and reason:
        found = _record_acceptance(change, plan, drift, reason, actor)
    if found is None:
        raise DriftRefused(drift)
    return found


def _record_acceptance(change: Any, plan: LivePlan, drift: list[dict], reason: str, actor: User) -> DriftAcceptance:
    policies.assert_can_accept_drift(actor=actor, change=change)
    acceptance = DriftAcceptance.objects.create(
        change=change,
        revision_id=change.current_revision_id,
        live_digest=plan.digest,
        drift=drift,
        accepted_by=actor,
        reason=reason,
    )
    audit.record(
        actor=actor,
        action=AuditAction.DEPLOYMENT_DRIFT_ACCEPTED,
        target=change,
        data={
            "revision": change.revision.content_hash,
            "live_digest": plan.digest,
            "reason": reason,
            "drift": [f"{d['name']}: {d['field']}" for d in drift],
        },
    )
    return acceptance


def plan_drift_now(change: Any) -> list[dict]:
    """How live state differs now from the plan the board approved (read-only; calls AWS)."""
    return engine.plan_drift(_approved_plan(change), live_plan(change, change.environment).steps)


@service
def run_accept_drift(*, change_id: int, actor: User, plan: LivePlan, reason: str) -> DriftAcceptance:
    """The board's chair accepts the drift live state shows now from the approved plan, with a reason,
    so the implementer may start; a later change of live state needs a new acceptance."""
    change = lock_change(change_id)
    policies.assert_can_accept_drift(actor=actor, change=change)
    if change.status != Status.SCHEDULED:
        raise IllegalTransition(change.status, "accept drift for")
    drift = engine.plan_drift(_approved_plan(change), plan.steps)
    if not drift:
        raise Conflict("Live state matches the plan the board approved: there is no drift to accept.")
    if not reason.strip():
        raise PacketInvalid({"reason": ["Say why the drift is acceptable."]})
    return _record_acceptance(change, plan, drift, reason.strip(), actor)


def _create_steps(run: DeploymentRun, document: dict) -> None:
    StepRun.objects.bulk_create(
        StepRun(run=run, idempotency_key=f"ccb-run{run.pk}-step{s['position']}", **s)
        for s in engine.resolved_steps(document, run.environment)
    )


def _wake(run: DeploymentRun, countdown: float = 0) -> None:
    from .tasks import wake

    transaction.on_commit(lambda: wake(run.pk, countdown))


def _lock_run(run_id: int) -> DeploymentRun:
    return DeploymentRun.objects.select_for_update().select_related("change__board", "started_by").get(pk=run_id)


@service
def gate_answer(*, run_id: int, position: int, actor: User, answer: str, comment: str = "") -> StepRun:
    """A person's go or no-go on a gate, or on a step paused after a failure."""
    run = _lock_run(run_id)
    lock_change(run.change_id)
    step = run.steps.select_for_update().filter(position=position).first()
    if step is None:
        raise PacketInvalid({"step": [f"The run has no step {position}."]})
    if answer not in ("go", "no_go"):
        raise PacketInvalid({"answer": ["Answer go or no_go."]})
    paused = run.status == RunStatus.PAUSED and step.status == StepStatus.FAILED
    if not paused and step.status != StepStatus.AWAITING_ANSWER:
        raise Conflict(f"Step {position} ({step.name}) is not waiting for an answer; it is {step.status}.")
    role = step.pause_role if paused else step.params.get("role", "")
    not_starter = True if paused else bool(step.params.get("not_starter", True))
    policies.assert_can_answer_gate(
        actor=actor, change=run.change, role=role, starter=run.started_by, not_starter=not_starter
    )
    if answer == "no_go" and not comment.strip():
        raise PacketInvalid({"comment": ["Say why it is a no-go."]})
    now = timezone.now()
    given = {"answer": answer, "by": actor.get_username(), "comment": comment.strip(), "at": now.isoformat()}
    if paused:
        _answer_paused(run, step, given)
    else:
        step.state = {**step.state, "answer": given}
        step.status = StepStatus.RUNNING
        step.save(update_fields=["state", "status"])
        run.status = RunStatus.RUNNING
        run.save(update_fields=["status", "updated_at"])
    engine.record(
        run,
        AuditAction.DEPLOYMENT_GATE_ANSWERED,
        step=step,
        answer=answer,
        by=actor.get_username(),
        comment=comment.strip(),
        paused=paused,
    )
    _wake(run)
    return step


def _answer_paused(run: DeploymentRun, step: StepRun, given: dict) -> None:
    if given["answer"] == "go":  # carry on past the failure, which stays on record
        step.status, step.evidence = StepStatus.SKIPPED, {**step.evidence, "continued": given}
        step.save(update_fields=["status", "evidence"])
        run.status = RunStatus.RUNNING
        run.save(update_fields=["status", "updated_at"])
        return
    run.status = RunStatus.RUNNING
    run.save(update_fields=["status", "updated_at"])
    engine._begin_rollback(
        run, step, f"No-go by {given['by']} after '{step.name}' failed: {given['comment']}", timezone.now
    )


@service
def run_retry(*, run_id: int, actor: User) -> StepRun:
    """Call a paused run's failed step again (its memory kept, so it reconciles from where it was)."""
    run = _lock_run(run_id)
    policies.assert_can_implement(actor=actor, change=run.change)
    if run.status != RunStatus.PAUSED:
        raise Conflict(f"Only a paused run can retry a step; this one is {run.get_status_display().lower()}.")
    step = run.steps.select_for_update().get(position=run.position)
    step.status, step.phase, step.next_at, step.deadline_at = StepStatus.PENDING, "execute", None, None
    step.save(update_fields=["status", "phase", "next_at", "deadline_at"])
    run.status = RunStatus.RUNNING
    run.save(update_fields=["status", "updated_at"])
    engine.record(run, AuditAction.DEPLOYMENT_STEP_RETRIED, step=step, by=actor.get_username())
    _wake(run)
    return step


@service
def run_abort(*, run_id: int, actor: User, reason: str, fast: bool = False) -> DeploymentRun:
    """Stop and roll back the completed steps; ``fast`` skips what is left of any bake."""
    run = _lock_run(run_id)
    policies.assert_can_abort_run(actor=actor, change=run.change)
    if run.status not in ACTIVE_RUN_STATES or run.status == RunStatus.ROLLING_BACK:
        raise Conflict(f"The run is {run.get_status_display().lower()}: there is nothing to abort.")
    if not reason.strip():
        raise PacketInvalid({"reason": ["Say why the run is aborted."]})
    run.abort_requested_by, run.abort_reason, run.abort_fast = actor, reason.strip(), fast
    if run.status in (RunStatus.HELD, RunStatus.PAUSED, RunStatus.AWAITING_ANSWER):
        run.status = RunStatus.RUNNING
    run.save(update_fields=["abort_requested_by", "abort_reason", "abort_fast", "status", "updated_at"])
    engine.record(
        run, AuditAction.DEPLOYMENT_ABORT_REQUESTED, by=actor.get_username(), reason=reason.strip(), fast=fast
    )
    _wake(run)
    return run


@service
def run_extend(*, run_id: int, actor: User, minutes: int, reason: str) -> DeploymentRun:
    """The chair gives a run held at its window's end more time (never past a freeze)."""
    run = _lock_run(run_id)
    policies.assert_can_override_schedule(actor=actor, change=run.change)
    if run.status != RunStatus.HELD:
        raise Conflict("Only a held run can be given more time.")
    if not 1 <= minutes <= 24 * 60 or not reason.strip():
        raise PacketInvalid({"minutes": ["Give 1 to 1440 minutes and the reason."]})
    base = max(timezone.now(), run.window_end or timezone.now())
    run.window_end = base + timedelta(minutes=minutes)
    why = freeze_problem(run, timezone.now())
    if why:
        raise Conflict(f"A freeze covers the change: {why} An extension does not lift a freeze.")
    run.status = RunStatus.RUNNING
    run.save(update_fields=["window_end", "status", "updated_at"])
    engine.record(
        run,
        AuditAction.DEPLOYMENT_WINDOW_EXTENDED,
        by=actor.get_username(),
        minutes=minutes,
        reason=reason.strip(),
        until=run.window_end,
    )
    _wake(run)
    return run


def resume_if_clear(run_id: int) -> bool:
    """A held run whose freeze has ended (and whose window is open) goes on; used by the sweep."""
    from .checks import preflight_problem

    with transaction.atomic():
        run = _lock_run(run_id)
        if run.status != RunStatus.HELD:
            return False
        problem = preflight_problem(run, timezone.now())
        if problem is not None:
            return False
        run.status = RunStatus.RUNNING
        run.save(update_fields=["status", "updated_at"])
        engine.record(run, AuditAction.DEPLOYMENT_RESUMED, reason="What held the run has cleared.")
        _wake(run)
        return True


def system() -> User:
    return system_user()
