"""One place that turns domain errors into HTTP answers a person can act on."""

from django.core.exceptions import ObjectDoesNotExist
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from ccb.exceptions import CCBError, IllegalTransition, PacketInvalid, PolicyViolation
from ccb.services.base import record_refusal


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
    return drf_exception_handler(exc, context)
