"""The deployment panel on the change page, through Django's test client: what each person sees of a run
and may do to it, each action's answer in place (the rule of a refusal, what was typed kept), and the poll
that follows the run until it ends. The engine is driven here by calling engine.advance."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from ccb import services
from ccb.choices import BoardRole
from ccb.models import AuditEvent, ChangeRequest
from deployments import engine, steps
from deployments.models import ArmedStart, DeploymentRun, RunStatus, StepStatus

from ..ccb.conftest import book, in_window
from .helpers import GATED, deployable_change, typed_runbook

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}
LIVE = {"version": 1}


class ProbeParams(steps.Params):
    label: str
    fail_on: str = ""


@steps.register("page_probe")
class Probe(steps.StepType):
    """An action for these tests: changes nothing outside, logs each call, fails when told to."""

    params = ProbeParams
    kind = "action"

    def plan(self, ctx):
        return steps.Plan(summary=f"probe {ctx.p.label}", before={"live": LIVE["version"]})

    def _call(self, ctx, phase):
        ctx.log(f"{phase} {ctx.p.label}")
        if ctx.p.fail_on == phase:
            return steps.Outcome.failed(f"{ctx.p.label} failed on purpose")
        return steps.Outcome.done(f"{phase} {ctx.p.label} done")

    def execute(self, ctx):
        return self._call(ctx, "execute")

    def verify(self, ctx):
        return self._call(ctx, "verify")

    def rollback(self, ctx):
        return self._call(ctx, "rollback")


PROBES = """\
schema: 2
window_closes: {closes}
stages:
  - name: First
    steps:
      - {{name: Probe a, type: page_probe, params: {{label: a}}}}
      - {{name: Analyse, type: page_probe, params: {{label: b, fail_on: "{fail}"}}, on_failure: pause,
         pause_role: chair}}
    gate: {{role: {role}, question: "Go on?", not_starter: {not_starter}}}
  - name: Second
    steps:
      - {{name: Probe c, type: page_probe, params: {{label: c}}}}
"""


@pytest.fixture(autouse=True)
def _live():
    LIVE["version"] = 1


class Clock:
    def __init__(self):
        self.t = timezone.now()

    def __call__(self):
        return self.t


def drive(run, clock=None, limit=100):
    """Play the workers until the run waits for a person or ends, moving the clock over waits."""
    clock = clock or Clock()
    for _ in range(limit):
        again = engine.advance(run.pk, now=clock)
        run.refresh_from_db()
        if again is None or run.status in (RunStatus.AWAITING_ANSWER, RunStatus.PAUSED, RunStatus.HELD):
            return run
        clock.t = max(clock.t, again)
    raise AssertionError("the run did not settle")


@pytest.fixture
def deployable(make_change, approve, windows, board, people):
    """deployable(source) -> an approved change of alice's, frank implementing, its slot open now."""
    made = []

    def make(source=GATED, **probe):
        if probe:
            values = {"fail": "", "closes": "rollback", "role": "implementer", "not_starter": "false", **probe}
            source = PROBES.format(**values)
        name = f"Runbook {len(made) + 1}"
        made.append(name)
        return deployable_change(
            make_change=make_change, approve=approve, board=board, people=people, source=source, name=name
        )

    return make


@pytest.fixture
def as_():
    """as_(user) -> a client of that person's own, signed in."""

    def sign_in(user):
        client = Client()
        client.force_login(user)
        return client

    return sign_in


def panel(client, change) -> str:
    response = client.get(f"/changes/{change.pk}/deployment/")
    assert response.status_code == 200
    return response.content.decode()


def post(client, url, data=None):
    return client.post(url, data or {}, **HX)


def latest(change):
    return DeploymentRun.objects.filter(change=change).latest("created_at")


# Measured: 19 for a poll, 24 for the dashboard with three gates waiting (the policy asks a few per gate).
MAX_POLL_QUERIES, MAX_DASHBOARD_QUERIES = 20, 26
START, ARM, ABORT, ANSWER = "Start the deployment", "Arm: start it in its slot", "Abort the run", "Your go/no-go"


# --- starting ----------------------------------------------------------------------------------------------


def test_only_the_changes_implementer_is_offered_start_and_arm(deployable, people, as_):
    change = deployable()
    page = panel(as_(people["frank"]), change)
    assert START in page and ARM in page and "No deployment has run yet." in page
    for who in ("alice", "bob", "carol", "mia", "quinn", "grace"):
        page = panel(as_(people[who]), change)
        assert START not in page and ARM not in page and "<form" not in page, who
    # the chair cannot start either, but may compare live state with the plan (and accept drift)
    page = panel(as_(people["erin"]), change)
    assert START not in page and ARM not in page and page.count("<form") == 1
    assert "Compare live state with the approved plan" in page


def test_a_slot_not_yet_open_is_said_and_no_start_is_offered(deployable, people, as_):
    change = deployable()
    later = timezone.now() + timedelta(hours=5)
    ChangeRequest.objects.filter(pk=change.pk).update(planned_start=later, planned_end=later + timedelta(hours=1))
    page = panel(as_(people["frank"]), change)
    assert "Not startable now: The change&#x27;s slot opens at" in page
    assert START not in page and ARM in page


def test_a_start_refused_by_a_rule_shows_the_rule_in_place_and_is_audited(deployable, people, as_):
    change = deployable()
    answer = post(as_(people["bob"]), f"/changes/{change.pk}/deployment/start/")
    assert answer.status_code == 403
    body = answer.content.decode()
    assert "implementer_only_executes" in body and 'id="run-actions"' in body and "<html" not in body
    assert not DeploymentRun.objects.exists()
    assert AuditEvent.objects.filter(
        action="policy.refused", actor_name="bob", data__contains="implementer_only_executes"
    ).exists()


def test_the_implementer_starts_and_the_panel_follows_the_run_to_its_end(deployable, people, as_):
    change = deployable()
    frank = as_(people["frank"])
    started = post(frank, f"/changes/{change.pk}/deployment/start/")
    assert started.status_code == 200
    body = started.content.decode()
    assert "The deployment has started." in body and 'hx-trigger="every 2s"' in body
    assert "Settle" in body and "Settle again" in body and "Not started" in body
    run = drive(latest(change))
    page = panel(frank, change)
    assert re.search(
        r'data-testid="step-0">\s*<div class="step-head"><strong>Settle</strong> <span[^>]*>Succeeded', page
    )
    assert "Waiting for a go/no-go" in page
    assert "Waits for the answer of an implementer of Production CCB, not bob, carol (who approved the change)." in page
    assert ANSWER in page  # the runbook lets the starter answer this one
    mia = as_(people["mia"])
    assert ANSWER in panel(mia, change)
    gate = run.steps.get(type="manual_gate")
    answered = post(mia, f"/deployments/{run.pk}/gates/{gate.position}/answer/", {"answer": "go", "comment": "Fine."})
    assert answered.status_code == 200 and "Your go is recorded" in answered.content.decode()
    drive(run)
    page = panel(frank, change)
    assert "Every step succeeded." in page and "Answered go by mia: “Fine.”" in page
    assert "every 2s" not in page and ABORT not in page and "<form" not in page


@pytest.mark.parametrize("who", ["bob", "erin", "quinn", "grace"])
def test_people_not_named_by_the_gate_are_offered_no_answer(deployable, people, as_, who):
    change = deployable()
    post(as_(people["frank"]), f"/changes/{change.pk}/deployment/start/")
    drive(latest(change))
    assert ANSWER not in panel(as_(people[who]), change)


def test_a_no_go_without_a_reason_is_refused_in_place_keeping_the_choice(deployable, people, as_):
    change = deployable()
    post(as_(people["frank"]), f"/changes/{change.pk}/deployment/start/")
    run = drive(latest(change))
    gate = run.steps.get(type="manual_gate")
    answer = post(as_(people["mia"]), f"/deployments/{run.pk}/gates/{gate.position}/answer/", {"answer": "no_go"})
    assert answer.status_code == 400
    body = answer.content.decode()
    assert "Say why it is a no-go." in body and re.search(r'value="no_go"\s+checked', body)
    run.refresh_from_db()
    assert run.status == RunStatus.AWAITING_ANSWER


def test_an_approver_given_the_role_is_still_refused_the_gate_with_its_rule(deployable, people, as_, board, admin_user):
    change = deployable()
    services.board_role_grant(actor=admin_user, board=board, user=people["carol"], role=BoardRole.IMPLEMENTER)
    post(as_(people["frank"]), f"/changes/{change.pk}/deployment/start/")
    run = drive(latest(change))
    carol = as_(people["carol"])
    assert ANSWER not in panel(carol, change)
    gate = run.steps.get(type="manual_gate")
    answer = post(carol, f"/deployments/{run.pk}/gates/{gate.position}/answer/", {"answer": "go"})
    assert answer.status_code == 403 and "gate_not_by_approver" in answer.content.decode()


def test_the_starter_is_not_offered_a_gate_the_runbook_keeps_from_them(deployable, people, as_):
    change = deployable(not_starter="true")
    frank = as_(people["frank"])
    post(frank, f"/changes/{change.pk}/deployment/start/")
    run = drive(latest(change))
    page = panel(frank, change)
    assert "nor frank (who started the run)" in page and ANSWER not in page
    gate = run.steps.get(type="manual_gate")
    answer = post(frank, f"/deployments/{run.pk}/gates/{gate.position}/answer/", {"answer": "go"})
    assert answer.status_code == 403 and "gate_not_by_starter" in answer.content.decode()
    assert ANSWER in panel(as_(people["mia"]), change)


# --- the poll ---------------------------------------------------------------------------------------------


def poll_url(page: str) -> str:
    return re.search(r'hx-get="([^"]*part=live[^"]*)"', page).group(1).replace("&amp;", "&")


def test_the_poll_redraws_the_progress_and_leaves_the_forms_alone_until_what_may_be_done_changes(
    deployable, people, as_
):
    change = deployable()
    frank = as_(people["frank"])
    page = post(frank, f"/changes/{change.pk}/deployment/start/").content.decode()
    url = poll_url(page)
    same = frank.get(url).content.decode()
    assert 'id="run-live"' in same and 'id="run-actions"' not in same and 'id="run-said"' not in same
    drive(latest(change))  # the first step is done; the gate now waits for frank's answer
    moved = frank.get(url).content.decode()
    assert 'id="run-actions" class="run-actions" hx-swap-oob="true"' in moved and ANSWER in moved
    assert re.search(r'<p id="run-said" hx-swap-oob="innerHTML">Run \d+: Waiting for a go/no-go', moved)
    assert "Succeeded" in moved


def test_the_poll_stops_once_the_run_has_ended_and_says_so(deployable, people, as_):
    change = deployable()
    frank = as_(people["frank"])
    url = poll_url(post(frank, f"/changes/{change.pk}/deployment/start/").content.decode())
    run = drive(latest(change))
    gate = run.steps.get(type="manual_gate")
    post(frank, f"/deployments/{run.pk}/gates/{gate.position}/answer/", {"answer": "no_go", "comment": "Too slow."})
    drive(run)
    last = frank.get(url).content.decode()
    assert "hx-trigger" not in last.split('id="run-actions"')[0]
    assert "The run has ended: the change is now rolled back." in last
    assert "frank answered no-go: Too slow." in last


# --- aborting, retrying, extending -------------------------------------------------------------------------


def test_an_abort_needs_a_reason_keeps_what_was_typed_and_rolls_back(deployable, people, as_):
    change = deployable(source=GATED.replace("seconds: 60}", "seconds: 600}", 1))
    frank = as_(people["frank"])
    post(frank, f"/changes/{change.pk}/deployment/start/")
    run = latest(change)
    engine.advance(run.pk)  # the bake begins
    assert ABORT in panel(frank, change) and ABORT in panel(as_(people["erin"]), change)
    assert ABORT not in panel(as_(people["quinn"]), change) and ABORT not in panel(as_(people["mia"]), change)
    frank = as_(people["frank"])
    refused = post(frank, f"/deployments/{run.pk}/abort/", {"reason": " ", "fast": "1"})
    assert refused.status_code == 400
    body = refused.content.decode()
    assert "Say why the run is aborted." in body and re.search(r'name="fast" value="1"\s+checked', body)
    assert '<details class="mt" open><summary>Abort the run' in body
    done = post(frank, f"/deployments/{run.pk}/abort/", {"reason": "Customers complain.", "fast": "1"})
    assert "Abort requested" in done.content.decode()
    drive(run)
    page = panel(frank, change)
    assert "Rolled back" in page and "Aborted by frank: Customers complain." in page


def test_a_paused_step_offers_retry_to_the_implementer_and_the_go_no_go_to_the_role_it_names(deployable, people, as_):
    change = deployable(fail="verify")
    frank = as_(people["frank"])
    post(frank, f"/changes/{change.pk}/deployment/start/")
    run = drive(latest(change))
    assert run.status == RunStatus.PAUSED
    page = panel(frank, change)
    assert "Retry the failed step" in page and ANSWER not in page
    assert "b failed on purpose" in page and "execute a" in page  # the step's message and its log lines
    retried = post(frank, f"/deployments/{run.pk}/retry/")
    assert "The step is called again." in retried.content.decode()
    run = drive(run)
    assert run.status == RunStatus.PAUSED
    erin = as_(people["erin"])
    page = panel(erin, change)
    assert ANSWER in page and "Retry the failed step" not in page
    assert "&#x27;Analyse&#x27; failed: go on past it, or roll back?" in page
    analysis = run.steps.get(name="Analyse")
    post(erin, f"/deployments/{run.pk}/gates/{analysis.position}/answer/", {"answer": "go", "comment": "Noise."})
    drive(run)
    analysis.refresh_from_db()
    assert analysis.status == StepStatus.SKIPPED


def test_a_held_run_offers_the_chair_more_time_and_a_bad_figure_is_refused_in_place(deployable, people, as_):
    change = deployable(closes="hold")
    post(as_(people["frank"]), f"/changes/{change.pk}/deployment/start/")
    clock = Clock()
    clock.t = change.planned_end + timedelta(minutes=1)
    run = drive(latest(change), clock)
    assert run.status == RunStatus.HELD
    assert "Give the held run more time" not in panel(as_(people["frank"]), change)
    refused = post(as_(people["frank"]), f"/deployments/{run.pk}/extend/", {"minutes": "30", "reason": "More."})
    assert refused.status_code == 403 and "chair_only_overrides_schedule" in refused.content.decode()
    erin = as_(people["erin"])
    assert "Give the held run more time" in panel(erin, change)
    bad = post(erin, f"/deployments/{run.pk}/extend/", {"minutes": "soon", "reason": "Finish tonight."})
    assert bad.status_code == 400
    assert "whole minutes" in bad.content.decode() and "Finish tonight.</textarea>" in bad.content.decode()
    good = post(erin, f"/deployments/{run.pk}/extend/", {"minutes": "1440", "reason": "Finish tonight."})
    assert good.status_code == 200 and "extended by 1440 min" in good.content.decode()
    run.refresh_from_db()
    assert run.status == RunStatus.RUNNING


# --- drift -----------------------------------------------------------------------------------------------


def test_drift_stops_the_start_and_is_shown_with_who_may_accept_it(deployable, people, as_):
    change = deployable(fail="")
    LIVE["version"] = 2  # someone changed the target since the board saw the plan
    answer = post(as_(people["frank"]), f"/changes/{change.pk}/deployment/start/")
    assert answer.status_code == 409
    body = answer.content.decode()
    assert "Live state has drifted from the plan the board approved" in body
    assert re.search(r'<td data-label="Step">Probe a</td><td data-label="What">before</td>', body)
    assert "Only the board's chair accepts drift" in body and "Accept the drift and start" not in body
    assert not DeploymentRun.objects.filter(change=change).exists()


def test_a_chair_who_implements_the_change_accepts_drift_with_a_reason(
    make_change, approve, windows, board, people, as_, admin_user
):
    services.board_role_grant(actor=admin_user, board=board, user=people["erin"], role=BoardRole.IMPLEMENTER)
    version = typed_runbook(
        board, people, PROBES.format(fail="", closes="rollback", role="verifier", not_starter="true")
    )
    change = make_change(runbook_version=version.pk, implementer=people["erin"])
    services.change_request_submit(change_id=change.pk, actor=people["alice"])
    approve(change)
    book(change, in_window(days=2), people["erin"])
    now = timezone.now()
    ChangeRequest.objects.filter(pk=change.pk).update(
        planned_start=now - timedelta(minutes=1), planned_end=now + timedelta(hours=2)
    )
    LIVE["version"] = 2
    erin = as_(people["erin"])
    answer = post(erin, f"/changes/{change.pk}/deployment/start/")
    assert answer.status_code == 409 and "Accept the drift and start" in answer.content.decode()
    started = post(erin, f"/changes/{change.pk}/deployment/start/", {"drift_reason": "The tag bump is ours."})
    assert started.status_code == 200
    run = latest(change)
    assert run.drift_accepted_by == people["erin"] and run.drift_reason == "The tag bump is ours."
    assert "Drift accepted</dt><dd>by erin: “The tag bump is ours.”" in started.content.decode()


# --- arming -------------------------------------------------------------------------------------------------


def test_arming_is_the_implementers_and_shows_on_the_panel(deployable, people, as_):
    change = deployable()
    refused = post(as_(people["bob"]), f"/changes/{change.pk}/deployment/arm/")
    assert refused.status_code == 403 and "implementer_only_executes" in refused.content.decode()
    frank = as_(people["frank"])
    armed = post(frank, f"/changes/{change.pk}/deployment/arm/").content.decode()
    assert "Armed by frank" in armed and ">Disarm<" in armed and ARM not in armed
    assert 'hx-trigger="every 15s"' in armed  # it watches for the start ccb makes in the slot
    disarmed = post(frank, f"/changes/{change.pk}/deployment/disarm/").content.decode()
    assert ARM in disarmed and "Armed by" not in disarmed
    assert not ArmedStart.objects.filter(change=change).exists()


def test_an_action_without_htmx_goes_back_to_the_change_page_with_the_answer(deployable, people, as_):
    change = deployable()
    response = as_(people["bob"]).post(f"/changes/{change.pk}/deployment/start/", follow=True)
    assert response.redirect_chain[-1][0] == f"/changes/{change.pk}/"
    assert any("rule: implementer_only_executes" in str(m) for m in response.context["messages"])


def test_a_hidden_change_has_no_panel(deployable, people, as_):
    change = deployable()
    assert as_(people["oscar"]).get(f"/changes/{change.pk}/deployment/").status_code == 404
    assert as_(people["oscar"]).post(f"/changes/{change.pk}/deployment/start/", **HX).status_code == 404


# --- the dashboard --------------------------------------------------------------------------------------------


def test_the_implementers_dashboard_lists_their_runs_active_first_and_the_gates_waiting_for_them(
    deployable, people, as_
):
    done = deployable()
    post(as_(people["frank"]), f"/changes/{done.pk}/deployment/start/")
    run = drive(latest(done))
    gate = run.steps.get(type="manual_gate")
    post(as_(people["mia"]), f"/deployments/{run.pk}/gates/{gate.position}/answer/", {"answer": "go"})
    drive(run)
    waiting = deployable()
    post(as_(people["frank"]), f"/changes/{waiting.pk}/deployment/start/")
    drive(latest(waiting))
    page = as_(people["frank"]).get("/deployments/dashboard/").content.decode()
    mine = page.split('data-testid="my-runs"')[1]
    assert mine.index(waiting.reference) < mine.index(done.reference)  # the active run first
    gates = page.split('data-testid="gates-waiting"')[1].split("</ul>")[0]
    assert waiting.reference in gates and "Go on?" in gates and done.reference not in gates
    assert waiting.reference in as_(people["mia"]).get("/deployments/dashboard/").content.decode()
    assert as_(people["bob"]).get("/deployments/dashboard/").content.decode().strip() == ""


def test_the_verifiers_dashboard_lists_their_boards_runs_and_the_gates_waiting_for_a_verifier(deployable, people, as_):
    for_verifier = deployable(role="verifier", not_starter="true")
    for_implementer = deployable()
    for change in (for_verifier, for_implementer):
        post(as_(people["frank"]), f"/changes/{change.pk}/deployment/start/")
        drive(latest(change))
    page = as_(people["quinn"]).get("/deployments/dashboard/").content.decode()
    boards = page.split('data-testid="board-runs"')[1]
    assert for_verifier.reference in boards and for_implementer.reference in boards
    gates = page.split('data-testid="gates-waiting"')[1].split("</ul>")[0]
    assert for_verifier.reference in gates and for_implementer.reference not in gates and "for a verifier" in gates
    assert 'data-testid="my-runs"' not in page  # quinn runs nothing


def test_the_dashboard_loads_the_deployment_cards_by_address(people, as_):
    page = as_(people["alice"]).get("/").content.decode()
    assert 'hx-get="/deployments/dashboard/"' in page


def test_a_poll_costs_a_bounded_number_of_queries(deployable, people, as_, django_assert_max_num_queries):
    change = deployable(source=GATED.replace("seconds: 60}", "seconds: 600}", 1))
    frank = as_(people["frank"])
    url = poll_url(post(frank, f"/changes/{change.pk}/deployment/start/").content.decode())
    run = latest(change)
    engine.advance(run.pk)
    with django_assert_max_num_queries(MAX_POLL_QUERIES):
        assert frank.get(url).status_code == 200


def test_the_dashboards_deployment_cards_cost_a_bounded_number_of_queries(
    deployable, people, as_, django_assert_max_num_queries
):
    for _ in range(3):
        change = deployable()
        post(as_(people["frank"]), f"/changes/{change.pk}/deployment/start/")
        drive(latest(change))
    frank = as_(people["frank"])
    with django_assert_max_num_queries(MAX_DASHBOARD_QUERIES):
        assert frank.get("/deployments/dashboard/").status_code == 200


def test_the_chair_compares_live_state_and_accepts_the_drift_on_the_page(deployable, people, as_):
    change = deployable(fail="")  # page_probe steps, whose plan reads LIVE
    LIVE["version"] = 2
    try:
        erin = as_(people["erin"])
        shown = erin.post(f"/changes/{change.pk}/deployment/drift/", HTTP_HX_REQUEST="true").content.decode()
        assert 'data-testid="drift"' in shown and "Accept the drift" in shown
        refused = as_(people["frank"]).post(
            f"/changes/{change.pk}/deployment/accept-drift/", {"reason": "ok"}, HTTP_HX_REQUEST="true"
        )
        assert refused.status_code == 403 and "chair_accepts_drift" in refused.content.decode()
        accepted = erin.post(
            f"/changes/{change.pk}/deployment/accept-drift/", {"reason": "Expected."}, HTTP_HX_REQUEST="true"
        )
        assert accepted.status_code == 200 and "Drift accepted" in accepted.content.decode()
        started = as_(people["frank"]).post(f"/changes/{change.pk}/deployment/start/", HTTP_HX_REQUEST="true")
        assert started.status_code == 200 and "The deployment has started." in started.content.decode()
    finally:
        LIVE["version"] = 1
