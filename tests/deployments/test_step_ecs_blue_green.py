"""ecs_blue_green: the ALB listener's weighted target groups against moto; the green ECS service's
deployment, which moto never progresses, against botocore's Stubber (requests checked against the
real ECS API model)."""

import pytest
from botocore.stub import Stubber

from deployments.steps import Result

from . import aws_world as world
from .driver import Driver, crash_before

CLUSTER = "arn:aws:ecs:us-east-1:123456789012:cluster/web"
OLD = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:7"
NEW = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:8"


@pytest.fixture
def lb(aws, moto):
    out = world.load_balancer(aws)
    world.alarm(aws, "web-5xx")
    moto.mark()
    return out


def shift(aws, lb, **params):
    base = {
        "listener_arn": lb["listener"],
        "blue_target_group": lb["blue"],
        "green_target_group": lb["green"],
        "weight": 10,
        "bake_seconds": 120,
        "poll_seconds": 60,
        "alarms": ["web-5xx"],
    }
    return Driver("ecs_blue_green", {**base, **params}, aws=aws)


def weights(actions, lb):
    forward = actions[0]
    groups = (forward.get("ForwardConfig") or {}).get("TargetGroups")
    if not groups:
        return {"blue" if forward["TargetGroupArn"] == lb["blue"] else "green": None}
    names = {lb["blue"]: "blue", lb["green"]: "green"}
    return {names[g["TargetGroupArn"]]: g["Weight"] for g in groups}


def test_plan_shows_the_weights_and_changes_nothing(aws, moto, lb):
    plan = shift(aws, lb).plan()
    assert plan.before["weights"] == {"blue": 100.0, "green": 0.0}
    assert plan.after == {"weights": {"blue": 90.0, "green": 10.0}}
    assert plan.changes[0] == f"listener {lb['listener']}: blue 100%, green 0% -> blue 90%, green 10%"
    assert moto.mutations() == []


def test_execute_shifts_the_weights_and_bakes(aws, moto, lb):
    driver = shift(aws, lb)
    outcome = driver.run()
    assert outcome.result is Result.DONE, outcome.message
    assert weights(world.listener_actions(aws, lb["listener"]), lb) == {"blue": 90, "green": 10}
    assert moto.mutations() == ["ModifyListener"]
    assert driver.call("verify").evidence["weights"] == {"blue": 90.0, "green": 10.0}


def test_a_worker_dying_at_any_point_shifts_once(aws, moto, lb):
    made = iter(range(100))

    def fresh():  # a load balancer of its own for each run (moto's reset would cost more than the run)
        lb = world.load_balancer(aws, name=f"web{next(made)}")
        moto.mark()
        return lb

    clean = shift(aws, lb := fresh(), bake_seconds=0)
    clean.run()
    assert moto.mutations() == ["ModifyListener"]
    for lost in range(len(clean.outcomes)):
        lb = fresh()
        assert shift(aws, lb, bake_seconds=0).run(lose_state_after={lost}).result is Result.DONE
        assert moto.mutations() == ["ModifyListener"], f"state lost after call {lost}"
        assert weights(world.listener_actions(aws, lb["listener"]), lb) == {"blue": 90, "green": 10}
    lb = fresh()
    crash_before(aws.elbv2, "ModifyListener")
    assert shift(aws, lb, bake_seconds=0).run().result is Result.DONE
    assert moto.mutations() == ["ModifyListener"]
    assert weights(world.listener_actions(aws, lb["listener"]), lb) == {"blue": 90, "green": 10}


def test_an_alarm_fails_the_bake_and_rollback_restores_the_listener_exactly(aws, moto, lb):
    aws.elbv2.modify_listener(  # the listener already sends a sliver to green, sticky
        ListenerArn=lb["listener"],
        DefaultActions=[
            {
                "Type": "forward",
                "ForwardConfig": {
                    "TargetGroups": [
                        {"TargetGroupArn": lb["blue"], "Weight": 95},
                        {"TargetGroupArn": lb["green"], "Weight": 5},
                    ],
                    "TargetGroupStickinessConfig": {"Enabled": True, "DurationSeconds": 300},
                },
            }
        ],
    )
    before = world.listener_actions(aws, lb["listener"])
    driver = shift(aws, lb, weight=50)

    def fire(n, outcome):
        if n == 2:
            world.set_alarm(aws, "web-5xx", "ALARM", reason=world.FIRING)

    outcome = driver.run(between=fire)
    assert outcome.result is Result.FAILED and "web-5xx" in outcome.message
    shifted = world.listener_actions(aws, lb["listener"])
    assert weights(shifted, lb) == {"blue": 50, "green": 50}
    assert shifted[0]["ForwardConfig"]["TargetGroupStickinessConfig"] == {"Enabled": True, "DurationSeconds": 300}
    moto.mark()
    assert driver.run("rollback", lose_state_after={0}).result is Result.DONE
    assert world.listener_actions(aws, lb["listener"]) == before
    assert moto.mutations() == ["ModifyListener"]


def test_a_listener_rule_shifts_and_the_default_action_stays(aws, moto, lb):
    driver = shift(aws, lb, rule_arn=lb["rule"], weight=100, bake_seconds=0, alarms=[])
    assert driver.run().result is Result.DONE
    rule = aws.elbv2.describe_rules(RuleArns=[lb["rule"]])["Rules"][0]["Actions"]
    assert weights(rule, lb) == {"blue": 0, "green": 100}
    assert weights(world.listener_actions(aws, lb["listener"]), lb) == {"blue": None}
    assert moto.mutations() == ["ModifyRule"]
    assert driver.run("rollback").result is Result.DONE
    assert weights(aws.elbv2.describe_rules(RuleArns=[lb["rule"]])["Rules"][0]["Actions"], lb) == {"blue": None}


def test_a_listener_forwarding_elsewhere_is_refused_untouched(aws, moto, lb):
    other = aws.elbv2.create_target_group(Name="web-other", Protocol="HTTP", Port=80, VpcId=lb["vpc"])
    other_arn = other["TargetGroups"][0]["TargetGroupArn"]
    aws.elbv2.modify_listener(
        ListenerArn=lb["listener"], DefaultActions=[{"Type": "forward", "TargetGroupArn": other_arn}]
    )
    moto.mark()
    outcome = shift(aws, lb).run()
    assert outcome.result is Result.FAILED
    assert outcome.message == f"The listener {lb['listener']} forwards to {other_arn}, neither blue nor green."
    assert moto.mutations() == []


# --- the green service, through botocore's Stubber ---------------------------------------------------------


def service(task_definition, *deployments):
    return {
        "services": [
            {
                "serviceName": "web-green",
                "serviceArn": "arn:aws:ecs:us-east-1:123456789012:service/web/web-green",
                "clusterArn": CLUSTER,
                "status": "ACTIVE",
                "taskDefinition": task_definition,
                "desiredCount": 2,
                "runningCount": 2,
                "deployments": list(deployments),
            }
        ],
        "failures": [],
    }


def deployment(task_definition, status="PRIMARY", rollout="COMPLETED", running=2, reason=""):
    out = {
        "id": f"ecs-svc/{task_definition[-1]}",
        "status": status,
        "taskDefinition": task_definition,
        "desiredCount": 2,
        "runningCount": running,
        "rolloutState": rollout,
    }
    return out | ({"rolloutStateReason": reason} if reason else {})


DESCRIBE = {"cluster": "web", "services": ["web-green"]}


def green(aws, lb, **params):
    green_service = {"cluster": "web", "service": "web-green", "task_definition": "web:8"}
    return shift(aws, lb, weight=100, bake_seconds=0, alarms=[], green_service=green_service, **params)


def test_the_green_service_runs_the_new_task_definition_before_traffic_moves(aws, moto, lb):
    stub = Stubber(aws.ecs.raw)
    stub.add_response("describe_services", service(OLD, deployment(OLD)), DESCRIBE)  # the record
    stub.add_response("describe_services", service(OLD, deployment(OLD)), DESCRIBE)
    stub.add_response(
        "update_service",
        {"service": service(NEW)["services"][0]},
        {"cluster": "web", "service": "web-green", "taskDefinition": "web:8"},
    )
    in_progress = service(NEW, deployment(NEW, rollout="IN_PROGRESS", running=1), deployment(OLD, status="ACTIVE"))
    stub.add_response("describe_services", in_progress, DESCRIBE)
    stub.add_response("describe_services", service(NEW, deployment(NEW)), DESCRIBE)
    driver = green(aws, lb)
    with stub:
        outcome = driver.run()
    stub.assert_no_pending_responses()
    assert outcome.result is Result.DONE, outcome.message
    messages = [o.message for _, o in driver.outcomes]
    assert messages[2] == "Service web-green deploying web:8: 1 of 2 running."
    assert moto.mutations() == ["ModifyListener"]  # only once the service ran web:8
    assert weights(world.listener_actions(aws, lb["listener"]), lb) == {"blue": 0, "green": 100}

    rollback = Stubber(aws.ecs.raw)
    rollback.add_response("describe_services", service(NEW, deployment(NEW)), DESCRIBE)
    rollback.add_response(
        "update_service",
        {"service": service(OLD)["services"][0]},
        {"cluster": "web", "service": "web-green", "taskDefinition": OLD},
    )
    rollback.add_response("describe_services", service(OLD, deployment(OLD)), DESCRIBE)
    with rollback:
        assert driver.run("rollback").result is Result.DONE
    rollback.assert_no_pending_responses()
    assert weights(world.listener_actions(aws, lb["listener"]), lb) == {"blue": None}


def test_a_failed_green_deployment_fails_the_step_and_moves_no_traffic(aws, moto, lb):
    stub = Stubber(aws.ecs.raw)
    stub.add_response("describe_services", service(OLD, deployment(OLD)), DESCRIBE)
    stub.add_response("describe_services", service(OLD, deployment(OLD)), DESCRIBE)
    stub.add_response("update_service", {"service": service(NEW)["services"][0]})
    failed = deployment(
        NEW, rollout="FAILED", running=0, reason="ECS deployment circuit breaker: tasks failed to start."
    )
    stub.add_response("describe_services", service(NEW, failed, deployment(OLD, status="ACTIVE")), DESCRIBE)
    with stub:
        outcome = green(aws, lb).run()
    assert outcome.result is Result.FAILED
    assert (
        outcome.message
        == "Service web-green's deployment failed: ECS deployment circuit breaker: tasks failed to start."
    )
    assert moto.mutations() == []
