"""Bad input gets a 400 with a message per field, and nothing is written."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from ccb.models import Attachment, AuditEvent, ChangeRequest


def counts():
    return ChangeRequest.objects.count(), Attachment.objects.count(), AuditEvent.objects.count()


@pytest.fixture
def alice(api, people, board):
    return api(people["alice"])


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"title": "x"}, {"board"}),
        ({"board": "PLACEHOLDER"}, {"title"}),
        ({"board": "PLACEHOLDER", "title": "x", "change_type": "urgent"}, {"change_type"}),
        ({"board": "PLACEHOLDER", "title": "x", "environment": "moon"}, {"environment"}),
        (
            {"board": "PLACEHOLDER", "title": "x", "users_affected": "lots", "rollback_minutes": -5},
            {"users_affected", "rollback_minutes"},
        ),
        (
            {"board": "PLACEHOLDER", "title": "x", "roi_cost": "cheap", "requested_start": "tomorrow"},
            {"roi_cost", "requested_start"},
        ),
        (
            {"board": "PLACEHOLDER", "title": "x", "risk_answers": {"downtime": "forever", "colour": "blue"}},
            {"risk_answers.downtime", "risk_answers.colour"},
        ),
        (
            {"board": "PLACEHOLDER", "title": "x", "services": ["no-such-service"], "implementer": "nobody"},
            {"services", "implementer"},
        ),
        ({"board": 99999, "title": "x"}, {"board"}),
        ({"board": "PLACEHOLDER", "title": "x", "status": "approved"}, {"status"}),
        (
            {
                "board": "PLACEHOLDER",
                "title": "x",
                "requested_start": "2026-12-02T10:00:00Z",
                "requested_end": "2026-12-01T10:00:00Z",
            },
            {"requested_end"},
        ),
    ],
)
def test_create_refuses_bad_packets_field_by_field(alice, board, body, fields):
    body = {k: (board.pk if v == "PLACEHOLDER" else v) for k, v in body.items()}
    before = counts()
    r = alice.post("/api/v1/changes/", body, format="json")
    assert r.status_code == 400, r.content
    assert set(r.json()) == fields, r.json()
    assert all(
        isinstance(msgs, list) and msgs and all(isinstance(m, str) and m for m in msgs) for msgs in r.json().values()
    )
    assert counts() == before


def test_malformed_json_is_a_400(alice):
    r = alice.post("/api/v1/changes/", "{not json", content_type="application/json")
    assert r.status_code == 400 and "JSON parse error" in r.json()["detail"]


def test_a_status_cannot_be_patched(alice, make_change):
    change = make_change()
    r = alice.patch(f"/api/v1/changes/{change.pk}/", {"status": "approved"}, format="json")
    assert r.status_code == 400 and r.json() == {"status": ["Unknown field."]}
    assert ChangeRequest.objects.get(pk=change.pk).status == "draft"


def test_submit_lists_every_missing_entry_criterion(alice, board, people):
    r = alice.post("/api/v1/changes/", {"board": board.pk, "title": "Bare"}, format="json")
    cid = r.json()["id"]
    before = counts()
    r = alice.post(f"/api/v1/changes/{cid}/submit/")
    assert r.status_code == 400
    assert {
        "summary",
        "justification",
        "services",
        "users_affected",
        "expected_downtime_minutes",
        "risk_answers.downtime",
        "open_issues_resolved",
        "roi",
        "test_environments_validated",
        "validation_report",
        "rollback_plan",
        "runbook_version",
        "implementer",
    } <= set(r.json())
    assert counts() == before
    assert ChangeRequest.objects.get(pk=cid).status == "draft"


def test_submit_reports_an_unreachable_quorum(alice, make_change, board, admin_user, people):
    from ccb import services
    from ccb.choices import BoardRole

    # Four can vote (three members and the chair) but dave will implement, so only three are eligible.
    services.board_save(actor=admin_user, board=board, data={"min_approvals": 4})
    services.board_role_grant(actor=admin_user, board=board, user=people["dave"], role=BoardRole.IMPLEMENTER)
    change = make_change(implementer=people["dave"])
    r = alice.post(f"/api/v1/changes/{change.pk}/submit/")
    assert r.status_code == 400
    assert "needs 4 approvals" in r.json()["quorum"][0] and "only 3 eligible" in r.json()["quorum"][0]
    alice.patch(f"/api/v1/changes/{change.pk}/", {"implementer": "frank"}, format="json")
    assert alice.post(f"/api/v1/changes/{change.pk}/submit/").status_code == 200


@pytest.mark.parametrize(
    ("payload", "name", "message"),
    [
        (b"MZ\x90\x00" + b"\x00" * 200, "tool.pdf", "upload a PDF, PNG or JPEG"),
        (b"just some text pretending to be a pdf", "report.pdf", "upload a PDF, PNG or JPEG"),
        (b"", "empty.pdf", "empty"),
    ],
)
def test_attachments_are_typed_by_content(alice, make_change, payload, name, message):
    change = make_change(report=False)
    before = counts()
    upload = SimpleUploadedFile(name, payload, content_type="application/pdf")
    r = alice.post(
        f"/api/v1/changes/{change.pk}/attachments/", {"file": upload, "kind": "evidence"}, format="multipart"
    )
    assert r.status_code == 400 and message in " ".join(r.json()["file"])
    assert counts() == before


def test_oversize_attachment_is_refused_and_leaves_no_file(alice, make_change, settings):
    settings.CCB_ATTACHMENT_MAX_BYTES = 1024
    change = make_change(report=False)
    before = counts()
    upload = SimpleUploadedFile("big.pdf", b"%PDF-1.4\n" + b"0" * 4096, content_type="application/pdf")
    r = alice.post(
        f"/api/v1/changes/{change.pk}/attachments/", {"file": upload, "kind": "evidence"}, format="multipart"
    )
    assert r.status_code == 400 and "limit is 1,024 bytes" in r.json()["file"][0]
    assert counts() == before
    media = settings.MEDIA_ROOT / "attachments"
    assert not media.exists() or not any(media.iterdir())


def test_validation_report_needs_its_signer(alice, make_change):
    from ..conftest import pdf_upload

    change = make_change(report=False)
    r = alice.post(
        f"/api/v1/changes/{change.pk}/attachments/",
        {"file": pdf_upload(), "kind": "validation_report"},
        format="multipart",
    )
    assert r.status_code == 400 and "signer" in r.json()["signed_by"][0]


def test_attachments_are_stored_under_generated_names_and_served_only_to_readers(api, people, submitted):
    change = submitted
    attachment = change.attachments.get()
    assert attachment.file.name.startswith("attachments/") and "report" not in attachment.file.name
    assert attachment.file.name.endswith(".pdf")
    url = f"/api/v1/changes/{change.pk}/attachments/{attachment.pk}/download/"
    r = api(people["bob"]).get(url)
    assert r.status_code == 200 and r["Content-Type"] == "application/pdf"
    assert b"".join(r.streaming_content).startswith(b"%PDF")
    assert api(people["oscar"]).get(url).status_code == 404
    assert api(None).get(url).status_code == 401


def test_vote_input_is_checked(api, submitted, people):
    bob = api(people["bob"])
    r = bob.post(f"/api/v1/changes/{submitted.pk}/votes/", {"decision": "maybe", "conditions": "x"}, format="json")
    assert r.status_code == 400 and set(r.json()) == {"decision", "conditions"}
    r = api(people["erin"]).post(
        f"/api/v1/changes/{submitted.pk}/decide/",
        {"outcome": "approved_with_conditions", "rationale": "ok"},
        format="json",
    )
    assert r.status_code == 400 and "conditions" in r.json()
    assert not submitted.votes.exists() and not submitted.decisions.exists()


def test_unknown_change_is_404_with_a_message(alice):
    r = alice.get("/api/v1/changes/424242/")
    assert r.status_code == 404 and r.json()["detail"]
