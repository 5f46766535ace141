"""The OpenAPI schema at /api/schema/ says what the API answers: real answers, the empty fields and the
errors too, validate against it, and a change's board reads back as the id it was sent as."""

import pytest
import requests
import schemathesis
from schemathesis.core.transport import Response

from deployments import services as runbook_services

from ..conftest import RUNBOOK_YAML


@pytest.fixture
def schema(api, people, board):
    body = api(people["bob"]).get("/api/schema/?format=json").json()
    return body


@pytest.fixture
def conform(schema):
    """conform(client, method, template, url, **kwargs): calls the API and checks the answer against the
    schema's operation for ``template``; returns the answer."""
    loaded = schemathesis.openapi.from_dict(schema)

    def call(client, method, template, url, **kwargs):
        answer = getattr(client, method.lower())(url, **kwargs)
        headers = {}
        for name, value in answer.items():
            headers.setdefault(name, []).append(value)
        content = b"".join(answer.streaming_content) if answer.streaming else answer.content
        documented = schema["paths"][template][method.lower()]["responses"]
        assert str(answer.status_code) in documented, f"{method} {template} answered {answer.status_code}"
        media = answer["Content-Type"].split(";")[0]
        assert media in documented[str(answer.status_code)].get("content", {media: None}), (method, template, media)
        request = requests.Request(method, f"http://testserver{url}").prepare()
        loaded[template][method].validate_response(
            Response(
                status_code=answer.status_code,
                headers=headers,
                content=content,
                request=request,
                elapsed=0.0,
                verify=True,
            )
        )
        answer.body = content
        return answer

    return call


def test_the_lists_of_a_change_are_documented_as_the_arrays_they_are(schema, api, people, submitted, conform):
    bob = api(people["bob"])
    for part in ("votes", "revisions", "decisions", "attachments"):
        get = schema["paths"][f"/api/v1/changes/{{id}}/{part}/"]["get"]
        assert get["responses"]["200"]["content"]["application/json"]["schema"]["type"] == "array"
        assert {p["name"] for p in get["parameters"]} == {"id"}  # no page, no filters: they list everything
        answer = conform(bob, "GET", f"/api/v1/changes/{{id}}/{part}/", f"/api/v1/changes/{submitted.pk}/{part}/")
        assert isinstance(answer.json(), list)


NULLABLE = {
    "ChangeList": ["implementer", "planned_start", "submitted_at"],
    "ChangeDetail": ["implementer", "schedule_overridden_by", "runbook_version", "revision", "timeline_minutes"],
    "Template": ["approved_by"],
    "Condition": ["satisfied_by"],
    "Decision": ["decided_by"],
    "MaintenanceWindow": ["created_by"],
    "Freeze": ["created_by", "board"],
    "RunbookVersion": ["approved_by"],
}


def test_fields_that_may_be_empty_are_typed_nullable(schema):
    components = schema["components"]["schemas"]
    for component, fields in NULLABLE.items():
        for field in fields:
            assert components[component]["properties"][field].get("nullable") is True, (component, field)


def test_answers_with_empty_fields_validate_against_the_schema(api, people, board, submitted, conform, runbook):
    alice, erin = api(people["alice"]), api(people["erin"])
    draft = alice.post("/api/v1/changes/", {"board": board.pk, "title": "Bare"}, format="json").json()
    answer = conform(alice, "GET", "/api/v1/changes/{id}/", f"/api/v1/changes/{draft['id']}/")
    assert answer.json()["implementer"] is None and answer.json()["revision"] is None
    conform(alice, "GET", "/api/v1/changes/", "/api/v1/changes/")
    erin.post(
        f"/api/v1/changes/{submitted.pk}/decide/",
        {"outcome": "approved_with_conditions", "rationale": "ok", "conditions": [{"text": "Watch the alarms"}]},
        format="json",
    )
    decisions = conform(erin, "GET", "/api/v1/changes/{id}/decisions/", f"/api/v1/changes/{submitted.pk}/decisions/")
    assert decisions.json()[0]["conditions"][0]["satisfied_by"] is None
    version = runbook_services.runbook_version_create(
        actor=people["frank"], runbook_id=runbook.runbook_id, source_yaml=RUNBOOK_YAML
    )
    runbooks = conform(erin, "GET", "/api/v1/runbooks/{id}/", f"/api/v1/runbooks/{version.runbook_id}/")
    assert any(v["approved_by"] is None for v in runbooks.json()["versions"])


def test_error_answers_are_documented_on_every_operation(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            answers = operation["responses"]
            assert "400" in answers, (method, path)
            if operation.get("security") and {} not in operation["security"]:
                assert {"401", "403"} <= set(answers), (method, path)
            if "{" in path:
                assert "404" in answers, (method, path)
            if method in ("post", "patch", "delete"):
                assert "409" in answers, (method, path)
    forbidden = schema["components"]["schemas"]["Forbidden"]
    assert set(forbidden["properties"]) == {"detail", "rule"}
    assert set(schema["components"]["schemas"]["Conflict"]["properties"]) == {"detail", "status"}


def test_error_answers_validate_against_the_schema(api, people, board, submitted, conform):
    alice, bob = api(people["alice"]), api(people["bob"])
    refused = conform(
        alice,
        "POST",
        "/api/v1/changes/{id}/votes/",
        f"/api/v1/changes/{submitted.pk}/votes/",
        data={"decision": "approve"},
        format="json",
    )
    assert refused.status_code == 403 and refused.json()["rule"]
    conflict = conform(alice, "POST", "/api/v1/changes/{id}/submit/", f"/api/v1/changes/{submitted.pk}/submit/")
    assert conflict.status_code == 409 and conflict.json()["status"] == "submitted"
    missing = conform(bob, "GET", "/api/v1/changes/{id}/", "/api/v1/changes/424242/")
    assert missing.status_code == 404
    invalid = conform(alice, "POST", "/api/v1/changes/", "/api/v1/changes/", data={"title": "x"}, format="json")
    assert invalid.status_code == 400 and "board" in invalid.json()
    unread = conform(api(None), "GET", "/api/v1/changes/", "/api/v1/changes/")
    assert unread.status_code == 401


def test_a_change_board_reads_back_as_the_id_it_was_sent_as(api, people, board, runbook, schema):
    alice = api(people["alice"])
    created = alice.post("/api/v1/changes/", {"board": board.pk, "title": "Ids"}, format="json").json()
    assert created["board"] == board.pk
    assert alice.get("/api/v1/changes/").json()["results"][0]["board"] == board.pk
    assert alice.get(f"/api/v1/changes/?board={created['board']}").json()["count"] == 1
    runbooks = api(people["frank"]).get("/api/v1/runbooks/").json()["results"]
    assert runbooks[0]["board"] == board.pk
    assert schema["components"]["schemas"]["ChangeList"]["properties"]["board"]["type"] == "integer"


def test_a_download_is_documented_with_the_types_it_can_be(schema, api, people, submitted, conform):
    attachment = submitted.attachments.get()
    answer = conform(
        api(people["bob"]),
        "GET",
        "/api/v1/changes/{id}/attachments/{attachment_id}/download/",
        f"/api/v1/changes/{submitted.pk}/attachments/{attachment.pk}/download/",
    )
    assert answer["Content-Type"] == "application/pdf" and answer.body.startswith(b"%PDF")


def test_a_field_no_serializer_takes_is_refused_not_ignored(api, people, submitted, schema):
    r = api(people["bob"]).post(
        f"/api/v1/changes/{submitted.pk}/votes/", {"decision": "approve", "decison": "x"}, format="json"
    )
    assert r.status_code == 400 and r.json() == {"decison": ["Unknown field."]}
    assert not submitted.votes.exists()
    assert schema["components"]["schemas"]["VoteInputRequest"]["additionalProperties"] is False


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/changes/?page_size=abc", "page_size"),
        ("/api/v1/changes/?page_size=0", "page_size"),
        ("/api/v1/windows/?active=174", "active"),
        ("/api/v1/windows/?active=yes", "active"),
    ],
)
def test_a_query_parameter_the_schema_does_not_allow_is_refused(api, people, board, url, field):
    r = api(people["alice"]).get(url)
    assert r.status_code == 400 and set(r.json()) == {field}


def test_query_parameters_sent_empty_mean_no_filter(api, people, submitted, schema):
    alice = api(people["alice"])
    assert alice.get("/api/v1/changes/?created_before=&board=&tz=&page_size=").json()["count"] == 1
    params = {p["name"]: p for p in schema["paths"]["/api/v1/changes/"]["get"]["parameters"]}
    assert params["created_before"]["allowEmptyValue"] and params["tz"]["allowEmptyValue"]
    assert "pattern" in params["created_before"]["schema"]  # the offsets PostgreSQL stores
