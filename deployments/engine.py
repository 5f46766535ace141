"""The execution engine: a run's steps called one call at a time, each under a lease, the database the truth.

One call of ``advance(run_id)`` does at most one call of one step method:

1. In a short transaction it locks the run, decides what is due (the current step's execute, verify
   or rollback; nothing while a bake waits, a lease is held or a person must answer), re-checks what
   a step must not act without (the approval binding, the window, the freeze list) and takes the
   step's lease.
2. Outside any transaction it calls the step type, with a heartbeat extending the lease.
3. In a second transaction it records what the call came to (the step's state and evidence, the AWS
   request ids, log lines, an audit event) and moves the run on: the next phase or step, a countdown,
   a rollback of the completed steps in reverse order, or the end of the run.

A worker that dies between 2 and 3 leaves its lease to expire; the sweep then calls the same method
again, and the step type, which reconciles against live state, applies nothing twice. Waits are
countdowns on the broker and ``next_at`` in the row, never a sleeping worker.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from pydantic import ValidationError

from ccb import audit
from ccb.audit import canonical_json
from ccb.choices import AuditAction

from . import documents, steps
from .models import DeploymentRun, RunLogLine, RunStatus, StepRun, StepStatus

logger = logging.getLogger(__name__)

WORKER_ID = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def lease_seconds() -> int:
    return int(getattr(settings, "CCB_STEP_LEASE_SECONDS", 60))


# --- plans ------------------------------------------------------------------------------------------


def plan_digest(plans: list[dict]) -> str:
    """What the board's decision binds: each step's position, type, parameters and before/after state."""
    material = [{k: p.get(k) for k in ("position", "type", "params", "before", "after", "error")} for p in plans]
    return hashlib.sha256(canonical_json(material).encode()).hexdigest()


def resolved_steps(document: dict, environment: str) -> list[dict]:
    """The document's steps in order, with their stage and their parameters for ``environment``."""
    out = []
    values = (document.get("parameters") or {}).get(environment, {})
    for s, stage in enumerate(document.get("stages", [])):
        for step in stage["steps"]:
            out.append(
                {
                    "position": len(out),
                    "stage_index": s,
                    "stage_name": stage["name"],
                    "name": step["name"],
                    "type": step["type"],
                    "params": documents.substitute(step.get("params", {}), values)
                    if values
                    else step.get("params", {}),
                    "timeout_seconds": step.get("timeout_seconds", 600),
                    "on_failure": step.get("on_failure", "rollback"),
                    "pause_role": step.get("pause_role", "") or "",
                }
            )
    return out


def compute_plan(
    document: dict, environment: str, *, aws_factory: Callable[[], Any] | None = None, labels: dict | None = None
) -> list[dict]:
    """Every step's plan read from live state (nothing changed). A step whose live state cannot be read
    gets its error in the plan instead, so the board sees it and a later start sees the difference."""
    if documents.needs_review(document):
        return []
    aws = _Lazy(aws_factory) if aws_factory else None
    plans = []
    outputs: dict[str, Any] = {}
    for step in resolved_steps(document, environment):
        row = {k: step[k] for k in ("position", "stage_name", "name", "type", "params")}
        kind = steps.get(step["type"])
        try:
            ctx = steps.StepContext(
                params=kind.params.model_validate(step["params"]),
                state={},
                idempotency_key=f"plan-{step['position']}",
                phase="plan",
                now=timezone.now,
                log=lambda message, **data: None,
                aws=aws,
                services={"outputs": outputs},
                labels=labels or {},
            )
            row.update(kind.plan(ctx).as_dict())
        except ValidationError as exc:
            row.update(summary="Parameters do not validate.", error=str(exc))
        except Exception as exc:  # noqa: BLE001 - any failure to read live state is shown, not raised
            row.update(summary="Live state could not be read.", error=f"{type(exc).__name__}: {exc}")
        plans.append(row)
    return plans


class _Lazy:
    """Opens the AWS session on first use: a plan with no AWS step never assumes a role."""

    def __init__(self, factory: Callable[[], Any]):
        self._factory, self._value = factory, None

    def __getattr__(self, name: str) -> Any:
        if self._value is None:
            self._value = self._factory()
        return getattr(self._value, name)


def plan_drift(seen: list[dict], now: list[dict]) -> list[dict]:
    """The steps whose plan differs between what the board saw and what live state gives now."""
    before = {p["position"]: p for p in seen}
    out = []
    for p in now:
        old = before.get(p["position"], {})
        for key in ("params", "before", "after", "error"):
            if old.get(key) != p.get(key):
                out.append(
                    {
                        "position": p["position"],
                        "name": p["name"],
                        "field": key,
                        "approved": old.get(key),
                        "now": p.get(key),
                    }
                )
    return out


# --- logging and recording --------------------------------------------------------------------------


def log(run: DeploymentRun, message: str, *, step: StepRun | None = None, level: str = "info", **data: Any) -> None:
    RunLogLine.objects.create(
        run=run, step=step, level=level, message=message[:4000], data=audit.json_safe(data) if data else {}
    )


def record(run: DeploymentRun, action: str, *, step: StepRun | None = None, **data: Any) -> None:
    """An audit event for the run, by the system principal on behalf of the person who started it."""
    from ccb.principals import system_user

    payload = {"run": run.pk, "change": run.change_id, "on_behalf_of": run.started_by.get_username(), **data}
    if step is not None:
        payload.update(position=step.position, step=step.name, type=step.type)
    audit.record(actor=system_user(), action=action, target=run.change, data=payload)


# --- the loop ---------------------------------------------------------------------------------------


class Due:
    """What ``advance`` found to do: call ``method`` of ``step``; or nothing, with the time to look again."""

    def __init__(self, step: StepRun | None = None, method: str = "", again_at: datetime | None = None):
        self.step, self.method, self.again_at = step, method, again_at


def advance(run_id: int, *, now: Callable[[], datetime] = timezone.now) -> datetime | None:
    """Make one call of the run's current step, if one is due; returns when to look again (or None)."""
    due = _claim(run_id, now)
    if due.step is None:
        return due.again_at
    call = _call(due.step, due.method, now)
    return _settle(due.step.pk, call, now)


def _claim(run_id: int, now: Callable[[], datetime]) -> Due:
    from .checks import preflight_problem

    with transaction.atomic():
        run = DeploymentRun.objects.select_for_update().select_related("change", "started_by").get(pk=run_id)
        if run.finished or run.status in (RunStatus.AWAITING_ANSWER, RunStatus.PAUSED):
            return _awaiting(run, now)
        if run.status == RunStatus.HELD:
            return Due()
        step = _current(run)
        if step is None:
            _finish(run, now)
            return Due()
        t = now()
        if step.lease_expires_at and step.lease_expires_at > t and step.lease_owner:
            return Due(again_at=step.lease_expires_at)
        if step.next_at and step.next_at > t and not run.abort_requested_by_id:
            return Due(again_at=step.next_at)
        rolling = run.status == RunStatus.ROLLING_BACK
        if not rolling:
            if run.abort_requested_by_id:
                _begin_rollback(
                    run,
                    step,
                    f"Aborted by {run.abort_requested_by.get_username()}: {run.abort_reason or 'no reason given'}",
                    now,
                )
                return Due(again_at=t)
            if step.status == StepStatus.PENDING:
                problem = preflight_problem(run, t, step)
                if problem:
                    return _stop_for(run, step, problem, now)
            if step.deadline_at and t > step.deadline_at:  # a call due at the deadline still happens
                _fail(run, step, f"Timed out after {step.timeout_seconds} s.", {}, now)
                return Due(again_at=t)
        method = "rollback" if rolling else step.phase
        if step.status == StepStatus.PENDING:
            step.started_at = t
            step.deadline_at = t + timedelta(seconds=step.timeout_seconds)
            record(run, AuditAction.DEPLOYMENT_STEP_STARTED, step=step)
        step.status = StepStatus.ROLLING_BACK if rolling else StepStatus.RUNNING
        step.lease_owner, step.lease_expires_at, step.heartbeat_at = (
            WORKER_ID,
            t + timedelta(seconds=lease_seconds()),
            t,
        )
        step.attempt += 1
        step.save()
        if run.status != RunStatus.ROLLING_BACK:
            run.status = RunStatus.RUNNING
        if run.started_at is None:
            run.started_at = t
        run.position = step.position
        run.save(update_fields=["status", "started_at", "position", "updated_at"])
        return Due(step=step, method=method)


def _awaiting(run: DeploymentRun, now: Callable[[], datetime]) -> Due:
    """A gate waiting for its answer times out into a no-go; otherwise nothing is due until a person acts
    (a paused run, a finished one). Never a time in the past without progress, or a worker would spin."""
    if run.finished or run.status != RunStatus.AWAITING_ANSWER:
        return Due()
    step = _current(run)
    if step is None or step.status != StepStatus.AWAITING_ANSWER or step.deadline_at is None:
        return Due()
    if now() >= step.deadline_at:
        _fail(run, step, "Nobody answered the go/no-go in time: no-go.", {}, now)
        return Due(again_at=now())
    return Due(again_at=step.deadline_at)


def _current(run: DeploymentRun) -> StepRun | None:
    rows = run.steps.all()
    if run.status == RunStatus.ROLLING_BACK:
        return (
            rows.filter(status__in=[StepStatus.SUCCEEDED, StepStatus.FAILED, StepStatus.ROLLING_BACK], undo_needed=True)
            .order_by("-position")
            .first()
        )
    return rows.exclude(status__in=[StepStatus.SUCCEEDED, StepStatus.SKIPPED]).order_by("position").first()


class Call:
    """What one worker call of a step came to, handed from outside the transaction to ``_settle``."""

    def __init__(self, method: str, state: dict, outputs: dict):
        self.method, self.state, self.outputs = method, state, outputs
        self.outcome = steps.Outcome.failed("not called")
        self.lines: list[tuple[str, dict]] = []
        self.request_ids: list[dict] = []
        self.evidence: dict[str, dict] = {}  # what each phase decided on, execute's kept when verify follows


def _call(step: StepRun, method: str, now: Callable[[], datetime]) -> Call:
    """Call the step type outside any transaction, heartbeating its lease. Never raises.

    An execute that is done goes straight on to verify in the same call: were the worker to die in
    between, execute would be called again and, reconciling, find nothing left to do.
    """
    from .context import build_context

    call = Call(method, dict(step.state), dict(step.run.outputs))
    stop = threading.Event()
    beat = threading.Thread(target=_heartbeat, args=(step.pk, stop), daemon=True)
    beat.start()
    try:
        kind = steps.get(step.type)
        for phase in (method, "verify") if method == "execute" else (method,):
            call.method = phase
            ctx = build_context(step, kind, call.state, phase, now, call.lines, call.request_ids, call.outputs)
            call.outcome = getattr(kind, phase)(ctx)
            if not isinstance(call.outcome, steps.Outcome):
                call.outcome = steps.Outcome.failed(f"{step.type}.{phase} returned {call.outcome!r}, not an Outcome.")
            if call.outcome.evidence:
                call.evidence[phase] = call.outcome.evidence
            if call.outcome.result != steps.Result.DONE:
                break
    except Exception as exc:  # noqa: BLE001 - a step's failure is recorded, never lost
        logger.exception("step %s %s failed", step.pk, call.method)
        call.outcome = steps.Outcome.failed(f"{type(exc).__name__}: {exc}")
    finally:
        stop.set()
        beat.join(5)
    return call


def _heartbeat(step_id: int, stop: threading.Event) -> None:
    from django.db import connection

    try:
        while not stop.wait(max(1.0, lease_seconds() / 3)):
            t = timezone.now()
            StepRun.objects.filter(pk=step_id, lease_owner=WORKER_ID).update(
                heartbeat_at=t, lease_expires_at=t + timedelta(seconds=lease_seconds())
            )
    finally:
        connection.close()


def _settle(step_id: int, call: Call, now: Callable[[], datetime]) -> datetime | None:
    method, outcome = call.method, call.outcome
    with transaction.atomic():
        run = DeploymentRun.objects.select_for_update().select_related("change", "started_by").get(steps__pk=step_id)
        step = StepRun.objects.select_for_update().get(pk=step_id)
        if step.lease_owner != WORKER_ID:
            logger.warning("step %s: lease lost while calling %s; its result is dropped", step.pk, method)
            return now()
        for message, data in call.lines:
            log(run, message, step=step, **data)
        step.state = audit.json_safe(call.state)
        step.request_ids = [*step.request_ids, *audit.json_safe(call.request_ids)][-500:]
        if call.evidence:
            step.evidence = {**step.evidence, **audit.json_safe(call.evidence)}
        step.message = outcome.message[:4000]
        step.lease_owner, step.lease_expires_at = "", None
        if call.outputs != run.outputs:
            run.outputs = audit.json_safe(call.outputs)
            run.save(update_fields=["outputs", "updated_at"])
        t = now()
        if call.request_ids:
            record(run, AuditAction.DEPLOYMENT_AWS_CALLS, step=step, method=method, request_ids=call.request_ids)
        if method == "rollback":
            return _after_rollback_call(run, step, outcome, now)
        if outcome.result == steps.Result.WAIT:
            step.phase = method
            step.status, step.next_at = StepStatus.WAITING, t + timedelta(seconds=outcome.wait_seconds)
            step.save()
            run.status = RunStatus.WAITING
            run.save(update_fields=["status", "updated_at"])
            return step.next_at
        if outcome.result == steps.Result.ANSWER:
            step.status = StepStatus.AWAITING_ANSWER
            step.save()
            run.status = RunStatus.AWAITING_ANSWER
            run.save(update_fields=["status", "updated_at"])
            _gate_waiting(run, step)
            return step.deadline_at
        if outcome.result == steps.Result.FAILED:
            return _fail(run, step, outcome.message, outcome.evidence, now)
        step.phase, step.status, step.finished_at, step.next_at = "verify", StepStatus.SUCCEEDED, t, None
        step.save()
        record(
            run, AuditAction.DEPLOYMENT_STEP_SUCCEEDED, step=step, message=outcome.message, evidence=outcome.evidence
        )
        return t


def _gate_waiting(run: DeploymentRun, step: StepRun) -> None:
    from .notices import gate_waiting

    record(
        run,
        AuditAction.DEPLOYMENT_GATE_WAITING,
        step=step,
        role=step.params.get("role"),
        question=step.params.get("question"),
    )
    gate_waiting(run, step)


def _fail(run: DeploymentRun, step: StepRun, message: str, evidence: dict, now: Callable[[], datetime]) -> datetime:
    step.status, step.finished_at, step.message = StepStatus.FAILED, now(), message[:4000]
    step.save()
    record(run, AuditAction.DEPLOYMENT_STEP_FAILED, step=step, message=message, evidence=audit.json_safe(evidence))
    if step.on_failure == "pause" and run.status != RunStatus.ROLLING_BACK:
        run.status = RunStatus.PAUSED
        run.outcome = f"Paused after '{step.name}' failed: {message}"
        run.save(update_fields=["status", "outcome", "updated_at"])
        _gate_waiting(run, step)
        return now()
    _begin_rollback(run, step, f"'{step.name}' failed: {message}", now)
    return now()


def _begin_rollback(run: DeploymentRun, at_step: StepRun, why: str, now: Callable[[], datetime]) -> None:
    """Roll back every action that ran, the failed one included, in reverse order."""
    actions = [t for t, kind in _kinds(run).items() if kind == "action"]
    run.steps.filter(position__lte=at_step.position, type__in=actions).exclude(
        status__in=[StepStatus.PENDING, StepStatus.SKIPPED]
    ).update(undo_needed=True, next_at=None, lease_owner="", lease_expires_at=None)
    run.steps.filter(status__in=[StepStatus.PENDING]).update(status=StepStatus.SKIPPED)
    if at_step.status in (StepStatus.RUNNING, StepStatus.WAITING, StepStatus.AWAITING_ANSWER):
        at_step.refresh_from_db()
        if at_step.status != StepStatus.SKIPPED:
            StepRun.objects.filter(pk=at_step.pk).update(status=StepStatus.FAILED, finished_at=now())
    run.status, run.outcome = RunStatus.ROLLING_BACK, why
    run.save(update_fields=["status", "outcome", "updated_at"])
    record(run, AuditAction.DEPLOYMENT_ROLLBACK_STARTED, reason=why)
    log(run, f"Rolling back: {why}", level="warning")


def _kinds(run: DeploymentRun) -> dict[str, str]:
    return {t: steps.get(t).kind for t in set(run.steps.values_list("type", flat=True))}


def _after_rollback_call(
    run: DeploymentRun, step: StepRun, outcome: steps.Outcome, now: Callable[[], datetime]
) -> datetime | None:
    t = now()
    if outcome.result == steps.Result.WAIT:
        step.next_at = t + timedelta(seconds=outcome.wait_seconds)
        step.save()
        return step.next_at
    if outcome.result == steps.Result.DONE:
        step.status, step.undo_needed, step.next_at = StepStatus.ROLLED_BACK, False, None
        step.save()
        record(run, AuditAction.DEPLOYMENT_STEP_ROLLED_BACK, step=step, message=outcome.message)
        return t
    step.status, step.undo_needed = StepStatus.ROLLBACK_FAILED, False
    step.save()
    record(run, AuditAction.DEPLOYMENT_ROLLBACK_FAILED, step=step, message=outcome.message)
    log(run, f"Rollback of '{step.name}' failed: {outcome.message}", step=step, level="error")
    run.outcome = f"{run.outcome} Rollback of '{step.name}' failed: {outcome.message}".strip()
    run.save(update_fields=["outcome", "updated_at"])
    return t


def _finish(run: DeploymentRun, now: Callable[[], datetime]) -> None:
    """No step is due: the run is over. Its end decides the change's outcome."""
    from .outcomes import run_finished

    if run.status == RunStatus.ROLLING_BACK:
        broken = run.steps.filter(status=StepStatus.ROLLBACK_FAILED).exists()
        run.status = RunStatus.FAILED if broken else RunStatus.ROLLED_BACK
    else:
        run.status = RunStatus.SUCCEEDED
        run.outcome = run.outcome or "Every step succeeded."
    run.finished_at = now()
    run.save(update_fields=["status", "outcome", "finished_at", "updated_at"])
    record(run, AuditAction.DEPLOYMENT_FINISHED, status=run.status, outcome=run.outcome)
    log(run, f"Run finished: {run.get_status_display()}. {run.outcome}")
    run_finished(run)


def _stop_for(run: DeploymentRun, step: StepRun, problem: Any, now: Callable[[], datetime]) -> Due:
    """A step must not start: the approval no longer binds, the window closed or a freeze began."""
    if problem.hold:
        run.status, run.outcome = RunStatus.HELD, problem.message
        run.save(update_fields=["status", "outcome", "updated_at"])
        record(run, AuditAction.DEPLOYMENT_HELD, step=step, reason=problem.message, rule=problem.rule)
        log(run, f"Held before '{step.name}': {problem.message}", step=step, level="warning")
        return Due()
    _begin_rollback(run, step, problem.message, now)
    return Due(again_at=now())
