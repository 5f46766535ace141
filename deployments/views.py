"""The runbook pages: a runbook's versions (who wrote and who approved each, its YAML, a diff, its
timeline), the editor that writes a new version with a live preview, the step types' help, and the
release & rollback plan (6.3) of a change, which the change page and the agenda load by URL."""

from __future__ import annotations

import difflib
import re
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from ccb import policies
from ccb import selectors as ccb_selectors
from ccb.exceptions import PacketInvalid, PolicyViolation
from ccb.web.helpers import attempt, refused

from . import documents, editor, fields, links, selectors, services, steps
from .documents import GateSpec, StepSpec
from .progress import allowed
from .steps import strategies


def _number(request: HttpRequest, name: str, default: int) -> int:
    raw = request.GET.get(name, "")
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise Http404("No such runbook version.") from None


# --- the release plan, as a timeline ------------------------------------------------------------------------


def timeline(plan: documents.ReleasePlan) -> dict:
    """The 6.3 plan with each stage's place on a bar of the whole (0 to 1000), for the page's chart."""
    total = max(plan.planned_seconds, 1)
    stages = []
    for stage in plan.stages:
        x = round(1000 * stage.starts_after_seconds / total)
        stages.append({**stage.__dict__, "bar_x": x, "bar_w": max(round(1000 * stage.planned_seconds / total), 4)})
    return {**plan.as_dict(), "stages": stages}


LINE = re.compile(r"^line (\d+): (.*)$", re.S)
FIELD = re.compile(r"^([A-Za-z_][\w.\[\]]*): (.*)$", re.S)


def error_rows(errors: list[str]) -> list[dict]:
    """documents.parse's errors as rows: the line, the field, and what is wrong."""
    rows = []
    for text in errors:
        line, rest = "", text
        if m := LINE.match(text):
            line, rest = m.group(1), m.group(2)
        field, message = "", rest
        if m := FIELD.match(rest):
            field, message = m.group(1), m.group(2)
        rows.append({"line": line, "field": field, "message": message})
    return rows


def preview(source: str, environment: str = "") -> dict:
    """What the YAML being edited would give: its timeline, or every error with its line and field."""
    try:
        document = documents.parse(source)
    except documents.DocumentInvalid as exc:
        return {"errors": error_rows(exc.errors), "plan": None}
    envs = documents.environments_of(document)
    env = environment if environment in envs else (envs[0] if envs else "")
    steps_count = sum(len(stage["steps"]) for stage in document["stages"])
    plan = timeline(documents.release_plan(document, env or None))
    return {"errors": [], "plan": plan, "envs": envs, "env": env, "steps_count": steps_count}


# --- the runbook page -----------------------------------------------------------------------------------------


def _editor_context(runbook: Any, source: str, user: Any, **extra: Any) -> dict:
    data = editor.load(source)
    return {
        "runbook": runbook,
        "form": editor.form_of(data if isinstance(data, dict) else {}),
        "yaml": source,
        "preview": preview(source),
        "next_number": (runbook.versions.order_by("-number").values_list("number", flat=True).first() or 0) + 1,
        **extra,
    }


@login_required
def runbook_detail(request: HttpRequest, pk: int) -> HttpResponse:
    runbook = selectors.runbook_get(user=request.user, pk=pk)
    versions = {v.number: v for v in runbook.versions.all()}
    if not versions:
        raise Http404("This runbook has no versions yet.")
    numbers = sorted(versions)
    shown = versions.get(_number(request, "version", numbers[-1]))
    if shown is None:
        raise Http404("No such runbook version.")
    left = right = None
    diff: list[dict] = []
    if "a" in request.GET or "b" in request.GET:
        left = versions.get(_number(request, "a", numbers[-2] if len(numbers) > 1 else numbers[0]))
        right = versions.get(_number(request, "b", numbers[-1]))
        if left is None or right is None:
            raise Http404("No such runbook version.")
        diff = _diff(left.source_yaml, right.source_yaml, f"v{left.number}", f"v{right.number}")
    writes = allowed(policies.assert_not_read_only, actor=request.user, board=runbook.board, target=runbook)
    typed = not documents.needs_review(shown.document)
    context = {
        "nav": "changes",
        "runbook": runbook,
        "versions": [versions[n] for n in reversed(numbers)],
        "numbers": numbers,
        "shown": shown,
        "typed": typed,
        "plan": timeline(documents.release_plan(shown.document)) if typed else None,
        "can_approve": shown.approved_at is None
        and allowed(policies.assert_can_approve_runbook, actor=request.user, version=shown),
        "left": left,
        "right": right,
        "diff": diff,
        "writes": writes,
    }
    if writes:
        context["ed"] = _editor_context(runbook, versions[numbers[-1]].source_yaml, request.user)
    return render(request, "deployments/runbook.html", context)


def _diff(old: str, new: str, old_name: str, new_name: str) -> list[dict]:
    """A unified diff of two YAML sources, each line marked as added, removed, context or a hunk header."""
    lines = difflib.unified_diff(
        old.splitlines(), new.splitlines(), fromfile=old_name, tofile=new_name, lineterm="", n=3
    )
    rows = []
    for line in lines:
        if line.startswith(("---", "+++")):
            continue
        kind = {"+": "add", "-": "del", "@": "hunk"}.get(line[:1], "same")
        rows.append({"kind": kind, "text": line})
    return rows


@login_required
@require_POST
def runbook_editor(request: HttpRequest, pk: int) -> HttpResponse:
    """The editor's two sides kept together as people type (htmx): the fields write the YAML; the YAML,
    when it is readable, redraws the fields; either way the preview follows. Nothing is saved here."""
    runbook = selectors.runbook_get(user=request.user, pk=pk)
    side = request.POST.get("from", "fields")
    source = request.POST.get("source_yaml", "")
    show, form = {"preview"}, None
    if side == "yaml":
        data = editor.load(source)
        form = editor.form_of(data) if isinstance(data, dict) else None
    elif side == "fields":
        data, reshaped = editor.data_of(request.POST)
        op = request.POST.get("op", "")
        if op:
            data = editor.apply(data, op)
        source = editor.dump(data)
        show.add("yaml")
        form = editor.form_of(data) if op or reshaped else None
    if form is not None:
        show.add("fields")
    context = {
        "runbook": runbook,
        "form": form,
        "yaml": source,
        "preview": preview(source, request.POST.get("preview_env", "")),
        "show": show,
        "oob": True,
    }
    return render(request, "deployments/partials/editor_sync.html", context)


@login_required
@require_POST
def runbook_version_new(request: HttpRequest, pk: int) -> HttpResponse:
    """Save the YAML as the runbook's next version (deployments.services.runbook_version_create)."""
    runbook = selectors.runbook_get(user=request.user, pk=pk)
    source = request.POST.get("source_yaml", "")
    htmx = bool(request.headers.get("HX-Request"))
    try:
        version = services.runbook_version_create(actor=request.user, runbook_id=runbook.pk, source_yaml=source)
    except PolicyViolation as exc:
        if not htmx:
            return refused(request, exc)
        context = _editor_context(runbook, source, request.user, error=f"{exc.message} (rule: {exc.rule})")
        return render(request, "deployments/partials/editor.html", {"ed": context}, status=403)
    except (PacketInvalid, ValueError) as exc:  # ValueError: see preview(); documents.parse lets it through
        errors = [m for msgs in exc.errors.values() for m in msgs] if isinstance(exc, PacketInvalid) else [str(exc)]
        context = _editor_context(runbook, source, request.user, saved_errors=error_rows(errors))
        if not htmx:
            messages.error(request, "Not saved: " + " ".join(errors))
            return redirect("runbook-page", pk=runbook.pk)
        return render(request, "deployments/partials/editor.html", {"ed": context}, status=400)
    messages.success(
        request, f"Version {version.number} is saved. Someone other than you approves it before a change may run it."
    )
    url = reverse("runbook-page", args=[runbook.pk]) + f"?version={version.number}"
    if not htmx:
        return redirect(url)
    response = HttpResponse(status=200)
    response["HX-Redirect"] = url
    return response


@login_required
@require_POST
def runbook_version_approve(request: HttpRequest, pk: int, number: int) -> HttpResponse:
    version = selectors.runbook_version_get(user=request.user, runbook_id=pk, number=number)
    back = reverse("runbook-page", args=[pk]) + f"?version={number}"
    _, response = attempt(request, services.runbook_version_approve, back, actor=request.user, version_id=version.pk)
    if response is not None:
        return response
    messages.success(request, f"Version {number} is approved: changes on {version.runbook.board} may run it.")
    return redirect(back)


# --- the step types' help ---------------------------------------------------------------------------------------

KIND_WORDS = {
    "action": "Changes something; rolled back (in reverse order) when the run rolls back.",
    "check": "Reads and judges; nothing to roll back.",
    "gate": "Decides go or no-go; nothing to roll back.",
}


def _own_doc(cls: type) -> str:
    doc = cls.__dict__.get("__doc__") or ""
    return " ".join(doc.replace("``", "").split())


@login_required
def step_types(request: HttpRequest) -> HttpResponse:
    types = [
        {
            "name": name,
            "summary": cls.summary,
            "kind": cls.kind,
            "kind_words": KIND_WORDS.get(cls.kind, ""),
            "doc": _own_doc(cls),
            "fields": fields.field_specs(cls.params),
        }
        for name, cls in sorted(steps.REGISTRY.items())
    ]
    context = {
        "nav": "changes",
        "types": types,
        "step_fields": [s for s in fields.field_specs(StepSpec) if s.name != "params"],
        "gate_fields": fields.field_specs(GateSpec),
        "strategies": fields.strategy_names(),
        "shifting": strategies.SHIFTING_TYPES,
        "knobs": fields.STRATEGY_KNOBS,
        "codedeploy": sorted(strategies.CODEDEPLOY.items()),
    }
    return render(request, "deployments/step_types.html", context)


# --- the change's release & rollback plan ----------------------------------------------------------------------


def _plan_stages(rows: list[dict]) -> list[dict]:
    stages: list[dict] = []
    for row in rows:
        if not stages or stages[-1]["name"] != row.get("stage_name"):
            stages.append({"name": row.get("stage_name", ""), "steps": []})
        stages[-1]["steps"].append(row)
    return stages


@login_required
def change_release_plan(request: HttpRequest, pk: int) -> HttpResponse:
    """The change's 6.3 plan in its environment, and the plan the board votes on (read at submit)."""
    change = ccb_selectors.change_request_get(user=request.user, pk=pk)
    version = links.version_of(change)
    typed = version is not None and not documents.needs_review(version.document)
    revision_plan = selectors.revision_plan(change=change) if change.current_revision_id else None
    context = {
        "change": change,
        "version": version,
        "typed": typed,
        "plan": timeline(documents.release_plan(version.document, change.environment)) if typed else None,
        "revision_plan": revision_plan,
        "plan_stages": _plan_stages(revision_plan.steps) if revision_plan else [],
        "revision": change.current_revision,
    }
    return render(request, "deployments/partials/release_plan.html", context)
