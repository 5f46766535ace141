"""Runbooks as typed documents: validated at creation with the YAML line and field of each error,
strategies expanded into the steps the board approves, and the release plan that follows."""

import pytest

from deployments import documents

GOOD = """\
schema: 2
description: Smoke then wait.
parameters:
  production: {health: "https://api.example.com/health", pause: 30}
  staging: {health: "https://staging.example.com/health", pause: 5}
stages:
  - name: Check
    steps:
      - name: Health
        type: http_smoke
        params: {url: "${health}", expect_status: [200], max_latency_ms: 800}
      - name: Settle
        type: wait
        params: {seconds: "${pause}"}
    gate: {role: implementer, question: "Healthy?", not_starter: true}
  - name: Last look
    steps:
      - {name: Again, type: http_smoke, params: {url: "${health}"}}
"""


def errors_of(source):
    with pytest.raises(documents.DocumentInvalid) as exc:
        documents.parse(source)
    return exc.value.errors


def test_a_valid_runbook_is_stored_with_its_gate_as_a_step():
    doc = documents.parse(GOOD)
    assert doc["schema"] == 2 and doc["window_closes"] == "rollback"
    first = doc["stages"][0]["steps"]
    assert [s["type"] for s in first] == ["http_smoke", "wait", "manual_gate"]
    assert first[2]["params"] == {"role": "implementer", "question": "Healthy?", "not_starter": True}
    params = documents.step_params(first[1], doc, "staging")
    assert params.seconds == 5  # a whole-string placeholder takes the parameter's own type


def test_each_error_names_its_line_and_field():
    source = GOOD.replace("max_latency_ms: 800", "max_latency_ms: -1").replace("type: wait", "type: sleep")
    errors = errors_of(source)
    assert any(e.startswith("line 13: stages[0].steps[1].type: unknown step type 'sleep'") for e in errors), errors


def test_step_parameters_are_checked_by_the_step_type_in_every_environment():
    errors = errors_of(GOOD.replace("max_latency_ms: 800", "max_latency_ms: -1, colour: blue"))
    assert any("line 11: stages[0].steps[0].params.max_latency_ms" in e and "(in production)" in e for e in errors)
    assert any("params.colour: Extra inputs are not permitted" in e for e in errors), errors


def test_a_parameter_missing_for_an_environment_is_named():
    errors = errors_of(
        GOOD.replace('staging: {health: "https://staging.example.com/health", pause: 5}', "staging: {pause: 5}")
    )
    assert any("no value for ${health}" in e and "line 11" in e for e in errors), errors


def test_a_document_without_a_schema_is_refused_at_creation_but_read_as_needing_review():
    assert errors_of("stages:\n  - name: A\n    steps: []\n") == [
        "line 1: schema: say which schema the runbook is written in (schema: 2)"
    ]
    legacy = {"stages": [{"name": "Canary", "steps": [{"name": "Shift", "type": "lambda_canary"}]}]}
    assert documents.needs_review(legacy) and documents.schema_of(legacy) == 1
    assert documents.release_plan(legacy).stages == []


def test_yaml_errors_name_their_line():
    errors = errors_of("schema: 2\nstages:\n  - name: [unclosed\n")
    assert errors[0].startswith("line 4: not valid YAML") or errors[0].startswith("line 3: not valid YAML"), errors


@pytest.mark.parametrize(
    ("name", "shares"),
    [
        ("Canary10Percent5Minutes", [(10, 300), (100, 0)]),
        ("CodeDeployDefault.LambdaLinear10PercentEvery1Minute", [(s, 60) for s in range(10, 100, 10)] + [(100, 0)]),
        ("ECSCanary10Percent15Minutes", [(10, 900), (100, 0)]),
        ("AllAtOnce", [(100, 0)]),
    ],
)
def test_codedeploy_configurations_expand_by_name(name, shares):
    from deployments.steps import strategies

    steps = strategies.expand(name, "lambda_canary", {"function": "f"}, 600)
    assert [(s["params"]["weight"], s["params"]["bake_seconds"]) for s in steps] == shares
    assert all(s["params"]["function"] == "f" and s["type"] == "lambda_canary" for s in steps)


def test_an_unknown_strategy_says_what_is_known():
    from deployments.steps import strategies

    with pytest.raises(ValueError, match="known: canary, linear, blue_green, all_at_once, AllAtOnce"):
        strategies.resolve("Canary50Percent", "lambda_canary")


def test_the_release_plan_follows_from_the_runbook():
    plan = documents.release_plan(documents.parse(GOOD), "production")
    first, last = plan.stages
    assert first.name == "Check" and first.starts_after_seconds == 0
    assert [s["name"] for s in first.steps] == ["Health", "Settle"]
    assert first.decision == {
        "question": "Healthy?",
        "role": "implementer",
        "not_starter": True,
        "timeout_seconds": 4 * 3600,
    }
    assert last.starts_after_seconds == first.planned_seconds
    assert plan.planned_seconds == first.planned_seconds + last.planned_seconds
    assert first.planned_seconds == 3 * (30 + 5) + 30  # smoke: attempts x (timeout + delay); wait: 30 s
