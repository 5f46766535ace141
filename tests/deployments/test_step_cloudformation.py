"""cloudformation_stack against moto: create or update once, wait while in progress, and roll back by
re-applying the previous template byte for byte (or deleting the stack it created). moto never fails
an update, so failures are forced on its in-process backend; the operations moto does not answer
(cancel, continue a rollback, request tokens in events) are contract-tested with botocore's Stubber."""

import hashlib
import json

import pytest
from botocore.stub import Stubber

from deployments.steps import Result
from deployments.steps.cloudformation import token

from .driver import Driver, crash_before
from .moto_server import cloudformation_backend

T1 = """{
  "AWSTemplateFormatVersion": "2010-09-09",
  "Parameters": {"QueueName": {"Type": "String"}, "Retention": {"Type": "Number", "Default": "345600"}},
  "Resources": {
    "Jobs": {"Type": "AWS::SQS::Queue",
             "Properties": {"QueueName": {"Ref": "QueueName"}, "MessageRetentionPeriod": {"Ref": "Retention"}}}
  },
  "Outputs": {"JobsArn": {"Value": {"Fn::GetAtt": ["Jobs", "Arn"]}}}
}
"""
T1_AS_YAML = """\
AWSTemplateFormatVersion: 2010-09-09
Outputs:
  JobsArn: {Value: !GetAtt Jobs.Arn}
Parameters:
  Retention: {Type: Number, Default: "345600"}
  QueueName: {Type: String}
Resources:
  Jobs:
    Type: AWS::SQS::Queue
    Properties: {MessageRetentionPeriod: !Ref Retention, QueueName: !Ref QueueName}
"""
T2 = """\
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  QueueName: {Type: String}
  Retention: {Type: Number, Default: "345600"}
Resources:
  Jobs:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Ref QueueName
      MessageRetentionPeriod: !Ref Retention
  DeadLetters:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Sub "${QueueName}-dlq"
Outputs:
  JobsArn:
    Value: !GetAtt Jobs.Arn
"""
ORIGINAL_PARAMETERS = [
    {"ParameterKey": "QueueName", "ParameterValue": "jobs"},
    {"ParameterKey": "Retention", "ParameterValue": "345600"},
]


@pytest.fixture
def bucket(aws):
    aws.s3.create_bucket(Bucket="ccb-templates")
    aws.s3.put_object(Bucket="ccb-templates", Key="web/v2.yaml", Body=T2.encode())
    return "ccb-templates"


@pytest.fixture
def stack(aws, moto, bucket):
    aws.cloudformation.create_stack(StackName="web", TemplateBody=T1, Parameters=ORIGINAL_PARAMETERS)
    moto.mark()
    return "web"


def update(aws, **params):
    base = {"stack_name": "web", "template_url": "s3://ccb-templates/web/v2.yaml", "parameters": {"Retention": 60}}
    return Driver("cloudformation_stack", {**base, **params}, aws=aws)


def live(aws, name="web"):
    described = aws.cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    template = aws.cloudformation.get_template(StackName=name)["TemplateBody"]
    parameters = sorted(described["Parameters"], key=lambda p: p["ParameterKey"])
    return described["StackStatus"], template, parameters


def force(status, name="web"):
    cloudformation_backend().get_stack(name).status = status


def test_the_plan_of_an_update_is_the_template_diff_and_the_parameter_changes(aws, moto, stack):
    plan = update(aws).plan()
    assert plan.summary == "Update stack web (CREATE_COMPLETE)."
    assert plan.before["exists"] and plan.before["parameters"] == {"QueueName": "jobs", "Retention": "345600"}
    assert plan.changes[:2] == ["--- live template", "+++ new template"]
    assert '+    "DeadLetters": {' in plan.changes
    assert '+          "Fn::Sub": "${QueueName}-dlq"' in plan.changes
    assert plan.changes[-1] == "parameter Retention: '345600' -> '60'"
    assert moto.mutations() == []


def test_the_same_template_written_otherwise_is_no_change(aws, stack):
    plan = update(aws, template_url=None, template_body=T1_AS_YAML, parameters={}).plan()
    assert plan.changes == [] and plan.summary == "Update stack web (CREATE_COMPLETE): no changes."
    assert plan.before["template_sha256"] == plan.after["template_sha256"]


def test_an_update_keeps_the_old_template_and_the_rollback_puts_it_back_byte_for_byte(aws, moto, stack):
    driver = update(aws)
    outcome = driver.run()
    assert outcome.result is Result.DONE and outcome.evidence["outputs"]["JobsArn"].endswith(":jobs")
    status, template, parameters = live(aws)
    assert (status, template) == ("UPDATE_COMPLETE", T2)
    assert parameters == [ORIGINAL_PARAMETERS[0], {"ParameterKey": "Retention", "ParameterValue": "60"}]
    assert moto.mutations() == ["UpdateStack"]
    assert driver.call("verify").result is Result.DONE
    moto.mark()
    assert driver.run("rollback").result is Result.DONE
    assert live(aws) == ("UPDATE_COMPLETE", T1, ORIGINAL_PARAMETERS)
    assert moto.mutations() == ["UpdateStack"]


def test_a_failed_update_is_rolled_back_to_the_previous_template(aws, moto, stack):
    driver = update(aws)

    def fail_it(n, outcome):  # CloudFormation takes its time, then the update fails with rollback disabled
        if outcome.message == "Updating stack web.":
            force("UPDATE_IN_PROGRESS")
        elif outcome.message == "Stack web: UPDATE_IN_PROGRESS.":
            force("UPDATE_FAILED")

    outcome = driver.run(between=fail_it)
    assert outcome.result is Result.FAILED and outcome.message.startswith("Stack web ended UPDATE_FAILED")
    assert [o.message for _, o in driver.outcomes][2] == "Stack web: UPDATE_IN_PROGRESS."
    assert live(aws)[1] == T2
    moto.mark()
    assert driver.run("rollback").result is Result.DONE
    assert live(aws) == ("UPDATE_COMPLETE", T1, ORIGINAL_PARAMETERS)
    assert moto.mutations() == ["UpdateStack"]


def test_when_cloudformation_rolled_back_itself_there_is_nothing_to_redo(aws, moto, stack):
    driver = update(aws)

    def roll_back_itself(n, outcome):
        if outcome.message == "Updating stack web.":  # as CloudFormation would: the old template, marked so
            aws.cloudformation.update_stack(StackName="web", TemplateBody=T1, Parameters=ORIGINAL_PARAMETERS)
            force("UPDATE_ROLLBACK_COMPLETE")

    outcome = driver.run(between=roll_back_itself)
    assert outcome.result is Result.FAILED and "ended UPDATE_ROLLBACK_COMPLETE" in outcome.message
    moto.mark()
    assert driver.run("rollback").message == "Stack web runs its previous template again (UPDATE_ROLLBACK_COMPLETE)."
    assert moto.mutations() == []


def test_a_stack_the_step_created_is_deleted_by_its_rollback(aws, moto, bucket):
    moto.mark()
    driver = update(aws, stack_name="jobs", parameters={"QueueName": "jobs"})
    assert driver.plan().before == {"exists": False} and moto.mutations() == []
    assert driver.run().result is Result.DONE
    assert live(aws, "jobs")[0] == "CREATE_COMPLETE" and moto.mutations() == ["CreateStack"]
    assert driver.run("rollback", lose_state_after={0}).result is Result.DONE
    assert moto.mutations() == ["CreateStack", "DeleteStack"]
    assert not aws.cloudformation.list_stacks(StackStatusFilter=["CREATE_COMPLETE"])["StackSummaries"]


def test_a_worker_dying_at_any_point_updates_and_restores_once(aws, moto, bucket):
    names = iter(f"web{i}" for i in range(100))

    def fresh():  # a stack of its own for each run
        name = next(names)
        aws.cloudformation.create_stack(StackName=name, TemplateBody=T1, Parameters=ORIGINAL_PARAMETERS)
        moto.mark()
        return update(aws, stack_name=name)

    clean = fresh()
    clean.run()
    calls = len(clean.outcomes)
    for lost in range(calls):
        driver = fresh()
        assert driver.run(lose_state_after={lost}).result is Result.DONE
        assert moto.mutations() == ["UpdateStack"], f"state lost after call {lost}"
        assert driver.run("rollback", lose_state_after={0}).result is Result.DONE
        assert moto.mutations() == ["UpdateStack", "UpdateStack"]
        assert live(aws, driver.params.stack_name) == ("UPDATE_COMPLETE", T1, ORIGINAL_PARAMETERS)
    driver = fresh()
    crash_before(aws.cloudformation, "UpdateStack")
    assert driver.run().result is Result.DONE and moto.mutations() == ["UpdateStack"]


def test_a_template_over_the_inline_limit_is_kept_beside_the_new_one_for_the_rollback(aws, moto, bucket):
    big = json.loads(T1)
    big["Metadata"] = {"Padding": "x" * 60_000}
    big_text = json.dumps(big, indent=1)
    aws.s3.put_object(Bucket=bucket, Key="web/v1.json", Body=big_text.encode())
    url = f"https://{bucket}.s3.us-east-1.amazonaws.com/web/v1.json"
    aws.cloudformation.create_stack(StackName="web", TemplateURL=url, Parameters=ORIGINAL_PARAMETERS)
    moto.mark()
    driver = update(aws)
    assert driver.run().result is Result.DONE
    assert driver.state["before"]["template_url"].startswith("s3://ccb-templates/ccb/previous-templates/web/")
    assert moto.mutations() == ["PutObject", "UpdateStack"]
    assert driver.run("rollback").result is Result.DONE
    assert live(aws) == ("UPDATE_COMPLETE", big_text, ORIGINAL_PARAMETERS)


def test_a_template_changed_in_s3_after_the_record_is_not_applied(aws, moto, stack, bucket):
    driver = update(aws)
    assert driver.call("execute").result is Result.WAIT
    aws.s3.put_object(Bucket=bucket, Key="web/v2.yaml", Body=(T2 + "# edited\n").encode())
    moto.mark()
    outcome = driver.run()
    assert outcome.result is Result.FAILED and "changed since the step recorded it" in outcome.message
    assert moto.mutations() == []


# --- what moto does not do, against the API model ---------------------------------------------------------

STACK_ID = "arn:aws:cloudformation:us-east-1:123456789012:stack/web/6c0c2bd0-0000-0000-0000-000000000000"


def described(status):
    return {
        "Stacks": [
            {
                "StackName": "web",
                "StackId": STACK_ID,
                "StackStatus": status,
                "CreationTime": "2026-11-30T10:00:00Z",
                "Parameters": ORIGINAL_PARAMETERS,
            }
        ]
    }


def recorded_driver(aws, **state):
    driver = update(aws, template_url=None, template_body=T2)
    driver.state = {
        "before": {
            "exists": True,
            "stack_id": STACK_ID,
            "template": T1,
            "template_sha256": "x",
            "parameters": ORIGINAL_PARAMETERS,
            "capabilities": [],
        },
        "stack_id": STACK_ID,
        **state,
    }
    return driver


def test_rolling_back_an_update_still_running_cancels_it(aws):
    stub = Stubber(aws.cloudformation.raw)
    stub.add_response("describe_stacks", described("UPDATE_IN_PROGRESS"), {"StackName": STACK_ID})
    stub.add_response(
        "cancel_update_stack", {}, {"StackName": STACK_ID, "ClientRequestToken": token("run-1-step-1", "cancel")}
    )
    stub.add_response("describe_stacks", described("UPDATE_ROLLBACK_IN_PROGRESS"), {"StackName": STACK_ID})
    driver = recorded_driver(aws, issued="update")
    with stub:
        assert driver.call("rollback").message == "Cancelling the update."
        assert driver.call("rollback").message == "Stack web: UPDATE_ROLLBACK_IN_PROGRESS."
    stub.assert_no_pending_responses()


def test_a_stack_whose_own_rollback_failed_is_continued(aws):
    stub = Stubber(aws.cloudformation.raw)
    stub.add_response("describe_stacks", described("UPDATE_ROLLBACK_FAILED"), {"StackName": STACK_ID})
    stub.add_response(
        "continue_update_rollback",
        {},
        {"StackName": STACK_ID, "ClientRequestToken": token("run-1-step-1", "continue")},
    )
    with stub:
        outcome = recorded_driver(aws, issued="update").call("rollback")
    assert outcome.result is Result.WAIT and outcome.message == "Continuing the stack's rollback."
    stub.assert_no_pending_responses()


def test_an_update_cloudformation_saw_is_not_sent_again_after_a_crash(aws):
    """The worker died after update_stack and before its note of it was kept; CloudFormation rolled the
    update back. The stack's events carry the step's token, so the step reports the failure instead of
    updating again."""
    stub = Stubber(aws.cloudformation.raw)
    stub.add_response("describe_stacks", described("UPDATE_ROLLBACK_COMPLETE"), {"StackName": STACK_ID})
    stub.add_response("get_template", {"TemplateBody": T1}, {"StackName": STACK_ID})
    event = {
        "StackId": STACK_ID,
        "EventId": "e1",
        "StackName": "web",
        "Timestamp": "2026-12-01T22:00:00Z",
        "LogicalResourceId": "DeadLetters",
        "ResourceStatus": "CREATE_FAILED",
        "ResourceStatusReason": "Queue name already taken",
        "ClientRequestToken": token("run-1-step-1", "update"),
    }
    stub.add_response("describe_stack_events", {"StackEvents": [event]}, {"StackName": STACK_ID})
    stub.add_response("describe_stack_events", {"StackEvents": [event]}, {"StackName": STACK_ID})
    driver = recorded_driver(aws, desired_sha256=hashlib.sha256(T2.encode()).hexdigest())
    with stub:
        outcome = driver.call("execute")
    stub.assert_no_pending_responses()
    assert outcome.result is Result.FAILED
    assert outcome.message == "Stack web ended UPDATE_ROLLBACK_COMPLETE: DeadLetters: Queue name already taken"
