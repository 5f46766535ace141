"""What people see on the pages, through Django's test client: the security policy, the actions each
person is offered, the words used, and the pages for runbooks, audit events and errors."""

import re
from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.test import RequestFactory
from django.utils import timezone

from ccb import choices, policies, services
from ccb.choices import AuditAction, Status
from ccb.exceptions import PolicyViolation
from ccb.models import AuditEvent, ChangeRequest
from ccb.web import words
from deployments import services as runbook_services

from ..conftest import RUNBOOK_YAML


@pytest.fixture
def as_(client):
    def sign_in(user):
        client.force_login(user)
        return client

    return sign_in


def html(response) -> str:
    return response.content.decode()


# --- 1. the Content-Security-Policy ------------------------------------------------------------------


def test_every_page_is_served_with_a_strict_policy_and_carries_no_inline_code(as_, people, submitted):
    client = as_(people["erin"])
    for url in ("/", "/changes/", f"/changes/{submitted.pk}/", "/changes/new/", "/boards/production-ccb/agenda/"):
        response = client.get(url)
        policy = response["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "style-src 'self'" in policy, url
        assert "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy and "unsafe-eval" not in policy
        page = html(response)
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page), f"inline script on {url}"
        assert not re.search(r"\sstyle=", page), f"inline style on {url}"
        assert not re.search(r"\son[a-z]+=|hx-on|js:", page), f"inline handler on {url}"
        assert '"includeIndicatorStyles": false' in page and '"allowEval": false' in page


def test_the_api_docs_load_their_start_up_script_as_a_file_and_lead_back(as_, people):
    client = as_(people["alice"])
    page = client.get("/api/docs/")
    assert page.status_code == 200
    body = html(page)
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", body) and "<style" not in body
    assert 'href="/"' in body and "Back to ccb" in body
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200 and script["Content-Type"].startswith("application/javascript")
    assert "img-src 'self' data:" in page["Content-Security-Policy"]


# --- 2. in-place answers -----------------------------------------------------------------------------


def test_an_in_place_refusal_answers_with_the_card_and_the_rule(as_, people, submitted):
    card = as_(people["alice"]).post(
        f"/changes/{submitted.pk}/vote/",
        {"decision": "approve", "revision_hash": submitted.current_revision.content_hash},
        HTTP_HX_REQUEST="true",
    )
    assert card.status_code == 403
    assert f'id="agenda-{submitted.pk}"' in html(card) and "requester_cannot_vote" in html(card)
    assert "<html" not in html(card)


def test_an_in_place_request_for_a_hidden_change_gets_a_message_placed_before_the_card(as_, people, submitted):
    answer = as_(people["oscar"]).post(f"/changes/{submitted.pk}/vote/", {}, HTTP_HX_REQUEST="true")
    assert answer.status_code == 404 and answer["HX-Reswap"] == "beforebegin"
    assert 'role="alert"' in html(answer) and "<html" not in html(answer)


def test_a_refused_vote_keeps_what_was_typed(as_, people, submitted):
    card = as_(people["bob"]).post(
        f"/changes/{submitted.pk}/vote/",
        {"decision": "reject", "comment": "  ", "revision_hash": submitted.current_revision.content_hash},
        HTTP_HX_REQUEST="true",
    )
    assert card.status_code == 400
    assert re.search(r'value="reject"[^>]*checked', html(card))


# --- 3. only the actions a person may take -----------------------------------------------------------


def test_the_windows_page_offers_managing_only_to_chairs(as_, people, service_map):
    services.maintenance_window_save(
        actor=people["erin"],
        data={
            "service": service_map["api"],
            "environment": "production",
            "name": "Nightly",
            "time_zone": "UTC",
            "dtstart": datetime(2026, 1, 1, 22, 0),
            "duration_minutes": 120,
            "rrule": "FREQ=DAILY",
            "exdates": [],
        },
    )
    requester = html(as_(people["alice"]).get("/calendar/windows/"))
    assert "Nightly" in requester
    for button in ("Add the window", "Declare the freeze", ">Deactivate<", ">End<"):
        assert button not in requester
    chair = html(as_(people["erin"]).get("/calendar/windows/"))
    for button in ("Add the window", "Declare the freeze", ">Deactivate<"):
        assert button in chair
    assert "Every board" not in chair  # a freeze over every board is an administrator's


def test_auditors_are_not_offered_filing_and_are_refused_the_form(as_, people, submitted):
    client = as_(people["grace"])
    for url in ("/", "/changes/"):
        assert "File a change" not in html(client.get(url))
    form = client.get("/changes/new/")
    assert form.status_code == 403 and "auditor_read_only" in html(form)
    assert "File a change" in html(as_(people["alice"]).get("/changes/"))


def options(page: str, name: str) -> list[str]:
    select = re.search(rf'<select name="{name}"[^>]*>(.*?)</select>', page, re.S).group(1)
    return [
        label.strip() for value, label in re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', select) if value
    ]


def test_the_packet_form_offers_only_eligible_implementers_and_approved_runbooks(
    as_, people, board, runbook, admin_user
):
    runbook_services.runbook_version_create(
        actor=people["frank"], runbook_id=runbook.runbook_id, source_yaml=RUNBOOK_YAML
    )
    other = services.board_save(actor=admin_user, data={"name": "Mobile CCB", "slug": "mobile-ccb", "min_approvals": 1})
    services.board_role_grant(actor=admin_user, board=other, user=people["mia"], role="implementer")
    elsewhere = runbook_services.runbook_create(
        actor=people["mia"], board=other, name="Store release", description="", source_yaml=RUNBOOK_YAML
    )
    runbook_services.runbook_version_create(
        actor=people["mia"], runbook_id=elsewhere.runbook_id, source_yaml=RUNBOOK_YAML
    )
    page = html(as_(people["alice"]).get(f"/changes/new/?board={board.pk}"))
    assert options(page, "implementer") == ["frank", "mia"]
    assert options(page, "runbook_version") == ["Canary v1"]  # not the unapproved v2, nor another board's
    mobile = html(as_(people["alice"]).get(f"/changes/board-choices/?board={other.pk}"))
    assert options(mobile, "implementer") == ["mia"] and options(mobile, "runbook_version") == []


def test_naming_someone_who_may_not_implement_keeps_the_form_and_says_why(as_, people, board):
    response = as_(people["alice"]).post(
        "/changes/new/",
        {
            "board": board.pk,
            "change_type": "normal",
            "title": "Rotate the signing keys",
            "environment": "production",
            "notification_audience": "none",
            "notification_timing": "on_schedule",
            "implementer": "bob",
        },
    )
    assert response.status_code in (400, 403)
    page = html(response)
    assert 'value="Rotate the signing keys"' in page
    field = page.split('id="field-implementer"')[1].split('id="field-')[0]
    assert "has-error" in page.split('id="field-implementer"')[0][-40:] and "may implement" in field
    assert not ChangeRequest.objects.exists()


# --- 4. entry criteria and risk in people's words -----------------------------------------------------


def test_missing_entry_criteria_are_one_list_in_words_linking_to_their_fields(as_, people, board):
    client = as_(people["alice"])
    change = services.change_request_create(actor=people["alice"], board=board, data={"title": "Half a packet"})
    page = html(client.get(f"/changes/{change.pk}/"))
    assert "Users_affected" not in page and "Roi" not in page and "risk_answers." not in page
    assert f'href="/changes/{change.pk}/edit/#id_users_affected"' in page
    assert (
        f'href="/changes/{change.pk}/edit/#id_roi_cost"' in page and "Return on investment (cost and benefit)" in page
    )
    assert f'href="/changes/{change.pk}/edit/#id_risk_downtime"' in page
    assert "Risk not assessed" in page and "Low risk" not in page
    after = client.post(f"/changes/{change.pk}/submit/", follow=True)
    messages = [str(m) for m in after.context["messages"]]
    assert len(messages) == 1 and "entry criteri" in messages[0] and "Users_affected" not in messages[0]
    assert "Risk not assessed" in html(client.get("/changes/"))


def test_a_fully_answered_questionnaire_shows_its_level(as_, people, submitted):
    assert "Low risk" in html(as_(people["alice"]).get(f"/changes/{submitted.pk}/"))
    assert "Risk not assessed" not in html(as_(people["bob"]).get("/boards/production-ccb/agenda/"))


# --- 5. conditions, decisions and the timeline -------------------------------------------------------


def test_members_conditions_are_carried_into_the_chairs_decision(as_, people, submitted):
    services.vote_cast(change_id=submitted.pk, voter=people["bob"], decision="approve", conditions=["Page on-call"])
    for url in (f"/changes/{submitted.pk}/", "/boards/production-ccb/agenda/"):
        page = html(as_(people["erin"]).get(url))
        assert re.search(r'name="conditions" rows="3">Page on-call</textarea>', page), url
        assert re.search(r'<option value="approved_with_conditions" selected>', page), url


def test_a_decision_says_what_was_decided_and_conditions_can_be_marked_met(as_, people, submitted):
    response = as_(people["erin"]).post(
        f"/changes/{submitted.pk}/decide/",
        {"outcome": "approved_with_conditions", "rationale": "Fine.", "conditions": "Tell support\n"},
        follow=True,
    )
    messages = [str(m) for m in response.context["messages"]]
    assert any("Decided: Approved with conditions" in m and "Tell support" in m for m in messages)
    condition = submitted.conditions.get()
    assert "Mark “Tell support” as met" not in html(as_(people["bob"]).get(f"/changes/{submitted.pk}/"))
    frank = as_(people["frank"])
    assert "Mark “Tell support” as met" in html(frank.get(f"/changes/{submitted.pk}/"))
    done = frank.post(
        f"/changes/{submitted.pk}/conditions/{condition.pk}/satisfy/", {"evidence": "Ticket SUP-12"}, follow=True
    )
    condition.refresh_from_db()
    assert condition.satisfied_by == people["frank"] and "Met by frank" in html(done)
    timeline = html(done).split('data-testid="timeline"')[1]
    assert "approved_with_conditions" not in timeline and "recorded the decision: approved with conditions" in timeline
    assert "met the condition “Tell support”" in timeline


def test_the_timeline_says_a_vote_put_the_change_on_the_agenda():
    by_vote = words.timeline_entry(AuditAction.CHANGE_REVIEW_STARTED, "bob", {"revision": "x", "via": "vote"})
    assert (by_vote["who"], by_vote["words"]) == ("bob’s vote", "put it on the agenda")
    by_hand = words.timeline_entry(AuditAction.CHANGE_REVIEW_STARTED, "erin", {"revision": "x"})
    assert (by_hand["who"], by_hand["words"]) == ("erin", "put it on the agenda")
    vote = words.timeline_entry(AuditAction.VOTE_CAST, "carol", {"decision": "reject", "comment": "No rehearsal"})
    assert vote["words"] == "voted to reject" and vote["details"] == ["“No rehearsal”"]


def test_every_audit_action_has_words():
    assert set(words.ACTION_LABELS) == set(AuditAction.values)


# --- 6. the whole packet and the runbook -------------------------------------------------------------


def test_the_change_page_shows_the_whole_packet_and_links_the_runbook(as_, people, make_change, runbook):
    change = make_change(
        open_issue_links=["https://issues.example/q?open=critical", "javascript:alert(1)"],
        test_environments="staging-eu, perf",
        requested_start=timezone.now() + timedelta(days=3),
        requested_end=timezone.now() + timedelta(days=3, hours=2),
    )
    page = html(as_(people["alice"]).get(f"/changes/{change.pk}/"))
    assert 'href="https://issues.example/q?open=critical"' in page and 'href="javascript:' not in page
    assert "no critical or high issue is open" in page and "staging-eu, perf" in page
    assert "Requested end" in page and f'href="/runbooks/{runbook.runbook_id}/?version=1"' in page


def test_the_runbook_page_shows_versions_authors_approvers_yaml_and_a_diff(as_, people, runbook):
    runbook_services.runbook_version_create(
        actor=people["mia"],
        runbook_id=runbook.runbook_id,
        source_yaml=RUNBOOK_YAML.replace("Bake at 10%", "Bake at 5%"),
    )
    client = as_(people["bob"])
    page = html(client.get(f"/runbooks/{runbook.runbook_id}/"))
    assert "Version 2" in page and "Not yet approved" in page and "by mia" in page
    assert "approved by erin" in page and "Bake at 5%" in page
    diff = html(client.get(f"/runbooks/{runbook.runbook_id}/?a=1&b=2"))
    assert re.search(r'<span class="del">-.*Bake at 10%', diff)
    assert re.search(r'<span class="add">\+.*Bake at 5%', diff)
    assert as_(people["oscar"]).get(f"/runbooks/{runbook.runbook_id}/").status_code == 404


# --- 8. error pages, navigation, favicon, the audit event page ---------------------------------------


def test_not_found_is_a_ccb_page_with_navigation(as_, people):
    page = as_(people["alice"]).get("/changes/99999/")
    assert page.status_code == 404
    assert 'aria-label="Main"' in html(page) and "Not found" in html(page) and "favicon.svg" in html(page)
    assert 'href="/notifications/preferences/"' in html(page)


def test_the_error_page_renders_without_the_database(settings):
    from django.views.defaults import server_error

    def no_database(*args, **kwargs):
        raise AssertionError("the 500 page touched the database")

    settings.DEBUG = False
    with connection.execute_wrapper(no_database):
        response = server_error(RequestFactory().get("/"))
    assert response.status_code == 500
    page = html(response)
    assert "Something went wrong" in page and 'aria-label="Main"' in page and 'href="/changes/"' in page


def test_the_audit_trail_speaks_words_and_opens_each_event(as_, people, submitted):
    client = as_(people["grace"])
    trail = html(client.get("/audit/"))
    assert "Change submitted" in trail and "<code>change.submitted</code>" not in trail
    event = AuditEvent.objects.get(action="change.submitted")
    page = client.get(f"/audit/{event.seq}/")
    assert page.status_code == 200
    body = html(page)
    assert event.hash in body and event.prev_hash in body and "&quot;risk&quot;: &quot;low&quot;" in body
    assert as_(people["bob"]).get(f"/audit/{event.seq}/").status_code == 403


# --- 9. the buttons follow the transition map and the policies ---------------------------------------


def test_the_buttons_follow_the_transition_map_and_the_policies(as_, people, submitted, monkeypatch):
    client = as_(people["alice"])
    assert ">Withdraw<" in html(client.get(f"/changes/{submitted.pk}/"))
    without = frozenset(choices.TRANSITIONS[Status.SUBMITTED] - {Status.WITHDRAWN})
    monkeypatch.setitem(choices.TRANSITIONS, Status.SUBMITTED, without)
    assert ">Withdraw<" not in html(client.get(f"/changes/{submitted.pk}/"))
    monkeypatch.undo()

    def nobody_withdraws(*, actor, change):
        raise PolicyViolation("nobody_withdraws", "No.", actor=actor, target=change)

    monkeypatch.setattr(policies, "assert_can_withdraw", nobody_withdraws)
    assert ">Withdraw<" not in html(client.get(f"/changes/{submitted.pk}/"))
