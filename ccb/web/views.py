"""Pages people read: the dashboard, lists, the change page, revision diffs, the agenda, the trail."""

import json
from types import SimpleNamespace

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from ccb import audit, policies, risk, selectors
from ccb.choices import REVIEW_STATES, BoardRole, ChangeType, Status
from ccb.exceptions import PacketInvalid, PolicyViolation
from ccb.models import AuditEvent, Board, ChangeRequest
from ccb.web.calendar import free_slots
from ccb.web.forms import AuditFilterForm, DecideForm, VoteForm
from ccb.web.helpers import abilities, change_for, refused

SORTS = {
    "newest": "-created_at",
    "oldest": "created_at",
    "updated": "-updated_at",
    "title": "title",
    "status": "status",
    "planned": "planned_start",
    "risk": "-risk_level",
}


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    changes = selectors.change_request_list(user=request.user)
    now = timezone.now()
    context = {
        "nav": "dashboard",
        "mine": changes.filter(requester=request.user).order_by("-updated_at")[:8],
        "awaiting": selectors.changes_awaiting_vote(user=request.user).order_by("submitted_at")[:8],
        "deployments": changes.filter(
            implementer=request.user, status__in=[Status.SCHEDULED, Status.IMPLEMENTING]
        ).order_by("planned_start")[:8],
        "flagged": changes.filter(
            Q(requester=request.user) | Q(implementer=request.user), status__in=[Status.SCHEDULED]
        ).exclude(schedule_problems=[])[:8],
        "overdue": changes.filter(
            change_type=ChangeType.EMERGENCY, retrospective_at__isnull=True, review_due_at__lt=now
        ).order_by("review_due_at")[:8],
    }
    return render(request, "ccb/dashboard.html", context)


@login_required
def change_list(request: HttpRequest) -> HttpResponse:
    try:
        changes, errors = selectors.change_request_list(user=request.user, filters=request.GET), {}
    except PacketInvalid as exc:  # the list unfiltered, the page naming each bad filter
        changes, errors = selectors.change_request_list(user=request.user), exc.errors
    query = request.GET.get("q", "").strip()
    if query:
        changes = changes.filter(Q(title__icontains=query) | Q(summary__icontains=query))
    sort = request.GET.get("sort", "newest")
    changes = changes.order_by(SORTS.get(sort, "-created_at"), "-id")
    page = Paginator(changes, 25).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    return render(
        request,
        "ccb/change_list.html",
        {
            "nav": "changes",
            "page": page,
            "filterset": SimpleNamespace(data=request.GET, errors=errors),
            "q": query,
            "sort": sort,
            "sorts": SORTS,
            "querystring": params.urlencode(),
            "boards": Board.objects.all(),
            "statuses": Status.choices,
        },
        status=400 if errors else 200,
    )


# How the change page's timeline words each audit action.
ACTION_WORDS = {
    "change.created": "filed the change",
    "change.updated": "edited the packet",
    "change.submitted": "submitted it",
    "change.revised": "made a new revision",
    "change.review_started": "put it on the agenda",
    "change.withdrawn": "withdrew it",
    "change.decided": "recorded the decision",
    "change.scheduled": "scheduled it",
    "change.implementation_started": "started the deployment",
    "change.implementation_finished": "finished it",
    "change.closed": "closed it",
    "change.retrospective_reviewed": "recorded the retrospective review",
    "vote.cast": "voted",
    "vote.voided": "voided earlier votes by revising",
    "condition.satisfied": "met a condition",
    "attachment.added": "attached a file",
    "policy.refused": "was refused",
    "change.schedule_overridden": "overrode the scheduling rules",
    "change.schedule_conflict": "found that it no longer fits its slot",
    "change.schedule_conflict_cleared": "found that it fits its slot again",
}


def _timeline(change: ChangeRequest):
    events = AuditEvent.objects.filter(target_type="ccb.changerequest", target_id=str(change.pk)).order_by("seq")
    return [{"event": e, "data": json.loads(e.data), "words": ACTION_WORDS.get(e.action, e.action)} for e in events]


@login_required
def change_detail(request: HttpRequest, pk: int) -> HttpResponse:
    change = change_for(request, pk)
    can = abilities(request.user, change)
    revision = change.current_revision
    context = {
        "nav": "changes",
        "change": change,
        "can": can,
        "revision": revision,
        "revisions": list(change.revisions.select_related("created_by")),
        "votes": change.votes.select_related("voter", "revision").order_by("created_at"),
        "decisions": change.decisions.select_related("decided_by", "revision").prefetch_related("conditions"),
        "attachments": change.attachments.select_related("uploaded_by"),
        "timeline": _timeline(change),
        "risk_rows": [
            (q["label"], change.risk_answers.get(key, "not answered").replace("_", " "))
            for key, q in risk.QUESTIONS.items()
        ],
        "missing": selectors.entry_criteria(change=change) if change.status == Status.DRAFT else {},
        "tally": selectors.tally(change=change) if change.status in REVIEW_STATES else None,
        "vote_form": VoteForm(initial={"revision_hash": revision.content_hash}) if revision else None,
        "decide_form": DecideForm(),
        "slots": free_slots(change) if can["schedule"] else [],
    }
    can["override"] = can["schedule"] and policies.has_role(request.user, change.board, BoardRole.CHAIR)
    return render(request, "ccb/change_detail.html", context)


def _flatten(value, prefix=""):
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{prefix}{key}." if not isinstance(item, dict) or item else f"{prefix}{key}"))
        return {k.rstrip("."): v for k, v in out.items()}
    return {prefix: value}


@login_required
def revision_diff(request: HttpRequest, pk: int) -> HttpResponse:
    change = change_for(request, pk)
    revisions = {r.number: r for r in change.revisions.all()}
    if not revisions:
        raise Http404("This change has no revisions yet.")
    numbers = sorted(revisions)
    try:
        a = int(request.GET.get("a", numbers[-2] if len(numbers) > 1 else numbers[0]))
        b = int(request.GET.get("b", numbers[-1]))
        left, right = revisions[a], revisions[b]
    except (ValueError, KeyError):
        raise Http404("No such revision.") from None
    flat_a, flat_b = _flatten(left.content), _flatten(right.content)
    rows = [
        {"field": key, "old": flat_a.get(key), "new": flat_b.get(key)}
        for key in sorted(set(flat_a) | set(flat_b))
        if flat_a.get(key) != flat_b.get(key)
    ]
    template = "ccb/partials/diff.html" if request.headers.get("HX-Request") else "ccb/revision_diff.html"
    return render(
        request,
        template,
        {"nav": "changes", "change": change, "left": left, "right": right, "rows": rows, "numbers": numbers},
    )


def agenda_item_context(request: HttpRequest, change: ChangeRequest) -> dict:
    revision = change.current_revision
    return {
        "change": change,
        "can": abilities(request.user, change),
        "tally": selectors.tally(change=change),
        "votes": change.votes.filter(revision=revision).select_related("voter"),
        "vote_form": VoteForm(initial={"revision_hash": revision.content_hash}),
        "decide_form": DecideForm(),
    }


@login_required
def agenda(request: HttpRequest, slug: str) -> HttpResponse:
    board = selectors.agenda_board(user=request.user, slug=slug)
    changes = (
        ChangeRequest.objects.filter(board=board, status__in=REVIEW_STATES)
        .select_related("board", "requester", "implementer", "current_revision")
        .prefetch_related("services")
        .order_by("submitted_at")
    )
    decided = (
        ChangeRequest.objects.filter(board=board, decided_at__isnull=False)
        .select_related("requester")
        .order_by("-decided_at")[:10]
    )
    items = [agenda_item_context(request, change) for change in changes]
    return render(request, "ccb/agenda.html", {"nav": "agenda", "board": board, "items": items, "decided": decided})


@login_required
def audit_trail(request: HttpRequest) -> HttpResponse:
    errors: dict[str, list[str]] = {}
    try:
        rows = selectors.audit_event_list(user=request.user, filters=request.GET)
    except PolicyViolation as exc:
        return refused(request, exc)
    except PacketInvalid as exc:  # the trail unfiltered, the form naming each bad filter
        rows, errors = selectors.audit_event_list(user=request.user), exc.errors
    form = AuditFilterForm(request.GET or None)
    for name, messages in errors.items():
        form.add_error(name if name in form.fields else None, messages)
    page = Paginator(rows.order_by("-seq"), 50).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    head = AuditEvent.objects.order_by("-seq").values("seq", "hash", "at").first()
    return render(
        request,
        "ccb/audit.html",
        {"nav": "audit", "form": form, "page": page, "head": head, "querystring": params.urlencode()},
        status=400 if errors else 200,
    )


@login_required
def audit_verify(request: HttpRequest) -> HttpResponse:
    try:
        selectors.audit_event_list(user=request.user)
    except PolicyViolation as exc:
        return refused(request, exc)
    return render(request, "ccb/partials/chain_state.html", {"result": audit.verify()})
