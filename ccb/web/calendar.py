"""The change calendar (month and week), managing windows and freezes, the feed address, and scheduling."""

import calendar as cal
from datetime import date, datetime, time, timedelta

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from ccb import inputs, policies, scheduling, selectors, services
from ccb.choices import Environment
from ccb.exceptions import CCBError, PacketInvalid, PolicyViolation
from ccb.models import Board, Service
from ccb.web.helpers import attempt, change_for, refused

KIND_ORDER = {"freeze": 0, "window": 1, "change": 2}


class WindowForm(forms.Form):
    service = forms.ModelChoiceField(queryset=Service.objects.select_related("board"))
    environment = forms.ChoiceField(choices=Environment.choices)
    name = forms.CharField(max_length=120)
    time_zone = forms.CharField(max_length=64, initial="Europe/Berlin", help_text="IANA zone, e.g. Europe/Berlin.")
    dtstart = inputs.DateTimeField(
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}), label="First start (local to the zone)"
    )
    duration_minutes = forms.IntegerField(min_value=1, label="Length (minutes)")
    rrule = forms.CharField(
        max_length=500,
        required=False,
        label="Recurrence (RFC 5545 RRULE)",
        help_text="e.g. FREQ=WEEKLY;BYDAY=TU,TH. Blank for a one-off window.",
    )


class FreezeForm(forms.Form):
    name = forms.CharField(max_length=120)
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))
    board = forms.ModelChoiceField(queryset=Board.objects.all(), required=False, empty_label="Every board")
    start = inputs.DateTimeField(widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    end = inputs.DateTimeField(widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))


def _range(view: str, anchor: date) -> tuple[date, date]:
    if view == "week":
        first = anchor - timedelta(days=anchor.weekday())
        return first, first + timedelta(days=7)
    first = anchor.replace(day=1)
    first -= timedelta(days=first.weekday())
    last_of_month = anchor.replace(day=cal.monthrange(anchor.year, anchor.month)[1])
    return first, last_of_month + timedelta(days=7 - last_of_month.weekday())


def _entries(user, start: datetime, end: datetime, filters: dict) -> list[dict]:
    windows = selectors.calendar_windows(user=user).select_related("service__board")
    changes = selectors.calendar_changes(user=user, since=start).filter(planned_start__lt=end)
    freezes = selectors.calendar_freezes(user=user, since=start).filter(start__lt=end)
    if filters.get("service"):
        windows = windows.filter(service__slug=filters["service"])
        changes = changes.filter(services__slug=filters["service"])
        freezes = freezes.filter(services__slug=filters["service"]) | freezes.filter(services__isnull=True)
    if filters.get("board"):
        windows = windows.filter(service__board__slug=filters["board"])
        changes = changes.filter(board__slug=filters["board"])
        freezes = freezes.filter(board__slug=filters["board"]) | freezes.filter(board__isnull=True)
    if filters.get("environment"):
        windows = windows.filter(environment=filters["environment"])
        changes = changes.filter(environment=filters["environment"])
    entries = [
        {"kind": "freeze", "start": f.start, "end": f.end, "label": f"Freeze: {f.name}", "detail": f.reason}
        for f in freezes.distinct()
    ]
    for window in windows:
        entries += [
            {
                "kind": "window",
                "start": s,
                "end": e,
                "label": f"{window.service.name}: {window.name}",
                "detail": f"{window.get_environment_display()} · {window.time_zone}",
            }
            for s, e in window.occurrences(start, end)
        ]
    entries += [
        {
            "kind": "change",
            "start": c.planned_start,
            "end": c.planned_end,
            "label": f"{c.reference} {c.title}",
            "detail": c.get_status_display(),
            "url": reverse("web:change-detail", args=[c.pk]),
            "flagged": bool(c.schedule_problems),
        }
        for c in changes.distinct()
    ]
    return sorted(entries, key=lambda e: (e["start"], KIND_ORDER[e["kind"]]))


def _summarise_windows(entries: list[dict]) -> list[dict]:
    """A month shows a day's windows as one line (the week view and a service filter show each)."""
    windows = [e for e in entries if e["kind"] == "window"]
    if len(windows) < 2:
        return entries
    summary = {
        "kind": "window",
        "start": min(e["start"] for e in windows),
        "end": max(e["end"] for e in windows),
        "label": f"{len(windows)} maintenance windows",
        "detail": "; ".join(e["label"] for e in windows),
    }
    return sorted(
        [e for e in entries if e["kind"] != "window"] + [summary], key=lambda e: (e["start"], KIND_ORDER[e["kind"]])
    )


def _part_of_day(entry: dict, day_start: datetime, day_end: datetime, tz) -> str:
    """The part of an entry that falls on one day, in the viewer's zone: an overnight window shows
    "from 23:00" on its first day and "until 03:00" on the next, a longer freeze "all day" between."""
    ends_after = entry["end"] >= day_end
    start, end = entry["start"].astimezone(tz), entry["end"].astimezone(tz)
    if entry["start"] <= day_start and ends_after:
        return "all day"
    if entry["start"] < day_start:
        return f"until {end:%H:%M}"
    if ends_after:
        return f"from {start:%H:%M}"
    return f"{start:%H:%M}–{end:%H:%M}"


@login_required
def calendar_view(request: HttpRequest) -> HttpResponse:
    view = "week" if request.GET.get("view") == "week" else "month"
    tz = timezone.get_current_timezone()
    try:
        anchor = date.fromisoformat(request.GET.get("date", ""))
    except ValueError:
        anchor = timezone.localdate()
    first, after = _range(view, anchor)
    start = datetime.combine(first, time.min, tz)
    end = datetime.combine(after, time.min, tz)
    filters = {k: request.GET.get(k, "") for k in ("service", "board", "environment")}
    entries = _entries(request.user, start, end, filters)
    days = []
    day = first
    while day < after:
        day_start = datetime.combine(day, time.min, tz)
        day_end = datetime.combine(day + timedelta(days=1), time.min, tz)
        todays = [e for e in entries if e["start"] < day_end and e["end"] > day_start]
        if view == "month" and not filters["service"]:
            todays = _summarise_windows(todays)
        todays = [{**e, "when": _part_of_day(e, day_start, day_end, tz)} for e in todays]
        days.append(
            {
                "date": day,
                "in_month": view == "week" or day.month == anchor.month,
                "today": day == timezone.localdate(),
                "entries": todays,
            }
        )
        day += timedelta(days=1)
    step = timedelta(days=7) if view == "week" else None
    prev_date = anchor - step if step else (anchor.replace(day=1) - timedelta(days=1)).replace(day=1)
    next_date = anchor + step if step else (anchor.replace(day=28) + timedelta(days=4)).replace(day=1)
    params = "&".join(f"{k}={v}" for k, v in filters.items() if v)
    token = selectors.calendar_token_get(user=request.user)
    return render(
        request,
        "ccb/calendar.html",
        {
            "nav": "calendar",
            "view": view,
            "anchor": anchor,
            "weeks": [days[i : i + 7] for i in range(0, len(days), 7)],
            "prev": prev_date,
            "next": next_date,
            "filters": filters,
            "params": params,
            "services": Service.objects.all(),
            "boards": Board.objects.all(),
            "environments": Environment.choices,
            "feed_url": request.build_absolute_uri(reverse("calendar-feed", args=[token.key])) if token else "",
            "can_manage": bool(selectors.boards_managing_windows(user=request.user)),
            "tz": tz,
        },
    )


@login_required
@require_POST
def calendar_feed_token(request: HttpRequest) -> HttpResponse:
    if request.POST.get("action") == "revoke":
        services.calendar_token_revoke(actor=request.user)
        messages.success(request, "Your calendar feed address is revoked: calendar apps can no longer read it.")
    else:
        services.calendar_token_rotate(actor=request.user)
        messages.success(request, "Your calendar has a new secret address; the old one stops working.")
    return redirect("web:calendar")


def _may_manage(user, board) -> bool:
    try:
        policies.assert_can_manage_windows(actor=user, board=board)
        return True
    except PolicyViolation:
        return False


def _offer_only_managed(user, managed, window_form, freeze_form) -> None:
    """The forms offer the services and boards this person manages; "every board" only to admins."""
    if not managed:  # nothing is offered; a forged post is refused by the service with its rule
        return
    window_form.fields["service"].queryset = Service.objects.select_related("board").filter(board__in=managed)
    freeze_form.fields["board"].queryset = Board.objects.filter(pk__in=[b.pk for b in managed])
    if not _may_manage(user, None):
        freeze_form.fields["board"].required = True
        freeze_form.fields["board"].empty_label = None


@login_required
def windows_page(request: HttpRequest) -> HttpResponse:
    managed = selectors.boards_managing_windows(user=request.user)
    window_form, freeze_form = WindowForm(prefix="w"), FreezeForm(prefix="f")
    if request.method == "POST":
        kind = request.POST.get("kind")
        window_form = WindowForm(request.POST, prefix="w") if kind == "window" else window_form
        freeze_form = FreezeForm(request.POST, prefix="f") if kind != "window" else freeze_form
        _offer_only_managed(request.user, managed, window_form, freeze_form)
        form = window_form if kind == "window" else freeze_form
        if form.is_valid():
            data = dict(form.cleaned_data)
            if kind == "window":  # the time typed is a wall-clock time in the window's own zone
                data["dtstart"] = timezone.make_naive(data["dtstart"])
            try:
                if kind == "window":
                    services.maintenance_window_save(actor=request.user, data=data)
                else:
                    services.freeze_save(actor=request.user, data=data)
                messages.success(request, "Saved. Booked changes were checked against it again.")
                return redirect("web:windows")
            except PolicyViolation as exc:
                return refused(request, exc)
            except PacketInvalid as exc:
                for field, msgs in exc.errors.items():
                    for message in msgs:
                        form.add_error(field if field in form.fields else None, message)
            except CCBError as exc:
                form.add_error(None, exc.message)
    else:
        _offer_only_managed(request.user, managed, window_form, freeze_form)
    windows = list(selectors.maintenance_window_list(user=request.user).filter(active=True))
    freezes = list(selectors.freeze_list(user=request.user).filter(active=True, end__gte=timezone.now()))
    for item in windows:
        item.can_deactivate = item.service.board in managed
    for item in freezes:
        item.can_deactivate = item.board in managed if item.board_id else _may_manage(request.user, None)
    return render(
        request,
        "ccb/windows.html",
        {
            "nav": "calendar",
            "window_form": window_form,
            "freeze_form": freeze_form,
            "windows": windows,
            "freezes": freezes,
            "can_manage": bool(managed),
        },
    )


@login_required
@require_POST
def windows_deactivate(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    back = reverse("web:windows")
    if kind == "window":
        window = selectors.maintenance_window_get(user=request.user, pk=pk)
        _, response = attempt(
            request, services.maintenance_window_deactivate, back, actor=request.user, window_id=window.pk
        )
    else:
        freeze = selectors.freeze_get(user=request.user, pk=pk)
        _, response = attempt(request, services.freeze_deactivate, back, actor=request.user, freeze_id=freeze.pk)
    if response is not None:
        return response
    messages.success(request, "Deactivated. Booked changes were checked again.")
    return redirect(back)


@login_required
@require_POST
def change_schedule(request: HttpRequest, pk: int) -> HttpResponse:
    change = change_for(request, pk)
    back = reverse("web:change-detail", args=[change.pk])
    try:
        start = inputs.DateTimeField().clean(request.POST.get("planned_start"))
    except forms.ValidationError:
        messages.error(request, "Give the planned start as a date and time.")
        return redirect(back)
    _, response = attempt(
        request,
        services.change_request_schedule,
        back,
        change_id=change.pk,
        actor=request.user,
        planned_start=start,
        override_reason=request.POST.get("override_reason", ""),
    )
    if response is not None:
        return response
    messages.success(request, "Scheduled. The requester and implementer get a calendar invite.")
    return redirect(back)


def free_slots(change, count=5):
    try:
        return scheduling.free_slots(change, count=count)
    except CCBError:
        return []
