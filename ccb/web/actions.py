"""Forms people submit. Each calls one service; refusals answer 403 with the rule, like the API."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from ccb import inputs, policies, risk, selectors, services
from ccb.choices import REVIEW_STATES
from ccb.exceptions import CCBError, PacketInvalid, PolicyViolation
from ccb.models import Board, Service
from ccb.services.base import record_refusal
from ccb.web.forms import ConditionForm, DecideForm, PacketForm, VoteForm
from ccb.web.helpers import attempt, change_for, refused
from ccb.web.views import agenda_item_context


def _save_report(request, form, change) -> bool:
    upload = form.cleaned_data.get("report_file")
    if not upload:
        return True
    try:
        services.attachment_add(
            change_id=change.pk,
            actor=request.user,
            upload=upload,
            kind="validation_report",
            signed_by=form.cleaned_data.get("report_signed_by") or "",
            signed_on=form.cleaned_data.get("report_signed_on"),
        )
        return True
    except PacketInvalid as exc:
        form.add_service_errors(exc.errors)
        return False


def _packet_page(request, form, change=None, status=200):
    return render(
        request,
        "ccb/change_form.html",
        {
            "nav": "changes",
            "form": form,
            "change": change,
            "questions": risk.QUESTIONS,
            "board_chosen": change is not None or form.chosen_board() is not None,
            "risk_answered": sum(1 for key in risk.QUESTIONS if form[f"risk_{key}"].value()),
        },
        status=status,
    )


# Where a refusal by a rule belongs on the packet form.
RULE_FIELDS = {
    "implementer_needs_role": "implementer",
    "implementer_not_requester": "implementer",
    "implementer_not_approver": "implementer",
    "auditor_read_only": "board",
}


def _refused_on_form(request, form, exc: PolicyViolation, change=None) -> HttpResponse:
    """A refusal keeps the form and everything typed in it: the rule's message next to its field, 403."""
    record_refusal(exc, path=request.path)
    field = RULE_FIELDS.get(exc.rule)
    form.add_error(field if field in form.fields else None, f"{exc.message} (rule: {exc.rule})")
    return _packet_page(request, form, change, status=403)


def _refusal_to_file(request) -> HttpResponse | None:
    """Read-only people (auditors) get the rule, not a form they cannot send."""
    if selectors.boards_for_filing(user=request.user):
        return None
    board = Board.objects.first()
    if board is None:
        return None
    try:
        policies.assert_not_read_only(actor=request.user, board=board)
    except PolicyViolation as exc:
        return refused(request, exc)
    return None


@login_required
def change_create(request: HttpRequest) -> HttpResponse:
    refusal = _refusal_to_file(request)
    if refusal is not None:
        return refusal
    if request.method != "POST":
        initial = {"board": request.GET["board"]} if request.GET.get("board", "").isdigit() else {}
        return _packet_page(request, PacketForm(initial=initial, actor=request.user))
    form = PacketForm(request.POST, request.FILES, actor=request.user)
    if not form.is_valid():
        return _packet_page(request, form, status=400)
    data = form.packet()
    try:
        change = services.change_request_create(actor=request.user, board=form.cleaned_data["board"], data=data)
    except PolicyViolation as exc:
        return _refused_on_form(request, form, exc)
    except PacketInvalid as exc:
        form.add_service_errors(exc.errors)
        return _packet_page(request, form, status=400)
    if not _save_report(request, form, change):
        messages.error(request, "The draft is saved, but the report was not attached: see below.")
        return _packet_page(request, form, change=change, status=400)
    messages.success(request, f"Draft {change.reference} saved.")
    return redirect("web:change-detail", pk=change.pk)


@login_required
def packet_board_choices(request: HttpRequest) -> HttpResponse:
    """The implementer and runbook choices for the board just chosen on the packet form (htmx)."""
    initial = {k: request.GET.get(k) for k in ("board", "implementer", "runbook_version") if request.GET.get(k)}
    form = PacketForm(initial=initial, actor=request.user)
    return render(
        request,
        "ccb/partials/board_choices.html",
        {"form": form, "board_chosen": form.chosen_board() is not None},
    )


@login_required
def change_edit(request: HttpRequest, pk: int) -> HttpResponse:
    change = change_for(request, pk)
    if request.method != "POST":
        form = PacketForm(initial=PacketForm.initial_from(change), editing=True, change=change, actor=request.user)
        return _packet_page(request, form, change)
    form = PacketForm(request.POST, request.FILES, editing=True, change=change, actor=request.user)
    if not form.is_valid():
        return _packet_page(request, form, change, status=400)
    try:
        services.change_request_update(change_id=change.pk, actor=request.user, data=form.packet())
    except PolicyViolation as exc:
        return _refused_on_form(request, form, exc, change)
    except PacketInvalid as exc:
        form.add_service_errors(exc.errors)
        return _packet_page(request, form, change, status=400)
    except CCBError as exc:
        form.add_error(None, exc.message)
        return _packet_page(request, form, change, status=exc.status_code)
    if not _save_report(request, form, change):
        return _packet_page(request, form, change, status=400)
    messages.success(
        request,
        "Changes saved."
        + (
            " A new revision was made; earlier votes no longer count."
            if change.status in ("submitted", "in_review")
            else ""
        ),
    )
    return redirect("web:change-detail", pk=change.pk)


def _transition(request, pk, func, done: str, invalid: str = "", **kwargs) -> HttpResponse:
    change = change_for(request, pk)
    back = reverse("web:change-detail", args=[change.pk])
    result, response = attempt(request, func, back, invalid=invalid, change_id=change.pk, actor=request.user, **kwargs)
    if response is not None:
        return response
    messages.success(request, done)
    return redirect(back)


@login_required
@require_POST
def change_submit(request, pk):
    return _transition(
        request,
        pk,
        services.change_request_submit,
        "Submitted to the board.",
        invalid="Not submitted yet: the packet misses {count} entry criteri{plural}, listed under “Before you submit”.",
    )


@login_required
@require_POST
def change_withdraw(request, pk):
    return _transition(
        request, pk, services.change_request_withdraw, "Withdrawn.", reason=request.POST.get("reason", "")
    )


@login_required
@require_POST
def change_revise(request, pk):
    return _transition(request, pk, services.change_request_revise, "Back in draft: revise and resubmit.")


@login_required
@require_POST
def change_attach(request, pk):
    change = change_for(request, pk)
    back = reverse("web:change-detail", args=[change.pk])
    upload = request.FILES.get("file")
    if upload is None:
        messages.error(request, "Choose a file to attach.")
        return redirect(back)
    _, response = attempt(
        request,
        services.attachment_add,
        back,
        change_id=change.pk,
        actor=request.user,
        upload=upload,
        kind=request.POST.get("kind", "evidence"),
        signed_by=request.POST.get("signed_by", ""),
        signed_on=request.POST.get("signed_on") or None,
    )
    if response is not None:
        return response
    messages.success(request, f"Attached {upload.name}.")
    return redirect(back)


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _board_panel(request, change, error: str = "", status: int = 200, notice: str = ""):
    """After a vote or decision: the agenda card in place (htmx), or back to the change page."""
    if request.headers.get("HX-Request"):
        change = change_for(request, change.pk)
        context = {**agenda_item_context(request, change), "error": error, "notice": notice}
        if error:  # what the person sent stays in the form, next to the answer
            kind = "vote" if request.path.rstrip("/").endswith("vote") else "decide"
            context["posted"] = {"kind": kind, **request.POST.dict()}
        return render(request, "ccb/partials/agenda_item.html", context, status=status)
    if error:
        messages.error(request, error)
    elif notice:
        messages.success(request, notice)
    return redirect("web:change-detail", pk=change.pk)


def _board_action(request, change, func, done, **kwargs):
    """Run a vote or decision and answer with the refreshed card (or page), errors shown in place."""
    try:
        result = func(change_id=change.pk, **kwargs)
    except PolicyViolation as exc:
        if not request.headers.get("HX-Request"):
            return refused(request, exc)
        record_refusal(exc, path=request.path)
        return _board_panel(request, change, f"{exc.message} (rule: {exc.rule})", 403)
    except PacketInvalid as exc:
        return _board_panel(request, change, " ".join(m for msgs in exc.errors.values() for m in msgs), 400)
    except CCBError as exc:
        return _board_panel(request, change, exc.message, exc.status_code)
    return _board_panel(request, change, notice=done(result))


def _decided(change) -> str:
    """What the board decided, in a sentence, once a vote or the chair settled it."""
    change.refresh_from_db()
    decision = change.decisions.order_by("-decided_at").prefetch_related("conditions").first()
    if decision is None or change.status in REVIEW_STATES:
        return ""
    conditions = [c.text for c in decision.conditions.all()]
    return f"Decided: {decision.get_outcome_display()}." + (
        f" Conditions: {'; '.join(conditions)}." if conditions else ""
    )


@login_required
@require_POST
def change_vote(request, pk):
    change = change_for(request, pk)
    form = VoteForm(request.POST)
    if not form.is_valid():
        return _board_panel(request, change, "Choose approve, reject or abstain.", 400)
    data = form.cleaned_data

    def done(vote):
        return " ".join(filter(None, [f"Your vote is recorded: {vote.get_decision_display()}.", _decided(change)]))

    return _board_action(
        request,
        change,
        services.vote_cast,
        done,
        voter=request.user,
        decision=data["decision"],
        comment=data["comment"],
        conditions=_lines(data["conditions"]),
        revision_hash=data["revision_hash"],
    )


@login_required
@require_POST
def change_decide(request, pk):
    change = change_for(request, pk)
    form = DecideForm(request.POST)
    if not form.is_valid():
        return _board_panel(request, change, "Choose an outcome and record the rationale.", 400)
    data = form.cleaned_data
    conditions = [{"text": text, "kind": "manual"} for text in _lines(data["conditions"])]
    return _board_action(
        request,
        change,
        services.change_request_decide,
        lambda decision: f"You recorded the decision. {_decided(change)}",
        actor=request.user,
        outcome=data["outcome"],
        rationale=data["rationale"],
        conditions=conditions,
    )


@login_required
@require_POST
def condition_satisfy(request, pk, cid):
    change = change_for(request, pk)
    condition = selectors.condition_get(user=request.user, change=change, pk=cid)
    back = reverse("web:change-detail", args=[change.pk]) + f"#condition-{condition.pk}"
    form = ConditionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say how the condition was met (a link or a note).")
        return redirect(back)
    _, response = attempt(
        request,
        services.condition_satisfy,
        back,
        condition_id=condition.pk,
        actor=request.user,
        evidence=form.cleaned_data["evidence"],
    )
    if response is not None:
        return response
    messages.success(request, f"Condition met: “{condition.text}”. The evidence is on record.")
    return redirect(back)


@login_required
@require_POST
def risk_preview(request):
    """The level the questionnaire gives so far, shown as the requester answers."""
    answers = {k: request.POST.get(f"risk_{k}") for k in risk.QUESTIONS if request.POST.get(f"risk_{k}")}
    ids = [i for i in request.POST.getlist("services") if inputs.parse_id(i) is not None]
    tiers = Service.objects.filter(pk__in=ids).values_list("criticality", flat=True)
    level = risk.compute_level(answers, tiers)
    return render(
        request,
        "ccb/partials/risk_level.html",
        {"level": level, "answered": len(answers), "total": len(risk.QUESTIONS), "live": True},
    )
