"""moto in server mode on loopback, with its recorder read back as the list of AWS operations that
reached it, so a test can count every mutating call a step made."""

from __future__ import annotations

import base64
import json
import re
import urllib.request
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

ACCOUNT = "123456789012"
REGION = "us-east-1"

# The REST operations the tests meet, by method and path (Lambda and S3 carry no operation name).
_REST = [
    ("GET", r"/2015-03-31/functions/[^/]+/aliases/[^/]+$", "lambda", "GetAlias"),
    ("PUT", r"/2015-03-31/functions/[^/]+/aliases/[^/]+$", "lambda", "UpdateAlias"),
    ("POST", r"/2015-03-31/functions/[^/]+/aliases$", "lambda", "CreateAlias"),
    ("POST", r"/2015-03-31/functions/[^/]+/versions$", "lambda", "PublishVersion"),
    ("GET", r"/2015-03-31/functions/[^/]+/versions$", "lambda", "ListVersionsByFunction"),
    ("GET", r"/2015-03-31/functions/[^/]+/configuration$", "lambda", "GetFunctionConfiguration"),
    ("GET", r"/2015-03-31/functions/[^/]+$", "lambda", "GetFunction"),
    ("POST", r"/2015-03-31/functions$", "lambda", "CreateFunction"),
    ("PUT", r"/2015-03-31/functions/[^/]+/code$", "lambda", "UpdateFunctionCode"),
]
_READ_PREFIXES = ("Describe", "Get", "List", "Head", "Lookup", "Validate", "Estimate")


@dataclass(frozen=True)
class Recorded:
    service: str
    operation: str
    method: str
    path: str

    @property
    def mutating(self) -> bool:
        if self.operation.startswith(_READ_PREFIXES):
            return False
        return self.method not in ("GET", "HEAD")


def _service_of(headers: dict) -> str:
    match = re.search(r"Credential=[^/]+/\d+/[^/]+/([^/]+)/", headers.get("Authorization", ""))
    return match.group(1) if match else ""


def parse_entry(entry: dict) -> Recorded:
    headers = entry["headers"]
    parts = urlsplit(entry["url"])
    method, path = entry["method"], parts.path
    service = _service_of(headers)
    target = headers.get("X-Amz-Target")
    if target:
        return Recorded(service, target.rsplit(".", 1)[-1], method, path)
    body = entry.get("body") or ""
    if entry.get("body_encoded"):
        body = base64.b64decode(body).decode("utf-8", "replace")
    if "Action=" in body:
        return Recorded(service, parse_qs(body)["Action"][0], method, path)
    if "Action=" in parts.query:
        return Recorded(service, parse_qs(parts.query)["Action"][0], method, path)
    for verb, pattern, svc, operation in _REST:
        if method == verb and re.search(pattern, path):
            return Recorded(svc, operation, method, path)
    if service == "s3":
        name = {"GET": "GetObject", "HEAD": "HeadObject", "PUT": "PutObject", "DELETE": "DeleteObject"}
        return Recorded(service, name.get(method, method), method, path)
    return Recorded(service, f"{method} {path}", method, path)


class Moto:
    """One running moto server: its address, a reset, and its recorder."""

    def __init__(self, url: str):
        self.url = url
        self._mark = 0

    def _post(self, path: str) -> bytes:
        request = urllib.request.Request(self.url + path, data=b"", method="POST")  # noqa: S310 - loopback
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            return response.read()

    def reset(self) -> None:
        """Every backend emptied and the recording started afresh."""
        self._post("/moto-api/reset")
        self._post("/moto-api/recorder/stop-recording")
        self._post("/moto-api/recorder/reset-recording")
        self._post("/moto-api/recorder/start-recording")
        self._mark = 0

    def recorded(self) -> list[Recorded]:
        with urllib.request.urlopen(self.url + "/moto-api/recorder/download-recording", timeout=10) as response:  # noqa: S310
            text = response.read().decode()
        entries = [json.loads(line) for line in text.splitlines() if line.strip()]
        return [parse_entry(e) for e in entries if not urlsplit(e["url"]).path.startswith("/moto-api/")]

    def requests(self, operation: str) -> list[dict]:
        """The form fields of every recorded query-protocol call of ``operation`` (STS, CloudFormation)."""
        with urllib.request.urlopen(self.url + "/moto-api/recorder/download-recording", timeout=10) as response:  # noqa: S310
            entries = [json.loads(line) for line in response.read().decode().splitlines() if line.strip()]
        out = []
        for entry in entries:
            if parse_entry(entry).operation != operation:
                continue
            body = entry.get("body") or ""
            if entry.get("body_encoded"):
                body = base64.b64decode(body).decode("utf-8", "replace")
            out.append({key: values[0] for key, values in parse_qs(body).items()})
        return out

    def mark(self) -> None:
        """From now on, ``calls()`` and ``mutations()`` count only what follows."""
        self._mark = len(self.recorded())

    def calls(self) -> list[str]:
        return [r.operation for r in self.recorded()[self._mark :]]

    def mutations(self) -> list[str]:
        return [r.operation for r in self.recorded()[self._mark :] if r.mutating]


def cloudformation_backend():
    """moto's in-process CloudFormation state (the server thread shares it), to force a status."""
    from moto.cloudformation.models import cloudformation_backends

    return cloudformation_backends[ACCOUNT][REGION]
