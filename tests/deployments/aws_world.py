"""Resources the step tests deploy onto, made in moto through the adapter itself."""

from __future__ import annotations

import io
import json
import zipfile

ROLE_POLICY = json.dumps({"Version": "2012-10-17", "Statement": []})


def code(text: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", f"def handle(event, context):\n    return {text!r}\n")
    return buffer.getvalue()


def lambda_function(aws, name: str = "fraud-scorer", *, alias: str = "live", routing: dict | None = None) -> dict:
    """A function with version 1 (and 2 when ``routing`` names it) published, ``alias`` on version 1 with
    ``routing``, and new code on $LATEST waiting to be published."""
    role = aws.client("iam").create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument=ROLE_POLICY)["Role"]["Arn"]
    fn = aws.lambda_
    fn.create_function(FunctionName=name, Runtime="python3.12", Role=role, Handler="handler.handle", Code={"ZipFile": code("v1")})
    fn.publish_version(FunctionName=name)
    if routing:
        fn.update_function_code(FunctionName=name, ZipFile=code("v2"))
        fn.publish_version(FunctionName=name)
    kwargs = {"RoutingConfig": {"AdditionalVersionWeights": routing}} if routing else {}
    fn.create_alias(FunctionName=name, Name=alias, FunctionVersion="1", **kwargs)
    fn.update_function_code(FunctionName=name, ZipFile=code("new"))
    return fn.get_alias(FunctionName=name, Name=alias)


def alarm(aws, name: str = "fraud-errors", state: str = "OK", *, reason: str = "", data: dict | None = None) -> None:
    cw = aws.cloudwatch
    cw.put_metric_alarm(
        AlarmName=name,
        Namespace="AWS/Lambda",
        MetricName="Errors",
        Dimensions=[{"Name": "FunctionName", "Value": "fraud-scorer"}],
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1.0,
        ComparisonOperator="GreaterThanThreshold",
    )
    set_alarm(aws, name, state, reason=reason, data=data)


def set_alarm(aws, name: str, state: str, *, reason: str = "", data: dict | None = None) -> None:
    kwargs = {"StateReasonData": json.dumps(data)} if data else {}
    aws.cloudwatch.set_alarm_state(AlarmName=name, StateValue=state, StateReason=reason or f"set to {state}", **kwargs)


FIRING = (
    "Threshold Crossed: 1 out of the last 1 datapoints [5.0 (01/12/26 22:03:00)] was greater than the threshold (1.0) "
    "(minimum 1 datapoint for OK -> ALARM transition)."
)


def alias_of(aws, name: str = "fraud-scorer", alias: str = "live") -> tuple[str, dict]:
    answer = aws.lambda_.get_alias(FunctionName=name, Name=alias)
    return answer["FunctionVersion"], (answer.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
