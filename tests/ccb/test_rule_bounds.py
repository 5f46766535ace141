"""A maintenance window's rule is checked part by part when it is saved, and no stored rule (even one
saved before the checks existed) can stall a page, the API, the feed, free slots or scheduling."""

import time

import pytest
from django.test import Client

from ccb import recurrence
from ccb.models import MaintenanceWindow

from .conftest import in_window

WINDOW = {
    "service": "api",
    "environment": "production",
    "name": "Nightly",
    "time_zone": "Europe/London",
    "dtstart": "2026-03-01T01:00",
    "duration_minutes": 240,
    "rrule": "FREQ=DAILY",
}


@pytest.mark.parametrize(
    ("rule", "part"),
    [
        ("FREQ=DAILY;INTERVAL=0", "INTERVAL"),
        ("FREQ=DAILY;COUNT=-1", "COUNT"),
        ("FREQ=MONTHLY;BYMONTHDAY=32", "BYMONTHDAY"),
        ("FREQ=YEARLY;BYMONTH=13", "BYMONTH"),
        ("FREQ=YEARLY;BYWEEKNO=54", "BYWEEKNO"),
        ("FREQ=YEARLY;BYYEARDAY=367", "BYYEARDAY"),
        ("FREQ=DAILY;UNTIL=19990101T000000", "UNTIL"),
        ("FREQ=WEEKLY;BYDAY=2TU", "BYDAY"),
        ("FREQ=DAILY;BYSETPOS=1", "BYSETPOS"),
        ("FREQ=WEEKLY;WKST=XY", "WKST"),
    ],
)
def test_a_part_out_of_its_range_is_a_400_naming_the_part(api, people, service_map, rule, part):
    r = api(people["erin"]).post("/api/v1/windows/", {**WINDOW, "rrule": rule}, format="json")
    assert r.status_code == 400, r.content
    assert part in " ".join(r.json()["rrule"])
    assert not MaintenanceWindow.objects.exists()


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=DAILY;COUNT=3",  # all three were in March 2026
        "FREQ=DAILY;UNTIL=20260401T000000Z",
        "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",  # never
        "FREQ=HOURLY;BYMONTH=4;BYMONTHDAY=31",  # never, and costly to find out
    ],
)
def test_a_rule_that_opens_no_window_in_the_coming_year_is_refused_as_such(api, people, service_map, rule):
    started = time.monotonic()
    r = api(people["erin"]).post("/api/v1/windows/", {**WINDOW, "rrule": rule}, format="json")
    assert r.status_code == 400, r.content
    assert "opens no window between" in " ".join(r.json()["rrule"])
    assert time.monotonic() - started < 5
    assert not MaintenanceWindow.objects.exists()


@pytest.mark.parametrize(
    "stored",
    [
        "FREQ=DAILY;INTERVAL=0",  # dateutil alone never returns from this one
        "FREQ=HOURLY;BYMONTH=2;BYMONTHDAY=30",  # nor, for half a minute, from this one
        "FREQ=MONTHLY;BYMONTHDAY=32",
    ],
)
def test_a_rule_stored_before_the_checks_cannot_stall_any_reader(api, people, windows, approved_on, client, stored):
    """The API service's only window carries a rule stored as it was before validation existed."""
    MaintenanceWindow.objects.filter(pk=windows["api"].pk).update(rrule=stored)
    change = approved_on("api")
    alice = api(people["alice"])
    token = alice.post("/api/v1/calendar/token/").json()["url"]
    client.force_login(people["alice"])
    chair = Client()
    chair.force_login(people["erin"])
    day = in_window(days=3)
    reads = {
        "windows list": lambda: alice.get("/api/v1/windows/"),
        "window": lambda: alice.get(f"/api/v1/windows/{windows['api'].pk}/"),
        "feed": lambda: Client().get(token.removeprefix("http://testserver")),
        "slots": lambda: alice.get(f"/api/v1/changes/{change.pk}/slots/"),
        "schedule": lambda: api(people["frank"]).post(
            f"/api/v1/changes/{change.pk}/schedule/", {"planned_start": day.isoformat()}, format="json"
        ),
        "month": lambda: client.get(f"/calendar/?date={day:%Y-%m-%d}"),
        "week": lambda: client.get(f"/calendar/?view=week&date={day:%Y-%m-%d}"),
        "change page": lambda: client.get(f"/changes/{change.pk}/"),
        "windows page": lambda: chair.get("/calendar/windows/"),
    }
    for name, read in reads.items():
        started = time.monotonic()
        response = read()
        elapsed = time.monotonic() - started
        assert response.status_code in (200, 409), (name, response.status_code)
        assert elapsed < 3 * recurrence.MAX_EXPANSION_SECONDS + 2, (name, elapsed)
    r = api(people["frank"]).post(
        f"/api/v1/changes/{change.pk}/schedule/", {"planned_start": day.isoformat()}, format="json"
    )
    assert r.status_code == 409 and "API" in r.json()["detail"]  # the window admits nothing now
    r = alice.get(f"/api/v1/windows/{windows['api'].pk}/")
    assert r.json()["next_occurrences"] == []


def test_the_windows_page_says_which_stored_rule_admits_nothing_and_why(people, windows, client):
    MaintenanceWindow.objects.filter(pk=windows["api"].pk).update(rrule="FREQ=DAILY;INTERVAL=0")
    client.force_login(people["erin"])
    html = client.get("/calendar/windows/").content.decode()
    assert "Admits nothing until its rule is fixed: INTERVAL must be a whole number" in html
    assert html.count("Admits nothing") == 1  # the other services' windows are fine
