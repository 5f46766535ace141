"""Deployments in a browser, under the Content-Security-Policy: the implementer starts a runbook of fast
steps from the change page and watches it run to its end, each step and its log appearing as it happens
(the engine is driven from the test's thread while the page polls); the runbook editor keeps its fields,
its YAML and its preview together as people type."""

import re
import time

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from deployments import engine
from deployments.models import DeploymentRun, RunStatus, StepStatus

from ..deployments.helpers import deployable_change
from .conftest import screenshot, serious_violations
from .test_pages import OVERFLOWING

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FAST = """\
schema: 2
description: Fast steps for a browser to watch.
stages:
  - name: Warm up
    steps:
      - {{name: Settle, type: wait, params: {{seconds: 1}}}}
      - {{name: Health check, type: http_smoke, params: {{url: "{health}", attempts: 1}}}}
  - name: Tell
    steps:
      - {{name: Settle again, type: wait, params: {{seconds: 1}}}}
      - {{name: Announce, type: notify, params: {{message: "Health check passed.", audience: [change]}}}}
"""

GATED_FAST = """\
schema: 2
stages:
  - name: First
    steps:
      - {name: Settle, type: wait, params: {seconds: 1}}
    gate: {role: implementer, question: "Go on?"}
  - name: Second
    steps:
      - {name: Settle again, type: wait, params: {seconds: 1}}
"""


def advance_until(run, done, limit=40):
    """Play a worker on the real clock (sleeping over waits) until ``done(run)``."""
    for _ in range(limit):
        again = engine.advance(run.pk)
        run.refresh_from_db()
        if done(run):
            return run
        if again is None:
            break
        time.sleep(max(0.0, (again - timezone.now()).total_seconds()))
    raise AssertionError(f"the run did not get there: {run.status}")


def step_status(run, position):
    return run.steps.get(position=position).status


def test_the_implementer_starts_a_run_and_watches_it_complete_on_the_change_page(
    sign_in,
    live_server,
    make_change,
    approve,
    windows,
    board,
    people,
):
    change = deployable_change(
        make_change=make_change,
        approve=approve,
        board=board,
        people=people,
        source=FAST.format(health=f"{live_server.url}/healthz"),
        name="Fast",
    )
    frank = sign_in("frank")
    frank.goto(f"/changes/{change.pk}/")
    card = frank.locator("#deployment")
    card.get_by_role("button", name="Start the deployment").click()
    expect(card.get_by_test_id("run-notice")).to_have_text("The deployment has started.")
    expect(card.get_by_test_id("step-3").get_by_test_id("step-status")).to_have_text("Not started")
    run = DeploymentRun.objects.get(change=change)

    run = advance_until(run, lambda r: step_status(r, 0) == StepStatus.WAITING)
    expect(card.get_by_test_id("step-0").get_by_test_id("step-status")).to_have_text("Waiting")
    expect(card.get_by_test_id("run-said")).to_contain_text("step 1 of 4 (Settle)")

    run = advance_until(run, lambda r: step_status(r, 1) == StepStatus.SUCCEEDED)
    smoke = card.get_by_test_id("step-1")
    expect(smoke.get_by_test_id("step-status")).to_have_text("Succeeded")
    expect(smoke.get_by_test_id("step-log")).to_contain_text(f"GET {live_server.url}/healthz: status 200")
    expect(card.get_by_test_id("step-3").get_by_test_id("step-status")).to_have_text("Not started")
    screenshot(frank, "1280-change-page-run-live")

    run = advance_until(run, lambda r: r.status == RunStatus.SUCCEEDED)
    expect(card.get_by_test_id("run-status")).to_have_text("Succeeded")
    expect(card.get_by_test_id("run-outcome")).to_have_text("Every step succeeded.")
    expect(card.get_by_test_id("step-3").get_by_test_id("step-log")).to_contain_text("Health check passed.")
    expect(card.get_by_test_id("run-log")).to_contain_text("Run finished: Succeeded.")
    expect(card.get_by_test_id("run-live")).to_have_attribute("data-polls", "no")  # the polling has stopped
    expect(card.get_by_role("button", name="Abort and roll back")).to_have_count(0)
    expect(card).to_contain_text("The run has ended: the change is now completed.")
    screenshot(frank, "1280-change-page-run-done")
    assert serious_violations(frank) == []


def test_an_answer_refused_in_place_keeps_what_was_typed(
    sign_in,
    console_errors,
    make_change,
    approve,
    windows,
    board,
    people,
):
    console_errors.expect("status of 400")  # the server's answer, shown in the panel
    change = deployable_change(
        make_change=make_change, approve=approve, board=board, people=people, source=GATED_FAST, name="Gated"
    )
    frank = sign_in("frank")
    frank.goto(f"/changes/{change.pk}/")
    frank.get_by_role("button", name="Start the deployment").click()
    expect(frank.get_by_test_id("run-notice")).to_have_text("The deployment has started.")
    run = DeploymentRun.objects.get(change=change)
    advance_until(run, lambda r: r.status == RunStatus.AWAITING_ANSWER)
    mia = sign_in("mia")
    mia.goto(f"/changes/{change.pk}/")
    card = mia.locator("#deployment")
    expect(card.get_by_test_id("gate")).to_contain_text("Waits for the answer of an implementer of Production CCB")
    card.get_by_label("No-go (rolls back)").check()
    card.get_by_role("button", name="Answer", exact=True).click()
    expect(card.get_by_test_id("run-error")).to_have_text("Say why it is a no-go.")
    expect(card.get_by_label("No-go (rolls back)")).to_be_checked()
    card.get_by_label("Comment").fill("Latency doubled.")
    time.sleep(2.5)  # a poll goes by: what is typed stays
    expect(card.get_by_label("Comment")).to_have_value("Latency doubled.")
    card.get_by_role("button", name="Answer", exact=True).click()
    expect(card.get_by_test_id("run-notice")).to_have_text("Your no-go is recorded: the run rolls back.")


def test_the_editor_keeps_the_fields_the_yaml_and_the_preview_together(sign_in, runbook, people):
    bob = sign_in("bob")
    bob.goto(f"/runbooks/{runbook.runbook_id}/")
    editor = bob.locator("#rb-new")
    yaml_box = editor.get_by_label("YAML", exact=True)
    preview = editor.get_by_test_id("editor-preview")
    expect(preview).to_contain_text("planned to take 10 min")

    editor.locator("#ed-stage-1-step-0-param-seconds").fill("900")
    expect(yaml_box).to_have_value(re.compile("seconds: 900"))
    expect(preview).to_contain_text("planned to take 20 min")

    editor.locator("#ed-stage-0-step-0-type").select_option("http_smoke")  # the step is drawn again
    expect(editor.locator("#ed-stage-0-step-0-param-url")).to_be_visible()
    expect(preview.get_by_test_id("editor-errors")).to_contain_text("stages[0].steps[0].params.url")
    editor.locator("#ed-stage-0-step-0-param-url").fill("https://api.example.com/health")
    expect(preview).to_contain_text("Valid")

    yaml_box.fill(yaml_box.input_value().replace("name: Full", "name: Everyone"))
    expect(editor.locator("#ed-stage-1-name")).to_have_value("Everyone")  # the fields follow the YAML
    yaml_box.fill(yaml_box.input_value().replace("type: wait", "type: sleep"))
    expect(preview.get_by_test_id("editor-errors")).to_contain_text("unknown step type 'sleep'")
    expect(preview.get_by_test_id("editor-errors")).to_contain_text("stages[1].steps[0].type")
    yaml_box.fill(yaml_box.input_value().replace("type: sleep", "type: wait"))
    expect(preview).to_contain_text("Valid")

    editor.get_by_role("button", name="Add a stage").click()
    expect(editor.locator("#ed-stage-2-name")).to_have_value("Stage 3")
    expect(yaml_box).to_have_value(re.compile("name: Stage 3"))
    screenshot(bob, "1280-runbook-editor")
    editor.get_by_role("button", name="Save as version 2").click()
    expect(bob.get_by_role("heading", name="Version 2")).to_be_visible()
    expect(bob.get_by_text("Version 2 is saved.")).to_be_visible()
    assert runbook.runbook.versions.get(number=2).source_yaml.count("name: Stage 3") == 1


def test_the_agendas_release_plan_opens_in_place_and_reads_on_a_phone(sign_in, submitted, people):
    erin = sign_in("erin", viewport={"width": 390, "height": 900})
    erin.goto("/boards/production-ccb/agenda/")
    card = erin.locator(f"#agenda-{submitted.pk}")
    card.get_by_text("Release & rollback plan, and what each step will change").click()
    expect(card.get_by_test_id("release-plan")).to_contain_text("What the board votes on: revision 1")
    expect(card.get_by_test_id("revision-plan")).to_contain_text("Wait 300 s: at 10%")
    screenshot(erin, "390-agenda-release-plan")
    assert erin.evaluate("document.documentElement.scrollWidth") <= 390, erin.evaluate(OVERFLOWING)
    assert serious_violations(erin) == []
