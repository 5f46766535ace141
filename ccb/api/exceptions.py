"""One place that turns errors into HTTP answers a person can act on.

``exception_handler`` serves the API's views. ``bad_request``, ``not_found`` and ``server_error`` are the
project's handler400/404/500: on API paths they answer JSON in the API's error shape (a request can fail
before any API view runs: a body too large, a URL that matches no route, NUL in a query string), and
elsewhere Django's pages.
"""

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist, RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from ccb import inputs
from ccb.exceptions import CCBError, IllegalTransition, PacketInvalid, PolicyViolation
from ccb.services.base import record_refusal


def _too_large() -> dict[str, str]:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return {"detail": f"The request body is larger than the {limit:,}-byte limit (files upload as multipart)."}


def _request_refused(exc: Exception) -> tuple[dict, int] | None:
    """The answer to a request Django or ccb refused before reading it, or None."""
    if isinstance(exc, RequestDataTooBig):
        return _too_large(), status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    if isinstance(exc, TooManyFieldsSent | TooManyFilesSent):
        return {"detail": f"The request has too many fields or files: {exc}"}, status.HTTP_400_BAD_REQUEST
    if isinstance(exc, inputs.UnstorableInput):
        return exc.errors, status.HTTP_400_BAD_REQUEST
    return None


def exception_handler(exc, context):
    if isinstance(exc, PolicyViolation):
        record_refusal(exc, path=context["request"].path if context.get("request") else "")
        return Response({"detail": exc.message, "rule": exc.rule}, status=status.HTTP_403_FORBIDDEN)
    if isinstance(exc, IllegalTransition):
        return Response({"detail": exc.message, "status": exc.current}, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, PacketInvalid):
        return Response(exc.errors, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, CCBError):
        return Response({"detail": exc.message}, status=exc.status_code)
    if isinstance(exc, ObjectDoesNotExist):
        return Response({"detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)
    refused = _request_refused(exc)
    if refused is not None:
        return Response(refused[0], status=refused[1])
    return drf_exception_handler(exc, context)


def is_api(request: HttpRequest) -> bool:
    return request.path.startswith(inputs.API_PREFIX)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler400. JSON on API paths: 413 for a body over the limit, 400 naming the field otherwise."""
    refused = _request_refused(exception) if exception is not None else None
    if is_api(request):
        body, code = refused or ({"detail": "The request cannot be read."}, status.HTTP_400_BAD_REQUEST)
        return JsonResponse(body, status=code)
    if isinstance(exception, inputs.UnstorableInput):
        return HttpResponse(
            f"<!doctype html><title>Bad Request (400)</title><h1>Bad Request (400)</h1><p>{inputs.NUL_MESSAGE}</p>",
            status=status.HTTP_400_BAD_REQUEST,
        )
    return defaults.bad_request(request, exception)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler404. JSON on API paths, where a URL that matches no route is as missing as an unknown id."""
    if is_api(request):
        return JsonResponse({"detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)
    from ccb.web.errors import page_not_found  # the pages' own 404

    return page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500."""
    if is_api(request):
        return JsonResponse({"detail": "Server error."}, status=status.HTTP_500_INTERNAL_SERVER_ERROR)
    return defaults.server_error(request)
