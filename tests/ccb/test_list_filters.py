"""The lists' filters live outside the API (ccb/filters.py) and the selectors apply them, so the API and
the pages filter a list the same way, and a bad filter is refused the same way."""

import ast
from pathlib import Path

import pytest
from django.http import QueryDict
from django.test import Client

from ccb import selectors, services
from ccb.exceptions import PacketInvalid, PolicyViolation

ROOT = Path(__file__).resolve().parents[2]


def test_the_pages_import_nothing_from_the_api():
    for module in (ROOT / "ccb" / "web").glob("*.py"):
        tree = ast.parse(module.read_text())
        imported = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module]
        imported += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        assert not [name for name in imported if name.startswith("ccb.api")], module.name


@pytest.fixture
def changes(make_change, people):
    from ccb import services

    draft = make_change(title="Still a draft")
    filed = make_change(title="Filed")
    services.change_request_submit(change_id=filed.pk, actor=people["alice"])
    return {"draft": draft, "filed": filed}


def test_the_change_list_selector_takes_the_request_filters(people, changes):
    alice = people["alice"]
    found = selectors.change_request_list(user=alice, filters=QueryDict("status=submitted"))
    assert list(found.values_list("title", flat=True)) == ["Filed"]
    assert selectors.change_request_list(user=alice, filters=None).count() == 2
    with pytest.raises(PacketInvalid) as refused:
        selectors.change_request_list(user=alice, filters=QueryDict("status=nonsense&board=x"))
    assert set(refused.value.errors) == {"status", "board"}


def test_the_audit_selector_takes_the_request_filters(people, changes):
    grace = people["grace"]
    mine = selectors.audit_event_list(user=grace, filters={"change": str(changes["filed"].pk)})
    assert mine.exists() and not mine.exclude(target_id=str(changes["filed"].pk)).exists()
    with pytest.raises(PolicyViolation):
        selectors.audit_event_list(user=people["bob"], filters={"change": "1"})  # the rule comes first


@pytest.mark.parametrize("query", ["status=submitted", "status=draft", "requester=alice&risk_level=low", ""])
def test_the_api_and_the_pages_list_the_same_changes(api, browser_client, people, changes, query):
    from_api = {c["id"] for c in api(people["alice"]).get(f"/api/v1/changes/?{query}").json()["results"]}
    page = browser_client(people["alice"]).get(f"/changes/?{query}")
    assert page.status_code == 200
    assert {c.pk for c in page.context["page"].object_list} == from_api


def test_a_bad_filter_is_a_400_on_the_api_and_the_page(api, browser_client, people, changes):
    r = api(people["alice"]).get("/api/v1/changes/?status=nonsense")
    assert r.status_code == 400 and set(r.json()) == {"status"}
    page = browser_client(people["alice"]).get("/changes/?status=nonsense")
    assert page.status_code == 400 and "nonsense is not one of the available choices" in page.content.decode()


@pytest.fixture
def browser_client():
    from django.test import Client

    def make(user):
        client = Client()
        client.force_login(user)
        return client

    return make


@pytest.mark.django_db
@pytest.mark.parametrize("typed", ["{pk}", "CHG-{ref}", "chg-{pk}", " CHG{ref} "])
def test_the_audit_trail_finds_a_change_by_id_or_reference_as_people_type_it(api, people, submitted, typed):
    value = typed.format(pk=submitted.pk, ref=f"{submitted.pk:06d}")
    for response in (api(people["grace"]).get("/api/v1/audit/", {"change": value}),):
        assert response.status_code == 200, response.content
        found = {e["target_id"] for e in response.json()["results"]}
        assert found == {str(submitted.pk)}
    page = Client()
    page.force_login(people["grace"])
    html = page.get("/audit/", {"change": value}).content.decode()
    assert "change.submitted" in html or "Change submitted" in html


@pytest.mark.django_db
def test_the_audit_trail_action_filter_matches_any_part_of_the_action(api, people, submitted):
    services.vote_cast(change_id=submitted.pk, voter=people["bob"], decision="approve")
    services.vote_cast(change_id=submitted.pk, voter=people["carol"], decision="approve")
    actions = {e["action"] for e in api(people["grace"]).get("/api/v1/audit/", {"action": "decided"}).json()["results"]}
    assert actions == {"change.decided"}
    assert api(people["grace"]).get("/api/v1/audit/", {"change": "CHG-x"}).status_code == 400
