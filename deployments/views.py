"""The runbook page: a runbook's versions, who wrote and who approved each, its YAML, and a diff."""

import difflib

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from . import selectors


def _number(request: HttpRequest, name: str, default: int) -> int:
    raw = request.GET.get(name, "")
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise Http404("No such runbook version.") from None


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
    return render(
        request,
        "deployments/runbook.html",
        {
            "nav": "changes",
            "runbook": runbook,
            "versions": [versions[n] for n in reversed(numbers)],
            "numbers": numbers,
            "shown": shown,
            "left": left,
            "right": right,
            "diff": diff,
        },
    )


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
