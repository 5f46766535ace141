"""The iCalendar feed: a secret, revocable URL that calendar apps fetch without a session, listing the
windows, freezes and booked changes its owner may see; parsed back here with the icalendar package."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from icalendar import Calendar

from ccb import ical, services
from ccb.choices import AuditAction
from ccb.models import AuditEvent

from .conftest import at, book, freeze, window


@pytest.fixture
def feed_url(api, people):
    def make(person):
        r = api(people[person]).post("/api/v1/calendar/token/")
        assert r.status_code == 201, r.content
        return r.json()["url"]

    return make


def fetch(url):
    """As a calendar app does: no session, no token header, the URL alone."""
    return Client().get(url.removeprefix("http://testserver"))


def events(response):
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    calendar = Calendar.from_ical(response.content)
    return {str(e["uid"]): e for e in calendar.walk("VEVENT")}


def test_the_feed_lists_windows_freezes_and_booked_changes(approved_on, people, windows, board, feed_url):
    change = book(approved_on("api", title="Enable fraud model v3"), at(10), people["frank"])
    f = freeze(
        people["erin"], board=board, start=at(0, days=20), end=at(0, days=22), name="Year-end", reason="Trading peak."
    )
    found = events(fetch(feed_url("alice")))

    event = found[f"change-{change.pk}@ccb"]
    assert str(event["summary"]) == f"{change.reference} Enable fraud model v3"
    assert (event.decoded("dtstart"), event.decoded("dtend")) == (change.planned_start, change.planned_end)
    assert event.decoded("dtstart").tzinfo is not None and int(event["sequence"]) == 0
    assert str(event["status"]) == "CONFIRMED" and "Implementer: frank" in str(event["description"])

    event = found[f"freeze-{f.pk}@ccb"]
    assert str(event["summary"]) == "Freeze: Year-end" and "Trading peak." in str(event["description"])
    assert (event.decoded("dtstart"), event.decoded("dtend")) == (f.start, f.end)

    key = f"window-{windows['api'].pk}-{at(6):%Y%m%dT%H%M%SZ}@ccb"
    event = found[key]
    assert str(event["summary"]) == "Maintenance window: Daytime (API, production)"
    assert (event.decoded("dtstart"), event.decoded("dtend")) == (at(6), at(22))
    assert str(event["transp"]) == "TRANSPARENT"


def test_window_occurrences_in_the_feed_follow_daylight_saving(people, service_map):
    """Rendered for 20 March 2026, the feed spans the night London's clocks go forward (29 March)."""
    sunday = window(
        people["erin"],
        service_map["api"],
        name="Sunday night",
        time_zone="Europe/London",
        dtstart=datetime(2020, 1, 5, 1, 30),
        duration_minutes=240,
        rrule="FREQ=WEEKLY;BYDAY=SU",
    )
    body = ical.render(
        title="t", stamp=datetime(2026, 3, 20, tzinfo=UTC), windows=[sunday], freezes=[], changes=[], change_link=str
    )
    found = {e.decoded("dtstart"): e.decoded("dtend") for e in Calendar.from_ical(body).walk("VEVENT")}
    assert found[datetime(2026, 3, 22, 1, 30, tzinfo=UTC)] == datetime(2026, 3, 22, 5, 30, tzinfo=UTC)  # GMT
    # 01:30 does not exist on 29 March: the occurrence starts at 02:30 BST and lasts its four hours.
    assert found[datetime(2026, 3, 29, 1, 30, tzinfo=UTC)] == datetime(2026, 3, 29, 5, 30, tzinfo=UTC)
    assert found[datetime(2026, 4, 5, 0, 30, tzinfo=UTC)] == datetime(2026, 4, 5, 4, 30, tzinfo=UTC)  # BST
    london = ZoneInfo("Europe/London")
    assert {s.astimezone(london).strftime("%H:%M") for s in found if s.month >= 4} == {"01:30"}


def test_a_flagged_change_shows_its_conflict_in_the_feed(approved_on, people, windows, board, feed_url):
    change = book(approved_on("api"), at(10), people["frank"])
    freeze(people["erin"], board=board, start=at(9), end=at(12), reason="Incident.")
    event = events(fetch(feed_url("frank")))[f"change-{change.pk}@ccb"]
    assert str(event["summary"]).startswith("[CONFLICT] ") and str(event["status"]) == "TENTATIVE"
    assert "Incident." in str(event["description"])


def test_the_feed_shows_only_what_its_owner_may_see(approved_on, people, windows, board, feed_url):
    change = book(approved_on("api"), at(10), people["frank"])
    found = events(fetch(feed_url("oscar")))  # no role on any board
    assert f"change-{change.pk}@ccb" not in found
    assert not [uid for uid in found if uid.startswith("window-")]
    assert f"change-{change.pk}@ccb" in events(fetch(feed_url("grace")))  # the auditor reads everything


def test_rotating_replaces_the_url_and_revoking_ends_it(api, people, feed_url):
    old = feed_url("alice")
    assert api(people["alice"]).get("/api/v1/calendar/token/").json()["url"] == old
    new = feed_url("alice")
    assert new != old
    assert fetch(old).status_code == 404 and fetch(new).status_code == 200
    assert api(people["alice"]).delete("/api/v1/calendar/token/").status_code == 204
    assert fetch(new).status_code == 404
    assert api(people["alice"]).get("/api/v1/calendar/token/").json() == {"url": None, "created_at": None}
    actions = list(
        AuditEvent.objects.filter(actor=people["alice"], action__startswith="calendar.").values_list(
            "action", flat=True
        )
    )
    assert actions == [AuditAction.CALENDAR_TOKEN_ROTATED] * 2 + [AuditAction.CALENDAR_TOKEN_REVOKED]
    assert all(old.split("/")[-1] not in e.data for e in AuditEvent.objects.all())  # the secret is never logged


def test_a_guessed_or_disabled_owners_url_is_not_found(people, feed_url):
    assert fetch("/api/v1/calendar/feed/not-a-token.ics").status_code == 404
    url = feed_url("bob")
    people["bob"].is_active = False
    people["bob"].save(update_fields=["is_active"])
    assert fetch(url).status_code == 404


def test_the_token_is_one_persons_own(api, people, feed_url):
    alices = feed_url("alice")
    assert api(people["bob"]).get("/api/v1/calendar/token/").json()["url"] is None
    api(people["bob"]).delete("/api/v1/calendar/token/")
    assert fetch(alices).status_code == 200
    assert services.calendar_token_revoke(actor=people["alice"]) is True


def test_the_feed_folds_long_text_at_75_octets_without_splitting_a_character_or_an_escape(
    api, people, service_map, feed_url
):
    from tests.notifications.folding import HOSTILE_TEXT, assert_folded_well

    r = api(people["erin"]).post(
        "/api/v1/windows/",
        {
            "service": "api",
            "environment": "production",
            "name": "Ночное окно",
            "description": HOSTILE_TEXT,
            "time_zone": "UTC",
            "dtstart": "2026-01-01T01:00",
            "duration_minutes": 60,
            "rrule": "FREQ=DAILY",
        },
        format="json",
    )
    assert r.status_code == 201, r.content
    response = fetch(feed_url("erin"))
    assert_folded_well(response.content)
    found = [e for uid, e in events(response).items() if uid.startswith("window-")]
    assert found and all(str(e["description"]) == HOSTILE_TEXT + "\nRepeats FREQ=DAILY in UTC." for e in found)
