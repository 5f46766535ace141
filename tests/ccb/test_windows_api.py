"""Maintenance windows and freezes through the API: who may write them, what is refused, what is shown."""

import json
from datetime import datetime, timedelta

import pytest

from ccb import services
from ccb.choices import AuditAction
from ccb.models import AuditEvent, FreezeWindow, MaintenanceWindow

from .conftest import at

WINDOW = {
    "service": "api",
    "environment": "production",
    "name": "Sunday night",
    "time_zone": "Europe/London",
    "dtstart": "2026-03-01T01:00",
    "duration_minutes": 240,
    "rrule": "FREQ=WEEKLY;BYDAY=SU",
    "exdates": ["2026-12-27"],
}


@pytest.fixture
def other_board(admin_user, people):
    """The Mobile CCB, chaired by oscar (who holds no role on the Production CCB)."""
    mobile = services.board_save(actor=admin_user, data={"name": "Mobile CCB", "slug": "mobile-ccb"})
    services.board_role_grant(actor=admin_user, board=mobile, user=people["oscar"], role="chair")
    return mobile


def test_the_chair_sets_a_weekly_window_and_everyone_reads_it(api, people, service_map):
    r = api(people["erin"]).post("/api/v1/windows/", WINDOW, format="json")
    assert r.status_code == 201, r.content
    body = r.json()
    assert (body["service"], body["dtstart"], body["rrule"], body["exdates"]) == (
        "api",
        "2026-03-01T01:00",
        "FREQ=WEEKLY;BYDAY=SU",
        ["2026-12-27"],
    )
    assert len(body["next_occurrences"]) == 3 and body["created_by"] == "erin"
    [event] = AuditEvent.objects.filter(action=AuditAction.WINDOW_CREATED)
    assert json.loads(event.data)["rrule"] == "FREQ=WEEKLY;BYDAY=SU"
    r = api(people["alice"]).get("/api/v1/windows/?service=api")
    assert [w["name"] for w in r.json()["results"]] == ["Sunday night"]
    assert api(people["alice"]).get("/api/v1/windows/?service=customer-db").json()["results"] == []


def test_next_occurrences_are_shown_in_the_viewers_zone(api, people, service_map):
    window_id = api(people["erin"]).post("/api/v1/windows/", WINDOW, format="json").json()["id"]

    def starts(query):
        found = api(people["alice"]).get(f"/api/v1/windows/{window_id}/{query}").json()["next_occurrences"]
        return [datetime.fromisoformat(o["start"]) for o in found]

    utc, london, tokyo = starts(""), starts("?tz=Europe/London"), starts("?tz=Asia/Tokyo")
    assert utc == london == tokyo  # the same instants, written in three zones
    assert all(t.utcoffset() == timedelta(0) for t in utc)
    assert all(t.strftime("%H:%M") == "01:00" for t in london)  # the window's own wall-clock time
    assert all(t.utcoffset() == timedelta(hours=9) for t in tokyo)


def test_a_chair_of_another_board_cannot_set_windows_on_these_services(api, people, service_map, other_board):
    r = api(people["oscar"]).post("/api/v1/windows/", WINDOW, format="json")
    assert r.status_code == 403 and r.json()["rule"] == "chair_or_admin_manages_windows"
    assert not MaintenanceWindow.objects.exists()


def test_an_administrator_may_set_windows(api, admin_user, service_map):
    assert api(admin_user).post("/api/v1/windows/", WINDOW, format="json").status_code == 201


@pytest.mark.parametrize(
    ("change", "field", "complaint"),
    [
        ({"rrule": "FREQ=SECONDLY"}, "rrule", "FREQ must be one of"),
        ({"rrule": "FREQ=DAILY;COUNT=2;UNTIL=20270101T000000Z"}, "rrule", "not both"),
        ({"time_zone": "Europe/Londn"}, "time_zone", "Unknown time zone"),
        ({"dtstart": "2026-03-01T01:00+01:00"}, "dtstart", "without an offset"),
        ({"dtstart": "Sunday"}, "dtstart", "local date-time"),
        ({"exdates": ["2026-12-27T01:00Z"]}, "exdates", "without an offset"),
        ({"rrule": "", "exdates": ["2026-12-27"]}, "exdates", "Only a recurring window"),
        ({"duration_minutes": 0}, "duration_minutes", ""),
        ({"colour": "red"}, "colour", "Unknown field"),
    ],
)
def test_a_window_that_cannot_work_is_refused_per_field(api, people, service_map, change, field, complaint):
    r = api(people["erin"]).post("/api/v1/windows/", {**WINDOW, **change}, format="json")
    assert r.status_code == 400, r.content
    assert complaint in " ".join(r.json()[field])
    assert not MaintenanceWindow.objects.exists()


def test_the_same_name_twice_on_a_service_is_refused(api, people, service_map):
    assert api(people["erin"]).post("/api/v1/windows/", WINDOW, format="json").status_code == 201
    r = api(people["erin"]).post("/api/v1/windows/", WINDOW, format="json")
    assert r.status_code == 400 and "non_field_errors" in r.json()


def test_patch_and_delete_deactivate_keeping_the_record(api, people, service_map):
    window_id = api(people["erin"]).post("/api/v1/windows/", WINDOW, format="json").json()["id"]
    r = api(people["erin"]).patch(f"/api/v1/windows/{window_id}/", {"duration_minutes": 120}, format="json")
    assert r.status_code == 200 and r.json()["duration_minutes"] == 120
    r = api(people["erin"]).delete(f"/api/v1/windows/{window_id}/")
    assert r.status_code == 200 and r.json()["active"] is False and r.json()["next_occurrences"] == []
    assert [w["id"] for w in api(people["bob"]).get("/api/v1/windows/?active=false").json()["results"]] == [window_id]
    actions = list(AuditEvent.objects.filter(target_type="ccb.maintenancewindow").values_list("action", flat=True))
    assert actions == ["window.created", "window.updated", "window.deactivated"]
    assert (
        api(people["erin"]).patch(f"/api/v1/windows/{window_id}/", {"active": True}, format="json").json()["active"]
        is True
    )


def test_moving_a_window_to_another_boards_service_needs_both_chairs(api, people, service_map, other_board, admin_user):
    services.service_save(actor=admin_user, data={"name": "App", "slug": "app", "board": other_board})
    window_id = api(people["erin"]).post("/api/v1/windows/", WINDOW, format="json").json()["id"]
    r = api(people["erin"]).patch(f"/api/v1/windows/{window_id}/", {"service": "app"}, format="json")
    assert r.status_code == 403 and r.json()["rule"] == "chair_or_admin_manages_windows"
    assert MaintenanceWindow.objects.get(pk=window_id).service.slug == "api"


# --- freezes ---------------------------------------------------------------------------------------


def freeze_body(board, **over):
    return {
        "name": "Year-end",
        "reason": "Trading peak.",
        "board": board.pk if board else None,
        "start": at(0, days=30).isoformat(),
        "end": at(0, days=40).isoformat(),
        **over,
    }


def test_the_chair_declares_a_freeze_with_its_reason(api, people, board, service_map):
    r = api(people["erin"]).post(
        "/api/v1/freezes/", freeze_body(board, services=["customer-db"], environment="production"), format="json"
    )
    assert r.status_code == 201, r.content
    assert (r.json()["services"], r.json()["reason"], r.json()["environment"]) == (
        ["customer-db"],
        "Trading peak.",
        "production",
    )
    assert [f["name"] for f in api(people["alice"]).get("/api/v1/freezes/").json()["results"]] == ["Year-end"]
    [event] = AuditEvent.objects.filter(action=AuditAction.FREEZE_CREATED)
    assert json.loads(event.data)["services"] == ["customer-db"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"reason": ""}, "reason"),
        ({"end": at(0, days=20).isoformat()}, "end"),
        ({"services": ["nowhere"]}, "services"),
        ({"environment": "moon"}, "environment"),
    ],
)
def test_a_freeze_without_a_reason_or_an_order_is_refused(api, people, board, service_map, change, field):
    r = api(people["erin"]).post("/api/v1/freezes/", freeze_body(board, **change), format="json")
    assert r.status_code == 400 and field in r.json(), r.content
    assert not FreezeWindow.objects.exists()


def test_a_freeze_names_only_its_boards_services(api, people, board, other_board, admin_user):
    services.service_save(actor=admin_user, data={"name": "App", "slug": "app", "board": other_board})
    r = api(admin_user).post("/api/v1/freezes/", freeze_body(board, services=["app"]), format="json")
    assert r.status_code == 400 and "Not services of Production CCB: App." in r.json()["services"][0]


def test_a_freeze_over_every_board_is_for_administrators(api, people, board, admin_user):
    r = api(people["erin"]).post("/api/v1/freezes/", freeze_body(None), format="json")
    assert r.status_code == 403 and r.json()["rule"] == "chair_or_admin_manages_windows"
    assert api(admin_user).post("/api/v1/freezes/", freeze_body(None), format="json").status_code == 201
    f = FreezeWindow.objects.get()
    r = api(people["erin"]).patch(f"/api/v1/freezes/{f.pk}/", {"reason": "Mine now."}, format="json")
    assert r.status_code == 403


def test_a_chair_cannot_move_a_freeze_off_to_every_board(api, people, board):
    freeze_id = api(people["erin"]).post("/api/v1/freezes/", freeze_body(board), format="json").json()["id"]
    r = api(people["erin"]).patch(f"/api/v1/freezes/{freeze_id}/", {"board": None}, format="json")
    assert r.status_code == 403
    r = api(people["erin"]).delete(f"/api/v1/freezes/{freeze_id}/")
    assert r.status_code == 200 and r.json()["active"] is False
