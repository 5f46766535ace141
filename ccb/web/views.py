"""Pages people read: the dashboard, lists, the change page, revision diffs, the agenda, the trail."""

import json
from types import SimpleNamespace

from csp.decorators import csp_update
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponsePermanentRedirect
from django.shortcuts import render
from django.templatetags.static import static
from django.utils import timezone
from django.utils.decorators import method_decorator
from drf_spectacular.views import SpectacularSwaggerSplitView

from ccb import audit, execution, risk, selectors
from ccb.choices import REVIEW_STATES, ChangeType, DecisionOutcome, Status
from ccb.exceptions import PacketInvalid, PolicyViolation
from ccb.models import AuditEvent, Board, ChangeRequest
from ccb.web import words
from ccb.web.calendar import free_slots
from ccb.web.forms import AuditFilterForm, DecideForm, VoteForm
from ccb.web.helpers import abilities, change_for, refused
from ccb.web.templatetags import risk_assessed

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


def _timeline(change: ChangeRequest):
    events = AuditEvent.objects.filter(target_type="ccb.changerequest", target_id=str(change.pk)).order_by("seq")
    return [
        {"event": e, **words.timeline_entry(e.action, e.actor_name, json.loads(e.data) if e.data else {})}
        for e in events
    ]


def _answer(key: str, value: str | None) -> str:
    return value.replace("_", " ").capitalize() if value else "Not answered"


def decide_form_for(change: ChangeRequest) -> DecideForm:
    """The chair's form, carrying the conditions members attached to their approvals."""
    proposed = selectors.proposed_conditions(change=change)
    if not proposed:
        return DecideForm()
    return DecideForm(initial={"outcome": DecisionOutcome.APPROVED_WITH_CONDITIONS, "conditions": "\n".join(proposed)})


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
        "decisions": change.decisions.select_related("decided_by", "revision").prefetch_related(
            "conditions__satisfied_by"
        ),
        "attachments": change.attachments.select_related("uploaded_by"),
        "timeline": _timeline(change),
        "risk_assessed": risk_assessed(change),
        "risk_rows": [(q["label"], _answer(key, change.risk_answers.get(key))) for key, q in risk.QUESTIONS.items()],
        "missing": words.criteria_rows(selectors.entry_criteria(change=change))
        if change.status == Status.DRAFT
        else [],
        "issue_links": [link for link in change.open_issue_links if str(link).startswith(("https://", "http://"))],
        "other_links": [link for link in change.open_issue_links if not str(link).startswith(("https://", "http://"))],
        "tally": selectors.tally(change=change) if change.status in REVIEW_STATES else None,
        "vote_form": VoteForm(initial={"revision_hash": revision.content_hash}) if revision else None,
        "decide_form": decide_form_for(change),
        "slots": free_slots(change) if can["schedule"] else [],
        "runbook": execution.runbook_of(change=change),
        "deployment": execution.deployment_of(change=change),
    }
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
        "decide_form": decide_form_for(change),
        "decision": change.decisions.order_by("-decided_at").prefetch_related("conditions").first()
        if change.status not in REVIEW_STATES
        else None,
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


@login_required
def audit_event(request: HttpRequest, seq: int) -> HttpResponse:
    """One event of the chain: its fields, its data, and the hashes that link it to the one before."""
    try:
        event = selectors.audit_event_list(user=request.user).filter(seq=seq).first()
    except PolicyViolation as exc:
        return refused(request, exc)
    if event is None:
        raise Http404("No audit event with that number.")
    try:
        data = json.dumps(json.loads(event.data), indent=2, sort_keys=True, ensure_ascii=False)
    except (TypeError, ValueError):
        data = event.data
    neighbours = AuditEvent.objects.filter(seq__in=[seq - 1, seq + 1]).values_list("seq", flat=True)
    return render(
        request,
        "ccb/audit_event.html",
        {
            "nav": "audit",
            "event": event,
            "label": words.action_label(event.action),
            "target_label": words.TARGET_LABELS.get(event.target_type, event.target_type),
            "data": data,
            "previous": seq - 1 if seq - 1 in neighbours else None,
            "next": seq + 1 if seq + 1 in neighbours else None,
        },
    )


def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers that ask for /favicon.ico (the admin's pages link none) get ccb's icon."""
    return HttpResponsePermanentRedirect(static("ccb/favicon.svg"))


@method_decorator(csp_update({"img-src": ["data:"]}), name="dispatch")  # Swagger UI's icons are data: URLs
class ApiDocsView(SpectacularSwaggerSplitView):
    """Swagger UI with its start-up script served as a file (no inline script) under ccb's header."""

    template_name = "ccb/api_docs.html"
