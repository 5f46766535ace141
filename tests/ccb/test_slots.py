"""Next free slots: start times that pass every rule, one per free stretch, each accepted when booked."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from ccb import scheduling, services
from ccb.scheduling import ScheduleRefused

from .conftest import at, book, freeze, window


@pytest.fixture
def packet(packet):
    """These rules are shown on a ten-minute timeline: the runbook's step timeouts and no rollback time
    (test_scheduling_rules.py shows how rollback time lengthens a booking)."""
    return {**packet, "rollback_minutes": 0}


def slots(api, person, change, **query):
    qs = "&".join(f"{k}={v}" for k, v in query.items())
    return api(person).get(f"/api/v1/changes/{change.pk}/slots/?{qs}")


def starts(response):
    return [(s["start"], s["latest_start"]) for s in response.json()["slots"]]


def iso(dt):
    return dt.isoformat().replace("+00:00", "Z")


def test_slots_skip_freezes_as_their_union_and_other_changes(api, approved_on, people, windows, board):
    # Two overlapping freezes, 06:00-09:00 and 08:30-11:00, block the morning as one.
    freeze(people["erin"], board=board, start=at(6), end=at(9), name="Early")
    freeze(people["erin"], board=board, start=at(8, 30), end=at(11), name="Late")
    book(approved_on("customer-db", title="Resize the DB"), at(11, 5), people["frank"])  # a dependency of API
    book(approved_on("api", title="Rotate keys"), at(15), people["frank"])
    change = approved_on("api")
    r = slots(api, people["frank"], change, count=3, after=iso(at(0)))
    assert r.status_code == 200, r.content
    assert r.json()["timeline_minutes"] == 10
    assert starts(r) == [
        (iso(at(11, 15)), iso(at(14, 50))),  # after the DB change, up to the keys rotation
        (iso(at(15, 10)), iso(at(21, 50))),  # after the keys rotation, to the window's close
        (iso(at(6, days=4)), iso(at(21, 50, days=4))),  # the next day's window
    ]


def test_every_offered_start_and_every_latest_start_is_accepted(approved_on, people, windows, board):
    freeze(people["erin"], board=board, start=at(12), end=at(13))
    book(approved_on("api", title="Rotate keys"), at(16), people["frank"])
    change = approved_on("api")
    offered = scheduling.free_slots(change, count=4, after=at(0))
    assert len(offered) == 4
    for slot in offered:
        for start in (slot.start, slot.latest_start):
            booked = book(change, start, people["frank"])
            assert booked.planned_end == start + timedelta(minutes=10)
        with pytest.raises(ScheduleRefused):
            book(change, slot.latest_start + timedelta(minutes=1), people["frank"])


def test_a_change_on_two_services_gets_the_overlap_of_their_windows(approved_on, people, windows, service_map):
    services.maintenance_window_deactivate(actor=people["erin"], window_id=windows["customer-db"].pk)
    window(
        people["erin"],
        service_map["customer-db"],
        name="Night",
        dtstart=datetime(2020, 1, 1, 20, 0),
        duration_minutes=180,
    )
    change = approved_on("api", services=[service_map["api"], service_map["customer-db"]])
    [slot] = scheduling.free_slots(change, count=1, after=at(0))
    assert (slot.start, slot.latest_start) == (at(20), at(21, 50))


def test_slots_follow_the_windows_zone_across_the_spring_forward(approved_on, people, service_map):
    year = timezone.now().year + 1
    sunday = max(datetime(year, 3, d, tzinfo=UTC) for d in range(25, 32) if datetime(year, 3, d).weekday() == 6)
    window(
        people["erin"],
        service_map["api"],
        name="Sunday night",
        time_zone="Europe/London",
        dtstart=datetime(2020, 1, 5, 0, 30),
        duration_minutes=180,
        rrule="FREQ=WEEKLY;BYDAY=SU",
    )
    change = approved_on("api")
    first, second = scheduling.free_slots(change, count=2, after=sunday)
    assert (first.start, first.latest_start) == (sunday.replace(hour=0, minute=30), sunday.replace(hour=3, minute=20))
    assert second.start == sunday + timedelta(days=6, hours=23, minutes=30)  # 00:30 BST a week later


def test_slots_never_start_in_the_past(api, approved_on, people, windows):
    change = approved_on("api")
    now = timezone.now()
    found = scheduling.free_slots(change, count=2)
    assert found and all(s.start >= now and s.start.second == 0 for s in found)


def test_no_window_means_no_slot(api, approved_on, people):
    r = slots(api, people["alice"], approved_on("api"))
    assert r.status_code == 200 and r.json()["slots"] == []


@pytest.mark.parametrize("query", [{"count": 0}, {"count": 51}, {"count": "many"}, {"after": "soon"}])
def test_the_slot_query_is_validated(api, approved_on, people, windows, query):
    r = slots(api, people["alice"], approved_on("api"), **query)
    assert r.status_code == 400 and set(r.json()) <= {"count", "after"}
