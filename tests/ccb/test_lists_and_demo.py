"""Lists show only what the user may see, filter and search; the demo seed is idempotent; the schema serves."""

from django.core.management import call_command

from ccb.models import AuditEvent, ChangeRequest


def test_lists_show_only_what_each_person_may_see(api, make_change, people, board, admin_user):
    from ccb import services

    other = services.board_save(actor=admin_user, data={"name": "Mobile CAB", "slug": "mobile-cab"})
    mine = make_change()
    draft = make_change(title="Still a draft")
    services.change_request_submit(change_id=mine.pk, actor=people["alice"])
    services.board_role_grant(actor=admin_user, board=other, user=people["oscar"], role="member")
    svc = services.service_save(actor=admin_user, data={"name": "App", "slug": "app", "board": other})
    theirs = services.change_request_create(
        actor=people["mia"], board=other, data={"title": "Mobile only", "services": [svc]}
    )
    ids = lambda who: {c["id"] for c in api(people[who]).get("/api/v1/changes/").json()["results"]}  # noqa: E731
    assert ids("alice") == {mine.pk, draft.pk}
    assert ids("bob") == {mine.pk}  # the board sees a change once it is submitted
    assert ids("grace") == {mine.pk, draft.pk, theirs.pk}  # a site auditor reads every board
    assert ids("oscar") == set()  # mia's change on his board is still her draft
    assert ids("mia") == {mine.pk, theirs.pk}  # a role on the Production CCB, and her own change elsewhere
    assert api(people["bob"]).get(f"/api/v1/changes/{draft.pk}/").status_code == 404
    assert api(people["oscar"]).get(f"/api/v1/changes/{mine.pk}/").status_code == 404


def test_filters_search_ordering_and_pagination(api, make_change, people, service_map):
    from ..conftest import ANSWERS

    a = make_change(title="Rotate keys", risk_answers={**ANSWERS, "security_sensitive": "yes"})
    b = make_change(title="Resize cluster", services=[service_map["customer-db"]])
    from ccb import services

    services.change_request_submit(change_id=a.pk, actor=people["alice"])
    client = api(people["alice"])  # her draft b is hers alone until she submits it
    get = lambda q: [c["id"] for c in client.get(f"/api/v1/changes/?{q}").json()["results"]]  # noqa: E731
    assert get("status=submitted") == [a.pk]
    assert get("status=draft&status=submitted&ordering=title") == [b.pk, a.pk]
    assert get("service=customer-db") == [b.pk]
    assert get("search=rotate") == [a.pk]
    assert get("requester=alice&ordering=created_at") == [a.pk, b.pk]
    assert get(f"board={a.board_id}&change_type=normal&page_size=1") in ([a.pk], [b.pk])
    assert get("created_after=2000-01-01T00:00:00Z&created_before=2999-01-01T00:00:00Z") == [b.pk, a.pk]
    assert get("created_after=2999-01-01T00:00:00Z") == []
    r = client.get("/api/v1/changes/?page_size=1&page=2")
    assert r.json()["count"] == 2 and r.json()["previous"] and len(r.json()["results"]) == 1
    r = client.get("/api/v1/changes/?risk_level=extreme")
    assert r.status_code == 400 and "risk_level" in r.json()


def test_seed_demo_twice_changes_nothing(db, capsys):
    call_command("seed_demo")
    out = capsys.readouterr().out
    assert "alice" in out and "grace" in out and "ccb-demo" in out
    counts = (ChangeRequest.objects.count(), AuditEvent.objects.count())
    statuses = set(ChangeRequest.objects.values_list("status", flat=True))
    assert counts[0] >= 12
    assert {
        "draft",
        "submitted",
        "in_review",
        "approved",
        "approved_with_conditions",
        "rejected",
        "scheduled",
        "closed",
        "withdrawn",
    } <= statuses
    assert ChangeRequest.objects.filter(requester__username="alice", status="draft").count() >= 2
    call_command("seed_demo")
    assert (ChangeRequest.objects.count(), AuditEvent.objects.count()) == counts
    call_command("audit_verify")


def test_schema_and_docs_are_served_to_signed_in_people(api, people):
    r = api(people["alice"]).get("/api/schema/")
    assert r.status_code == 200 and b"/api/v1/changes/{id}/votes/" in r.content
    assert api(people["alice"]).get("/api/docs/").status_code == 200
    assert api(None).get("/api/schema/").status_code == 401


def test_token_login(client, people):
    r = client.post("/api/v1/auth/token/", {"username": "alice", "password": "pw-for-tests"})
    assert r.status_code == 200 and len(r.json()["token"]) == 40
    r = client.post("/api/v1/auth/token/", {"username": "alice", "password": "wrong"})
    assert r.status_code == 400


def test_session_auth_needs_the_csrf_token(people, submitted):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    token = browser.get("/accounts/login/").cookies["csrftoken"].value
    r = browser.post("/accounts/login/", {"username": "bob", "password": "pw-for-tests", "csrfmiddlewaretoken": token})
    assert r.status_code == 302
    r = browser.post(f"/api/v1/changes/{submitted.pk}/votes/", {"decision": "approve"}, content_type="application/json")
    assert r.status_code == 403 and "CSRF" in r.json()["detail"]
    token = browser.cookies["csrftoken"].value
    r = browser.post(
        f"/api/v1/changes/{submitted.pk}/votes/",
        {"decision": "approve"},
        content_type="application/json",
        HTTP_X_CSRFTOKEN=token,
    )
    assert r.status_code == 201
    assert browser.get(f"/api/v1/changes/{submitted.pk}/").json()["status"] == "in_review"


def test_sign_in_locks_out_after_repeated_failures(client, people, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        r = client.post("/accounts/login/", {"username": "bob", "password": "wrong"})
        assert r.status_code == 200 and b"did not match" in r.content
    r = client.post("/accounts/login/", {"username": "bob", "password": "wrong"})
    assert r.status_code == 429
    r = client.post("/accounts/login/", {"username": "bob", "password": "pw-for-tests"})
    assert r.status_code == 429 and b"Too many failed sign-ins" in r.content
    # another account from the same address is not locked
    r = client.post("/accounts/login/", {"username": "carol", "password": "pw-for-tests"})
    assert r.status_code == 302


def test_home_page_needs_sign_in_and_shows_my_changes(client, people, submitted):
    assert client.get("/").status_code == 302
    client.force_login(people["alice"])
    page = client.get("/").content.decode()
    assert submitted.reference in page and "Enable fraud model v3" in page
