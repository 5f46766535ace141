"""What a run must not act without, checked before it starts and before every step.

For a run in production: the approval still binds (the packet's revision, the runbook document and the
plan the board saw, as the decision recorded them); the change's booked slot is open; no freeze covers
its services. A rehearsal (staging) needs none of these.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ccb import scheduling
from ccb.services import approval_binding_error

from .models import DeploymentRun, StepRun


@dataclass(frozen=True)
class Problem:
    rule: str
    message: str
    hold: bool  # True: wait (a freeze, or the window's policy says hold); False: roll back


def binding_problem(run: DeploymentRun) -> str:
    change = run.change
    why = approval_binding_error(change)
    if why:
        return why
    decision = change.decisions.filter(revision=change.current_revision).order_by("-pk").first()
    if decision is not None and decision.plan_digest and decision.plan_digest != run.plan_digest:
        return "The run's plan is not the plan the board approved."
    return ""


def window_problem(run: DeploymentRun, at: datetime) -> str:
    change = run.change
    end = run.window_end or change.planned_end
    if change.planned_start and at < change.planned_start:
        return f"The change's slot opens at {change.planned_start:%Y-%m-%d %H:%M %Z}."
    if end and at >= end:
        return f"The change's slot closed at {end:%Y-%m-%d %H:%M %Z}."
    return ""


def freeze_problem(run: DeploymentRun, at: datetime) -> str:
    change = run.change
    services = list(change.services.all())
    freezes = scheduling.covering_freezes(change, services, at, at + timedelta(seconds=1))
    if freezes:
        f = freezes[0]
        return f"The freeze '{f.name}' began ({f.reason}); it ends {f.end:%Y-%m-%d %H:%M %Z}."
    return ""


def preflight_problem(run: DeploymentRun, at: datetime, step: StepRun | None = None) -> Problem | None:
    """Why the next step must not start now, or None."""
    if run.rehearsal:
        return None
    why = binding_problem(run)
    if why:
        return Problem("approval_changed", why, hold=False)
    why = freeze_problem(run, at)
    if why:
        return Problem("freeze", why, hold=True)
    why = window_problem(run, at)
    if why:
        return Problem("window_closed", why, hold=run.window_closes == "hold")
    return None
