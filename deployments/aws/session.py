"""The AWS session a deployment run uses: one region, one endpoint, an optional deploy role.

``Aws(SessionConfig(...), on_call=record)`` builds clients from a ``boto3.Session``. When the config
names a role, the session assumes it through STS with session tags (change reference, run id, the
person who started the run) and a source identity, so CloudTrail attributes every call to the change,
and every client is made from the assumed credentials (re-assumed before they expire). Every answer's
request id is handed to ``on_call`` as an ``AwsCall``, errors included, so request ids land in the
step's record. Every error surfaces as ``AwsError``.

``settings.AWS_ENDPOINT_URL`` (empty: real AWS) points every client at one endpoint, moto in server
mode for the demo and the tests.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import boto3
from botocore.config import Config
from botocore.handlers import json_decode_template_body

from .errors import BOTO_ERRORS, AwsError, normalise

_TAG_VALUE = re.compile(r"[^\w .:/=+\-@]")
_SESSION_NAME = re.compile(r"[^\w+=,.@-]")
_REQUEST_ID_HEADERS = ("x-amzn-requestid", "x-amz-request-id", "x-amzn-request-id")


@dataclass(frozen=True)
class SessionConfig:
    """How to reach AWS for one run. ``endpoint_url`` None means ``settings.AWS_ENDPOINT_URL``."""

    region: str | None = None
    endpoint_url: str | None = None
    max_attempts: int = 5  # botocore's attempts per call, the first included; tests use 1
    retry_mode: str = "standard"
    connect_timeout: float = 10
    read_timeout: float = 60
    role_arn: str = ""
    session_name: str = "ccb"
    session_tags: Mapping[str, str] = field(default_factory=dict)
    transitive_tag_keys: tuple[str, ...] = ()
    source_identity: str = ""
    external_id: str = ""
    duration_seconds: int = 3600

    @classmethod
    def for_run(
        cls,
        *,
        region: str | None,
        role_arn: str = "",
        change_reference: str,
        run_id: int | str,
        started_by: str,
        **options: Any,
    ) -> SessionConfig:
        """The config of a deployment run: session tags ChangeReference, RunId and StartedBy (kept
        through role chaining), the starter as source identity, and a session name naming the run."""
        tags = {"ChangeReference": change_reference, "RunId": str(run_id), "StartedBy": started_by}
        return cls(
            region=region,
            role_arn=role_arn,
            session_name=f"ccb-run-{run_id}",
            session_tags=tags,
            transitive_tag_keys=tuple(tags),
            source_identity=started_by,
            **options,
        )


@dataclass(frozen=True)
class AwsCall:
    """One call as AWS answered it: what the step's record keeps of it."""

    service: str
    operation: str
    request_id: str
    http_status: int | None
    error_code: str = ""


class Client:
    """A botocore client whose operations raise ``AwsError``. ``raw`` is the botocore client itself
    (for botocore's Stubber in tests)."""

    def __init__(self, raw: Any, aws: Aws):
        self.raw = raw
        self._aws = aws
        self._service = raw.meta.service_model.service_name
        self._operations = raw.meta.method_to_api_mapping

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.raw, name)
        if name not in self._operations:
            return method
        operation = self._operations[name]

        def call(**kwargs: Any) -> Any:
            try:
                return method(**kwargs)
            except BOTO_ERRORS as exc:
                raise self._aws._error(exc, service=self._service, operation=operation) from exc

        call.__name__ = name
        return call

    def paginate(self, method: str, **kwargs: Any) -> Iterator[dict]:
        """Every page of a paginated operation, errors normalised like single calls."""
        operation = self._operations.get(method, method)
        try:
            yield from self.raw.get_paginator(method).paginate(**kwargs)
        except BOTO_ERRORS as exc:
            raise self._aws._error(exc, service=self._service, operation=operation) from exc


class Aws:
    """The adapter step types get as ``ctx.aws``. The only place ccb makes boto3 clients."""

    def __init__(
        self,
        config: SessionConfig | None = None,
        *,
        on_call: Callable[[AwsCall], None] | None = None,
        base_session: boto3.Session | None = None,
    ):
        self.config = config or SessionConfig()
        self.on_call = on_call
        self._base = base_session or boto3.Session(region_name=self.config.region)
        self._session: boto3.Session | None = None
        self._expires: datetime | None = None
        self._clients: dict[str, Client] = {}
        self._wire = threading.local()  # the last answer's request id and status, for unparseable ones
        self._lock = threading.Lock()
        self.assumed: dict[str, Any] = {}

    # --- configuration ---------------------------------------------------------------------------------

    @property
    def endpoint_url(self) -> str | None:
        if self.config.endpoint_url is not None:
            return self.config.endpoint_url or None
        from django.conf import settings

        return getattr(settings, "AWS_ENDPOINT_URL", "") or None

    @property
    def region(self) -> str | None:
        return self.config.region or self._base.region_name

    def _botocore_config(self) -> Config:
        return Config(
            retries={"total_max_attempts": self.config.max_attempts, "mode": self.config.retry_mode},
            connect_timeout=self.config.connect_timeout,
            read_timeout=self.config.read_timeout,
            user_agent_extra="ccb",
        )

    # --- credentials -----------------------------------------------------------------------------------

    def _current_session(self) -> boto3.Session:
        if not self.config.role_arn:
            return self._base
        now = datetime.now(UTC)
        if self._session is None or self._expires is None or self._expires - now < timedelta(minutes=5):
            self._session = self._assume()
            self._clients.clear()
        return self._session

    def _assume(self) -> boto3.Session:
        sts = self._make_client("sts", self._base)
        kwargs: dict[str, Any] = {
            "RoleArn": self.config.role_arn,
            "RoleSessionName": _SESSION_NAME.sub("-", self.config.session_name)[:64] or "ccb",
            "DurationSeconds": self.config.duration_seconds,
        }
        if self.config.session_tags:
            kwargs["Tags"] = [
                {"Key": key, "Value": _TAG_VALUE.sub("_", str(value))[:256]}
                for key, value in self.config.session_tags.items()
            ]
        if self.config.transitive_tag_keys:
            kwargs["TransitiveTagKeys"] = list(self.config.transitive_tag_keys)
        if self.config.source_identity:
            kwargs["SourceIdentity"] = _SESSION_NAME.sub("-", self.config.source_identity)[:64]
        if self.config.external_id:
            kwargs["ExternalId"] = self.config.external_id
        answer = sts.assume_role(**kwargs)
        creds = answer["Credentials"]
        self._expires = creds["Expiration"]
        self.assumed = {
            "role_arn": self.config.role_arn,
            "assumed_role_arn": answer["AssumedRoleUser"]["Arn"],
            "access_key_id": creds["AccessKeyId"],
            "expires": creds["Expiration"].isoformat(),
            "tags": {t["Key"]: t["Value"] for t in kwargs.get("Tags", [])},
            "source_identity": kwargs.get("SourceIdentity", ""),
        }
        return boto3.Session(
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
            region_name=self.region,
        )

    # --- clients ---------------------------------------------------------------------------------------

    def client(self, service: str) -> Client:
        with self._lock:
            session = self._current_session()
            if service not in self._clients:
                self._clients[service] = self._make_client(service, session)
            return self._clients[service]

    def _make_client(self, service: str, session: boto3.Session) -> Client:
        raw = session.client(
            service, region_name=self.region, endpoint_url=self.endpoint_url, config=self._botocore_config()
        )
        events = raw.meta.events
        events.register("before-call.*.*", self._forget_wire)
        events.register("before-parse.*.*", self._note_wire)
        events.register("after-call.*.*", self._after_call)
        events.register("after-call-error.*.*", partial(self._after_call_error, service=service))
        if service == "cloudformation":
            # Keep templates as the text CloudFormation stores, so a rollback re-applies them byte for byte.
            events.unregister("after-call.cloudformation.GetTemplate", json_decode_template_body)
        return Client(raw, self)

    @property
    def cloudformation(self) -> Client:
        return self.client("cloudformation")

    @property
    def lambda_(self) -> Client:
        return self.client("lambda")

    @property
    def elbv2(self) -> Client:
        return self.client("elbv2")

    @property
    def ecs(self) -> Client:
        return self.client("ecs")

    @property
    def cloudwatch(self) -> Client:
        return self.client("cloudwatch")

    @property
    def s3(self) -> Client:
        return self.client("s3")

    @property
    def sts(self) -> Client:
        return self.client("sts")

    # --- request ids -----------------------------------------------------------------------------------

    def _forget_wire(self, **kwargs: Any) -> None:
        self._wire.request_id, self._wire.status = "", None

    def _note_wire(self, response_dict: dict, **kwargs: Any) -> None:
        headers = {k.lower(): v for k, v in (response_dict.get("headers") or {}).items()}
        self._wire.request_id = next((headers[h] for h in _REQUEST_ID_HEADERS if h in headers), "")
        self._wire.status = response_dict.get("status_code")

    def _after_call(self, http_response: Any, parsed: dict, model: Any, **kwargs: Any) -> None:
        meta = parsed.get("ResponseMetadata", {}) or {}
        error = (parsed.get("Error") or {}).get("Code", "")
        self._report(
            model,
            request_id=str(meta.get("RequestId") or getattr(self._wire, "request_id", "")),
            status=meta.get("HTTPStatusCode") or getattr(http_response, "status_code", None),
            error=error,
        )

    def _after_call_error(self, exception: Exception, event_name: str, service: str, **kwargs: Any) -> None:
        operation = event_name.split(".", 2)[2]
        if not isinstance(exception, BOTO_ERRORS):
            return  # not an answer from AWS (a test's simulated crash, say): nothing to record
        code = normalise(exception, service=service, operation=operation).code
        call = AwsCall(
            service=service,
            operation=operation,
            request_id=getattr(self._wire, "request_id", ""),
            http_status=getattr(self._wire, "status", None),
            error_code=code,
        )
        if self.on_call is not None:
            self.on_call(call)

    def _report(self, model: Any, *, request_id: str, status: int | None, error: str) -> None:
        if self.on_call is None:
            return
        service = model.service_model.service_name
        self.on_call(AwsCall(service, model.name, request_id or "", status, error))

    def _error(self, exc: Exception, *, service: str, operation: str) -> AwsError:
        return normalise(
            exc,
            service=service,
            operation=operation,
            request_id=getattr(self._wire, "request_id", ""),
            http_status=getattr(self._wire, "status", None),
        )

    # --- S3 ----------------------------------------------------------------------------------------------

    def read_s3(self, url: str) -> S3Object:
        """The object an ``s3://bucket/key`` address names (its current version)."""
        bucket, key = parse_s3_url(url)
        answer = self.s3.get_object(Bucket=bucket, Key=key)
        body = answer["Body"].read()
        return S3Object(
            bucket=bucket, key=key, body=body, etag=answer.get("ETag", ""), version_id=answer.get("VersionId") or ""
        )


@dataclass(frozen=True)
class S3Object:
    bucket: str
    key: str
    body: bytes
    etag: str = ""
    version_id: str = ""


_S3_URL = re.compile(r"^s3://([a-z0-9][a-z0-9.\-]{1,61}[a-z0-9])/(.+)$")


def parse_s3_url(url: str) -> tuple[str, str]:
    match = _S3_URL.match(url)
    if not match:
        raise ValueError(f"not an s3://bucket/key address: {url!r}")
    return match.group(1), match.group(2)
