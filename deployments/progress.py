"""What the change page shows of a deployment, and what the person reading it may do there.

The panel reads the change's latest run as it stands: each step's state, timings, message and log
lines, the canary's share, the alarms a bake saw, whose answer a gate waits for. The actions offered
are the ones the services would accept from this person now: each is the run's state the service
checks and the policy it enforces (ccb.policies), so a button shown is a button allowed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from ccb import policies
from ccb.choices import Status
from ccb.exceptions import PolicyViolation

from . import documents, links
from .checks import freeze_problem, window_problem
from .models import ACTIVE_RUN_STATES, ArmedStart, DeploymentRun, RunLogLine, RunStatus, StepRun, StepStatus

LOG_LINES = 200
SHIFTING = ("lambda_canary", "ecs_blue_green")


def allowed(check: Callable[..., None], **kwargs: Any) -> bool:
    """Whether a policy lets this through. Asking is not refusing: nothing is audited here."""
    try:
        check(**kwargs)
    except PolicyViolation:
        return False
    return True


def latest_run(change: Any) -> DeploymentRun | None:
    return (
        DeploymentRun.objects.filter(change_id=change.pk, rehearsal=False)
        .select_related("started_by", "drift_accepted_by", "abort_requested_by", "runbook_version__runbook")
        .order_by("-created_at", "-id")
        .first()
    )


# --- what a step shows -----------------------------------------------------------------------------------


def canary_share(step: StepRun) -> dict | None:
    """The share of traffic a traffic-shifting step moves to the new version: the target, and where it is."""
    if step.type not in SHIFTING:
        return None
    target = step.params.get("weight")
    state = step.state or {}
    shifted = state.get("shifted")
    now: float | None = None
    if step.type == "lambda_canary" and isinstance(shifted, dict):
        version = state.get("target")
        weights = shifted.get("weights") or {}
        now = 100.0 if str(shifted.get("version")) == str(version) else 100 * float(weights.get(str(version), 0) or 0)
    elif step.type == "ecs_blue_green" and isinstance(shifted, dict):
        now = float(shifted.get("green", 0) or 0)
    if step.status == StepStatus.ROLLED_BACK:
        now = 0.0
    elif now is None and "before" in state:
        now = 0.0
    version = state.get("target") if step.type == "lambda_canary" else None
    return {
        "target": target,
        "now": now,
        "version": version,
        "to": "green" if step.type == "ecs_blue_green" else "the new version",
    }


def alarms_seen(step: StepRun) -> list[dict]:
    """The alarms the step's last look saw (its evidence keeps each look's alarms by phase)."""
    evidence = step.evidence or {}
    for phase in ("rollback", "verify", "execute"):
        alarms = (evidence.get(phase) or {}).get("alarms")
        if alarms:
            return [a for a in alarms if isinstance(a, dict)]
    return []


def gate_of(step: StepRun, run: DeploymentRun, approvers: list[str]) -> dict | None:
    """Whose answer a go/no-go waits for, and who may not give it; the answer once given."""
    paused = run.status == RunStatus.PAUSED and step.position == run.position and step.status == StepStatus.FAILED
    if step.type != "manual_gate" and not paused:
        return None
    if paused:
        role, not_starter, question = step.pause_role, True, f"'{step.name}' failed: go on past it, or roll back?"
    else:
        role = step.params.get("role", "")
        not_starter = bool(step.params.get("not_starter", True))
        question = step.params.get("question", "")
    answer = (step.state or {}).get("answer") or (step.evidence or {}).get("continued")
    return {
        "role": role,
        "question": question,
        "not_starter": not_starter,
        "starter": run.started_by.get_username(),
        "approvers": approvers,
        "answer": answer,
        "paused": paused,
        "waiting": paused or step.status == StepStatus.AWAITING_ANSWER,
    }


def _took(step: StepRun, now: Any) -> float | None:
    if step.started_at is None:
        return None
    end = step.finished_at or (now if step.status not in (StepStatus.PENDING, StepStatus.SKIPPED) else None)
    return max((end - step.started_at).total_seconds(), 0.0) if end else None


@dataclass
class StepView:
    step: StepRun
    took: float | None
    share: dict | None
    alarms: list[dict]
    gate: dict | None
    log: list[RunLogLine] = field(default_factory=list)
    current: bool = False


@dataclass
class Stage:
    name: str
    steps: list[StepView]


# --- the panel ----------------------------------------------------------------------------------------------


@dataclass
class Panel:
    change: Any
    run: DeploymentRun | None
    stages: list[Stage]
    run_log: list[RunLogLine]
    can: dict[str, Any]
    not_now: str
    armed: ArmedStart | None
    status_line: str
    gate_question: str = ""

    @property
    def active(self) -> bool:
        return self.run is not None and self.run.status in ACTIVE_RUN_STATES

    @property
    def polls(self) -> bool:
        """While a run is active the page asks again every 2 s; an armed change waits for its slot."""
        return self.active or (self.armed is not None and self.armed.run_id is None)

    @property
    def every(self) -> str:
        """How often the page asks: every 2 s while a run is active; an armed change's slot is not so near."""
        return "2s" if self.active else "15s"

    @property
    def actions_key(self) -> str:
        """Changes when what the person may do changes, and only then (their typing survives the polls)."""
        return hashlib.sha1(json.dumps(self.can, sort_keys=True, default=str).encode()).hexdigest()[:16]  # noqa: S324

    @property
    def status_key(self) -> str:
        return hashlib.sha1(self.status_line.encode()).hexdigest()[:16]  # noqa: S324


def _approvers(change: Any) -> list[str]:
    """Who approved the change's current revision or decided it: they may not answer its go/no-go."""
    names = set(
        change.votes.filter(revision_id=change.current_revision_id, decision="approve", voided_at__isnull=True)
        .values_list("voter__username", flat=True)
        .distinct()
    )
    names |= set(
        change.decisions.filter(revision_id=change.current_revision_id, decided_by__isnull=False).values_list(
            "decided_by__username", flat=True
        )
    )
    return sorted(names)


def _log_by_step(run: DeploymentRun) -> tuple[dict[int, list[RunLogLine]], list[RunLogLine]]:
    lines = list(reversed(run.log_lines.order_by("-id")[:LOG_LINES]))
    by_step: dict[int, list[RunLogLine]] = {}
    loose = []
    for line in lines:
        if line.step_id is None:
            loose.append(line)
        else:
            by_step.setdefault(line.step_id, []).append(line)
    return by_step, loose


def _stages(run: DeploymentRun, approvers: list[str]) -> tuple[list[Stage], list[RunLogLine]]:
    now = timezone.now()
    by_step, loose = _log_by_step(run)
    stages: list[Stage] = []
    for step in run.steps.order_by("position"):
        if not stages or stages[-1].name != step.stage_name:
            stages.append(Stage(step.stage_name, []))
        stages[-1].steps.append(
            StepView(
                step=step,
                took=_took(step, now),
                share=canary_share(step),
                alarms=alarms_seen(step),
                gate=gate_of(step, run, approvers),
                log=by_step.get(step.pk, []),
                current=run.status in ACTIVE_RUN_STATES and step.position == run.position,
            )
        )
    return stages, loose


def _waiting_gate(run: DeploymentRun, stages: list[Stage]) -> StepView | None:
    if run.status not in (RunStatus.AWAITING_ANSWER, RunStatus.PAUSED):
        return None
    for stage in stages:
        for view in stage.steps:
            if view.gate and view.gate["waiting"]:
                return view
    return None


def _start_problem(change: Any, now: Any) -> str:
    """Why a start would be refused now for the state of things (not for who asks), or ''."""
    version = links.version_of(change)
    if version is None or documents.needs_review(version.document):
        return "The runbook version predates typed runbooks and needs review: make a new version."
    probe = DeploymentRun(change=change, window_end=change.planned_end)
    return window_problem(probe, now) or freeze_problem(probe, now)


def _abilities(user: Any, change: Any, run: DeploymentRun | None, stages: list[Stage], armed: Any) -> tuple[dict, str]:
    implements = allowed(policies.assert_can_implement, actor=user, change=change)
    active = run is not None and run.status in ACTIVE_RUN_STATES
    can: dict[str, Any] = {
        "start": False,
        "accept_drift": False,
        "arm": False,
        "disarm": False,
        "abort": False,
        "answer": None,
        "retry": False,
        "extend": False,
    }
    not_now = ""
    if change.status == Status.SCHEDULED and not active and implements:
        not_now = _start_problem(change, timezone.now())
        can["start"] = not not_now
        can["arm"] = armed is None or armed.run_id is not None
        can["disarm"] = armed is not None and armed.run_id is None
    if change.status == Status.SCHEDULED and not active:
        can["accept_drift"] = allowed(policies.assert_can_accept_drift, actor=user, change=change)
    if active:
        assert run is not None
        can["abort"] = run.status != RunStatus.ROLLING_BACK and allowed(
            policies.assert_can_abort_run, actor=user, change=change
        )
        can["retry"] = run.status == RunStatus.PAUSED and implements
        can["extend"] = run.status == RunStatus.HELD and allowed(
            policies.assert_can_override_schedule, actor=user, change=change
        )
        waiting = _waiting_gate(run, stages)
        if waiting is not None and waiting.gate is not None:
            gate = waiting.gate
            if allowed(
                policies.assert_can_answer_gate,
                actor=user,
                change=change,
                role=gate["role"],
                starter=run.started_by,
                not_starter=gate["not_starter"],
            ):
                can["answer"] = waiting.step.position
    return can, not_now


def _status_line(change: Any, run: DeploymentRun | None, stages: list[Stage]) -> str:
    if run is None:
        return "No deployment has run yet."
    steps = [v for s in stages for v in s.steps]
    line = f"Run {run.pk}: {run.get_status_display()}"
    if run.status in ACTIVE_RUN_STATES and steps:
        at = next((v for v in steps if v.current), None)
        if at is not None:
            line += f", step {at.step.position + 1} of {len(steps)} ({at.step.name})"
    return line + "."


def panel_for(*, user: Any, change: Any) -> Panel:
    run = latest_run(change)
    armed = ArmedStart.objects.filter(change_id=change.pk).select_related("armed_by").first()
    stages, loose = _stages(run, _approvers(change)) if run is not None else ([], [])
    can, not_now = _abilities(user, change, run, stages, armed)
    waiting = _waiting_gate(run, stages) if run is not None else None
    return Panel(
        change=change,
        run=run,
        stages=stages,
        run_log=loose,
        can=can,
        not_now=not_now,
        armed=armed,
        status_line=_status_line(change, run, stages),
        gate_question=waiting.gate["question"] if waiting is not None and waiting.gate else "",
    )
