"""One exception for everything that goes wrong talking to AWS.

botocore raises ``ClientError`` for an answer AWS gave (a 4xx or 5xx with an error code) and a
``BotoCoreError`` subclass for everything else: no connection, a timeout, bad parameters, or an
answer it could not parse (moto's 500 pages arrive as ``ResponseParserError``). Callers see only
``AwsError``, which names the service, the operation, the code, the message and the request id, and
says whether trying again may help.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from botocore.parsers import ResponseParserError

# Codes AWS documents as throttling or as its own transient failures (botocore's standard retry mode
# treats the same codes as retryable).
TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
        "RequestTimeout",
        "RequestTimeoutException",
        "InternalError",
        "InternalFailure",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "ConnectionError",
        "ResponseParserError",
    }
)
# What a botocore call can raise about AWS (ResponseParserError is a plain Exception in botocore).
BOTO_ERRORS = (ClientError, BotoCoreError, ResponseParserError)
_CONNECTION_ERRORS = (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError, ConnectionClosedError)


class AwsError(Exception):
    """An AWS call that did not succeed. ``transient`` is true for throttling, 5xx answers, answers that
    could not be parsed and lost connections: the engine may try the step call again later; anything
    else is a fact about the request (a missing resource, a refused permission, a bad parameter)."""

    def __init__(
        self,
        *,
        service: str,
        operation: str,
        code: str,
        message: str,
        request_id: str = "",
        http_status: int | None = None,
    ):
        self.service = service
        self.operation = operation
        self.code = code
        self.message = message
        self.request_id = request_id
        self.http_status = http_status
        where = f"{service}.{operation}"
        rid = f" (request {request_id})" if request_id else ""
        super().__init__(f"{where}: {code}: {message}{rid}")

    @property
    def transient(self) -> bool:
        return self.code in TRANSIENT_CODES or (self.http_status is not None and self.http_status >= 500)

    def as_dict(self) -> dict[str, Any]:
        """Plain data for the step's record."""
        return {
            "service": self.service,
            "operation": self.operation,
            "code": self.code,
            "message": self.message,
            "request_id": self.request_id,
            "http_status": self.http_status,
            "transient": self.transient,
        }


def normalise(
    exc: Exception, *, service: str, operation: str, request_id: str = "", http_status: int | None = None
) -> AwsError:
    """The ``AwsError`` for a botocore exception. ``request_id`` and ``http_status`` are what the adapter
    saw on the wire, used when the exception itself does not carry them (an unparseable answer)."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {}) or {}
        meta = exc.response.get("ResponseMetadata", {}) or {}
        return AwsError(
            service=service,
            operation=operation,
            code=str(error.get("Code") or "Unknown"),
            message=str(error.get("Message") or exc),
            request_id=str(meta.get("RequestId") or request_id),
            http_status=meta.get("HTTPStatusCode") or http_status,
        )
    if isinstance(exc, ResponseParserError):
        first_line = str(exc).splitlines()[0] if str(exc) else "unparseable answer"
        return AwsError(
            service=service,
            operation=operation,
            code="ResponseParserError",
            message=f"the answer could not be read ({first_line})",
            request_id=request_id,
            http_status=http_status,
        )
    if isinstance(exc, _CONNECTION_ERRORS):
        return AwsError(
            service=service, operation=operation, code="ConnectionError", message=str(exc), request_id=request_id
        )
    if isinstance(exc, BotoCoreError):
        return AwsError(
            service=service, operation=operation, code=type(exc).__name__, message=str(exc), request_id=request_id
        )
    raise TypeError(f"not a botocore exception: {exc!r}")
