"""Every separation-of-duties rule, refused with 403 and the rule's name through the API, and with
PolicyViolation when the service is called directly (the shell, admin and workers take that path)."""

import json

import pytest

from ccb import services
from ccb.choices import BoardRole
from ccb.exceptions import PolicyViolation
from ccb.models import AuditEvent, ChangeRequest, RefusalWindow, Vote
from deployments import services as runbook_services

from ..conftest import RUNBOOK_YAML
from .conftest import in_window


def refused_events(rule):
    return [e for e in AuditEvent.objects.filter(action="policy.refused") if json.loads(e.data)["rule"] == rule]


def assert_api_refused(response, rule):
    assert response.status_code == 403, response.content
    assert response.json()["rule"] == rule
    assert response.json()["detail"]
    assert refused_events(rule), f"no audit event for the refusal {rule}"


def refusals_counted(rule):
    """Every refusal is counted: the first of a window is its chain event, repeats count in the window."""
    return sum(RefusalWindow.objects.filter(rule=rule).values_list("count", flat=True))


def assert_service_refused(rule, func, **kwargs):
    before = refusals_counted(rule)
    with pytest.raises(PolicyViolation) as exc:
        func(**kwargs)
    assert exc.value.rule == rule
    assert refused_events(rule), f"no audit event for the refusal {rule}"
    assert refusals_counted(rule) == before + 1


def approve(change, *names, people):
    for name in names:
        services.vote_cast(change_id=change.pk, voter=people[name], decision="approve")
    change.refresh_from_db()
    return change


def test_requester_cannot_vote_on_their_own_change(api, submitted, people):
    r = api(people["alice"]).post(f"/api/v1/changes/{submitted.pk}/votes/", {"decision": "approve"}, format="json")
    assert_api_refused(r, "requester_cannot_vote")
    assert_service_refused(
        "requester_cannot_vote", services.vote_cast, change_id=submitted.pk, voter=people["alice"], decision="approve"
    )
    assert not Vote.objects.exists()


def test_a_member_who_filed_the_change_counts_as_its_requester(api, make_change, people):
    change = make_change(requester="bob")
    services.change_request_submit(change_id=change.pk, actor=people["bob"])
    r = api(people["bob"]).post(f"/api/v1/changes/{change.pk}/votes/", {"decision": "approve"}, format="json")
    assert_api_refused(r, "requester_cannot_vote")


def test_implementer_cannot_vote_even_when_a_member(api, make_change, people, board, admin_user):
    services.board_role_grant(actor=admin_user, board=board, user=people["dave"], role=BoardRole.IMPLEMENTER)
    change = make_change(implementer=people["dave"])
    services.change_request_submit(change_id=change.pk, actor=people["alice"])
    r = api(people["dave"]).post(f"/api/v1/changes/{change.pk}/votes/", {"decision": "approve"}, format="json")
    assert_api_refused(r, "implementer_cannot_approve")
    assert_service_refused(
        "implementer_cannot_approve", services.vote_cast, change_id=change.pk, voter=people["dave"], decision="approve"
    )


def test_only_current_members_vote(api, submitted, people, board, admin_user):
    r = api(people["quinn"]).post(f"/api/v1/changes/{submitted.pk}/votes/", {"decision": "approve"}, format="json")
    assert_api_refused(r, "members_only_vote")
    services.board_role_revoke(actor=admin_user, board=board, user=people["carol"], role=BoardRole.MEMBER)
    assert_service_refused(
        "members_only_vote", services.vote_cast, change_id=submitted.pk, voter=people["carol"], decision="approve"
    )


def test_outsider_cannot_even_see_the_change(api, submitted, people):
    r = api(people["oscar"]).post(f"/api/v1/changes/{submitted.pk}/votes/", {"decision": "approve"}, format="json")
    assert r.status_code == 404
    assert_service_refused(
        "members_only_vote", services.vote_cast, change_id=submitted.pk, voter=people["oscar"], decision="approve"
    )


def test_auditor_changes_nothing(api, submitted, people, board, packet):
    r = api(people["grace"]).post(f"/api/v1/changes/{submitted.pk}/votes/", {"decision": "approve"}, format="json")
    assert_api_refused(r, "auditor_read_only")
    r = api(people["grace"]).post("/api/v1/changes/", {"board": board.pk, "title": "x"}, format="json")
    assert_api_refused(r, "auditor_read_only")
    assert_service_refused(
        "auditor_read_only", services.change_request_create, actor=people["grace"], board=board, data=packet
    )


def test_only_the_chair_decides(api, submitted, people):
    body = {"outcome": "approved", "rationale": "Looks fine"}
    r = api(people["bob"]).post(f"/api/v1/changes/{submitted.pk}/decide/", body, format="json")
    assert_api_refused(r, "chair_only_decides")
    assert_service_refused(
        "chair_only_decides",
        services.change_request_decide,
        change_id=submitted.pk,
        actor=people["bob"],
        outcome="approved",
        rationale="x",
    )


def test_chair_cannot_decide_their_own_change(api, make_change, people):
    change = make_change(requester="erin")
    services.change_request_submit(change_id=change.pk, actor=people["erin"])
    r = api(people["erin"]).post(
        f"/api/v1/changes/{change.pk}/decide/", {"outcome": "approved", "rationale": "mine"}, format="json"
    )
    assert_api_refused(r, "requester_cannot_decide")
    assert ChangeRequest.objects.get(pk=change.pk).status == "submitted"


def test_implementer_must_hold_the_role(api, make_change, people):
    change = make_change()
    r = api(people["alice"]).patch(f"/api/v1/changes/{change.pk}/", {"implementer": "bob"}, format="json")
    assert_api_refused(r, "implementer_needs_role")
    assert ChangeRequest.objects.get(pk=change.pk).implementer == people["frank"]


def test_requester_cannot_implement_unless_the_board_allows(api, make_change, people, board, admin_user):
    services.board_role_grant(actor=admin_user, board=board, user=people["alice"], role=BoardRole.IMPLEMENTER)
    change = make_change()
    r = api(people["alice"]).patch(f"/api/v1/changes/{change.pk}/", {"implementer": "alice"}, format="json")
    assert_api_refused(r, "implementer_not_requester")
    services.board_save(actor=admin_user, board=board, data={"allow_requester_as_implementer": True})
    r = api(people["alice"]).patch(f"/api/v1/changes/{change.pk}/", {"implementer": "alice"}, format="json")
    assert r.status_code == 200 and r.json()["implementer"] == "alice"


def test_an_approver_cannot_become_the_implementer(api, submitted, people, board, admin_user):
    services.board_role_grant(actor=admin_user, board=board, user=people["bob"], role=BoardRole.IMPLEMENTER)
    services.vote_cast(change_id=submitted.pk, voter=people["bob"], decision="approve")
    r = api(people["alice"]).patch(f"/api/v1/changes/{submitted.pk}/", {"implementer": "bob"}, format="json")
    assert_api_refused(r, "implementer_not_approver")


def test_only_the_requester_edits(api, make_change, people):
    change = make_change()
    # A draft is its requester's own: the board does not even see it yet.
    assert api(people["bob"]).get(f"/api/v1/changes/{change.pk}/").status_code == 404
    services.change_request_submit(change_id=change.pk, actor=people["alice"])
    r = api(people["bob"]).patch(f"/api/v1/changes/{change.pk}/", {"title": "Hijacked"}, format="json")
    assert_api_refused(r, "requester_only_edits")
    r = api(people["erin"]).post(f"/api/v1/changes/{change.pk}/submit/")
    assert_api_refused(r, "requester_only_edits")
    assert ChangeRequest.objects.get(pk=change.pk).title == "Enable fraud model v3"


def _approved(submitted, people):
    return approve(submitted, "bob", "carol", people=people)


def test_only_the_implementer_or_chair_schedules(api, submitted, people, windows):
    change = _approved(submitted, people)
    body = {"planned_start": in_window(days=1).isoformat()}
    r = api(people["bob"]).post(f"/api/v1/changes/{change.pk}/schedule/", body, format="json")
    assert_api_refused(r, "implementer_or_chair_schedules")
    r = api(people["erin"]).post(f"/api/v1/changes/{change.pk}/schedule/", body, format="json")
    assert r.status_code == 200


def test_only_the_assigned_implementer_executes(api, submitted, people, windows):
    change = _approved(submitted, people)
    services.change_request_schedule(change_id=change.pk, actor=people["frank"], planned_start=in_window(days=1))
    for person in ("mia", "erin"):
        r = api(people[person]).post("/api/v1/deployments/", {"change": change.pk}, format="json")
        assert_api_refused(r, "implementer_only_executes")


def test_only_the_chair_or_a_verifier_closes(api, submitted, people, windows):
    change = _approved(submitted, people)
    services.change_request_schedule(change_id=change.pk, actor=people["frank"], planned_start=in_window(days=1))
    ChangeRequest.objects.filter(pk=change.pk).update(status="rolled_back")  # as its run ended
    r = api(people["frank"]).post(f"/api/v1/changes/{change.pk}/close/", {"review": "rolled back"}, format="json")
    assert_api_refused(r, "chair_or_verifier_closes")
    r = api(people["erin"]).post(f"/api/v1/changes/{change.pk}/close/", {"review": "rolled back"}, format="json")
    assert r.status_code == 200 and r.json()["status"] == "closed"


def test_runbook_author_cannot_approve_their_version(api, board, people):
    version = runbook_services.runbook_create(
        actor=people["frank"], board=board, name="Blue/green", description="", source_yaml=RUNBOOK_YAML
    )
    url = f"/api/v1/runbooks/{version.runbook_id}/versions/1/approve/"
    assert_api_refused(api(people["frank"]).post(url), "runbook_author_cannot_approve")
    assert_api_refused(api(people["quinn"]).post(url), "runbook_reviewer_role")
    assert api(people["mia"]).post(url).status_code == 200


def test_only_administrators_manage_boards(api, people):
    r = api(people["erin"]).post("/api/v1/boards/", {"name": "Shadow board", "slug": "shadow"}, format="json")
    assert_api_refused(r, "board_admin_only")


def test_only_auditors_read_the_trail(api, people, board):
    assert_api_refused(api(people["bob"]).get("/api/v1/audit/"), "auditors_only")
    assert_api_refused(api(people["erin"]).get("/api/v1/audit/verify/"), "auditors_only")
    assert api(people["grace"]).get("/api/v1/audit/").status_code == 200


def test_a_superuser_is_not_a_voter(api, submitted, admin_user):
    r = api(admin_user).post(f"/api/v1/changes/{submitted.pk}/votes/", {"decision": "approve"}, format="json")
    assert_api_refused(r, "members_only_vote")
