"""The AWS and database step types as runbooks name them: registered, their parameters strict and
described, checked at creation with the line of each error, and planned in the release plan."""

import pytest
from pydantic import BaseModel

from deployments import documents, steps

NEW_TYPES = ["cloudformation_stack", "lambda_canary", "ecs_blue_green", "alarm_gate", "db_schema_change", "notify"]

CANARY = """\
schema: 2
parameters:
  production: {function: fraud-scorer, alias: live, alarm: fraud-errors}
  staging: {function: fraud-scorer-staging, alias: live, alarm: fraud-errors-staging}
stages:
  - name: Infrastructure
    steps:
      - name: Queue stack
        type: cloudformation_stack
        params: {stack_name: jobs, template_url: "s3://ccb-templates/jobs.yaml", parameters: {Retention: 60}}
      - name: Add the note column
        type: db_schema_change
        params:
          dsn_env: ORDERS_DSN
          up_sql: alter table orders add column note text
          down_sql: alter table orders drop column note
          expect_digest: 9f86d081884c7d659a2feb0a27b1f4ea5bdbc2d19b5b3b1e3ab0e2e1ea7e4d7e
  - name: Canary 10%
    steps:
      - name: Shift 10% to the new version
        type: lambda_canary
        timeout_seconds: 600
        params: {function: "${function}", alias: "${alias}", weight: 10, bake_seconds: 300, alarms: ["${alarm}"]}
      - {name: Tell support, type: notify, params: {message: "Canary at 10%", audience: [change, board]}}
    gate: {role: implementer, question: "Error rate normal?", not_starter: true}
  - name: The rest
    strategy: {name: Linear10PercentEvery1Minute, type: lambda_canary,
               params: {function: "${function}", alias: "${alias}", alarms: ["${alarm}"]}}
  - name: Watch
    steps:
      - {name: Quiet for 10 minutes, type: alarm_gate, params: {alarms: ["${alarm}"], bake_seconds: 600}}
"""


def _fields(model: type[BaseModel]):
    for name, info in model.model_fields.items():
        yield model, name, info
        inner = getattr(info.annotation, "__args__", (info.annotation,))
        for arg in inner:
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                yield from _fields(arg)


@pytest.mark.parametrize("name", NEW_TYPES)
def test_each_type_is_registered_with_strict_described_parameters(name):
    kind = steps.get(name)
    assert kind.name == name and kind.summary
    assert kind.params.model_config["extra"] == "forbid"
    undescribed = [f"{m.__name__}.{f}" for m, f, info in _fields(kind.params) if not info.description]
    assert undescribed == []


def test_a_canary_runbook_with_every_kind_of_step_is_accepted_and_planned():
    document = documents.parse(CANARY)
    names = [s["type"] for stage in document["stages"] for s in stage["steps"]]
    assert names[:4] == ["cloudformation_stack", "db_schema_change", "lambda_canary", "notify"]
    assert names.count("lambda_canary") == 1 + 10 and names[-1] == "alarm_gate"
    last_shift = document["stages"][2]["steps"][-1]
    params = documents.step_params(last_shift, document, "staging")
    assert (params.function, params.weight, params.bake_seconds, params.version) == (
        "fraud-scorer-staging",
        100,
        0,
        "publish",
    )
    plan = documents.release_plan(document, "production")
    canary = plan.stages[1]
    assert canary.steps[0]["planned_seconds"] == 300 + 30 and canary.decision["question"] == "Error rate normal?"
    assert canary.rollback == [
        "Tell support: Nothing to undo: a message sent stays sent.",
        "Shift 10% to the new version: Point alias live of fraud-scorer back at the version and routing it had before.",
    ]
    assert plan.stages[0].rollback[-1].startswith("Queue stack: Re-apply stack jobs's previous template")
    assert plan.stages[3].steps[0]["planned_seconds"] == 600 and plan.stages[3].rollback == []


@pytest.mark.parametrize(
    ("old", "new", "error"),
    [
        (
            'template_url: "s3://ccb-templates/jobs.yaml", ',
            "",
            "line 10: stages[0].steps[0].params: give the template as template_body or as template_url",
        ),
        (
            "weight: 10,",
            "weight: 120,",
            "line 23: stages[1].steps[0].params.weight: Input should be less than or equal",
        ),
        (
            "dsn_env: ORDERS_DSN",
            "dsn_env: postgres://u:secret@db/orders",
            "line 14: stages[0].steps[1].params.dsn_env: name the environment variable that holds the DSN",
        ),
        ("audience: [change, board]", "audience: [everyone]", "line 24: stages[1].steps[1].params.audience[0]"),
    ],
)
def test_bad_parameters_are_refused_at_creation_with_their_line(old, new, error):
    assert old in CANARY
    with pytest.raises(documents.DocumentInvalid) as exc:
        documents.parse(CANARY.replace(old, new))
    assert any(e.startswith(error) for e in exc.value.errors), exc.value.errors
