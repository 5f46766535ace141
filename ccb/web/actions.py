"""Forms people submit. Each calls one service; refusals answer 403 with the rule, like the API."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from ccb import inputs, risk, services
from ccb.exceptions import CCBError, PacketInvalid, PolicyViolation
from ccb.models import Service
from ccb.web.forms import DecideForm, PacketForm, VoteForm
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
        {"nav": "changes", "form": form, "change": change, "questions": risk.QUESTIONS},
        status=status,
    )


@login_required
def change_create(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _packet_page(request, PacketForm(initial={"board": request.GET.get("board")}))
    form = PacketForm(request.POST, request.FILES)
    if not form.is_valid():
        return _packet_page(request, form, status=400)
    data = form.packet()
    try:
        change = services.change_request_create(actor=request.user, board=form.cleaned_data["board"], data=data)
    except PolicyViolation as exc:
        return refused(request, exc)
    except PacketInvalid as exc:
        form.add_service_errors(exc.errors)
        return _packet_page(request, form, status=400)
    if not _save_report(request, form, change):
        messages.error(request, "The draft is saved, but the report was not attached: see below.")
        return _packet_page(request, form, change=change, status=400)
    messages.success(request, f"Draft {change.reference} saved.")
    return redirect("web:change-detail", pk=change.pk)


@login_required
def change_edit(request: HttpRequest, pk: int) -> HttpResponse:
    change = change_for(request, pk)
    if request.method != "POST":
        return _packet_page(request, PacketForm(initial=PacketForm.initial_from(change), editing=True), change)
    form = PacketForm(request.POST, request.FILES, editing=True)
    if not form.is_valid():
        return _packet_page(request, form, change, status=400)
    try:
        services.change_request_update(change_id=change.pk, actor=request.user, data=form.packet())
    except PolicyViolation as exc:
        return refused(request, exc)
    except PacketInvalid as exc:
        form.add_service_errors(exc.errors)
        return _packet_page(request, form, change, status=400)
    except CCBError as exc:
        messages.error(request, exc.message)
        return redirect("web:change-detail", pk=change.pk)
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


def _transition(request, pk, func, done: str, **kwargs) -> HttpResponse:
    change = change_for(request, pk)
    back = reverse("web:change-detail", args=[change.pk])
    result, response = attempt(request, func, back, change_id=change.pk, actor=request.user, **kwargs)
    if response is not None:
        return response
    messages.success(request, done)
    return redirect(back)


@login_required
@require_POST
def change_submit(request, pk):
    return _transition(request, pk, services.change_request_submit, "Submitted to the board.")


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


def _board_panel(request, change, error: str = "", status: int = 200):
    """After a vote or decision: the agenda card in place (htmx), or back to the change page."""
    if request.headers.get("HX-Request"):
        change = change_for(request, change.pk)
        context = {**agenda_item_context(request, change), "error": error}
        return render(request, "ccb/partials/agenda_item.html", context, status=status)
    if error:
        messages.error(request, error)
    return redirect("web:change-detail", pk=change.pk)


def _board_action(request, change, func, **kwargs):
    """Run a vote or decision and answer with the refreshed card (or page), errors shown in place."""
    try:
        func(change_id=change.pk, **kwargs)
    except PolicyViolation as exc:
        return refused(request, exc)
    except PacketInvalid as exc:
        return _board_panel(request, change, " ".join(m for msgs in exc.errors.values() for m in msgs), 400)
    except CCBError as exc:
        return _board_panel(request, change, exc.message, 409)
    return _board_panel(request, change)


@login_required
@require_POST
def change_vote(request, pk):
    change = change_for(request, pk)
    form = VoteForm(request.POST)
    if not form.is_valid():
        return _board_panel(request, change, "Choose approve, reject or abstain.", 400)
    data = form.cleaned_data
    return _board_action(
        request,
        change,
        services.vote_cast,
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
        actor=request.user,
        outcome=data["outcome"],
        rationale=data["rationale"],
        conditions=conditions,
    )


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
        {"level": level, "answered": len(answers), "total": len(risk.QUESTIONS)},
    )
