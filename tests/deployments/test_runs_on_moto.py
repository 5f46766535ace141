"""Whole runs of approved changes against moto in server mode (and a real PostgreSQL target): the
engine calls the real step types through the real AWS adapter; the clock is the test's, so bakes pass
at once without sleeping."""

import json

import psycopg
import pytest
import yaml
from django.utils import timezone

from ccb.models import AuditEvent, ChangeRequest
from deployments import engine
from deployments.models import RunStatus, StepStatus
from deployments.steps.db_schema_change import digest

from . import aws_world
from .helpers import deployable_change, start_run
from .test_step_db_schema_change import DOWN, UP, schema_of, target  # noqa: F401 - the target fixture

pytestmark = pytest.mark.django_db

CANARY = """\
schema: 2
description: Canary the fraud scorer behind its alias.
parameters:
  production: {function: fraud-scorer, alias: live, alarm: fraud-errors}
stages:
  - name: Canary
    strategy:
      name: Canary10Percent5Minutes
      type: lambda_canary
      params: {function: "${function}", alias: "${alias}", alarms: ["${alarm}"], poll_seconds: 60}
"""


@pytest.fixture
def engine_aws(moto, monkeypatch, settings):
    """The engine builds its own AWS sessions: dummy credentials, one attempt a call."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    settings.CCB_AWS_MAX_ATTEMPTS = 1
    return moto


@pytest.fixture
def canary_change(engine_aws, aws, make_change, approve, board, people, windows):
    aws_world.lambda_function(aws)
    aws_world.alarm(aws)
    return deployable_change(make_change=make_change, approve=approve, board=board, people=people, source=CANARY)


class Clock:
    def __init__(self):
        self.t = timezone.now()

    def __call__(self):
        return self.t


def drive(run, clock, *, between=None, limit=100):
    """Play the workers until the run ends; ``between(run)`` runs after every call (to set an alarm)."""
    for _ in range(limit):
        again = engine.advance(run.pk, now=clock)
        run.refresh_from_db()
        if between is not None:
            between(run)
        if run.finished:
            return run
        if again is not None:
            clock.t = max(clock.t, again)
    raise AssertionError(f"the run did not end: {run.status}")


def events(change):
    return [(e.action, json.loads(e.data)) for e in AuditEvent.objects.filter(target_id=str(change.pk)).order_by("seq")]


def test_a_canary_completes_and_the_alias_ends_on_the_new_version(canary_change, aws, people):
    before_version, _ = aws_world.alias_of(aws)
    run = drive(start_run(canary_change, people["frank"]), Clock())
    assert run.status == RunStatus.SUCCEEDED, run.outcome
    version, routing = aws_world.alias_of(aws)
    assert (before_version, version, routing) == ("1", "2", {})
    shares = [(s.params["weight"], s.status) for s in run.steps.order_by("position")]
    assert shares == [(10, StepStatus.SUCCEEDED), (100, StepStatus.SUCCEEDED)]
    assert ChangeRequest.objects.get(pk=canary_change.pk).status == "completed"
    calls = [d for a, d in events(canary_change) if a == "deployment.aws_calls"]
    assert any(c["operation"] == "UpdateAlias" and c["request_id"] for d in calls for c in d["request_ids"])
    bake = run.steps.get(position=0).evidence
    assert any(
        a["name"] == "fraud-errors" and a["state"] == "OK" for a in json.dumps(bake) and bake["execute"]["alarms"]
    )


def test_an_alarm_during_the_bake_rolls_the_canary_back_exactly(canary_change, aws, people):
    before = aws_world.alias_of(aws)

    def fire_while_baking(run):
        first = run.steps.get(position=0)
        if first.status == StepStatus.WAITING and "bake_until" in first.state:
            aws_world.set_alarm(aws, "fraud-errors", "ALARM", reason=aws_world.FIRING)

    run = drive(start_run(canary_change, people["frank"]), Clock(), between=fire_while_baking)
    assert run.status == RunStatus.ROLLED_BACK, run.outcome
    assert aws_world.alias_of(aws) == before  # version 1, no routing: exactly as it was
    assert "fraud-errors" in run.outcome
    assert ChangeRequest.objects.get(pk=canary_change.pk).status == "rolled_back"
    actions = [a for a, _ in events(canary_change)]
    for expected in (
        "deployment.step_failed",
        "deployment.rollback_started",
        "deployment.step_rolled_back",
        "deployment.finished",
        "change.implementation_finished",
    ):
        assert expected in actions
    failed = next(d for a, d in events(canary_change) if a == "deployment.step_failed")
    assert "ALARM" in json.dumps(failed["evidence"])  # what the gate decided on is on the chain


def schema_then_smoke(expect_digest):
    """A migration, then a smoke test that cannot pass (nothing listens on port 9)."""
    return yaml.safe_dump(
        {
            "schema": 2,
            "stages": [
                {
                    "name": "Migrate",
                    "steps": [
                        {
                            "name": "Add the note column",
                            "type": "db_schema_change",
                            "params": {
                                "dsn_env": "CCB_TARGET_DSN",
                                "expect_digest": expect_digest,
                                "up_sql": UP,
                                "down_sql": DOWN,
                            },
                        }
                    ],
                },
                {
                    "name": "Check",
                    "steps": [
                        {
                            "name": "Smoke test",
                            "type": "http_smoke",
                            "params": {"url": "http://127.0.0.1:9/health", "attempts": 1, "timeout_seconds": 2},
                        }
                    ],
                },
            ],
        },
        sort_keys=False,
    )


@pytest.mark.postgres
def test_a_schema_change_is_rolled_back_when_a_later_step_fails(target, make_change, approve, board, people, windows):  # noqa: F811, E501
    before = schema_of(target)
    source = schema_then_smoke(digest(before))
    change = deployable_change(
        make_change=make_change, approve=approve, board=board, people=people, source=source, name="Notes column"
    )
    run = drive(start_run(change, people["frank"]), Clock())
    assert run.status == RunStatus.ROLLED_BACK, run.outcome
    assert "Smoke test" in run.outcome
    assert schema_of(target) == before
    with psycopg.connect(target) as conn:
        assert conn.execute("select count(*) from audit_log").fetchone()[0] == 0
    migrate = run.steps.get(position=0)
    assert migrate.status == StepStatus.ROLLED_BACK
