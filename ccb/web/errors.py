"""ccb's own 403 and 404 pages (500 is Django's view with templates/500.html, which needs no database).

An htmx request gets the message alone, placed before the element that asked, so a person sees the
answer where they acted.
"""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

MESSAGES = {
    403: "You may not do that here.",
    404: "There is nothing at this address, or it is not shown to you.",
}


def _answer(request: HttpRequest, status: int, template: str, exception: Exception | None) -> HttpResponse:
    detail = exception.args[0] if exception is not None and exception.args else ""
    message = detail if isinstance(detail, str) and detail else MESSAGES[status]
    if request.headers.get("HX-Request"):
        response = render(request, "ccb/partials/problem.html", {"message": message}, status=status)
        response["HX-Reswap"] = "beforebegin"
        return response
    return render(request, template, {"message": message, "request_path": request.path}, status=status)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _answer(request, 404, "404.html", exception)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _answer(request, 403, "403.html", exception)
