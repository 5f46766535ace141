"""The engine runs an approved change's runbook one step call at a time, under leases, with the
database as the truth: gates answered by the right people, failures rolled back in reverse order,
the window and freezes re-checked before every step, and every act on the audit chain."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from ccb import services
from ccb.exceptions import Conflict, PolicyViolation
from ccb.models import AuditEvent, ChangeRequest
from ccb.principals import SYSTEM_USERNAME
from deployments import engine, links, runs, steps
from deployments.models import DeploymentRun, RunStatus, StepStatus

from ..ccb.conftest import freeze
from .helpers import deployable_change

pytestmark = pytest.mark.django_db

CALLS: list[tuple[str, str]] = []
LIVE = {"version": 1}  # what the recording step type reads as "live state"


class RecordParams(steps.Params):
    label: str
    fail_on: str = ""


@steps.register("test_record")
class Record(steps.StepType):
    """An action for these tests: it changes nothing outside, remembers every call, and fails when told."""

    params = RecordParams
    kind = "action"

    def plan(self, ctx):
        return steps.Plan(
            summary=f"record {ctx.p.label}", before={"live": LIVE["version"]}, after={"label": ctx.p.label}
        )

    def _call(self, ctx, phase):
        CALLS.append((phase, ctx.p.label))
        if ctx.p.fail_on == phase:
            return steps.Outcome.failed(f"{ctx.p.label} failed on purpose")
        return steps.Outcome.done(f"{phase} {ctx.p.label}")

    def execute(self, ctx):
        return self._call(ctx, "execute")

    def verify(self, ctx):
        return self._call(ctx, "verify")

    def rollback(self, ctx):
        return self._call(ctx, "rollback")


RUNBOOK = """\
schema: 2
window_closes: {closes}
stages:
  - name: First
    steps:
      - {{name: Record a, type: test_record, params: {{label: a}}}}
      - {{name: Bake, type: wait, params: {{seconds: 300}}}}
    gate: {{role: implementer, question: "Go on?", not_starter: true}}
  - name: Second
    steps:
      - {{name: Record b, type: test_record, params: {{label: b, fail_on: "{fail}"}}}}
"""


@pytest.fixture(autouse=True)
def _clean():
    CALLS.clear()
    LIVE["version"] = 1


class Clock:
    def __init__(self):
        self.t = timezone.now()

    def __call__(self):
        return self.t


@pytest.fixture
def deployable(make_change, approve, windows, board, people):
    """make(fail=..., closes=...) -> an approved change of alice's, frank implementing, its slot open now."""

    def make(fail="", closes="rollback", source=None):
        source = source or RUNBOOK.format(fail=fail, closes=closes)
        return deployable_change(
            make_change=make_change,
            approve=approve,
            board=board,
            people=people,
            source=source,
            name=f"Typed {fail}{closes}{len(source)}",
        )

    return make


def start(change, person):
    plan = runs.live_plan(change, change.environment)
    return runs.run_start(change_id=change.pk, actor=person, plan=plan)


def drive(run, clock, limit=200):
    """Play the workers: advance until nothing is due now, moving the clock over waits."""
    for _ in range(limit):
        again = engine.advance(run.pk, now=clock)
        run.refresh_from_db()
        if again is None or run.status in (RunStatus.AWAITING_ANSWER, RunStatus.PAUSED, RunStatus.HELD):
            return run
        clock.t = max(clock.t, again)
    raise AssertionError("the run did not settle")


def events(change, prefix="deployment."):
    return [
        (e.action, json.loads(e.data))
        for e in AuditEvent.objects.filter(target_id=str(change.pk), action__startswith=prefix).order_by("seq")
    ]


def test_a_run_completes_through_its_gate_and_the_change_is_completed(deployable, people):
    change = deployable()
    clock = Clock()
    run = drive(start(change, people["frank"]), clock)
    assert run.status == RunStatus.AWAITING_ANSWER
    gate = run.steps.get(type="manual_gate")
    assert gate.status == StepStatus.AWAITING_ANSWER
    runs.gate_answer(run_id=run.pk, position=gate.position, actor=people["mia"], answer="go", comment="Looks fine.")
    run = drive(run, clock)
    assert run.status == RunStatus.SUCCEEDED
    assert CALLS == [("execute", "a"), ("verify", "a"), ("execute", "b"), ("verify", "b")]
    change.refresh_from_db()
    assert change.status == "completed"
    actions = [a for a, _ in events(change)]
    assert actions[0] == "deployment.started" and actions[-1] == "deployment.finished"
    assert "deployment.gate_answered" in actions and actions.count("deployment.step_succeeded") == 4
    finished = AuditEvent.objects.get(target_id=str(change.pk), action="change.implementation_finished")
    assert finished.actor_name == SYSTEM_USERNAME and json.loads(finished.data)["on_behalf_of"] == "frank"
    assert all(d["on_behalf_of"] == "frank" for _, d in events(change))


def test_a_failed_step_rolls_back_the_completed_steps_in_reverse(deployable, people):
    change = deployable(fail="execute")
    clock = Clock()
    run = drive(start(change, people["frank"]), clock)
    runs.gate_answer(
        run_id=run.pk, position=run.steps.get(type="manual_gate").position, actor=people["mia"], answer="go"
    )
    run = drive(run, clock)
    assert run.status == RunStatus.ROLLED_BACK
    assert CALLS == [("execute", "a"), ("verify", "a"), ("execute", "b"), ("rollback", "b"), ("rollback", "a")]
    assert "b failed on purpose" in run.outcome
    change.refresh_from_db()
    assert change.status == "rolled_back"
    assert [a for a, _ in events(change)].count("deployment.step_rolled_back") == 2


def test_a_no_go_rolls_back(deployable, people):
    change = deployable()
    clock = Clock()
    run = drive(start(change, people["frank"]), clock)
    gate = run.steps.get(type="manual_gate")
    with pytest.raises(Exception, match="comment"):
        runs.gate_answer(run_id=run.pk, position=gate.position, actor=people["mia"], answer="no_go")
    runs.gate_answer(
        run_id=run.pk, position=gate.position, actor=people["mia"], answer="no_go", comment="Latency is up."
    )
    run = drive(run, clock)
    assert run.status == RunStatus.ROLLED_BACK and CALLS[-1] == ("rollback", "a")
    gate.refresh_from_db()
    assert gate.status == StepStatus.FAILED and "Latency is up." in gate.message
    assert gate.evidence["execute"]["by"] == "mia"


@pytest.mark.parametrize(
    ("who", "rule"),
    [("frank", "gate_not_by_starter"), ("bob", "gate_needs_role"), ("carol", "gate_not_by_approver")],
)
def test_the_gate_is_refused_to_the_starter_and_to_approvers(deployable, people, board, admin_user, who, rule):
    from ccb.choices import BoardRole

    change = deployable()
    # carol approved the change; giving her the implementer role does not let her answer its gate
    services.board_role_grant(actor=admin_user, board=board, user=people["carol"], role=BoardRole.IMPLEMENTER)
    run = drive(start(change, people["frank"]), Clock())
    gate = run.steps.get(type="manual_gate")
    with pytest.raises(PolicyViolation) as exc:
        runs.gate_answer(run_id=run.pk, position=gate.position, actor=people[who], answer="go")
    assert exc.value.rule == rule
    assert AuditEvent.objects.filter(action="policy.refused", actor_name=who, data__contains=rule).exists()


def test_an_approver_cannot_start_the_run(deployable, people):
    change = deployable()
    with pytest.raises(PolicyViolation) as exc:
        start(change, people["bob"])
    assert exc.value.rule == "implementer_only_executes"
    assert not DeploymentRun.objects.exists()


def test_a_run_is_refused_outside_its_slot(deployable, people):
    change = deployable()
    later = timezone.now() + timedelta(hours=5)
    ChangeRequest.objects.filter(pk=change.pk).update(planned_start=later, planned_end=later + timedelta(hours=1))
    with pytest.raises(Conflict, match="slot opens"):
        start(ChangeRequest.objects.get(pk=change.pk), people["frank"])
    assert not DeploymentRun.objects.exists()


def test_a_run_is_refused_in_a_freeze(deployable, people, board):
    change = deployable()
    now = timezone.now()
    freeze(people["erin"], start=now - timedelta(minutes=5), end=now + timedelta(hours=1), board=board)
    with pytest.raises(Conflict, match="freeze"):
        start(ChangeRequest.objects.get(pk=change.pk), people["frank"])


def test_a_run_is_refused_when_the_runbook_no_longer_matches_the_approval(deployable, people):
    change = deployable()
    version = links.version_of(change)
    type(version).objects.filter(pk=version.pk).update(document={**version.document, "description": "edited"})
    with pytest.raises(Conflict, match="runbook differs"):
        start(ChangeRequest.objects.get(pk=change.pk), people["frank"])


def test_live_drift_stops_the_start_unless_the_chair_accepts_it(deployable, people):
    change = deployable()
    LIVE["version"] = 2  # someone changed the target since the board saw the plan
    plan = runs.live_plan(change, change.environment)
    with pytest.raises(runs.DriftRefused) as exc:
        runs.run_start(change_id=change.pk, actor=people["frank"], plan=plan)
    assert {(d["name"], d["field"]) for d in exc.value.drift} == {("Record a", "before"), ("Record b", "before")}
    with pytest.raises(PolicyViolation) as refused:
        runs.run_start(change_id=change.pk, actor=people["frank"], plan=plan, drift_reason="It is fine.")
    assert refused.value.rule == "chair_accepts_drift"


def test_the_window_closing_mid_run_rolls_back_at_the_step_boundary(deployable, people):
    change = deployable()
    clock = Clock()
    run = drive(start(change, people["frank"]), clock)
    clock.t = change.planned_end + timedelta(minutes=1)
    runs.gate_answer(
        run_id=run.pk, position=run.steps.get(type="manual_gate").position, actor=people["mia"], answer="go"
    )
    run = drive(run, clock)
    assert run.status == RunStatus.ROLLED_BACK and "slot closed" in run.outcome
    assert ("execute", "b") not in CALLS and CALLS[-1] == ("rollback", "a")


def test_a_run_held_at_its_windows_end_goes_on_when_the_chair_extends_it(deployable, people):
    change = deployable(closes="hold")
    clock = Clock()
    run = drive(start(change, people["frank"]), clock)
    runs.gate_answer(
        run_id=run.pk, position=run.steps.get(type="manual_gate").position, actor=people["mia"], answer="go"
    )
    clock.t = change.planned_end + timedelta(minutes=1)
    run = drive(run, clock)
    assert run.status == RunStatus.HELD and ("execute", "b") not in CALLS
    with pytest.raises(PolicyViolation):
        runs.run_extend(run_id=run.pk, actor=people["frank"], minutes=30, reason="More time.")
    # the extension is measured from the real now; the test's clock is already past the old end
    runs.run_extend(run_id=run.pk, actor=people["erin"], minutes=24 * 60, reason="Finish the rollout tonight.")
    run = drive(run, clock)
    assert run.status == RunStatus.SUCCEEDED and ("execute", "b") in CALLS


def test_an_abort_during_a_bake_rolls_back_at_once(deployable, people):
    change = deployable()
    clock = Clock()
    run = runs_start_and_step(change, people, clock)
    assert run.steps.get(type="wait").status == StepStatus.WAITING
    runs.run_abort(run_id=run.pk, actor=people["frank"], reason="Customer complaints.", fast=True)
    run = drive(run, clock)
    assert run.status == RunStatus.ROLLED_BACK and CALLS[-1] == ("rollback", "a")
    assert "Customer complaints." in run.outcome


def runs_start_and_step(change, people, clock):
    run = start(change, people["frank"])
    for _ in range(5):  # record a, then the bake begins
        engine.advance(run.pk, now=clock)
    run.refresh_from_db()
    return run


def test_a_worker_that_dies_mid_call_leaves_its_lease_to_expire_and_the_step_is_called_again(
    deployable, people, settings
):
    settings.CCB_STEP_LEASE_SECONDS = 30
    change = deployable()
    clock = Clock()
    run = start(change, people["frank"])
    due = engine._claim(run.pk, clock)  # a worker claims "Record a" and dies before settling
    assert due.step.name == "Record a"
    assert engine.advance(run.pk, now=clock) == due.step.lease_expires_at  # the lease keeps others off
    assert CALLS == []
    clock.t += timedelta(seconds=31)
    engine.advance(run.pk, now=clock)
    assert CALLS == [("execute", "a"), ("verify", "a")]
    step = run.steps.get(position=0)
    assert step.status == StepStatus.SUCCEEDED and step.attempt == 2


def test_an_unanswered_gate_times_out_into_a_no_go(deployable, people):
    change = deployable()
    clock = Clock()
    run = drive(start(change, people["frank"]), clock)
    gate = run.steps.get(type="manual_gate")
    assert engine.advance(run.pk, now=clock) == gate.deadline_at  # nothing to do but wait for the answer
    clock.t = gate.deadline_at + timedelta(seconds=1)
    run = drive(run, clock)
    assert run.status == RunStatus.ROLLED_BACK and "Nobody answered" in run.outcome


def test_a_paused_or_finished_run_asks_for_no_more_work(deployable, people):
    change = deployable()
    clock = Clock()
    run = drive(start(change, people["frank"]), clock)
    runs.gate_answer(
        run_id=run.pk, position=run.steps.get(type="manual_gate").position, actor=people["mia"], answer="go"
    )
    run = drive(run, clock)
    assert run.status == RunStatus.SUCCEEDED
    assert engine.advance(run.pk, now=clock) is None


PAUSING = """\
schema: 2
stages:
  - name: Migrate
    steps:
      - {name: Record a, type: test_record, params: {label: a}}
      - {name: Analyse, type: test_record, params: {label: analysis, fail_on: verify}, on_failure: pause,
         pause_role: chair}
      - {name: Record c, type: test_record, params: {label: c}}
"""


def test_a_failed_analysis_pauses_for_the_named_roles_go_no_go(deployable, people, board):
    change = deployable(source=PAUSING)
    clock = Clock()
    run = drive(start(change, people["frank"]), clock)
    assert run.status == RunStatus.PAUSED
    analysis = run.steps.get(name="Analyse")
    assert analysis.status == StepStatus.FAILED
    with pytest.raises(PolicyViolation) as exc:
        runs.gate_answer(run_id=run.pk, position=analysis.position, actor=people["mia"], answer="go")
    assert exc.value.rule == "gate_needs_role"
    runs.run_retry(run_id=run.pk, actor=people["frank"])
    run = drive(run, clock)
    assert run.status == RunStatus.PAUSED and CALLS.count(("verify", "analysis")) == 2
    runs.gate_answer(
        run_id=run.pk,
        position=analysis.position,
        actor=people["erin"],
        answer="go",
        comment="Known noise in the analysis.",
    )
    run = drive(run, clock)
    assert run.status == RunStatus.SUCCEEDED and CALLS[-2:] == [("execute", "c"), ("verify", "c")]
    assert run.steps.get(name="Analyse").status == StepStatus.SKIPPED


def test_the_chair_accepts_the_drift_and_the_implementer_then_starts(deployable, people):
    change = deployable()
    LIVE["version"] = 2
    plan = runs.live_plan(change, change.environment)
    with pytest.raises(PolicyViolation) as refused:
        runs.run_accept_drift(change_id=change.pk, actor=people["frank"], plan=plan, reason="Fine by me.")
    assert refused.value.rule == "chair_accepts_drift"
    runs.run_accept_drift(change_id=change.pk, actor=people["erin"], plan=plan, reason="The new version is expected.")
    run = runs.run_start(change_id=change.pk, actor=people["frank"], plan=runs.live_plan(change, change.environment))
    assert (run.drift_accepted_by, run.drift_reason) == (people["erin"], "The new version is expected.")
    assert {d["name"] for d in run.drift} == {"Record a", "Record b"}
    accepted = AuditEvent.objects.get(action="deployment.drift_accepted", target_id=str(change.pk))
    assert accepted.actor_name == "erin"


def test_an_acceptance_covers_only_the_drift_the_chair_saw(deployable, people):
    change = deployable()
    LIVE["version"] = 2
    runs.run_accept_drift(
        change_id=change.pk,
        actor=people["erin"],
        plan=runs.live_plan(change, change.environment),
        reason="Version 2 is expected.",
    )
    LIVE["version"] = 3  # live state moved again after the chair looked
    with pytest.raises(runs.DriftRefused):
        runs.run_start(change_id=change.pk, actor=people["frank"], plan=runs.live_plan(change, change.environment))
    assert not DeploymentRun.objects.exists()
