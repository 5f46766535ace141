"""Booked changes are re-checked whenever a window, a freeze or another schedule changes: those that no
longer fit are flagged on the change, shown by the API, and their requester and implementer are told."""

import json

import pytest

from ccb import services
from ccb.choices import AuditAction
from ccb.models import AuditEvent, ChangeRequest

from .conftest import at, book, freeze, in_window, window


@pytest.fixture
def packet(packet):
    """These rules are shown on a ten-minute timeline: the runbook's step timeouts and no rollback time
    (test_scheduling_rules.py shows how rollback time lengthens a booking)."""
    return {**packet, "rollback_minutes": 0}


@pytest.fixture
def sent(monkeypatch):
    """Every notify() call, in order."""
    calls = []
    monkeypatch.setattr("notifications.services.notify", lambda **kw: calls.append(kw) or [])
    return calls


def conflicts(sent):
    return [m for m in sent if m["event"] == "schedule_conflict"]


@pytest.fixture
def booked(approved_on, people, windows):
    return book(approved_on("api", title="Enable fraud model v3"), at(10), people["frank"])


def test_a_freeze_added_over_a_booked_change_flags_it_and_tells_its_people(api, booked, people, board, sent):
    f = freeze(
        people["erin"],
        board=board,
        start=at(9),
        end=at(12),
        name="Incident freeze",
        reason="Payments incident under review.",
    )
    booked.refresh_from_db()
    assert booked.status == "scheduled"  # flagged, not unscheduled: people decide what to do
    [problem] = booked.schedule_problems
    assert (problem["rule"], problem["freeze"]) == ("freeze", f.pk)
    assert "Payments incident under review." in problem["message"]

    detail = api(people["alice"]).get(f"/api/v1/changes/{booked.pk}/").json()
    assert detail["schedule_problems"] == booked.schedule_problems and detail["schedule_checked_at"]
    listed = api(people["bob"]).get("/api/v1/changes/?status=scheduled").json()["results"]
    assert [(c["id"], c["schedule_flagged"]) for c in listed] == [(booked.pk, True)]

    [message] = conflicts(sent)
    assert message["change_id"] == booked.pk
    assert message["user_ids"] == sorted([people["alice"].pk, people["frank"].pk])
    assert [p["message"] for p in message["context"]["problems"]] == [problem["message"]]
    assert message["context"]["reason"] == "The freeze 'Incident freeze' was created by erin."
    assert "other_reference" not in message["context"]
    [event] = AuditEvent.objects.filter(action=AuditAction.CHANGE_SCHEDULE_FLAGGED, target_id=str(booked.pk))
    assert json.loads(event.data)["problems"] == booked.schedule_problems


def test_lifting_the_freeze_clears_the_flag_without_another_message(booked, people, board, sent):
    f = freeze(people["erin"], board=board, start=at(9), end=at(12))
    services.freeze_deactivate(actor=people["erin"], freeze_id=f.pk)
    booked.refresh_from_db()
    assert booked.schedule_problems == []
    assert len(conflicts(sent)) == 1
    assert AuditEvent.objects.filter(action=AuditAction.CHANGE_SCHEDULE_CLEARED, target_id=str(booked.pk)).exists()


def test_a_freeze_moved_onto_a_booking_flags_it_and_moved_off_clears_it(booked, people, board, sent):
    f = freeze(people["erin"], board=board, start=at(14), end=at(16))
    assert ChangeRequest.objects.get(pk=booked.pk).schedule_problems == []
    services.freeze_save(actor=people["erin"], instance=f, data={"start": at(9)})
    assert [p["rule"] for p in ChangeRequest.objects.get(pk=booked.pk).schedule_problems] == ["freeze"]
    services.freeze_save(actor=people["erin"], instance=f, data={"start": at(14)})
    assert ChangeRequest.objects.get(pk=booked.pk).schedule_problems == []


def test_the_same_problem_found_again_is_not_announced_twice(booked, people, board, sent):
    freeze(people["erin"], board=board, start=at(9), end=at(12))
    freeze(people["erin"], board=board, start=at(20), end=at(21), name="Evening")  # re-checks, same finding
    assert len(conflicts(sent)) == 1
    freeze(people["erin"], board=board, start=at(8), end=at(11), name="Second")  # a new finding is news
    assert len(conflicts(sent)) == 2
    assert len(ChangeRequest.objects.get(pk=booked.pk).schedule_problems) == 2


def test_withdrawing_the_window_flags_the_changes_that_needed_it(booked, people, windows, sent):
    services.maintenance_window_deactivate(actor=people["erin"], window_id=windows["api"].pk)
    booked.refresh_from_db()
    assert [p["message"] for p in booked.schedule_problems] == [
        "No maintenance window is defined for API in production."
    ]
    assert conflicts(sent)[0]["context"]["reason"] == (
        "The maintenance window 'Daytime' for API was withdrawn by erin."
    )


def test_shortening_the_window_flags_a_change_that_no_longer_fits(booked, people, windows, sent):
    services.maintenance_window_save(actor=people["erin"], instance=windows["api"], data={"duration_minutes": 60})
    booked.refresh_from_db()
    assert [p["rule"] for p in booked.schedule_problems] == ["outside_window"]
    assert "it falls outside every maintenance window for API" in booked.schedule_problems[0]["message"]


def test_a_window_edit_that_keeps_the_booking_inside_flags_nothing(booked, people, windows, sent):
    services.maintenance_window_save(actor=people["erin"], instance=windows["api"], data={"name": "Office hours"})
    assert ChangeRequest.objects.get(pk=booked.pk).schedule_problems == [] and conflicts(sent) == []


def test_rescheduling_a_flagged_change_clears_it(booked, people, board, sent):
    freeze(people["erin"], board=board, start=at(9), end=at(12))
    change = book(booked, at(13), people["frank"])
    assert change.schedule_problems == [] and change.schedule_sequence == 1
    assert [m["event"] for m in sent if m["change_id"] == booked.pk and "schedule" in m["event"]] == [
        "schedule_conflict",
        "rescheduled",
    ]
    [moved] = [m for m in sent if m["event"] == "rescheduled"]
    assert (moved["context"]["previous_start"], moved["context"]["start"]) == (at(10).isoformat(), at(13).isoformat())
    assert moved["calendar"]["sequence"] == 1 and moved["context"]["implementer"] == "frank"


def test_an_overridden_booking_answers_only_to_freezes(approved_on, people, windows, board, sent):
    change = book(approved_on("api"), at(23), people["erin"], override_reason="Certificate expires at midnight.")
    services.maintenance_window_deactivate(actor=people["erin"], window_id=windows["api"].pk)
    assert ChangeRequest.objects.get(pk=change.pk).schedule_problems == []
    freeze(people["erin"], board=board, start=at(22), end=at(23, 30))
    assert [p["rule"] for p in ChangeRequest.objects.get(pk=change.pk).schedule_problems] == ["freeze"]


def test_withdrawing_the_change_that_caused_a_conflict_clears_it(approved_on, people, windows, sent):
    first = book(approved_on("api", title="Rotate keys"), at(10), people["frank"])
    hotfix = book(
        approved_on("customer-db", title="Hotfix"), at(10, 5), people["erin"], override_reason="Exploit in the wild."
    )
    assert ChangeRequest.objects.get(pk=first.pk).schedule_problems[0]["change"] == hotfix.pk
    services.change_request_withdraw(change_id=hotfix.pk, actor=people["erin"], reason="Patched upstream.")
    assert ChangeRequest.objects.get(pk=first.pk).schedule_problems == []


def test_a_new_dependency_can_make_booked_changes_clash(approved_on, people, windows, service_map, admin_user, sent):
    lone = services.service_save(
        actor=admin_user, data={"name": "Lone", "slug": "lone", "board": service_map["api"].board}
    )
    window(people["erin"], lone)
    on_lone = book(approved_on("api", services=[lone], title="Lone change"), at(10), people["frank"])
    on_api = book(approved_on("api", title="API change"), at(10, 5), people["frank"])
    services.service_save(actor=admin_user, data={}, instance=lone, depends_on=[service_map["api"]])
    assert ChangeRequest.objects.get(pk=on_lone.pk).schedule_problems[0]["change"] == on_api.pk
    assert ChangeRequest.objects.get(pk=on_api.pk).schedule_problems[0]["change"] == on_lone.pk
    assert "which depends on API" in ChangeRequest.objects.get(pk=on_api.pk).schedule_problems[0]["message"]


def test_a_change_already_being_implemented_is_left_alone(booked, people, board, sent):
    ChangeRequest.objects.filter(pk=booked.pk).update(status="implementing")  # its run has started
    freeze(people["erin"], board=board, start=at(9), end=at(12))
    assert ChangeRequest.objects.get(pk=booked.pk).schedule_problems == [] and conflicts(sent) == []


def test_scheduling_tells_the_requester_and_implementer_with_a_calendar_slot(approved_on, people, windows, sent):
    change = book(approved_on("api"), in_window(days=4), people["frank"])
    [message] = [m for m in sent if m["event"] == "scheduled"]
    assert message["change_id"] == change.pk
    assert message["user_ids"] == sorted([people["alice"].pk, people["frank"].pk])
    assert message["calendar"]["uid"] == f"change-{change.pk}@ccb" and message["calendar"]["sequence"] == 0
    assert message["calendar"]["start"] == change.planned_start.isoformat()


def test_flags_are_stored_in_utc_whoever_triggered_them(api, booked, people, board):
    r = api(people["erin"]).post(
        "/api/v1/freezes/?tz=Asia/Tokyo",
        {
            "name": "Tokyo",
            "reason": "Incident.",
            "board": board.pk,
            "start": at(9).isoformat(),
            "end": at(12).isoformat(),
        },
        format="json",
    )
    assert r.status_code == 201, r.content
    [problem] = ChangeRequest.objects.get(pk=booked.pk).schedule_problems
    assert f"{at(10):%a %d %b %Y %H:%M}–{at(10, 10):%H:%M} UTC" in problem["message"]
