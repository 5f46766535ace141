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


def lambda_function(
    aws, name: str = "fraud-scorer", *, alias: str = "live", routing: dict | None = None, new_code: bool = True
) -> dict:
    """A function with version 1 (and 2 when ``routing`` names it) published, ``alias`` on version 1 with
    ``routing``, and new code on $LATEST waiting to be published."""
    role = aws.client("iam").create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument=ROLE_POLICY)["Role"]["Arn"]
    fn = aws.lambda_
    fn.create_function(
        FunctionName=name, Runtime="python3.12", Role=role, Handler="handler.handle", Code={"ZipFile": code("v1")}
    )
    fn.publish_version(FunctionName=name)
    if routing:
        fn.update_function_code(FunctionName=name, ZipFile=code("v2"))
        fn.publish_version(FunctionName=name)
    kwargs = {"RoutingConfig": {"AdditionalVersionWeights": routing}} if routing else {}
    fn.create_alias(FunctionName=name, Name=alias, FunctionVersion="1", **kwargs)
    if new_code:
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


def load_balancer(aws, name: str = "web") -> dict:
    """An ALB whose listener forwards everything to the blue target group, with green beside it idle,
    and a rule for /api/* forwarding to blue as well."""
    ec2 = aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"us-east-1{z}")["Subnet"]["SubnetId"]
        for i, z in ((1, "a"), (2, "b"))
    ]
    elb = aws.elbv2
    lb = elb.create_load_balancer(Name=name, Subnets=subnets)["LoadBalancers"][0]["LoadBalancerArn"]
    blue, green = (
        elb.create_target_group(Name=name, Protocol="HTTP", Port=80, VpcId=vpc)["TargetGroups"][0]["TargetGroupArn"]
        for name in (f"{name}-blue", f"{name}-green")
    )
    listener = elb.create_listener(
        LoadBalancerArn=lb, Protocol="HTTP", Port=80, DefaultActions=[{"Type": "forward", "TargetGroupArn": blue}]
    )["Listeners"][0]["ListenerArn"]
    rule = elb.create_rule(
        ListenerArn=listener,
        Priority=10,
        Conditions=[{"Field": "path-pattern", "Values": ["/api/*"]}],
        Actions=[{"Type": "forward", "TargetGroupArn": blue}],
    )["Rules"][0]["RuleArn"]
    return {"listener": listener, "blue": blue, "green": green, "rule": rule, "vpc": vpc}


def listener_actions(aws, listener: str) -> list[dict]:
    return aws.elbv2.describe_listeners(ListenerArns=[listener])["Listeners"][0]["DefaultActions"]
