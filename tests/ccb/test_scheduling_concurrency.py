"""Bookings race for one slot on PostgreSQL, a connection per thread: one wins, and a freeze declared in
the same instant either refuses the booking or flags it, never misses it."""

import threading

import pytest
from django.db import connection

from ccb import audit
from ccb.models import ChangeRequest

from .conftest import at


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_six_bookings_and_a_freeze_race_for_one_slot(api, approved_on, people, windows, board):
    changes = [approved_on("api", title=f"Change {i}") for i in range(6)]
    clients = {name: api(people[name]) for name in ("frank", "erin")}
    jobs = [("frank", f"/api/v1/changes/{c.pk}/schedule/", {"planned_start": at(10).isoformat()}) for c in changes]
    jobs.append(
        (
            "erin",
            "/api/v1/freezes/",
            {
                "name": "Sudden",
                "reason": "Incident.",
                "board": board.pk,
                "start": at(9).isoformat(),
                "end": at(12).isoformat(),
            },
        )
    )
    barrier = threading.Barrier(len(jobs))
    results, lock = [], threading.Lock()

    def run(name, url, body):
        try:
            client = clients[name]
            barrier.wait()
            response = client.post(url, body, format="json")
            with lock:
                results.append((url, response.status_code, response.content.decode()[:300]))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=job) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    assert len(results) == len(jobs)
    assert not [r for r in results if r[1] >= 500], results
    assert [r[1] for r in results if "freezes" in r[0]] == [201]
    bookings = sorted(code for url, code, _ in results if "schedule" in url)
    booked = list(ChangeRequest.objects.filter(status="scheduled"))
    assert len(booked) <= 1 and bookings.count(200) == len(booked)
    assert set(bookings) <= {200, 409}
    for change in booked:  # it won before the freeze existed, so the freeze flagged it
        assert [p["rule"] for p in change.schedule_problems] == ["freeze"]
    assert audit.verify().ok
