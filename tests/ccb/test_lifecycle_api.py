"""The lifecycle end to end through the API, as the people who use it would drive it."""

from datetime import timedelta

from django.utils import timezone

from ccb import audit, services
from ccb.models import AuditEvent, ChangeRequest
from deployments import engine
from deployments.models import DeploymentRun

from ..conftest import ANSWERS, PDF
from ..deployments.helpers import open_slot_now
from .conftest import in_window


def _packet_json(service_slug, runbook, **over):
    body = {
        "title": "Enable fraud model v3",
        "summary": "Canary the new model.",
        "justification": "Fewer false positives.",
        "services": [service_slug],
        "environment": "production",
        "users_affected": 1000,
        "expected_downtime_minutes": 0,
        "impact_dependencies": "none",
        "risk_answers": ANSWERS,
        "roi_cost": "100.00",
        "roi_benefit": "1000.00",
        "roi_payback_months": 1,
        "rollback_steps": "Shift the alias back.",
        "rollback_minutes": 5,
        "rollback_tested_on": "2026-11-01",
        "open_issues_resolved": True,
        "test_environments_validated": True,
        "implementer": "frank",
        "runbook_version": runbook.pk,
        "notification_audience": "affected",
        "notification_subject": "Better fraud screening",
        "notification_body": "No downtime expected.",
    }
    body.update(over)
    return body


def _upload_report(client, change_id):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("validation.pdf", PDF, content_type="application/pdf")
    return client.post(
        f"/api/v1/changes/{change_id}/attachments/",
        {"file": upload, "kind": "validation_report", "signed_by": "Quinn QA", "signed_on": "2026-11-20"},
        format="multipart",
    )


def test_normal_change_from_packet_to_closed(api, board, people, service_map, runbook, windows):
    alice, bob, carol, erin, frank, quinn = (
        api(people[n]) for n in ("alice", "bob", "carol", "erin", "frank", "quinn")
    )
    r = alice.post("/api/v1/changes/", {**_packet_json("api", runbook), "board": board.pk}, format="json")
    assert r.status_code == 201, r.json()
    change = r.json()
    assert change["status"] == "draft" and change["reference"] == f"CHG-{change['id']:06d}"
    cid = change["id"]

    # Entry criteria tell the requester what is missing, then the submit is refused with the same list.
    missing = alice.get(f"/api/v1/changes/{cid}/entry-criteria/").json()
    assert missing["ready"] is False and "validation_report" in missing["missing"]
    r = alice.post(f"/api/v1/changes/{cid}/submit/")
    assert r.status_code == 400 and "validation_report" in r.json()

    assert _upload_report(alice, cid).status_code == 201
    assert alice.get(f"/api/v1/changes/{cid}/entry-criteria/").json() == {"ready": True, "missing": {}}
    r = alice.post(f"/api/v1/changes/{cid}/submit/")
    assert r.status_code == 200, r.json()
    assert r.json()["status"] == "submitted" and r.json()["revision"]["number"] == 1
    revision_hash = r.json()["revision"]["content_hash"]

    r = bob.post(
        f"/api/v1/changes/{cid}/votes/", {"decision": "approve", "revision_hash": revision_hash}, format="json"
    )
    assert r.status_code == 201, r.json()
    assert alice.get(f"/api/v1/changes/{cid}/").json()["status"] == "in_review"
    tally = bob.get(f"/api/v1/changes/{cid}/tally/").json()
    assert (tally["approvals"], tally["required"], tally["outcome"]) == (1, 2, None)

    r = carol.post(
        f"/api/v1/changes/{cid}/votes/",
        {"decision": "approve", "conditions": ["Run the smoke test twice"]},
        format="json",
    )
    assert r.status_code == 201
    detail = alice.get(f"/api/v1/changes/{cid}/").json()
    assert detail["status"] == "approved_with_conditions"
    decision = alice.get(f"/api/v1/changes/{cid}/decisions/").json()[0]
    assert decision["revision_hash"] == revision_hash and decision["runbook_hash"] == runbook.content_hash
    assert decision["basis"] == "quorum" and decision["conditions"][0]["text"] == "Run the smoke test twice"

    start = in_window(days=2)
    r = frank.post(f"/api/v1/changes/{cid}/schedule/", {"planned_start": start.isoformat()}, format="json")
    assert r.status_code == 200 and r.json()["status"] == "scheduled"
    booked = timedelta(minutes=10 + 5)  # the runbook's ten planned minutes and the 5 min to roll back
    assert r.json()["planned_end"] == (start + booked).isoformat().replace("+00:00", "Z")

    open_slot_now(ChangeRequest.objects.get(pk=cid))  # the day of the window has come
    r = frank.post("/api/v1/deployments/", {"change": cid}, format="json")
    assert r.status_code == 409 and "Run the smoke test twice" in r.json()["detail"]
    cond = decision["conditions"][0]["id"]
    r = frank.post(f"/api/v1/changes/{cid}/conditions/{cond}/satisfy/", {"evidence": "CI run #88"}, format="json")
    assert r.status_code == 200 and r.json()["satisfied_by"] == "frank"

    r = frank.post("/api/v1/deployments/", {"change": cid}, format="json")
    assert r.status_code == 201, r.content
    run = r.json()
    assert run["status"] == "pending" and [s["name"] for s in run["steps"]][:2] == ["Bake at 10%", "Go/no-go: Healthy?"]
    assert alice.get(f"/api/v1/changes/{cid}/").json()["status"] == "implementing"
    drive_until_settled(run["id"])
    gate = next(s for s in frank.get(f"/api/v1/deployments/{run['id']}/").json()["steps"] if s["type"] == "manual_gate")
    r = api(people["mia"]).post(
        f"/api/v1/deployments/{run['id']}/gates/{gate['position']}/answer/",
        {"answer": "go", "comment": "Error rate flat."},
        format="json",
    )
    assert r.status_code == 200, r.content
    drive_until_settled(run["id"])
    assert frank.get(f"/api/v1/deployments/{run['id']}/").json()["status"] == "succeeded"
    assert alice.get(f"/api/v1/changes/{cid}/").json()["status"] == "completed"

    r = quinn.post(f"/api/v1/changes/{cid}/close/", {"review": "fine", "smoke_tests_passed": True}, format="json")
    assert r.status_code == 400 and set(r.json()) == {"monitoring_normal", "notifications_sent"}
    r = quinn.post(
        f"/api/v1/changes/{cid}/close/",
        {"review": "fine", "smoke_tests_passed": True, "monitoring_normal": True, "notifications_sent": True},
        format="json",
    )
    assert r.status_code == 200 and r.json()["status"] == "closed"

    actions = list(
        AuditEvent.objects.filter(target_type="ccb.changerequest", target_id=str(cid)).values_list("action", flat=True)
    )
    for expected in (
        "change.created",
        "attachment.added",
        "change.submitted",
        "change.review_started",
        "vote.cast",
        "change.decided",
        "change.scheduled",
        "condition.satisfied",
        "change.implementation_started",
        "change.implementation_finished",
        "change.closed",
    ):
        assert expected in actions
    assert audit.verify().ok
    r = erin.post(f"/api/v1/changes/{cid}/close/", {"review": "again"}, format="json")
    assert r.status_code == 409 and r.json()["status"] == "closed"


def drive_until_settled(run_id):
    """Play the deployments workers until the run waits for a person or ends, skipping bakes."""
    clock = [timezone.now()]
    for _ in range(50):
        again = engine.advance(run_id, now=lambda: clock[0])
        run = DeploymentRun.objects.get(pk=run_id)
        if again is None or run.status in ("awaiting_answer", "paused", "held"):
            return
        clock[0] = max(clock[0], again)


def test_standard_change_is_approved_by_its_template_without_a_vote(
    api, board, people, admin_user, runbook, service_map
):
    template = services.template_save(
        actor=admin_user,
        services=[service_map["api"]],
        data={
            "board": board,
            "name": "Rotate certificate",
            "environment": "production",
            "runbook_version": runbook.pk,
            "max_risk": "low",
            "packet_defaults": {
                "summary": "Rotate the cert.",
                "justification": "Expiry.",
                "rollback_steps": "Re-import the old one.",
                "rollback_minutes": 5,
            },
        },
    )
    frank = api(people["alice"])
    r = frank.post(
        "/api/v1/changes/", {"template": template.pk, "title": "Rotate cert (Dec)", "implementer": "mia"}, format="json"
    )
    assert r.status_code == 201, r.json()
    assert r.json()["change_type"] == "standard" and r.json()["runbook_version"] == runbook.pk
    cid = r.json()["id"]
    r = frank.post(f"/api/v1/changes/{cid}/submit/")
    assert r.status_code == 200 and r.json()["status"] == "approved"
    decision = frank.get(f"/api/v1/changes/{cid}/decisions/").json()[0]
    assert decision["basis"] == "template" and decision["decided_by"] is None
    assert frank.get(f"/api/v1/changes/{cid}/votes/").json() == []


def test_emergency_change_needs_chair_and_one_member_then_owes_a_retrospective(
    api, board, people, runbook, service_map
):
    alice, bob, carol, erin = (api(people[n]) for n in ("alice", "bob", "carol", "erin"))
    body = {
        **_packet_json("api", runbook),
        "board": board.pk,
        "change_type": "emergency",
        "title": "Block credential stuffing",
    }
    cid = alice.post("/api/v1/changes/", body, format="json").json()["id"]
    # Emergency changes may go without the Phase 5 report; the retrospective catches up.
    r = alice.post(f"/api/v1/changes/{cid}/submit/")
    assert r.status_code == 200, r.json()
    bob.post(f"/api/v1/changes/{cid}/votes/", {"decision": "approve"}, format="json")
    carol.post(f"/api/v1/changes/{cid}/votes/", {"decision": "approve"}, format="json")
    # Two members are not enough: an emergency needs the chair.
    assert alice.get(f"/api/v1/changes/{cid}/").json()["status"] == "in_review"
    erin.post(f"/api/v1/changes/{cid}/votes/", {"decision": "approve"}, format="json")
    detail = alice.get(f"/api/v1/changes/{cid}/").json()
    assert detail["status"] == "approved" and detail["review_due_at"] is not None
    assert detail["is_review_overdue"] is False

    # Past its due date without a retrospective, it shows as overdue.
    from ccb.models import ChangeRequest

    ChangeRequest.objects.filter(pk=cid).update(review_due_at=timezone.now() - timedelta(hours=1))
    assert alice.get(f"/api/v1/changes/{cid}/").json()["is_review_overdue"] is True
    r = bob.post(f"/api/v1/changes/{cid}/retrospective/", {"notes": "ok"}, format="json")
    assert r.status_code == 403 and r.json()["rule"] == "chair_only_decides"
    r = erin.post(f"/api/v1/changes/{cid}/retrospective/", {"notes": "Justified; add a WAF rule test."}, format="json")
    assert r.status_code == 200 and r.json()["is_review_overdue"] is False


def test_rejected_change_goes_back_to_draft_and_resubmits_as_a_new_revision(api, submitted, people):
    alice, carol, erin = api(people["alice"]), api(people["carol"]), api(people["erin"])
    cid = submitted.pk
    r = carol.post(f"/api/v1/changes/{cid}/votes/", {"decision": "reject"}, format="json")
    assert r.status_code == 400 and "comment" in r.json()
    carol.post(f"/api/v1/changes/{cid}/votes/", {"decision": "reject", "comment": "No load test."}, format="json")
    r = erin.post(
        f"/api/v1/changes/{cid}/decide/", {"outcome": "rejected", "rationale": "Load test first."}, format="json"
    )
    assert r.status_code == 201
    assert alice.post(f"/api/v1/changes/{cid}/revise/").json()["status"] == "draft"
    alice.patch(f"/api/v1/changes/{cid}/", {"summary": "Canary, load-tested at 2x peak."}, format="json")
    r = alice.post(f"/api/v1/changes/{cid}/submit/")
    assert r.json()["status"] == "submitted" and r.json()["revision"]["number"] == 2
    # Carol's reject was on revision 1; she may vote again on revision 2.
    r = carol.post(f"/api/v1/changes/{cid}/votes/", {"decision": "approve"}, format="json")
    assert r.status_code == 201 and r.json()["revision"] == 2


def test_withdraw_is_refused_once_implementing(api, submitted, people):
    alice = api(people["alice"])
    r = alice.post(f"/api/v1/changes/{submitted.pk}/withdraw/", {"reason": "Not needed"}, format="json")
    assert r.status_code == 200 and r.json()["status"] == "withdrawn"
    r = alice.post(f"/api/v1/changes/{submitted.pk}/submit/")
    assert r.status_code == 409 and r.json()["status"] == "withdrawn"
    assert "withdrawn" in r.json()["detail"]
