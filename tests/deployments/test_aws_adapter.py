"""The AWS adapter against moto in server mode: the endpoint from settings, retries as configured,
the deploy role assumed with the run's session tags, every request id reported, errors normalised."""

import re
from pathlib import Path

import pytest

from deployments.aws import Aws, AwsError, SessionConfig

from .moto_server import REGION

ROOT = Path(__file__).resolve().parents[2]
ROLE = "arn:aws:iam::123456789012:role/ccb-deploy"


def test_clients_reach_the_endpoint_the_settings_name(moto, base_session, settings):
    aws = Aws(SessionConfig(region=REGION, max_attempts=1), base_session=base_session)
    aws.s3.create_bucket(Bucket="ccb-templates")
    assert aws.s3.raw.meta.endpoint_url == moto.url
    assert moto.mutations() == ["PutObject"]  # CreateBucket is a PUT on the bucket: it reached moto

    settings.AWS_ENDPOINT_URL = ""
    real = Aws(SessionConfig(region="eu-west-1"), base_session=base_session)
    assert real.client("lambda").raw.meta.endpoint_url == "https://lambda.eu-west-1.amazonaws.com"


def test_retries_are_as_configured(moto, base_session):
    # botocore's total_max_attempts counts the first attempt; its max_attempts would count only retries.
    once = Aws(SessionConfig(region=REGION, max_attempts=1), base_session=base_session)
    assert once.cloudformation.raw.meta.config.retries == {"total_max_attempts": 1, "mode": "standard"}
    assert Aws(SessionConfig(region=REGION)).s3.raw.meta.config.retries["total_max_attempts"] == 5


def test_the_deploy_role_is_assumed_with_the_runs_session_tags(moto, base_session, calls):
    config = SessionConfig.for_run(
        region=REGION,
        role_arn=ROLE,
        change_reference="CHG-000042",
        run_id=17,
        started_by="frank (DevSecOps)",
        max_attempts=1,
    )
    aws = Aws(config, on_call=calls.append, base_session=base_session)
    who = aws.sts.get_caller_identity()
    assert who["Arn"] == "arn:aws:sts::123456789012:assumed-role/ccb-deploy/ccb-run-17"
    (sent,) = moto.requests("AssumeRole")
    assert sent["RoleArn"] == ROLE and sent["RoleSessionName"] == "ccb-run-17"
    tags = {sent[f"Tags.member.{i}.Key"]: sent[f"Tags.member.{i}.Value"] for i in (1, 2, 3)}
    assert tags == {"ChangeReference": "CHG-000042", "RunId": "17", "StartedBy": "frank _DevSecOps_"}
    assert sent["SourceIdentity"] == "frank--DevSecOps-"
    assert {sent[f"TransitiveTagKeys.member.{i}"] for i in (1, 2, 3)} == set(tags)
    # Clients are made from the assumed credentials, not the base session's.
    assert aws.lambda_.raw._request_signer._credentials.access_key == aws.assumed["access_key_id"] != "testing"
    assert [c.operation for c in calls] == ["AssumeRole", "GetCallerIdentity"]


def test_every_answer_s_request_id_reaches_the_callback(aws, calls):
    answer = aws.s3.create_bucket(Bucket="ccb-evidence")
    with pytest.raises(AwsError) as missing:
        aws.cloudformation.describe_stacks(StackName="nope")
    ok, refused = calls
    assert (ok.service, ok.operation, ok.http_status, ok.error_code) == ("s3", "CreateBucket", 200, "")
    assert ok.request_id and ok.request_id == answer["ResponseMetadata"]["RequestId"]
    assert (refused.operation, refused.error_code, refused.http_status) == ("DescribeStacks", "ValidationError", 400)
    assert refused.request_id and refused.request_id == missing.value.request_id
    next_step = []
    aws.on_call = next_step.append  # the engine points the same clients at the next step's record
    aws.s3.list_buckets()
    assert len(calls) == 2 and [c.operation for c in next_step] == ["ListBuckets"]


def test_an_aws_refusal_becomes_one_error_naming_the_call(aws):
    with pytest.raises(AwsError) as exc:
        aws.cloudformation.describe_stacks(StackName="nope")
    err = exc.value
    assert (err.service, err.operation, err.code) == ("cloudformation", "DescribeStacks", "ValidationError")
    assert err.message == "Stack with id nope does not exist" and not err.transient
    assert str(err).startswith("cloudformation.DescribeStacks: ValidationError: Stack with id nope does not exist")
    with pytest.raises(AwsError) as paged:
        list(aws.cloudformation.paginate("describe_stacks", StackName="nope"))
    assert paged.value.code == "ValidationError" and paged.value.operation == "DescribeStacks"


def test_an_unparseable_500_becomes_the_same_error_marked_transient(aws, calls):
    with pytest.raises(AwsError) as exc:
        aws.cloudformation.cancel_update_stack(StackName="web")
    err = exc.value
    assert (err.service, err.operation, err.code, err.http_status) == (
        "cloudformation",
        "CancelUpdateStack",
        "ResponseParserError",
        500,
    )
    assert err.transient and "could not be read" in err.message
    assert calls[-1].operation == "CancelUpdateStack" and calls[-1].error_code == "ResponseParserError"
    assert err.as_dict()["transient"] is True


def test_only_the_aws_adapter_imports_boto3():
    pattern = re.compile(r"^\s*(import|from)\s+(boto3|botocore)\b", re.MULTILINE)
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("ccb", "deployments", "notifications")
        for path in (ROOT / folder).rglob("*.py")
        if pattern.search(path.read_text()) and "deployments/aws" not in path.as_posix()
    ]
    assert offenders == []
