"""The deployment panel of a real Lambda canary run against moto: the share of traffic the step moved,
the alarms its bake saw, its log as the step wrote it, and the rollback an alarm set off."""

import pytest
from django.test import Client

from deployments import engine
from deployments.models import DeploymentRun, RunStatus

from . import aws_world as world
from .helpers import deployable_change
from .moto_server import REGION
from .test_run_pages import Clock, drive

pytestmark = pytest.mark.django_db

CANARY = """\
schema: 2
stages:
  - name: Canary
    steps:
      - name: Shift 10%
        type: lambda_canary
        timeout_seconds: 900
        params: {function: fraud-scorer, alias: live, weight: 10, bake_seconds: 120, poll_seconds: 30,
                 alarms: [fraud-errors]}
"""


@pytest.fixture
def worker_credentials(monkeypatch):
    """The engine's workers reach AWS with their own credentials: dummy ones, for moto."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)


@pytest.fixture
def canary_change(moto, aws, worker_credentials, make_change, approve, windows, board, people):
    world.lambda_function(aws)
    world.alarm(aws)
    return deployable_change(
        make_change=make_change, approve=approve, board=board, people=people, source=CANARY, name="Lambda canary"
    )


def signed_in(user):
    client = Client()
    client.force_login(user)
    return client


def test_the_panel_shows_the_canarys_share_the_alarms_it_saw_and_the_rollback_an_alarm_set_off(
    canary_change, aws, people
):
    frank = signed_in(people["frank"])
    assert frank.post(f"/changes/{canary_change.pk}/deployment/start/", HTTP_HX_REQUEST="true").status_code == 200
    run = DeploymentRun.objects.get(change=canary_change)
    clock = Clock()
    step = run.steps.get()
    for _ in range(10):  # record the alias, publish, shift: then the bake waits
        clock.t = max(clock.t, engine.advance(run.pk, now=clock) or clock.t)
        step.refresh_from_db()
        if step.state.get("shifted"):
            break
    page = frank.get(f"/changes/{canary_change.pk}/deployment/").content.decode()
    assert "Target 10% on the new version (version 2); now 10%." in page
    assert '<span class="badge al-ok">OK</span> <strong>fraud-errors</strong>' in page
    assert "Published version 2 of fraud-scorer." in page and "baking" in page
    world.set_alarm(aws, "fraud-errors", "ALARM", reason=world.FIRING)
    run = drive(run, clock)
    assert run.status == RunStatus.ROLLED_BACK
    assert world.alias_of(aws) == ("1", {})
    page = frank.get(f"/changes/{canary_change.pk}/deployment/").content.decode()
    assert '<span class="badge al-alarm">ALARM</span> <strong>fraud-errors</strong>' in page
    assert "Threshold Crossed" in page and "now 0%." in page and "Rolled back" in page
    assert "Alias live restored" in page


def test_the_plan_the_board_votes_on_reads_the_canarys_alias(canary_change, people):
    page = signed_in(people["bob"]).get(f"/changes/{canary_change.pk}/release-plan/").content.decode()
    assert "Live state could not be read" not in page
    assert "Shift 10% of fraud-scorer:live to a version published from $LATEST" in page
