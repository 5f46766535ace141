"""Every main page, as the people who use it: under the Content-Security-Policy, at laptop and phone
widths, with answers shown where people act."""

import re
from datetime import datetime, timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from ccb import services
from deployments import services as runbook_services

from ..conftest import RUNBOOK_YAML
from ..deployments.helpers import deployable_change, started_at_its_gate
from .conftest import screenshot, serious_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# What sets a page wider than the screen, for the failure message.
OVERFLOWING = """() => {
  const width = document.documentElement.clientWidth;
  return [...document.querySelectorAll("body *")]
    .filter(el => el.getBoundingClientRect().right > width + 1)
    .filter(el => ![...el.children].some(child => child.getBoundingClientRect().right > width + 1))
    .slice(0, 8)
    .map(el => el.tagName.toLowerCase() + (el.className ? "." + String(el.className).replace(/ /g, ".") : "")
      + " right=" + Math.round(el.getBoundingClientRect().right));
}"""


@pytest.fixture
def scene(submitted, make_change, people, service_map, runbook, board):
    """A change before the board with conditions proposed, an emergency draft with a long title, a second
    runbook version, a window and a freeze."""
    make_change(change_type="emergency", title="Hotfix the payment gateway's certificate chain before it expires")
    services.vote_cast(
        change_id=submitted.pk,
        voter=people["bob"],
        decision="approve",
        conditions=["Page the on-call database engineer before the cut-over starts"],
    )
    runbook_services.runbook_version_create(
        actor=people["frank"], runbook_id=runbook.runbook_id, source_yaml=RUNBOOK_YAML.replace("300", "600")
    )
    services.maintenance_window_save(
        actor=people["erin"],
        data={
            "service": service_map["api"],
            "environment": "production",
            "name": "Tuesday and Thursday nights",
            "time_zone": "Europe/Berlin",
            "dtstart": datetime(2026, 1, 6, 22, 0),
            "duration_minutes": 240,
            "rrule": "FREQ=WEEKLY;BYDAY=TU,TH;WKST=MO",
            "exdates": [],
        },
    )
    now = timezone.now()
    services.freeze_save(
        actor=people["erin"],
        services=None,
        data={
            "name": "Year-end trading freeze",
            "reason": "Peak trading: no production changes.",
            "board": board,
            "start": now + timedelta(days=20),
            "end": now + timedelta(days=27),
            "environment": "",
        },
    )
    return {"change": submitted, "runbook": runbook}


RUNNING = """\
schema: 2
stages:
  - name: Check before the shift
    steps:
      - {{name: Health check of the scoring API, type: http_smoke, params: {{url: "{health}", attempts: 1}}}}
      - {{name: Let the caches settle, type: wait, params: {{seconds: 5}}}}
    gate: {{role: implementer, question: "Error rate and latency normal on the dashboards?", not_starter: false}}
  - name: Everyone
    steps:
      - {{name: Settle, type: wait, params: {{seconds: 5}}}}
"""


@pytest.fixture
def running(scene, live_server, make_change, approve, windows, board, people):
    """A change whose run waits at its go/no-go, with a step's log on the page."""
    change = deployable_change(
        make_change=make_change,
        approve=approve,
        board=board,
        people=people,
        source=RUNNING.format(health=f"{live_server.url}/healthz"),
        name="Running",
    )
    started_at_its_gate(change, people)
    return {**scene, "running": change}


def main_pages(scene):
    change, runbook = scene["change"], scene["runbook"]
    running = scene["running"]
    return [
        ("alice", "/", "dashboard"),
        ("alice", "/changes/", "change-list"),
        ("alice", f"/changes/{change.pk}/", "change-page"),
        ("erin", f"/changes/{change.pk}/", "change-page-chair"),
        ("alice", "/changes/new/", "new-change"),
        ("erin", "/boards/production-ccb/agenda/", "agenda"),
        ("alice", "/calendar/", "calendar"),
        ("alice", "/calendar/?view=week", "calendar-week"),
        ("erin", "/calendar/windows/", "windows-chair"),
        ("alice", "/calendar/windows/", "windows-requester"),
        ("grace", "/audit/", "audit-trail"),
        ("grace", "/audit/1/", "audit-event"),
        ("bob", f"/runbooks/{runbook.runbook_id}/?a=1&b=2", "runbook"),
        ("frank", f"/changes/{running.pk}/", "change-page-run"),
        ("erin", f"/changes/{running.pk}/", "change-page-run-chair"),
        ("frank", "/", "dashboard-implementer"),
        ("quinn", "/", "dashboard-verifier"),
        ("alice", "/runbooks/step-types/", "step-types"),
        ("alice", "/notifications/preferences/", "preferences"),
    ]


@pytest.mark.parametrize("width", [1280, 390], ids=["laptop", "phone"])
def test_no_main_page_scrolls_sideways_breaks_the_policy_or_fails_axe(sign_in, running, width):
    pages = {}
    too_wide, inaccessible = {}, {}
    for who, url, name in main_pages(running):
        if who not in pages:
            pages[who] = sign_in(who, viewport={"width": width, "height": 900})
        page = pages[who]
        response = page.goto(url)
        assert response.status == 200, url
        assert "script-src 'self'" in response.headers["content-security-policy"], url
        page.wait_for_load_state("networkidle")
        screenshot(page, f"{width}-{name}")
        scroll_width = page.evaluate("document.documentElement.scrollWidth")
        if scroll_width > width:
            too_wide[url] = (scroll_width, page.evaluate(OVERFLOWING))
        if violations := serious_violations(page):
            inaccessible[f"{who} {url}"] = violations
    assert not too_wide, too_wide
    assert not inaccessible, inaccessible


def test_a_reject_without_a_comment_shows_the_error_in_place(sign_in, submitted, console_errors):
    console_errors.expect("status of 400")  # the server's answer, shown on the card
    bob = sign_in("bob")
    bob.goto("/boards/production-ccb/agenda/")
    card = bob.locator(f"#agenda-{submitted.pk}")
    card.get_by_label("Reject", exact=True).check()
    card.get_by_role("button", name=f"Vote on {submitted.reference}").click()
    card = bob.locator(f"#agenda-{submitted.pk}")
    expect(card.get_by_role("alert")).to_contain_text("Say why you reject")
    # The choice stays made, so adding the reason is all that is left to do.
    expect(card.get_by_label("Reject", exact=True)).to_be_checked()
    card.get_by_label("Comment").fill("The rollback was never rehearsed.")
    card.get_by_role("button", name=f"Vote on {submitted.reference}").click()
    expect(bob.locator(f"#agenda-{submitted.pk}").get_by_role("status")).to_contain_text(
        "Your vote is recorded: Reject"
    )
    assert submitted.votes.get().comment == "The rollback was never rehearsed."


def test_the_chair_decides_with_the_members_conditions_carried_over(sign_in, scene, people):
    change = scene["change"]
    erin = sign_in("erin")
    erin.goto("/boards/production-ccb/agenda/")
    card = erin.locator(f"#agenda-{change.pk}")
    card.get_by_text("Decide as chair").click()
    expect(card.get_by_label("Outcome")).to_have_value("approved_with_conditions")
    carried = card.get_by_role("textbox", name=re.compile(r"^Conditions \(one per line"))
    expect(carried).to_have_value("Page the on-call database engineer before the cut-over starts")
    card.get_by_label("Rationale").fill("Good evidence; keep the DBA close.")
    card.get_by_role("button", name=f"Record the decision on {change.reference}").click()
    card = erin.locator(f"#agenda-{change.pk}")
    expect(card.get_by_test_id("agenda-notice")).to_contain_text("Decided: Approved with conditions")
    expect(card.get_by_test_id("agenda-notice")).to_contain_text("Page the on-call database engineer")


def test_api_docs_work_under_the_policy_and_lead_back(sign_in, people):
    alice = sign_in("alice")
    alice.get_by_role("link", name="API").click()
    expect(alice.locator(".swagger-ui .info .title")).to_contain_text("ccb API")
    expect(alice.get_by_role("button", name="POST /api/v1/changes/{id}/submit/").first).to_be_visible()
    screenshot(alice, "api-docs")
    alice.get_by_role("link", name="Back to ccb").click()
    expect(alice.get_by_role("heading", name="Good to see you, alice")).to_be_visible()


def test_the_admin_works_under_the_policy(sign_in, admin_user, board):
    admin_user.set_password("pw-for-tests")
    admin_user.save()
    root = sign_in("root")
    root.get_by_role("link", name="Admin").click()
    expect(root.get_by_role("heading", name="Site administration")).to_be_visible()
    root.goto("/admin/ccb/board/")
    root.get_by_role("link", name="Production CCB").click()
    expect(root.get_by_label("Name:")).to_have_value("Production CCB")
    root.goto("/admin/ccb/service/?q=api")
    expect(root.locator("#changelist")).to_be_visible()


def test_every_page_has_a_favicon_and_error_pages_keep_the_navigation(sign_in, people, console_errors):
    console_errors.expect("status of 404")
    alice = sign_in("alice")
    icon = alice.request.get(alice.locator("link[rel=icon]").get_attribute("href"))
    assert icon.status == 200 and icon.headers["content-type"].startswith("image/svg")
    assert alice.request.get("/favicon.ico").status == 200
    response = alice.goto("/changes/99999/")
    assert response.status == 404
    expect(alice.get_by_role("heading", name="Not found")).to_be_visible()
    alice.get_by_role("navigation", name="Main").get_by_role("link", name="Changes").click()
    expect(alice.get_by_role("heading", name="Changes")).to_be_visible()
    alice.get_by_role("link", name="Email settings").click()
    expect(alice.get_by_role("heading", name="Email settings")).to_be_visible()
