"""The calendar pages, windows and freezes, the feed address, and booking from the change page."""

import pytest
from django.utils import timezone

from ccb.models import ChangeRequest, FreezeWindow, MaintenanceWindow

from .conftest import book, freeze, in_window


@pytest.fixture
def as_(client):
    def sign_in(user):
        client.force_login(user)
        return client

    return sign_in


def test_month_and_week_show_windows_freezes_and_booked_changes(as_, people, windows, approved_on, board):
    change = book(approved_on("api"), in_window(days=3), people["frank"])
    freeze(people["erin"], start=in_window(days=5), end=in_window(days=6), board=board, name="Quarter close")
    client = as_(people["alice"])
    month = client.get(f"/calendar/?date={change.planned_start:%Y-%m-%d}")
    html = month.content.decode()
    assert month.status_code == 200
    assert change.reference in html and "Freeze: Quarter close" in html and "API: Daytime" in html
    week = client.get(f"/calendar/?view=week&date={change.planned_start:%Y-%m-%d}&service=customer-db")
    assert change.reference not in week.content.decode()  # the change is on the API service
    assert "Customer DB: Daytime" in week.content.decode()
    assert len([d for w in week.context["weeks"] for d in w]) == 7


def test_times_are_shown_in_the_viewers_zone(as_, people, windows, approved_on):
    change = book(approved_on("api"), in_window(days=3, hour=10), people["frank"])
    client = as_(people["alice"])
    client.cookies["tz"] = "Asia/Kolkata"
    html = client.get(f"/changes/{change.pk}/").content.decode()
    local = timezone.localtime(change.planned_start, timezone=__import__("zoneinfo").ZoneInfo("Asia/Kolkata"))
    assert local.strftime("%H:%M") in html and "IST" in html


def test_the_feed_address_is_made_rotated_and_revoked_from_the_calendar(as_, people):
    client = as_(people["alice"])
    client.post("/calendar/feed-address/", {"action": "rotate"})
    first = client.get("/calendar/").context["feed_url"]
    assert first.endswith(".ics") and client.get(first).status_code == 200
    client.post("/calendar/feed-address/", {"action": "rotate"})
    second = client.get("/calendar/").context["feed_url"]
    assert second != first and client.get(first).status_code == 404
    client.post("/calendar/feed-address/", {"action": "revoke"})
    assert client.get("/calendar/").context["feed_url"] == "" and client.get(second).status_code == 404


def test_chairs_add_windows_and_freezes_and_others_are_refused(as_, people, service_map, board):
    client = as_(people["erin"])
    response = client.post(
        "/calendar/windows/",
        {
            "kind": "window",
            "w-service": service_map["api"].pk,
            "w-environment": "production",
            "w-name": "Tuesday night",
            "w-time_zone": "Europe/Berlin",
            "w-dtstart": "2026-12-01T22:00",
            "w-duration_minutes": 240,
            "w-rrule": "FREQ=WEEKLY;BYDAY=TU",
        },
    )
    assert response.status_code == 302
    window = MaintenanceWindow.objects.get(name="Tuesday night")
    assert (window.time_zone, str(window.start_time), window.rrule) == (
        "Europe/Berlin",
        "22:00:00",
        "FREQ=WEEKLY;BYDAY=TU",
    )
    bad = client.post(
        "/calendar/windows/",
        {
            "kind": "window",
            "w-service": service_map["api"].pk,
            "w-environment": "production",
            "w-name": "Broken",
            "w-time_zone": "Mars/Olympus",
            "w-dtstart": "2026-12-01T22:00",
            "w-duration_minutes": 60,
            "w-rrule": "FREQ=SOMETIMES",
        },
    )
    assert bad.status_code == 200 and not MaintenanceWindow.objects.filter(name="Broken").exists()
    assert bad.context["window_form"].errors
    response = as_(people["bob"]).post(
        "/calendar/windows/",
        {
            "kind": "freeze",
            "f-name": "Mine",
            "f-reason": "x",
            "f-board": board.pk,
            "f-start": "2026-12-20T00:00",
            "f-end": "2026-12-27T00:00",
        },
    )
    assert response.status_code == 403 and not FreezeWindow.objects.exists()


def test_the_change_page_offers_free_slots_and_books_one(as_, people, windows, approved_on):
    change = approved_on("api")
    client = as_(people["frank"])
    page = client.get(f"/changes/{change.pk}/")
    slots = page.context["slots"]
    assert slots and "Book" in page.content.decode()
    response = client.post(f"/changes/{change.pk}/schedule/", {"planned_start": slots[0].start.isoformat()})
    assert response.status_code == 302
    change.refresh_from_db()
    assert change.status == "scheduled" and change.planned_start == slots[0].start


def test_a_freeze_over_a_booking_flags_it_on_its_page_and_the_dashboard(as_, people, windows, approved_on, board):
    change = book(approved_on("api"), in_window(days=3), people["frank"])
    freeze(people["erin"], start=change.planned_start, end=change.planned_end, board=board, name="Incident")
    assert ChangeRequest.objects.get(pk=change.pk).schedule_problems
    client = as_(people["alice"])
    assert "No longer fits its slot" in client.get(f"/changes/{change.pk}/").content.decode()
    assert [c.pk for c in client.get("/").context["flagged"]] == [change.pk]


def test_ending_a_freeze_clears_the_flag_and_members_may_not(as_, people, windows, approved_on, board):
    change = book(approved_on("api"), in_window(days=3), people["frank"])
    blocking = freeze(people["erin"], start=change.planned_start, end=change.planned_end, board=board)
    assert as_(people["bob"]).post(f"/calendar/freeze/{blocking.pk}/deactivate/").status_code == 403
    response = as_(people["erin"]).post(f"/calendar/freeze/{blocking.pk}/deactivate/")
    assert response.status_code == 302
    assert not FreezeWindow.objects.get(pk=blocking.pk).active
    assert ChangeRequest.objects.get(pk=change.pk).schedule_problems == []


def test_each_day_shows_the_part_of_an_overnight_window_or_a_long_freeze_that_falls_on_it(
    as_, people, service_map, board
):
    from datetime import UTC, datetime

    from .conftest import window

    # 23:00–03:00 in Berlin (22:00–02:00 UTC), and a freeze from 23:00 on the 8th to 23:00 on the 10th.
    window(
        people["erin"],
        service_map["api"],
        name="Night",
        time_zone="Europe/Berlin",
        dtstart=datetime(2026, 12, 7, 23, 0),
        duration_minutes=240,
        rrule="",
    )
    freeze(
        people["erin"],
        start=datetime(2026, 12, 8, 22, 0, tzinfo=UTC),
        end=datetime(2026, 12, 10, 22, 0, tzinfo=UTC),
        board=board,
        name="Peak",
    )
    client = as_(people["erin"])
    client.cookies["tz"] = "Europe/Berlin"
    week = client.get("/calendar/?view=week&date=2026-12-07&service=api")
    days = {
        d["date"].isoformat(): [(e["label"], e["when"]) for e in d["entries"]] for w in week.context["weeks"] for d in w
    }
    assert days["2026-12-07"] == [("API: Night", "from 23:00")]
    assert days["2026-12-08"] == [("API: Night", "until 03:00"), ("Freeze: Peak", "from 23:00")]
    assert days["2026-12-09"] == [("Freeze: Peak", "all day")]
    assert days["2026-12-10"] == [("Freeze: Peak", "until 23:00")]
    assert days["2026-12-11"] == []
    html = week.content.decode()
    assert "23:00–03:00" not in html and "23:00–23:00" not in html
    assert "until 03:00" in html and "all day" in html
    # A viewer in Tokyo sees the same window as 07:00–11:00 on the 8th, all on one day.
    client.cookies["tz"] = "Asia/Tokyo"
    week = client.get("/calendar/?view=week&date=2026-12-07&service=api")
    days = {d["date"].isoformat(): [e["when"] for e in d["entries"]] for w in week.context["weeks"] for d in w}
    assert days["2026-12-08"][0] == "07:00–11:00"


def test_a_no_longer_fits_reason_is_shown_in_the_viewers_zone(as_, people, windows, approved_on, board):
    change = book(approved_on("api"), in_window(days=3, hour=10), people["frank"])
    freeze(people["erin"], start=change.planned_start, end=change.planned_end, board=board, name="Incident")
    [stored] = ChangeRequest.objects.get(pk=change.pk).schedule_problems
    assert "UTC" in stored["message"]  # stored once, for every reader
    client = as_(people["alice"])
    client.cookies["tz"] = "Asia/Kolkata"
    html = client.get(f"/changes/{change.pk}/").content.decode()
    local = timezone.localtime(change.planned_start, timezone=__import__("zoneinfo").ZoneInfo("Asia/Kolkata"))
    assert f"The timeline {local:%a %d %b %Y %H:%M}–" in html and "IST overlaps the freeze" in html
    assert stored["message"] not in html
    # A row stored before problems kept their times apart is shown as it was stored.
    ChangeRequest.objects.filter(pk=change.pk).update(
        schedule_problems=[{"rule": "freeze", "message": "Overlaps the old freeze (stored text)."}]
    )
    assert "Overlaps the old freeze (stored text)." in client.get(f"/changes/{change.pk}/").content.decode()
