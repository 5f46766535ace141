from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from ccb import selectors
from ccb.choices import Status


@login_required
def home(request: HttpRequest) -> HttpResponse:
    changes = selectors.change_request_list(user=request.user)
    context = {
        "mine": changes.filter(requester=request.user)[:10],
        "awaiting": changes.filter(status__in=[Status.SUBMITTED, Status.IN_REVIEW]).exclude(
            requester=request.user)[:10],
        "boards": selectors.boards_with_role(user=request.user).prefetch_related("memberships__user"),
    }
    return render(request, "ccb/home.html", context)


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"ok": True})
