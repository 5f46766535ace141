"""lambda_canary against moto: publish once per run, shift by weighted alias routing, bake under
alarms, and put the alias back exactly as it was, whatever call a worker died in."""

import pytest

from deployments.aws import Aws, SessionConfig
from deployments.steps import Result

from . import aws_world as world
from .driver import Driver, crash_before
from .moto_server import REGION

PARAMS = {"function": "fraud-scorer", "alias": "live", "weight": 10, "bake_seconds": 300, "alarms": ["fraud-errors"]}


def canary(aws, outputs=None, key="run-1-step-1", **params):
    return Driver("lambda_canary", {**PARAMS, **params}, aws=aws, outputs=outputs, key=key)


@pytest.fixture
def fn(aws, moto):
    world.lambda_function(aws)
    world.alarm(aws)
    moto.mark()


def test_plan_shows_the_alias_and_the_new_weights_and_changes_nothing(aws, moto, fn):
    plan = canary(aws).plan()
    assert plan.before == {"version": "1", "weights": {}, "alarms": ["fraud-errors"], "missing_alarms": []}
    assert plan.after["new"]["publish"] == "$LATEST" and plan.after["new"]["code_sha256"]
    assert plan.after["version"] == "1" and plan.after["weights"] == {"(new version)": 0.1}
    assert plan.changes[0] == "alias live: version 1 100% -> version 1 90%, version (new version) 10%"
    assert "alarm fraud-errors: OK now (set to OK)" in plan.changes
    assert moto.mutations() == [] and world.alias_of(aws) == ("1", {})


def test_execute_publishes_shifts_and_bakes_under_the_alarms(aws, moto, fn):
    driver = canary(aws)
    outcome = driver.run()
    assert outcome.result is Result.DONE, outcome.message
    assert world.alias_of(aws) == ("1", {"2": 0.1})
    assert moto.mutations() == ["PublishVersion", "UpdateAlias"]
    assert driver.outputs == {"lambda_canary:fraud-scorer:version": "2"}
    waits = [o.wait_seconds for _, o in driver.outcomes if o.result is Result.WAIT]
    assert waits[0] == 1 and sum(waits[1:]) == 300  # the record, then the bake, never a sleep
    assert outcome.evidence["alarms"][0]["state"] == "OK"
    assert driver.call("verify").result is Result.DONE


def test_every_canary_step_of_a_run_shifts_to_the_version_the_first_published(aws, moto, fn):
    outputs = {}
    assert canary(aws, outputs).run().result is Result.DONE
    aws.lambda_.update_function_code(
        FunctionName="fraud-scorer", ZipFile=world.code("newer")
    )  # a second publish would be 3
    moto.mark()
    second = canary(aws, outputs, key="run-1-step-2", weight=100, bake_seconds=0)
    assert second.plan().after == {"new": {"version": "2"}, "version": "2", "weights": {}}
    assert second.run().result is Result.DONE
    assert world.alias_of(aws) == ("2", {})  # promoted: the alias points at it, no routing
    assert moto.mutations() == ["UpdateAlias"]


def _fresh(moto, base_session, routing=None):
    moto.reset()
    aws = Aws(SessionConfig(region=REGION, max_attempts=1), base_session=base_session)
    world.lambda_function(aws, routing=routing)
    world.alarm(aws)
    moto.mark()
    return aws


def test_a_worker_dying_at_any_point_applies_nothing_twice(moto, base_session):
    aws = _fresh(moto, base_session)
    clean = canary(aws, bake_seconds=60)
    clean.run()
    expected, calls = moto.mutations(), len(clean.outcomes)
    assert expected == ["PublishVersion", "UpdateAlias"]
    for lost in range(calls):  # the call ran, its state was never committed, and it runs again
        aws = _fresh(moto, base_session)
        driver = canary(aws, bake_seconds=60)
        assert driver.run(lose_state_after={lost}).result is Result.DONE
        assert moto.mutations() == expected, f"state lost after call {lost}"
        assert world.alias_of(aws) == ("1", {"2": 0.1}) and driver.outputs
    for operation in ("PublishVersion", "UpdateAlias"):  # the worker died before the call left it
        aws = _fresh(moto, base_session)
        crash_before(aws.lambda_, operation)
        assert canary(aws, bake_seconds=60).run().result is Result.DONE
        assert moto.mutations() == expected and world.alias_of(aws) == ("1", {"2": 0.1})


def test_an_alarm_fails_the_bake_and_rollback_restores_the_alias_exactly(moto, base_session):
    aws = _fresh(moto, base_session, routing={"2": 0.05})  # the alias already sends 5% to version 2
    before = world.alias_of(aws)
    driver = canary(aws)

    def fire(n, outcome):
        if outcome.result is Result.WAIT and n == 3:
            world.set_alarm(aws, "fraud-errors", "ALARM", reason=world.FIRING, data={"recentDatapoints": [5.0]})

    outcome = driver.run(between=fire)
    assert outcome.result is Result.FAILED and "In ALARM: fraud-errors: Threshold Crossed" in outcome.message
    (evidence,) = outcome.evidence["alarms"]
    assert evidence["state"] == "ALARM" and evidence["threshold"] == 1.0
    assert evidence["comparison"] == "GreaterThanThreshold" and evidence["datapoints"] == [5.0]
    assert evidence["metric"]["name"] == "Errors" and evidence["metric"]["dimensions"] == {
        "FunctionName": "fraud-scorer"
    }
    assert world.alias_of(aws) == ("1", {"3": 0.1})
    moto.mark()
    assert driver.run("rollback", lose_state_after={0}).result is Result.DONE  # and once more after a crash
    assert world.alias_of(aws) == before == ("1", {"2": 0.05})
    assert moto.mutations() == ["UpdateAlias"]


@pytest.mark.parametrize(("policy", "result"), [("fail", Result.FAILED), ("pass", Result.DONE)])
def test_insufficient_data_fails_or_passes_as_the_runbook_says(aws, fn, policy, result):
    world.set_alarm(aws, "fraud-errors", "INSUFFICIENT_DATA")
    outcome = canary(aws, insufficient_data=policy).run()
    assert outcome.result is result
    assert outcome.evidence["alarms"][0]["state"] == "INSUFFICIENT_DATA"


def test_insufficient_data_can_keep_the_bake_waiting_for_data(aws, fn):
    world.set_alarm(aws, "fraud-errors", "INSUFFICIENT_DATA")
    driver = canary(aws, insufficient_data="wait", bake_seconds=60, poll_seconds=30)
    for _ in range(8):  # well past the bake's end, still waiting
        outcome = driver.call("execute")
        assert outcome.result is Result.WAIT
        driver.clock.advance(outcome.wait_seconds)
    assert "Waiting for data: fraud-errors" in outcome.message
    world.set_alarm(aws, "fraud-errors", "OK")
    assert driver.run().result is Result.DONE


def test_fast_skips_the_bake(aws, fn):
    driver = canary(aws, bake_seconds=3600)
    outcome = driver.run(fast=True)
    assert outcome.result is Result.DONE and "bake skipped" in outcome.message
    assert sum(o.wait_seconds for _, o in driver.outcomes) == 1


def test_a_version_that_does_not_exist_fails_before_anything_changes(aws, moto, fn):
    outcome = canary(aws, version=9).run()
    assert outcome.result is Result.FAILED and outcome.message == "fraud-scorer has no version 9."
    assert moto.mutations() == []


def test_an_alias_changed_by_someone_else_after_the_record_is_left_alone(aws, moto, fn):
    aws.lambda_.publish_version(FunctionName="fraud-scorer")
    driver = canary(aws, version=2)
    assert driver.call("execute").result is Result.WAIT  # recorded
    aws.lambda_.update_alias(FunctionName="fraud-scorer", Name="live", FunctionVersion="2")
    moto.mark()
    outcome = driver.run()
    assert outcome.result is Result.FAILED and "changed since it was recorded" in outcome.message
    assert moto.mutations() == [] and world.alias_of(aws) == ("2", {})


def test_publishing_code_already_live_is_refused_saying_why(aws, moto):
    world.lambda_function(aws, new_code=False)
    world.alarm(aws)
    moto.mark()
    outcome = canary(aws).run()
    assert outcome.result is Result.FAILED
    assert outcome.message == (
        "Alias live already points at version 1 (publishing $LATEST gave it: was the new code deployed?): "
        "there is nothing to shift from."
    )
    assert moto.mutations() == ["PublishVersion"] and world.alias_of(aws) == ("1", {})


def test_rollback_before_anything_changed_does_nothing(aws, moto, fn):
    assert canary(aws).run("rollback").message == "Nothing was changed."
    assert moto.calls() == []
