"""The runbook editor's fields: generated from each step type's parameter schema, drawn from a runbook's
YAML and read back into YAML that gives the same stored document; nothing the fields do not show is lost."""

import pytest
from django.template.loader import render_to_string

from deployments import documents, editor, steps

from ..conftest import RUNBOOK_YAML
from .forms import form_data
from .test_documents import GOOD

STRATEGY = """\
schema: 2
description: Canary by strategy.
parameters:
  production: {function: fraud-scorer, alias: live, alarm: fraud-errors}
window_closes: hold
stages:
  - name: Start small
    strategy: {name: canary, type: lambda_canary, timeout_seconds: 900,
               params: {function: "${function}", alias: "${alias}", alarms: ["${alarm}"], percent: 5}}
    gate: {role: verifier, question: "Errors normal?", timeout_seconds: 3600}
  - name: Check
    steps:
      - name: Smoke
        type: http_smoke
        params: {url: "https://api.example.com/health", expect_status: [200, 204], method: HEAD}
        on_failure: pause
        pause_role: chair
      - name: Blue green
        type: ecs_blue_green
        params:
          listener_arn: arn:aws:elasticloadbalancing:eu-west-1:1:listener/app/web/1/2
          blue_target_group: arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/blue/1
          green_target_group: arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/green/2
          weight: 50
          green_service: {cluster: web, service: web-green, task_definition: "web:7"}
      - name: Migrate
        type: db_schema_change
        params:
          dsn_env: CUSTOMER_DB_DSN
          up_sql: |
            ALTER TABLE customer ADD COLUMN tier text;
            CREATE INDEX customer_tier ON customer (tier);
          down_sql: ALTER TABLE customer DROP COLUMN tier;
          expect_digest: "0000000000000000000000000000000000000000000000000000000000000000"
          schemas: [public]
      - name: Tell them
        type: notify
        params: {message: "Half on green.", audience: [change, board], emails: [ops@example.com]}
"""


class FakeRunbook:
    pk = 1


def drawn(source: str) -> str:
    form = editor.form_of(editor.load(source))
    return render_to_string("deployments/partials/editor_fields.html", {"form": form, "runbook": FakeRunbook()})


def round_trip(source: str, **changes) -> tuple[dict, bool, str]:
    post = form_data(drawn(source))
    for name, value in changes.items():
        post.setlist(name, value if isinstance(value, list) else [value])
    data, reshaped = editor.data_of(post)
    return data, reshaped, editor.dump(data)


@pytest.mark.parametrize("source", [GOOD, RUNBOOK_YAML, STRATEGY], ids=["placeholders", "gated", "every-kind"])
def test_the_fields_as_drawn_give_back_the_same_runbook(source):
    data, reshaped, yaml_text = round_trip(source)
    assert not reshaped
    assert documents.parse(yaml_text) == documents.parse(source)


def test_a_placeholder_in_a_number_field_stays_a_placeholder():
    data, _, yaml_text = round_trip(GOOD)
    assert data["stages"][0]["steps"][1]["params"]["seconds"] == "${pause}"
    assert "seconds: ${pause}" in yaml_text


def test_every_parameter_is_a_field_with_its_description_as_help():
    page = drawn(STRATEGY)
    assert 'name="stage-1.step-1.param.weight"' in page
    assert "Percent of the traffic on green after this step; 100 is all of it. 0 to 100." in page
    assert 'name="stage-1.step-1.param.green_service.task_definition" value="web:7"' in page
    assert 'name="stage-1.step-3.param.audience" value="board" checked' in page
    assert 'name="stage-1.step-3.param.audience" value="services">' in page  # offered, not chosen
    assert '<option value="HEAD" selected>HEAD</option>' in page
    for name in steps.REGISTRY:  # the type is chosen from every registered type
        assert f'<option value="{name}"' in page


def test_editing_a_field_rewrites_the_yaml():
    data, reshaped, yaml_text = round_trip(RUNBOOK_YAML, **{"stage-0.step-0.param.seconds": "120"})
    assert not reshaped and "seconds: 120" in yaml_text
    assert documents.parse(yaml_text)["stages"][0]["steps"][0]["params"]["seconds"] == 120


def test_a_new_type_redraws_the_step_keeping_only_what_it_also_takes():
    data, reshaped, _ = round_trip(RUNBOOK_YAML, **{"stage-0.step-0.type": "http_smoke"})
    assert reshaped
    step = data["stages"][0]["steps"][0]
    assert step["type"] == "http_smoke" and step.get("params", {}) == {}  # a wait's seconds mean nothing to it
    assert 'name="stage-0.step-0.param.url"' in render_to_string(
        "deployments/partials/editor_fields.html", {"form": editor.form_of(data), "runbook": FakeRunbook()}
    )


def test_what_the_fields_do_not_show_is_kept():
    source = RUNBOOK_YAML.replace("timeout_seconds: 300, params:", "timeout_seconds: 300, colour: blue, params:", 1)
    source = source.replace("reason: at 10%}", "reason: at 10%, shade: dark}")
    source = source.replace("description: Canary the fraud model.", "description: x\nowner: ops")
    data, _, yaml_text = round_trip(source)
    step = data["stages"][0]["steps"][0]
    assert step["colour"] == "blue" and step["params"]["shade"] == "dark" and data["owner"] == "ops"
    errors = pytest.raises(documents.DocumentInvalid, documents.parse, yaml_text).value.errors
    assert any("colour" in e for e in errors) and any("owner" in e for e in errors)


def test_a_step_of_an_unknown_type_keeps_its_parameters_as_yaml():
    source = RUNBOOK_YAML.replace("type: wait", "type: sleep", 1)
    page = drawn(source)
    assert "Not a registered type." in page and '<option value="sleep" selected>' in page
    data, _, _ = round_trip(source)
    assert data["stages"][0]["steps"][0]["params"] == {"seconds": 300, "reason": "at 10%"}


@pytest.mark.parametrize(
    ("op", "names"),
    [
        ("add-stage", ["Canary", "Full", "Stage 3"]),
        ("remove-stage:0", ["Full"]),
        ("up-stage:1", ["Full", "Canary"]),
    ],
)
def test_stages_are_added_removed_and_moved(op, names):
    data, _, _ = round_trip(RUNBOOK_YAML)
    assert [s["name"] for s in editor.apply(data, op)["stages"]] == names


def test_steps_are_added_removed_and_moved():
    data, _, _ = round_trip(RUNBOOK_YAML)
    editor.apply(data, "add-step:0")
    assert [s["name"] for s in data["stages"][0]["steps"]] == ["Bake at 10%", "Wait a minute"]
    editor.apply(data, "up-step:0:1")
    assert [s["name"] for s in data["stages"][0]["steps"]] == ["Wait a minute", "Bake at 10%"]
    editor.apply(data, "remove-step:0:0")
    assert [s["name"] for s in data["stages"][0]["steps"]] == ["Bake at 10%"]
    assert documents.parse(editor.dump(data))


def test_a_stage_switched_to_a_strategy_gets_a_strategy():
    data, reshaped, yaml_text = round_trip(RUNBOOK_YAML, **{"stage-1.mode": "strategy"})
    assert reshaped and data["stages"][1]["strategy"]["name"] == "canary" and "steps" not in data["stages"][1]
