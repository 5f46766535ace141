"""Input PostgreSQL cannot store is a 400 with a message, on the API and the pages, never a 500:
UTC offsets beyond ±15:59, the NUL character, JSON nested a thousand deep, digits that are not ASCII,
and bodies over the size limit. Nothing is written."""

import json

import pytest
from django.core.cache import cache
from django.test import Client
from rest_framework.test import APIClient

from ccb import inputs
from ccb.models import AuditEvent, ChangeRequest, Condition, Decision, FreezeWindow, MaintenanceWindow, Service

pytestmark = pytest.mark.postgres  # SQLite stores what PostgreSQL refuses; these answers are PostgreSQL's

FAR = "2026-01-01T00:00:00-17:00"


def rows():
    return tuple(
        m.objects.count()
        for m in (ChangeRequest, Decision, Condition, FreezeWindow, MaintenanceWindow, Service, AuditEvent)
    )


def client(user=None, api=True):
    """A client that answers 500s instead of raising them, as a server would."""
    c = APIClient(raise_request_exception=False) if api else Client(raise_request_exception=False)
    if user is not None:
        c.force_authenticate(user) if api else c.force_login(user)
    return c


@pytest.fixture(autouse=True)
def _fresh_throttles():
    cache.clear()  # the token endpoint's throttle counts requests across tests


@pytest.fixture
def alice(people, board):
    return client(people["alice"])


# --- UTC offsets ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "url", "field"),
    [
        ("alice", f"/api/v1/changes/?created_after={FAR}", "created_after"),
        ("alice", f"/api/v1/changes/?created_before={FAR}", "created_before"),
        ("alice", f"/api/v1/changes/?planned_after={FAR}", "planned_after"),
        ("alice", f"/api/v1/changes/?planned_before={FAR}", "planned_before"),
        ("alice", "/api/v1/freezes/?ends_after=2026-01-01T00:00:00%2B16:00", "ends_after"),
        ("alice", f"/api/v1/freezes/?starts_before={FAR}", "starts_before"),
        ("grace", f"/api/v1/audit/?after={FAR}", "after"),
        ("grace", f"/api/v1/audit/?before={FAR}", "before"),
    ],
)
def test_a_date_filter_with_an_offset_postgresql_cannot_store_is_a_400(people, board, who, url, field):
    r = client(people[who]).get(url)
    assert r.status_code == 400, r.content
    assert r.json() == {field: [inputs.OFFSET_MESSAGE]}


def test_offsets_postgresql_stores_still_filter(alice, submitted):
    assert alice.get("/api/v1/changes/?created_after=2020-01-01T00:00:00-15:59").json()["count"] == 1
    assert alice.get("/api/v1/changes/?created_after=2020-01-01T00:00:00%2B05:30:15").json()["count"] == 1


def test_the_pages_refuse_such_a_date_filter_with_a_message(people, submitted):
    page = client(people["alice"], api=False).get(f"/changes/?created_after={FAR}")
    assert page.status_code == 400
    assert inputs.OFFSET_MESSAGE in page.content.decode()
    trail = client(people["grace"], api=False).get(f"/audit/?after={FAR}")
    assert trail.status_code == 400


@pytest.mark.parametrize("offset", ["-17:00", "+16:00", "+05:30:15.5"])
def test_a_body_date_time_with_an_offset_postgresql_cannot_store_is_a_400(people, board, submitted, offset):
    erin = client(people["erin"])
    before = rows()
    freeze = {"name": "n", "reason": "r", "board": board.pk, "start": f"2027-01-01T00:00:00{offset}"}
    r = erin.post("/api/v1/freezes/", {**freeze, "end": "2027-01-02T00:00:00Z"}, format="json")
    assert r.status_code == 400 and r.json() == {"start": [inputs.OFFSET_MESSAGE]}
    r = client(people["alice"]).post(
        "/api/v1/changes/",
        {"board": board.pk, "title": "x", "requested_start": f"2027-01-01T00:00:00{offset}"},
        format="json",
    )
    assert r.status_code == 400 and r.json() == {"requested_start": [inputs.OFFSET_MESSAGE]}
    r = erin.post(
        f"/api/v1/changes/{submitted.pk}/schedule/", {"planned_start": f"2027-01-01T10:00:00{offset}"}, format="json"
    )
    assert r.status_code == 400 and r.json() == {"planned_start": [inputs.OFFSET_MESSAGE]}
    assert rows() == before


# --- NUL -----------------------------------------------------------------------------------------------

NUL = "a\u0000b"


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        ("/api/v1/windows/", {"service": NUL}, "service"),
        ("/api/v1/freezes/", {"name": "n", "services": ["api", NUL]}, "services.1"),
        ("/api/v1/services/", {"name": "n", "depends_on": [NUL]}, "depends_on.0"),
        ("/api/v1/changes/", {"title": "x", "services": [NUL]}, "services.0"),
        ("/api/v1/changes/", {"title": "x", "implementer": NUL}, "implementer"),
        ("/api/v1/changes/", {"title": "x", "risk_answers": {NUL: "no"}}, f"risk_answers.{NUL}"),
        ("/api/v1/auth/token/", {"username": NUL, "password": "x"}, "username"),
    ],
)
def test_nul_anywhere_in_a_json_body_is_a_400_naming_where(alice, board, url, body, field):
    before = rows()
    r = alice.post(url, {"board": board.pk, **body}, format="json")
    assert r.status_code == 400, r.content
    assert r.json() == {field: [inputs.NUL_MESSAGE]}
    assert rows() == before


def test_nul_inside_the_chairs_condition_check_is_a_400(people, submitted):
    before = rows()
    r = client(people["erin"]).post(
        f"/api/v1/changes/{submitted.pk}/decide/",
        {
            "outcome": "approved_with_conditions",
            "rationale": "ok",
            "conditions": [{"text": "Gate", "kind": "automated", "check": {"alarm": {"name": NUL}}}],
        },
        format="json",
    )
    assert r.status_code == 400 and r.json() == {"conditions.0.check.alarm.name": [inputs.NUL_MESSAGE]}
    assert rows() == before


@pytest.mark.parametrize("fmt", ["multipart", "form"])
def test_nul_in_an_api_form_body_is_a_400(alice, board, fmt):
    before = rows()
    if fmt == "form":
        r = alice.post("/api/v1/windows/", "service=a%00b&name=x", content_type="application/x-www-form-urlencoded")
    else:
        r = alice.post("/api/v1/windows/", {"service": NUL, "name": "x"}, format="multipart")
    assert r.status_code == 400 and r.json() == {"service": [inputs.NUL_MESSAGE]}
    assert rows() == before


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/changes/?search=a%00b",
        "/api/v1/changes/?service=a%00b",
        "/api/v1/changes/?ordering=a%00b",
        "/api/v1/changes/?tz=a%00b",
        "/api/v1/me/?x=a%00b",
        "/api/v1/calendar/feed/a%00b.ics",
    ],
)
def test_nul_in_an_api_url_is_a_json_400(alice, url):
    r = alice.get(url)
    assert r.status_code == 400 and r["Content-Type"] == "application/json", r.content
    assert list(r.json().values()) == [[inputs.NUL_MESSAGE]]


def test_the_feed_refuses_nul_before_signing_in(board):
    r = client().get("/api/v1/calendar/feed/a%00b.ics")
    assert r.status_code == 400 and r.json() == {"path": [inputs.NUL_MESSAGE]}


def test_a_crafted_session_cookie_is_a_400_not_a_database_error(board):
    c = Client(raise_request_exception=False)
    c.cookies["sessionid"] = "abcdefgh\x00ijklmnop"
    assert c.get("/changes/").status_code == 400
    assert c.get("/api/v1/me/").json() == {"cookie.sessionid": [inputs.NUL_MESSAGE]}


@pytest.mark.parametrize("url", ["/changes/?q=a%00b", "/changes/?requester=a%00b", "/audit/?actor=a%00b"])
def test_nul_in_a_page_query_string_is_a_400(people, board, url):
    page = client(people["grace"], api=False).get(url)
    assert page.status_code == 400
    assert "NUL" in page.content.decode()


def test_nul_in_a_page_form_is_a_400(people, board):
    before = rows()
    page = client(people["alice"], api=False).post(
        "/changes/new/",
        {"board": board.pk, "title": "x", "change_type": "normal", "implementer": NUL},
    )
    assert page.status_code == 400 and inputs.NUL_MESSAGE in page.content.decode()
    assert rows() == before


# --- depth -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("nesting", [("[", "]"), ('{"a":', "}")])
def test_json_nested_a_thousand_deep_is_a_400_even_before_signing_in(board, nesting):
    opening, closing = nesting
    body = opening * 1000 + "1" + closing * 1000
    r = client().post("/api/v1/auth/token/", body, content_type="application/json")
    assert r.status_code == 400 and r.json() == {"detail": inputs.DEPTH_MESSAGE}


def test_json_deeper_than_the_limit_is_refused_and_shallower_is_read(alice, board):
    def nested(depth):
        inner = '{"a":' * (depth - 1) + "1" + "}" * (depth - 1)
        return f'{{"board": {board.pk}, "title": "x", "risk_answers": {inner}}}'

    deep = alice.post("/api/v1/changes/", nested(inputs.MAX_JSON_DEPTH + 1), content_type="application/json")
    assert deep.status_code == 400 and deep.json() == {"detail": inputs.DEPTH_MESSAGE}
    read = alice.post("/api/v1/changes/", nested(inputs.MAX_JSON_DEPTH), content_type="application/json")
    assert read.status_code == 400 and "risk_answers.a" in read.json()  # past the parser: the packet's rule


def test_brackets_inside_strings_do_not_count_as_nesting(alice, board):
    r = alice.post("/api/v1/changes/", {"board": board.pk, "title": "[" * 100 + "{" * 90}, format="json")
    assert r.status_code == 201, r.content


# --- digits ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["%C2%B2", "%D9%A3", "1e3", "-1"])
def test_an_id_filter_takes_ascii_digits_only(alice, value):
    r = alice.get(f"/api/v1/changes/?board={value}")
    assert r.status_code == 400 and "board" in r.json()


def test_a_service_filter_of_unicode_digits_is_a_slug_that_matches_nothing(alice, submitted):
    r = alice.get("/api/v1/changes/?service=%C2%B2")
    assert r.status_code == 200 and r.json()["count"] == 0
    assert alice.get(f"/api/v1/changes/?service={submitted.services.get().pk}").json()["count"] == 1
    page = client(submitted.requester, api=False).get("/changes/?service=%C2%B2")
    assert page.status_code == 200


def test_unicode_digits_in_an_id_in_the_path_are_a_json_404(alice, submitted):
    r = alice.get(f"/api/v1/changes/{submitted.pk}/attachments/%C2%B2/download/")
    assert r.status_code == 404 and r.json() == {"detail": "Not found."}


def test_the_risk_preview_ignores_ids_that_are_not_ascii_digits(people, board):
    page = client(people["alice"], api=False).post("/changes/risk-preview/", {"services": ["²", "٣"]})
    assert page.status_code == 200


# --- size ------------------------------------------------------------------------------------------------

BIG = 10 * 1024 * 1024


@pytest.mark.parametrize(
    ("url", "body", "content_type"),
    [
        ("/api/v1/changes/", json.dumps({"title": "x" * BIG}), "application/json"),
        ("/api/v1/changes/", "title=" + "x" * BIG, "application/x-www-form-urlencoded"),
        ("/api/v1/auth/token/", json.dumps({"username": "x" * BIG}), "application/json"),
        ("/api/v1/auth/token/", "username=" + "x" * BIG, "application/x-www-form-urlencoded"),
    ],
)
def test_a_ten_megabyte_body_is_a_json_413(people, board, url, body, content_type):
    c = client(people["alice"]) if url == "/api/v1/changes/" else client()
    r = c.post(url, body, content_type=content_type)
    assert r.status_code == 413 and r["Content-Type"] == "application/json"
    assert "larger than the 5,242,880-byte limit" in r.json()["detail"]


def test_an_api_url_no_route_matches_is_a_json_404(alice):
    r = alice.get("/api/v1/no-such-thing/")
    assert r.status_code == 404 and r.json() == {"detail": "Not found."}


def test_a_username_too_long_to_record_is_a_400_before_signing_in(board):
    r = client().post("/api/v1/auth/token/", {"username": "x" * 300, "password": "pw"}, format="json")
    assert r.status_code == 400 and "username" in r.json()


PAGE_FORMS = {
    "packet form": ("/changes/new/", {"board": "BOARD", "title": "x", "change_type": "normal", "requested_start": FAR}),
    "freeze form": (
        "/calendar/windows/",
        {
            "kind": "freeze",
            "f-name": "Peak",
            "f-reason": "Trading",
            "f-board": "BOARD",
            "f-start": FAR,
            "f-end": "2027-01-02T00:00",
        },
    ),
}


@pytest.mark.parametrize("form", PAGE_FORMS)
def test_a_page_form_refuses_an_offset_postgresql_cannot_store(people, board, form):
    url, data = PAGE_FORMS[form]
    data = {k: board.pk if v == "BOARD" else v for k, v in data.items()}
    before = rows()
    page = client(people["erin"], api=False).post(url, data)
    assert page.status_code in (200, 400), page.status_code  # the form again, with the message
    assert inputs.OFFSET_MESSAGE in page.content.decode().replace("&#x27;", "'")
    assert rows() == before
