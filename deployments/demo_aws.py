"""The demo's AWS: a Lambda function with an alias, its errors alarm and log group, on an emulator.

The demo never touches real AWS. ``emulator()`` uses AWS_ENDPOINT_URL when it points at loopback (dev.py
run starts moto in server mode there), and otherwise starts moto in this process for as long as the
seeding takes. ``seed()`` makes the resources if they are missing, byte for byte the same every time,
so a plan read against one emulator matches the next one's.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

from django.conf import settings

FUNCTION = "fraud-scorer"
ALIAS = "live"
ALARM = "fraud-scorer-errors"
LOG_GROUP = f"/aws/lambda/{FUNCTION}"
REGION = "us-east-1"
DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "demo", "AWS_SECRET_ACCESS_KEY": "demo", "AWS_DEFAULT_REGION": REGION}


class NotAnEmulator(RuntimeError):
    """The demo refuses to create resources anywhere but on an emulator on this machine."""


def _loopback(url: str) -> bool:
    return (urlsplit(url).hostname or "") in {"127.0.0.1", "localhost", "::1"}


@contextmanager
def emulator() -> Iterator[str]:
    """The emulator's address for the demo's AWS calls, started here if none is configured."""
    url = settings.AWS_ENDPOINT_URL
    if url:
        if not _loopback(url):
            raise NotAnEmulator(
                f"AWS_ENDPOINT_URL is {url}: the demo seeds AWS resources only on an emulator "
                "on loopback (dev.py run starts one)."
            )
        for key, value in DUMMY_CREDENTIALS.items():
            os.environ.setdefault(key, value)
        yield url
        return
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    saved = {k: os.environ.get(k) for k in DUMMY_CREDENTIALS}
    os.environ.update(DUMMY_CREDENTIALS)
    settings.AWS_ENDPOINT_URL = f"http://{host}:{port}"
    try:
        yield settings.AWS_ENDPOINT_URL
    finally:
        settings.AWS_ENDPOINT_URL = ""
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        server.stop()


def _code(text: str) -> bytes:
    """A deployment package that is the same bytes every time (fixed entry time), so its hash is too."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        entry = zipfile.ZipInfo("handler.py", date_time=(2026, 1, 1, 0, 0, 0))
        archive.writestr(entry, f"def handle(event, context):\n    return {{'model': {text!r}}}\n")
    return buffer.getvalue()


def seed() -> None:
    """The function (version 1 live behind the alias, version 3 of the model waiting on $LATEST), the
    errors alarm (OK) and the log group, each made only if missing."""
    from deployments.aws import Aws, AwsError, SessionConfig

    aws = Aws(SessionConfig(region=REGION, max_attempts=2))
    lam = aws.lambda_
    try:
        lam.get_alias(FunctionName=FUNCTION, Name=ALIAS)
    except AwsError:
        iam = aws.client("iam")
        policy = json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
                ],
            }
        )
        try:
            role = iam.create_role(RoleName=f"{FUNCTION}-role", AssumeRolePolicyDocument=policy)["Role"]["Arn"]
        except AwsError:
            role = iam.get_role(RoleName=f"{FUNCTION}-role")["Role"]["Arn"]
        lam.create_function(
            FunctionName=FUNCTION,
            Runtime="python3.12",
            Role=role,
            Handler="handler.handle",
            Code={"ZipFile": _code("v2.9")},
            Description="Fraud scoring (demo)",
        )
        lam.publish_version(FunctionName=FUNCTION)
        lam.create_alias(FunctionName=FUNCTION, Name=ALIAS, FunctionVersion="1")
        lam.update_function_code(FunctionName=FUNCTION, ZipFile=_code("v3"))
    cw = aws.cloudwatch
    if not cw.describe_alarms(AlarmNames=[ALARM])["MetricAlarms"]:
        cw.put_metric_alarm(
            AlarmName=ALARM,
            Namespace="AWS/Lambda",
            MetricName="Errors",
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1.0,
            ComparisonOperator="GreaterThanThreshold",
            Dimensions=[
                {"Name": "FunctionName", "Value": FUNCTION},
                {"Name": "Resource", "Value": f"{FUNCTION}:{ALIAS}"},
            ],
            AlarmDescription="Errors of the fraud scorer (demo).",
        )
        cw.set_alarm_state(AlarmName=ALARM, StateValue="OK", StateReason="No errors (demo).")
    logs = aws.client("logs")
    if not logs.describe_log_groups(logGroupNamePrefix=LOG_GROUP)["logGroups"]:
        logs.create_log_group(logGroupName=LOG_GROUP)


def set_alarm(state: str, reason: str = "") -> None:
    """The demo's way to make the canary's alarm fire (or calm down) while a run bakes."""
    from deployments.aws import Aws, SessionConfig

    if not settings.AWS_ENDPOINT_URL or not _loopback(settings.AWS_ENDPOINT_URL):
        raise NotAnEmulator("Set AWS_ENDPOINT_URL to the demo's emulator (dev.py run prints it).")
    for key, value in DUMMY_CREDENTIALS.items():
        os.environ.setdefault(key, value)
    Aws(SessionConfig(region=REGION, max_attempts=2)).cloudwatch.set_alarm_state(
        AlarmName=ALARM, StateValue=state, StateReason=reason or f"Set to {state} from the demo."
    )
