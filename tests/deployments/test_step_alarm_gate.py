"""alarm_gate against moto: alarms set with set_alarm_state decide the gate over its bake, and the
evidence shows what each alarm said."""

import pytest

from deployments.steps import Result

from . import aws_world as world
from .driver import Driver


def gate(aws, **params):
    return Driver("alarm_gate", {"alarms": ["fraud-errors", "latency"], "bake_seconds": 120, **params}, aws=aws)


@pytest.fixture
def alarms(aws, moto):
    world.alarm(aws, "fraud-errors")
    world.alarm(aws, "latency")
    moto.mark()


def test_quiet_alarms_over_the_bake_say_go(aws, moto, alarms):
    driver = gate(aws, poll_seconds=30)
    outcome = driver.run()
    assert outcome.result is Result.DONE and outcome.message == "Alarm gate: baked 120 s; 2 alarms OK."
    assert [o.wait_seconds for _, o in driver.outcomes if o.result is Result.WAIT] == [30, 30, 30, 30]
    assert {a["name"]: a["state"] for a in outcome.evidence["alarms"]} == {"fraud-errors": "OK", "latency": "OK"}
    assert moto.mutations() == []


def test_an_alarm_firing_during_the_bake_says_no_go_with_its_datapoints(aws, alarms):
    driver = gate(aws)

    def fire(n, outcome):
        if n == 1:
            world.set_alarm(aws, "latency", "ALARM", reason=world.FIRING)

    outcome = driver.run(between=fire)
    assert outcome.result is Result.FAILED and outcome.message.startswith("Alarm gate: In ALARM: latency: Threshold")
    latency = next(a for a in outcome.evidence["alarms"] if a["name"] == "latency")
    assert latency["datapoints"] == [{"value": 5.0, "at": "01/12/26 22:03:00"}]  # read from the reason itself
    assert latency["threshold"] == 1.0 and latency["comparison"] == "GreaterThanThreshold"
    assert latency["reason"] == world.FIRING and latency["metric"]["statistic"] == "Sum"
    assert len(driver.outcomes) == 3  # the gate stopped at the first look that saw ALARM


@pytest.mark.parametrize(
    ("policy", "result", "message"),
    [
        ("fail", Result.FAILED, "Alarm gate: Insufficient data (the runbook says fail): latency."),
        (
            "pass",
            Result.DONE,
            "Alarm gate: baked 0 s; 2 alarms OK (latency: insufficient data, passed as the runbook says).",
        ),
        ("wait", Result.WAIT, "Alarm gate: bake over; Waiting for data: latency."),
    ],
)
def test_insufficient_data_is_what_the_runbook_states(aws, alarms, policy, result, message):
    world.set_alarm(aws, "latency", "INSUFFICIENT_DATA")
    outcome = gate(aws, insufficient_data=policy, bake_seconds=0).call("execute")
    assert (outcome.result, outcome.message) == (result, message)


def test_a_misspelt_alarm_never_passes(aws, moto, alarms):
    driver = gate(aws, alarms=["fraud-errors", "fraud-erors"])
    plan = driver.plan()
    assert "alarm fraud-erors: NOT FOUND (the bake would fail)" in plan.changes
    assert plan.before == {"alarms": ["fraud-errors"], "missing_alarms": ["fraud-erors"]}
    assert moto.mutations() == []
    outcome = driver.run()
    assert outcome.result is Result.FAILED and outcome.message == "Alarm gate: Alarm not found: fraud-erors."
