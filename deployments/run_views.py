"""The deployment panel of the change page, its actions, and the dashboard's runs and waiting gates.

Every action calls the service that owns it (deployments.runs, deployments.scheduler) and answers with
the panel redrawn in place: the service's refusal (400, 403 naming the rule, 409) shown where the person
acted, with what they typed still in the form. Refusals are audited by the services themselves.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Case, F, IntegerField, Q, Value, When
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from ccb import policies
from ccb import selectors as ccb_selectors
from ccb.exceptions import CCBError, PacketInvalid, PolicyViolation

from . import runs, scheduler, selectors
from .models import ACTIVE_RUN_STATES, RunStatus, StepRun, StepStatus
from .progress import allowed, panel_for

ACTIVE = [str(s) for s in ACTIVE_RUN_STATES]


def _panel_response(
    request: HttpRequest, change: Any, *, status: int = 200, error: str = "", notice: str = "", **extra: Any
) -> HttpResponse:
    """The panel drawn again after an action: in place for htmx, else back on the change page."""
    if not request.headers.get("HX-Request"):
        if error:
            messages.error(request, error)
        elif notice:
            messages.success(request, notice)
        return redirect("web:change-detail", pk=change.pk)
    change = ccb_selectors.change_request_get(user=request.user, pk=change.pk)
    context = {"p": panel_for(user=request.user, change=change), "error": error, "notice": notice, **extra}
    if error:
        context["posted"] = {"kind": request.resolver_match.url_name, **request.POST.dict()}
    return render(request, "deployments/partials/deployment.html", context, status=status)


def _act(request: HttpRequest, change: Any, call: Any, done: str, **extra: Any) -> HttpResponse:
    try:
        call()
    except runs.DriftRefused as exc:
        return _panel_response(request, change, status=409, error=exc.message, drift=exc.drift, **extra)
    except PolicyViolation as exc:
        return _panel_response(request, change, status=403, error=f"{exc.message} (rule: {exc.rule})")
    except PacketInvalid as exc:
        text = " ".join(m for msgs in exc.errors.values() for m in msgs)
        return _panel_response(request, change, status=400, error=text)
    except CCBError as exc:
        return _panel_response(request, change, status=exc.status_code, error=exc.message)
    return _panel_response(request, change, notice=done)


@login_required
def change_deployment(request: HttpRequest, pk: int) -> HttpResponse:
    """The panel; ``part=live`` is the poll: the progress, and the actions only when they changed."""
    change = ccb_selectors.change_request_get(user=request.user, pk=pk)
    panel = panel_for(user=request.user, change=change)
    if request.GET.get("part") != "live":
        return render(request, "deployments/partials/deployment.html", {"p": panel})
    context = {
        "p": panel,
        "actions_changed": request.GET.get("actions") != panel.actions_key,
        "status_changed": request.GET.get("said") != panel.status_key,
        "ended": not panel.active,
    }
    return render(request, "deployments/partials/deployment_poll.html", context)


@login_required
@require_POST
def deployment_start(request: HttpRequest, pk: int) -> HttpResponse:
    change = ccb_selectors.change_request_get(user=request.user, pk=pk)
    reason = request.POST.get("drift_reason", "")

    def start() -> None:
        plan = runs.live_plan(change, change.environment)  # reads AWS: outside the service's transaction
        runs.run_start(change_id=change.pk, actor=request.user, plan=plan, drift_reason=reason)

    return _act(request, change, start, "The deployment has started.")


@login_required
@require_POST
def deployment_drift(request: HttpRequest, pk: int) -> HttpResponse:
    """Read live state and show how it differs from the plan the board approved (nothing is changed)."""
    change = ccb_selectors.change_request_get(user=request.user, pk=pk)
    if not (
        allowed(policies.assert_can_accept_drift, actor=request.user, change=change)
        or allowed(policies.assert_can_implement, actor=request.user, change=change)
    ):
        return _panel_response(
            request,
            change,
            status=403,
            error="Live state is compared with the plan by the implementer or the board's chair.",
        )
    drift = runs.plan_drift_now(change)
    if not drift:
        return _panel_response(request, change, notice="Live state matches the plan the board approved.")
    return _panel_response(request, change, drift=drift, notice="Live state differs from the approved plan.")


@login_required
@require_POST
def deployment_accept_drift(request: HttpRequest, pk: int) -> HttpResponse:
    change = ccb_selectors.change_request_get(user=request.user, pk=pk)

    def accept() -> None:
        plan = runs.live_plan(change, change.environment)  # reads AWS: outside the service's transaction
        runs.run_accept_drift(change_id=change.pk, actor=request.user, plan=plan, reason=request.POST.get("reason", ""))

    return _act(request, change, accept, "Drift accepted: the implementer may start the deployment.")


@login_required
@require_POST
def deployment_arm(request: HttpRequest, pk: int) -> HttpResponse:
    change = ccb_selectors.change_request_get(user=request.user, pk=pk)
    return _act(
        request,
        change,
        lambda: scheduler.run_arm(change_id=change.pk, actor=request.user),
        "Armed: ccb starts the deployment itself when its slot opens.",
    )


@login_required
@require_POST
def deployment_disarm(request: HttpRequest, pk: int) -> HttpResponse:
    change = ccb_selectors.change_request_get(user=request.user, pk=pk)
    return _act(
        request,
        change,
        lambda: scheduler.run_disarm(change_id=change.pk, actor=request.user),
        "Disarmed: the deployment starts only when someone starts it.",
    )


def _run(request: HttpRequest, run_id: int) -> Any:
    return selectors.run_get(user=request.user, pk=run_id)


@login_required
@require_POST
def run_abort(request: HttpRequest, run_id: int) -> HttpResponse:
    run = _run(request, run_id)
    fast = request.POST.get("fast") == "1"
    return _act(
        request,
        run.change,
        lambda: runs.run_abort(run_id=run.pk, actor=request.user, reason=request.POST.get("reason", ""), fast=fast),
        "Abort requested: the completed steps roll back in reverse order.",
    )


@login_required
@require_POST
def run_answer(request: HttpRequest, run_id: int, position: int) -> HttpResponse:
    run = _run(request, run_id)
    answer = request.POST.get("answer", "")
    return _act(
        request,
        run.change,
        lambda: runs.gate_answer(
            run_id=run.pk,
            position=position,
            actor=request.user,
            answer=answer,
            comment=request.POST.get("comment", ""),
        ),
        "Your go is recorded: the run goes on." if answer == "go" else "Your no-go is recorded: the run rolls back.",
    )


@login_required
@require_POST
def run_retry(request: HttpRequest, run_id: int) -> HttpResponse:
    run = _run(request, run_id)
    return _act(
        request,
        run.change,
        lambda: runs.run_retry(run_id=run.pk, actor=request.user),
        "The step is called again.",
    )


@login_required
@require_POST
def run_extend(request: HttpRequest, run_id: int) -> HttpResponse:
    run = _run(request, run_id)
    raw = request.POST.get("minutes", "").strip()
    if not (raw.isascii() and raw.isdecimal()):
        return _panel_response(request, run.change, status=400, error="Give the extra time in whole minutes.")
    return _act(
        request,
        run.change,
        lambda: runs.run_extend(
            run_id=run.pk, actor=request.user, minutes=int(raw), reason=request.POST.get("reason", "")
        ),
        f"The run's window is extended by {int(raw)} min; it goes on.",
    )


# --- the dashboard ------------------------------------------------------------------------------------------


def _active_first(queryset: Any) -> Any:
    return queryset.annotate(
        idle=Case(When(status__in=ACTIVE, then=Value(0)), default=Value(1), output_field=IntegerField())
    ).order_by("idle", "-created_at", "-id")


def gates_waiting_for(user: Any) -> list[StepRun]:
    """Every go/no-go waiting in a run the person can see that they may answer (the policy decides)."""
    visible = selectors.run_list(user=user).filter(status__in=[RunStatus.AWAITING_ANSWER, RunStatus.PAUSED])
    waiting = (
        StepRun.objects.filter(run__in=visible.values("pk"))
        .filter(
            Q(status=StepStatus.AWAITING_ANSWER)
            | Q(status=StepStatus.FAILED, run__status=RunStatus.PAUSED, position=F("run__position"))
        )
        .select_related("run__change__board", "run__started_by")
        .order_by("deadline_at", "pk")
    )
    out = []
    for step in waiting[:50]:
        paused = step.run.status == RunStatus.PAUSED
        role = step.pause_role if paused else step.params.get("role", "")
        not_starter = True if paused else bool(step.params.get("not_starter", True))
        if allowed(
            policies.assert_can_answer_gate,
            actor=user,
            change=step.run.change,
            role=role,
            starter=step.run.started_by,
            not_starter=not_starter,
        ):
            step.waiting_role = role
            out.append(step)
    return out


@login_required
def dashboard_runs(request: HttpRequest) -> HttpResponse:
    """The dashboard's deployment cards: my runs (implementers), my boards' runs (verifiers), and the
    go/no-go decisions waiting for me. Nothing at all for someone with none of these."""
    user = request.user
    visible = selectors.run_list(user=user)
    mine = _active_first(visible.filter(Q(started_by=user) | Q(change__implementer=user)))[:10]
    verifier_boards = ccb_selectors.board_ids_with_role(user=user, codenames=("board_verifier",))
    boards = _active_first(visible.filter(change__board_id__in=verifier_boards))[:10] if verifier_boards else []
    implements = bool(ccb_selectors.board_ids_with_role(user=user, codenames=("board_implementer",)))
    context = {
        "mine": list(mine),
        "boards": list(boards),
        "gates": gates_waiting_for(user),
        "implements": implements,
        "verifies": bool(verifier_boards),
    }
    context["polls"] = any(r.status in ACTIVE_RUN_STATES for r in [*context["mine"], *context["boards"]])
    return render(request, "deployments/partials/dashboard.html", context)
