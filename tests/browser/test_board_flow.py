"""People using ccb in a browser: file, submit, vote in place, and audit."""

import re

import pytest
from playwright.sync_api import expect

from ccb import services
from ccb.models import AuditEvent, ChangeRequest

from ..conftest import PDF
from .conftest import screenshot, serious_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def fill_packet(page, tmp_path, board, runbook):
    page.get_by_label("Board", exact=True).select_option(str(board.pk))
    page.get_by_label("Title").fill("Enable fraud model v3 canary")
    page.get_by_label("Summary").fill("Route 10% of scoring to v3, then all of it.")
    page.get_by_label("Justification").fill("v3 halves false positives in the replay test.")
    page.get_by_label("API (Production CCB)").check()
    page.get_by_label("Users affected").fill("12000")
    page.get_by_label("Expected downtime (minutes)").fill("0")
    answers = {
        "Does the change alter what customers see or use?": "no",
        "What interruption does it cause?": "none",
        "Does it change or migrate stored data?": "no",
        "How much of the platform can it affect?": "one_service",
        "Has the rollback been rehearsed in a test environment?": "yes",
        "Has a change like this been made here before?": "routine",
        "Does it touch authentication, secrets or access control?": "no",
    }
    for label, value in answers.items():
        page.get_by_label(label).select_option(value)
    page.get_by_label("Cost").fill("4200")
    page.get_by_label("Benefit").fill("38000")
    page.get_by_label("Rollback steps").fill("Shift the alias back to v2.")
    page.get_by_label("Time to roll back (minutes)").fill("10")
    report = tmp_path / "validation-report.pdf"
    report.write_bytes(PDF)
    page.get_by_label("Signed validation report (PDF, PNG or JPEG)").set_input_files(str(report))
    page.get_by_label("Signed by").fill("Quinn QA")
    page.get_by_label("Signed on").fill("2026-11-20")
    page.get_by_label("I attest no critical or high issue is open").check()
    page.get_by_label("Test environments were validated").check()
    page.get_by_label("Runbook version").select_option(str(runbook.pk))
    page.get_by_label("Implementer").select_option("frank")


def vote_on_agenda(page, change, decision="Approve"):
    page.goto("/boards/production-ccb/agenda/")
    card = page.locator(f"#agenda-{change.pk}")
    card.get_by_label(decision, exact=True).check()
    card.get_by_role("button", name=f"Vote on {change.reference}").click()
    # htmx swaps the card in place: the vote is listed and the form is gone
    card = page.locator(f"#agenda-{change.pk}")
    expect(card.get_by_text(f"{page.username} · {decision}")).to_be_visible()
    expect(card.get_by_role("button", name=f"Vote on {change.reference}")).to_have_count(0)


def test_requester_files_and_submits_and_the_board_approves(
    sign_in, board, service_map, runbook, people, admin_user, tmp_path
):
    services.board_save(actor=admin_user, board=board, data={"min_approvals": 4})
    alice = sign_in("alice")
    alice.get_by_role("link", name="File a change").first.click()
    expect(alice.get_by_role("heading", name="File a change request")).to_be_visible()
    fill_packet(alice, tmp_path, board, runbook)
    # The computed risk follows the answers as they change.
    expect(alice.locator("#risk-badge")).to_have_text("Low")
    alice.get_by_label("What interruption does it cause?").select_option("outage")
    alice.get_by_label("Does it change or migrate stored data?").select_option("irreversible")
    expect(alice.locator("#risk-badge")).to_have_text("High")
    alice.get_by_label("Does it change or migrate stored data?").select_option("no")
    alice.get_by_label("What interruption does it cause?").select_option("none")
    expect(alice.locator("#risk-badge")).to_have_text("Low")
    screenshot(alice, "packet-form")
    alice.get_by_role("button", name="Save draft").click()

    expect(alice.get_by_role("heading", name="Enable fraud model v3 canary")).to_be_visible()
    expect(alice.get_by_text("Every entry criterion is met")).to_be_visible()
    expect(alice.get_by_test_id("evidence").get_by_role("link", name="validation-report.pdf")).to_be_visible()
    alice.get_by_role("button", name="Submit to the board").click()
    expect(alice.locator(".page-head .badge").first).to_have_text("Submitted")
    change = ChangeRequest.objects.get(title="Enable fraud model v3 canary")

    for name in ("bob", "carol", "dave"):
        page = sign_in(name)
        vote_on_agenda(page, change)
        if name == "bob":
            expect(page.locator(f"#agenda-{change.pk} [data-testid=quorum]")).to_contain_text("1 of 4")
            screenshot(page, "agenda")
    erin = sign_in("erin")
    vote_on_agenda(erin, change)
    expect(erin.locator(f"#agenda-{change.pk}")).to_contain_text("Decided: Approved")

    alice.reload()
    expect(alice.locator(".page-head .badge").first).to_have_text("Approved")
    expect(alice.get_by_role("heading", name=re.compile("Decision on revision 1: Approved"))).to_be_visible()
    screenshot(alice, "change-approved")


def test_a_requester_sees_no_vote_button_and_a_forged_vote_is_refused(sign_in, submitted, people):
    alice = sign_in("alice")
    alice.goto(f"/changes/{submitted.pk}/")
    expect(alice.get_by_role("heading", name=submitted.title)).to_be_visible()
    expect(alice.get_by_role("button", name=re.compile("vote", re.I))).to_have_count(0)
    token = next(c["value"] for c in alice.context.cookies() if c["name"] == "csrftoken")
    response = alice.request.post(
        f"/changes/{submitted.pk}/vote/",
        form={
            "decision": "approve",
            "revision_hash": submitted.current_revision.content_hash,
            "csrfmiddlewaretoken": token,
        },
        headers={"X-CSRFToken": token, "Referer": alice.url},
    )
    assert response.status == 403
    assert "requester_cannot_vote" in response.text()
    assert not submitted.votes.exists()
    assert AuditEvent.objects.filter(action="policy.refused", actor_name="alice").exists()


def test_an_auditor_browses_and_filters_the_trail_and_can_change_nothing(sign_in, submitted, people):
    services.vote_cast(change_id=submitted.pk, voter=people["bob"], decision="approve")
    grace = sign_in("grace")
    grace.get_by_role("link", name="Audit trail").click()
    expect(grace.locator("#chain-state")).to_contain_text("Intact")
    head = AuditEvent.objects.order_by("-seq").first()
    expect(grace.get_by_test_id("head-hash")).to_have_text(head.hash)
    grace.get_by_label("Actor").fill("bob")
    grace.get_by_role("button", name="Filter").click()
    rows = grace.locator("table.list tbody tr")
    expect(rows).to_have_count(2)  # bob's first vote also put the change on the agenda
    expect(rows.nth(0).locator("td[data-label=Action]")).to_have_text("Vote cast")
    expect(rows.nth(1).locator("td[data-label=Action]")).to_have_text("Put on the agenda")
    for i in range(2):
        expect(rows.nth(i).locator("td[data-label=Actor]")).to_have_text("bob")
    screenshot(grace, "audit-trail")
    # Only the sign-out form posts anything on the trail.
    assert grace.locator("form[method=post]").count() == 1
    grace.get_by_role("link", name=f"change {submitted.pk}").first.click()
    expect(grace.get_by_role("heading", name=submitted.title)).to_be_visible()
    for name in ("Edit packet", "Submit to the board", "Withdraw", "Attach"):
        expect(grace.get_by_role("button", name=name)).to_have_count(0)
    expect(grace.get_by_role("link", name="Edit packet")).to_have_count(0)
    expect(grace.get_by_role("button", name=re.compile("vote", re.I))).to_have_count(0)


MAIN_PAGES = [
    "/accounts/login/",
    "/",
    "/changes/",
    "/changes/new/",
    "/changes/{pk}/",
    "/changes/{pk}/diff/?a=1&b=2",
    "/boards/production-ccb/agenda/",
    "/audit/",
    "/calendar/",
    "/calendar/?view=week",
    "/calendar/windows/",
]


@pytest.mark.parametrize("width", [1280, 390], ids=["laptop", "phone"])
def test_main_pages_have_no_serious_accessibility_violations(sign_in, new_context, submitted, people, width):
    services.change_request_update(change_id=submitted.pk, actor=people["alice"], data={"rollback_minutes": 15})
    pages = {
        "alice": sign_in("alice", viewport={"width": width, "height": 900}),
        "erin": sign_in("erin", viewport={"width": width, "height": 900}),
        "grace": sign_in("grace", viewport={"width": width, "height": 900}),
    }
    anonymous = new_context({"width": width, "height": 900}).new_page()
    found = {}
    for path in MAIN_PAGES:
        page = {
            "/accounts/login/": anonymous,
            "/boards/production-ccb/agenda/": pages["erin"],
            "/calendar/windows/": pages["erin"],
            "/audit/": pages["grace"],
        }.get(path, pages["alice"])
        url = path.format(pk=submitted.pk)
        response = page.goto(url)
        assert response.status == 200, url
        page.wait_for_load_state("networkidle")
        violations = serious_violations(page)
        if violations:
            found[url] = violations
        slug = path.strip("/").replace("?view=", "-").replace("/", "-").replace("{pk}", "change") or "dashboard"
        slug = slug.split("?")[0]
        screenshot(page, f"{width}-{slug}")
    assert not found, found


def test_keyboard_reaches_the_vote_form_with_visible_focus(sign_in, submitted):
    bob = sign_in("bob")
    bob.goto(f"/changes/{submitted.pk}/")
    bob.keyboard.press("Tab")
    expect(bob.get_by_role("link", name="Skip to content")).to_be_focused()
    bob.keyboard.press("Enter")
    for _ in range(60):
        bob.keyboard.press("Tab")
        if bob.evaluate("document.activeElement.name") == "decision":
            break
    assert bob.evaluate("document.activeElement.name") == "decision"
    outline = bob.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
