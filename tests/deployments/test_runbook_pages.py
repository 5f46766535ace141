"""The runbook page's editor and preview, saving and approving a version, the step types' help, and the
release & rollback plan the change page and the agenda load, through Django's test client."""

import re

import pytest
from django.test import Client

from ccb import services as ccb_services
from ccb.models import AuditEvent
from deployments import services, steps
from deployments.models import RevisionPlan, RunbookVersion

from ..conftest import RUNBOOK_YAML
from .forms import form_data
from .test_documents import GOOD

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


def signed_in(user):
    client = Client()
    client.force_login(user)
    return client


def html(response) -> str:
    return response.content.decode()


# --- the editor ---------------------------------------------------------------------------------------------


def test_the_runbook_page_offers_the_editor_starting_from_the_latest_version(people, runbook):
    page = html(signed_in(people["frank"]).get(f"/runbooks/{runbook.runbook_id}/"))
    assert "Write version 2" in page and 'id="rb-fields"' in page
    assert 'name="stage-0.step-0.param.seconds" value="300"' in page
    textarea = re.search(r'<textarea id="rb-yaml"[^>]*>(.*?)</textarea>', page, re.S).group(1)
    assert "Bake at 10%" in textarea
    assert "Valid</span> 3 steps to run" in page  # the preview of what is being edited


def test_auditors_get_no_editor_and_are_refused_a_new_version_with_the_rule(people, runbook):
    grace = signed_in(people["grace"])
    page = html(grace.get(f"/runbooks/{runbook.runbook_id}/"))
    assert "Write version" not in page and 'id="rb-fields"' not in page and "Approve version" not in page
    answer = grace.post(f"/runbooks/{runbook.runbook_id}/versions/", {"source_yaml": RUNBOOK_YAML}, **HX)
    assert answer.status_code == 403 and "auditor_read_only" in html(answer)
    assert runbook.runbook.versions.count() == 1


def test_editing_the_yaml_redraws_the_fields_and_the_preview_names_each_errors_line_and_field(people, runbook):
    frank = signed_in(people["frank"])
    source = GOOD.replace("type: wait", "type: sleep").replace("not_starter: true", "not_starter: maybe")
    answer = frank.post(f"/runbooks/{runbook.runbook_id}/editor/", {"from": "yaml", "source_yaml": source}, **HX)
    assert answer.status_code == 200
    body = html(answer)
    assert 'id="rb-fields" class="rb-fields"' in body and 'hx-swap-oob="true"' in body
    assert 'id="rb-yaml-wrap"' not in body  # what is being typed is left alone
    rows = re.findall(r'<td data-label="Line">(\d+)</td><td data-label="Field"><code>([^<]*)</code>', body)
    assert rows == [("13", "stages[0].steps[1].type"), ("15", "stages[0].gate.not_starter")]
    assert '<option value="sleep" selected>' in body


def test_yaml_that_does_not_read_leaves_the_fields_as_they_were_and_says_where(people, runbook):
    frank = signed_in(people["frank"])
    answer = frank.post(
        f"/runbooks/{runbook.runbook_id}/editor/", {"from": "yaml", "source_yaml": "schema: 2\nstages: [\n"}, **HX
    )
    body = html(answer)
    assert 'id="rb-fields"' not in body and "not valid YAML" in body
    assert re.search(r'<td data-label="Line">\d+</td>', body)


def test_editing_a_field_rewrites_the_yaml_and_the_timeline(people, runbook):
    frank = signed_in(people["frank"])
    page = html(frank.get(f"/runbooks/{runbook.runbook_id}/"))
    post = form_data(page, within="rb-fields")
    post["from"] = "fields"
    post["stage-1.step-0.param.seconds"] = "900"
    body = html(frank.post(f"/runbooks/{runbook.runbook_id}/editor/", post, **HX))
    textarea = re.search(r'<textarea id="rb-yaml"[^>]*>(.*?)</textarea>', body, re.S).group(1)
    assert "seconds: 900" in textarea and 'id="rb-fields"' not in body  # the fields being typed in stay
    assert "planned to take 20 min" in body


def test_adding_a_step_redraws_the_fields_with_the_new_step(people, runbook):
    frank = signed_in(people["frank"])
    post = form_data(html(frank.get(f"/runbooks/{runbook.runbook_id}/")), within="rb-fields")
    post.update({"from": "fields", "op": "add-step:1"})
    body = html(frank.post(f"/runbooks/{runbook.runbook_id}/editor/", post, **HX))
    assert 'name="stage-1.step-1.name" value="Wait a minute"' in body and "Wait a minute" in body
    assert "Valid</span> 4 steps to run" in body


def test_a_new_version_with_errors_is_not_saved_and_keeps_what_was_typed(people, runbook):
    frank = signed_in(people["frank"])
    source = RUNBOOK_YAML.replace("type: wait", "type: sleep", 1)
    answer = frank.post(f"/runbooks/{runbook.runbook_id}/versions/", {"source_yaml": source}, **HX)
    assert answer.status_code == 400
    body = html(answer)
    assert "Not saved: the YAML has 1 error" in body and "unknown step type &#x27;sleep&#x27;" in body
    assert "type: sleep" in re.search(r'<textarea id="rb-yaml"[^>]*>(.*?)</textarea>', body, re.S).group(1)
    assert runbook.runbook.versions.count() == 1


def test_a_valid_version_is_saved_by_the_service_and_someone_else_approves_it(people, runbook):
    frank = signed_in(people["frank"])
    source = RUNBOOK_YAML.replace("Bake at 10%", "Bake at 5%")
    saved = frank.post(f"/runbooks/{runbook.runbook_id}/versions/", {"source_yaml": source}, **HX)
    assert saved.status_code == 200 and saved["HX-Redirect"] == f"/runbooks/{runbook.runbook_id}/?version=2"
    version = RunbookVersion.objects.get(runbook_id=runbook.runbook_id, number=2)
    assert version.created_by == people["frank"] and version.source_yaml == source
    assert AuditEvent.objects.filter(action="runbook.version_created", actor_name="frank").count() == 2
    page = html(frank.get(f"/runbooks/{runbook.runbook_id}/?version=2"))
    assert "Version 2 is saved." in page and "Approve version 2" not in page  # its author may not
    refused = frank.post(f"/runbooks/{runbook.runbook_id}/versions/2/approve/")
    assert refused.status_code == 403 and "runbook_author_cannot_approve" in html(refused)
    for who in ("alice", "quinn", "grace"):  # neither member, chair nor implementer
        assert "Approve version 2" not in html(signed_in(people[who]).get(f"/runbooks/{runbook.runbook_id}/"))
    bob = signed_in(people["bob"])
    assert "Approve version 2" in html(bob.get(f"/runbooks/{runbook.runbook_id}/?version=2"))
    approved = bob.post(f"/runbooks/{runbook.runbook_id}/versions/2/approve/", follow=True)
    version.refresh_from_db()
    assert version.approved_by == people["bob"] and "Version 2 is approved" in html(approved)
    assert "Approve version 2" not in html(approved)


# --- the step types ---------------------------------------------------------------------------------------


def test_the_step_types_page_lists_every_registered_type_with_its_parameters(people):
    page = html(signed_in(people["alice"]).get("/runbooks/step-types/"))
    for name, kind in steps.REGISTRY.items():
        assert f'id="type-{name}"' in page and kind.summary.replace("'", "&#x27;") in page
    canary = page.split('id="type-lambda_canary"')[1].split("</section>")[0]
    assert '<code>weight</code> <span class="small">required</span>' in canary
    assert "Percent of the alias&#x27;s traffic on the new version after this step" in canary
    assert "whole number or publish" in canary
    assert "Linear10PercentEvery1Minute" in page and "<code>not_starter</code>" in page


# --- the release & rollback plan -----------------------------------------------------------------------------


def test_the_release_plan_shows_each_stage_its_go_no_go_and_rollback_and_the_plan_voted_on(people, submitted):
    page = html(signed_in(people["bob"]).get(f"/changes/{submitted.pk}/release-plan/"))
    assert "2 stages, planned to take 10 min" in page
    canary = page.split('<td data-label="Stage"><div><strong>Canary</strong>')[1].split("</tr>")[0]
    assert '<td data-label="Starts after"><div>at the start</div></td>' in canary and "“Healthy?”" in canary
    assert "answered by an implementer, not the person who started the run, never an approver" in canary
    full = page.split('<td data-label="Stage"><div><strong>Full</strong>')[1].split("</tr>")[0]
    assert '<td data-label="Starts after"><div>5 min</div></td>' in full
    assert "What the board votes on: revision 1" in page and "Wait 300 s: at 10%" in page
    digest = RevisionPlan.objects.get(revision=submitted.current_revision).digest
    assert digest[:17] in page


def test_a_draft_says_when_its_plan_will_be_read(people, make_change):
    draft = make_change()
    page = html(signed_in(people["alice"]).get(f"/changes/{draft.pk}/release-plan/"))
    assert "read from live state when the change is submitted" in page and "planned to take 10 min" in page


def test_a_step_whose_live_state_could_not_be_read_is_shown_as_such(people, board, make_change):
    version = services.runbook_create(
        actor=people["frank"],
        board=board,
        name="Broken",
        description="",
        source_yaml=RUNBOOK_YAML.replace(
            "type: wait, timeout_seconds: 300, params: {seconds: 300, reason: at 10%}",
            'type: http_smoke, params: {url: "https://api.example.com/health"}',
        ),
    )
    services.runbook_version_approve(actor=people["erin"], version_id=version.pk)
    change = make_change(runbook_version=version.pk)
    ccb_services.change_request_submit(change_id=change.pk, actor=people["alice"])
    RevisionPlan.objects.filter(revision__change=change).update(
        steps=[
            {"position": 0, "stage_name": "Canary", "name": "Bake at 10%", "type": "http_smoke", "params": {},
             "summary": "Live state could not be read.", "error": "EndpointConnectionError: no route"}
        ]
    )  # fmt: skip
    page = html(signed_in(people["bob"]).get(f"/changes/{change.pk}/release-plan/"))
    assert "Live state could not be read: EndpointConnectionError: no route" in page


def test_the_release_plan_is_hidden_from_whoever_may_not_see_the_change(people, submitted):
    assert signed_in(people["oscar"]).get(f"/changes/{submitted.pk}/release-plan/").status_code == 404


def test_the_change_page_and_the_agenda_load_the_plan_by_address(people, submitted):
    for url in (f"/changes/{submitted.pk}/", "/boards/production-ccb/agenda/"):
        page = html(signed_in(people["erin"]).get(url))
        assert f'hx-get="/changes/{submitted.pk}/release-plan/"' in page, url


# --- the policy, on every new page and fragment -----------------------------------------------------------


def test_the_new_pages_and_fragments_carry_no_inline_code(people, submitted, runbook):
    client = signed_in(people["frank"])
    for url in (
        f"/runbooks/{runbook.runbook_id}/",
        "/runbooks/step-types/",
        f"/changes/{submitted.pk}/release-plan/",
        f"/changes/{submitted.pk}/deployment/",
        "/deployments/dashboard/",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        page = html(response)
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page), f"inline script on {url}"
        assert not re.search(r"\sstyle=", page), f"inline style on {url}"
        assert not re.search(r"\son[a-z]+=|hx-on|js:|javascript:", page), f"inline handler on {url}"


STRATEGY_WITH_WORDS = """\
schema: 2
stages:
  - name: Start small
    strategy: {name: canary, type: lambda_canary, params: {function: fraud-scorer, alias: live, percent: lots}}
"""


def test_a_strategy_figure_that_is_not_a_number_is_shown_in_the_preview_and_not_saved(people, runbook):
    frank = signed_in(people["frank"])
    body = html(
        frank.post(
            f"/runbooks/{runbook.runbook_id}/editor/", {"from": "yaml", "source_yaml": STRATEGY_WITH_WORDS}, **HX
        )
    )
    assert "params.percent must be a whole number" in body and "lots" in body
    saved = frank.post(f"/runbooks/{runbook.runbook_id}/versions/", {"source_yaml": STRATEGY_WITH_WORDS}, **HX)
    assert saved.status_code == 400 and runbook.runbook.versions.count() == 1


def test_a_strategy_figure_that_is_not_a_number_is_an_error_naming_its_field():
    from deployments import documents

    with pytest.raises(documents.DocumentInvalid) as exc:
        documents.parse(STRATEGY_WITH_WORDS)
    assert any("line 4: stages[0].strategy" in e and "percent" in e for e in exc.value.errors)
