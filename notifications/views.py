"""One-click unsubscribe and the preferences page. A signed link is the credential: people without
an account use them too, and nobody has to sign in to stop mail."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from . import selectors, services, tokens
from .events import Event
from .forms import PreferenceForm
from .tokens import Person


def _invalid(request: HttpRequest) -> HttpResponse:
    return render(request, "notifications/link_invalid.html", status=400)


# Mail clients honouring RFC 8058 POST "List-Unsubscribe=One-Click" to the link with no CSRF token
# and no session; the signed token is what authorises the request. GET only asks, because link
# scanners and previews fetch every URL in a message.
@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    try:
        person, event = tokens.read_unsubscribe(token)
    except signing.BadSignature:
        return _invalid(request)
    context = {
        "person": person,
        "event": event,
        "event_label": _label(event),
        "preferences_url": tokens.preferences_url(person),
    }
    if request.method == "POST":
        everything = request.POST.get("scope") == "all"
        services.unsubscribe(token=token, everything=everything)
        return render(request, "notifications/unsubscribed.html", {**context, "everything": everything})
    return render(request, "notifications/unsubscribe_confirm.html", context)


@never_cache
@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest, token: str) -> HttpResponse:
    try:
        person = tokens.read_preferences(token)
    except signing.BadSignature:
        return _invalid(request)
    if request.method == "POST" and request.POST.get("unfollow"):
        return _unfollow(request, person, request.POST["unfollow"])
    preference = selectors.preference_get(person=person)
    has_account = person.user_id is not None
    if request.method == "POST":
        form = PreferenceForm(request.POST, has_account=has_account)
        if form.is_valid():
            services.preference_save(
                person=person,
                muted_events=form.muted_events,
                all_off=form.cleaned_data["all_off"],
                digest=form.cleaned_data.get("digest"),
            )
            messages.success(request, "Saved. ccb will send you only what you chose.")
            return redirect(request.path)
    else:
        chosen = [value for value, _ in form_choices() if value not in preference.muted_events]
        form = PreferenceForm(
            initial={"events": chosen, "digest": preference.digest, "all_off": preference.all_off},
            has_account=has_account,
        )
    return render(
        request,
        "notifications/preferences.html",
        {
            "form": form,
            "person": person,
            "subscriptions": selectors.subscription_list(person=person),
        },
    )


@login_required
@require_GET
def my_preferences(request: HttpRequest) -> HttpResponse:
    token = tokens.preferences_token(Person(user_id=request.user.pk, email=""))
    return redirect("notifications:preferences", token=token)


def _unfollow(request: HttpRequest, person: Person, subscription_id: str) -> HttpResponse:
    mine = selectors.subscription_list(person=person).filter(
        pk=subscription_id if subscription_id.isascii() and subscription_id.isdigit() else 0
    )
    subscription = mine.first()
    if subscription is not None:
        services.subscription_delete(subscription_id=subscription.pk)
        messages.success(request, f"You no longer follow {_target(subscription)}.")
    return redirect(request.path)


def form_choices():
    return PreferenceForm.base_fields["events"].choices


def _label(event: str) -> str:
    return Event(event).label if event in Event.values else event


def _target(subscription) -> str:
    return str(subscription.service or subscription.board or subscription.change)
