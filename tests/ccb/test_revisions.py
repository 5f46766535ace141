"""Revisions bind votes and the decision to exactly what was reviewed."""

import pytest

from ccb import services
from ccb.exceptions import Conflict
from ccb.models import ChangeRequest, ChangeRevision, Vote
from deployments import services as runbook_services
from deployments.models import DeploymentRun, RunbookVersion

from ..conftest import RUNBOOK_YAML
from ..deployments.helpers import open_slot_now, start_run
from .conftest import in_window


def test_editing_a_submitted_change_voids_its_votes_and_makes_a_new_revision(api, submitted, people):
    bob, alice = api(people["bob"]), api(people["alice"])
    bob.post(f"/api/v1/changes/{submitted.pk}/votes/", {"decision": "approve"}, format="json")
    first = ChangeRequest.objects.get(pk=submitted.pk).current_revision

    r = alice.patch(f"/api/v1/changes/{submitted.pk}/", {"rollback_minutes": 15}, format="json")
    assert r.status_code == 200
    assert r.json()["revision"]["number"] == 2
    assert r.json()["revision"]["content_hash"] != first.content_hash
    assert Vote.objects.get(voter=people["bob"]).voided_at is not None

    tally = bob.get(f"/api/v1/changes/{submitted.pk}/tally/").json()
    assert tally["approvals"] == 0
    # bob may vote again, on the new revision
    r = bob.post(f"/api/v1/changes/{submitted.pk}/votes/", {"decision": "approve"}, format="json")
    assert r.status_code == 201 and r.json()["revision"] == 2
    votes = bob.get(f"/api/v1/changes/{submitted.pk}/votes/").json()
    assert [(v["revision"], v["voided_at"] is None) for v in votes] == [(1, False), (2, True)]


def test_a_vote_on_an_old_revision_is_refused(api, submitted, people):
    old_hash = submitted.current_revision.content_hash
    api(people["alice"]).patch(f"/api/v1/changes/{submitted.pk}/", {"summary": "Now with a load test."}, format="json")
    r = api(people["bob"]).post(
        f"/api/v1/changes/{submitted.pk}/votes/", {"decision": "approve", "revision_hash": old_hash}, format="json"
    )
    assert r.status_code == 409
    assert "revision 2" in r.json()["detail"]
    assert not Vote.objects.exists()


def test_a_member_votes_once_per_revision(api, submitted, people):
    bob = api(people["bob"])
    assert bob.post(f"/api/v1/changes/{submitted.pk}/votes/", {"decision": "abstain"}, format="json").status_code == 201
    r = bob.post(f"/api/v1/changes/{submitted.pk}/votes/", {"decision": "approve"}, format="json")
    assert r.status_code == 409 and "already voted" in r.json()["detail"]


def test_an_edit_that_changes_nothing_keeps_the_revision(api, submitted, people):
    r = api(people["alice"]).patch(f"/api/v1/changes/{submitted.pk}/", {"title": submitted.title}, format="json")
    assert r.json()["revision"]["number"] == 1
    assert ChangeRevision.objects.filter(change=submitted).count() == 1


def test_an_approved_change_cannot_be_edited(api, submitted, people):
    for name in ("bob", "carol"):
        services.vote_cast(change_id=submitted.pk, voter=people[name], decision="approve")
    r = api(people["alice"]).patch(f"/api/v1/changes/{submitted.pk}/", {"summary": "sneaky"}, format="json")
    assert r.status_code == 409 and r.json()["status"] == "approved"


def test_implementation_refuses_when_the_runbook_under_the_approval_changed(submitted, people, windows):
    for name in ("bob", "carol"):
        services.vote_cast(change_id=submitted.pk, voter=people[name], decision="approve")
    services.change_request_schedule(change_id=submitted.pk, actor=people["frank"], planned_start=in_window(days=1))
    # Someone rewrites a step of the approved runbook version behind the board's back.
    version = RunbookVersion.objects.get(change_links__change=submitted)
    version.document["stages"][0]["steps"][0]["params"]["seconds"] = 1
    RunbookVersion.objects.filter(pk=version.pk).update(document=version.document)
    with pytest.raises(Conflict, match="runbook differs"):
        start_run(open_slot_now(submitted), people["frank"])
    assert ChangeRequest.objects.get(pk=submitted.pk).status == "scheduled"
    assert not DeploymentRun.objects.exists()


def test_implementation_refuses_when_the_packet_under_the_approval_changed(submitted, people, windows):
    for name in ("bob", "carol"):
        services.vote_cast(change_id=submitted.pk, voter=people[name], decision="approve")
    services.change_request_schedule(change_id=submitted.pk, actor=people["frank"], planned_start=in_window(days=1))
    ChangeRequest.objects.filter(pk=submitted.pk).update(rollback_steps="none")  # a write that bypassed services
    with pytest.raises(Conflict, match="differs from the approved revision"):
        start_run(open_slot_now(submitted), people["frank"])
    assert not DeploymentRun.objects.exists()


def test_linking_an_unapproved_runbook_version_blocks_submit(api, make_change, people, runbook):
    # alice's own new version: she may link her draft, but the board has not approved it
    new = runbook_services.runbook_version_create(
        actor=people["alice"], runbook_id=runbook.runbook_id, source_yaml=RUNBOOK_YAML.replace("10%", "5%")
    )
    change = make_change(runbook_version=new.pk)
    r = api(people["alice"]).post(f"/api/v1/changes/{change.pk}/submit/")
    assert r.status_code == 400
    assert "not been reviewed and approved" in r.json()["runbook_version"][0]
