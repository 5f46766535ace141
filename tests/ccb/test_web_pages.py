"""The server-rendered pages, through Django's test client: who sees what, and what each form does."""

import pytest

from ccb import services
from ccb.models import ChangeRequest
from deployments.models import RunbookVersion

from ..conftest import ANSWERS


@pytest.fixture
def browser(client):
    def as_(user):
        client.force_login(user)
        return client

    return as_


def test_pages_need_sign_in(client, submitted):
    for url in (
        "/",
        "/changes/",
        "/changes/new/",
        f"/changes/{submitted.pk}/",
        "/audit/",
        "/boards/production-ccb/agenda/",
    ):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), url


def test_change_page_is_hidden_from_outsiders(browser, people, submitted):
    assert browser(people["oscar"]).get(f"/changes/{submitted.pk}/").status_code == 404
    assert browser(people["oscar"]).get("/boards/production-ccb/agenda/").status_code == 404


def test_filing_a_draft_shows_errors_next_to_fields_and_writes_nothing(browser, people, board):
    page = browser(people["alice"]).post(
        "/changes/new/",
        {
            "board": board.pk,
            "change_type": "normal",
            "title": "",
            "users_affected": "many",
            "environment": "production",
            "notification_audience": "none",
            "notification_timing": "on_schedule",
        },
    )
    assert page.status_code == 400
    html = page.content.decode()
    assert 'id="field-title"' in html and "This field is required." in html
    assert "Enter a whole number." in html
    assert not ChangeRequest.objects.exists()


def test_filing_edits_and_the_live_risk_level(browser, people, board, service_map, runbook):
    client = browser(people["alice"])
    data = {
        "board": board.pk,
        "change_type": "normal",
        "title": "Rotate keys",
        "environment": "production",
        "services": [service_map["api"].pk],
        "notification_audience": "none",
        "notification_timing": "on_schedule",
        **{f"risk_{k}": v for k, v in ANSWERS.items()},
    }
    response = client.post("/changes/new/", data)
    change = ChangeRequest.objects.get(title="Rotate keys")
    assert response.status_code == 302 and response["Location"] == f"/changes/{change.pk}/"
    assert change.risk_answers == ANSWERS and change.status == "draft"
    page = client.get(f"/changes/{change.pk}/").content.decode()
    assert "Before you submit" in page and "Attach the signed Phase 5 validation report" in page
    preview = client.post(
        "/changes/risk-preview/",
        {"risk_downtime": "outage", "risk_data_change": "irreversible", "risk_customer_facing": "yes"},
    )
    assert b"High" in preview.content and b"3 of 7" in preview.content


def test_editing_under_review_makes_a_new_revision_and_the_diff_shows_it(browser, people, submitted):
    client = browser(people["alice"])
    form = client.get(f"/changes/{submitted.pk}/edit/")
    assert form.status_code == 200
    data = {k: v for k, v in form.context["form"].initial.items() if v is not None}
    data.update(
        {
            "services": [s.pk for s in data["services"]],
            "runbook_version": RunbookVersion.objects.get(change_links__change=submitted).pk,
            "rollback_steps": "Shift the alias back, then flush the cache.",
            "open_issues_resolved": "on",
            "test_environments_validated": "on",
        }
    )
    data = {k: v for k, v in data.items() if v is not False}
    response = client.post(f"/changes/{submitted.pk}/edit/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    submitted.refresh_from_db()
    assert submitted.current_revision.number == 2
    diff = client.get(f"/changes/{submitted.pk}/diff/?a=1&b=2").content.decode()
    assert "packet.rollback_steps" in diff and "flush the cache" in diff


def test_forged_decision_by_a_member_is_refused_with_the_rule(browser, people, submitted):
    response = browser(people["bob"]).post(
        f"/changes/{submitted.pk}/decide/", {"outcome": "approved", "rationale": "forged"}
    )
    assert response.status_code == 403 and b"chair_only_decides" in response.content
    assert not submitted.decisions.exists()


def test_voting_in_place_returns_the_agenda_card(browser, people, submitted):
    client = browser(people["bob"])
    agenda = client.get("/boards/production-ccb/agenda/").content.decode()
    assert f"Vote on {submitted.reference}" in agenda
    card = client.post(
        f"/changes/{submitted.pk}/vote/",
        {"decision": "reject", "comment": "", "revision_hash": submitted.current_revision.content_hash},
        HTTP_HX_REQUEST="true",
    )
    assert card.status_code == 400 and b"Say why you reject" in card.content
    card = client.post(
        f"/changes/{submitted.pk}/vote/",
        {
            "decision": "approve",
            "conditions": "Page on-call\n",
            "revision_hash": submitted.current_revision.content_hash,
        },
        HTTP_HX_REQUEST="true",
    )
    assert card.status_code == 200 and b"Condition: Page on-call" in card.content
    assert b"You voted on this revision" in card.content


def test_dashboard_lists_what_awaits_each_person(browser, people, submitted, make_change):
    from datetime import timedelta

    from django.utils import timezone

    emergency = make_change(change_type="emergency", title="Hotfix")
    services.change_request_submit(change_id=emergency.pk, actor=people["alice"])
    for name in ("erin", "bob"):
        services.vote_cast(change_id=emergency.pk, voter=people[name], decision="approve")
    ChangeRequest.objects.filter(pk=emergency.pk).update(review_due_at=timezone.now() - timedelta(days=1))
    bob = browser(people["bob"]).get("/").context
    assert [c.pk for c in bob["awaiting"]] == [submitted.pk]
    assert [c.pk for c in bob["overdue"]] == [emergency.pk]
    alice = browser(people["alice"]).get("/").context
    assert list(alice["awaiting"]) == [] and {c.pk for c in alice["mine"]} == {submitted.pk, emergency.pk}


def test_audit_page_is_for_auditors(browser, people, submitted):
    from ccb.models import AuditEvent

    refused = browser(people["bob"]).get("/audit/")
    assert refused.status_code == 403 and b"auditors_only" in refused.content
    assert AuditEvent.objects.filter(action="policy.refused", actor_name="bob", data__contains="auditors_only").exists()
    page = browser(people["grace"]).get("/audit/?actor=alice")
    assert page.status_code == 200
    assert all(e.actor_name == "alice" for e in page.context["page"].object_list)
    state = browser(people["grace"]).get("/audit/verify/")
    assert b"Intact" in state.content


def test_the_chair_decides_in_place_on_the_agenda(browser, people, submitted):
    card = browser(people["erin"]).post(
        f"/changes/{submitted.pk}/decide/",
        {
            "outcome": "approved_with_conditions",
            "rationale": "Low risk, good evidence.",
            "conditions": "Notify support an hour before\n",
        },
        HTTP_HX_REQUEST="true",
    )
    assert card.status_code == 200 and b"Decided: Approved with conditions" in card.content
    submitted.refresh_from_db()
    assert submitted.status == "approved_with_conditions"
    assert list(submitted.conditions.values_list("text", flat=True)) == ["Notify support an hour before"]
    page = browser(people["alice"]).get(f"/changes/{submitted.pk}/").content.decode()
    assert "Decision on revision 1: Approved with conditions" in page and "Low risk, good evidence." in page
