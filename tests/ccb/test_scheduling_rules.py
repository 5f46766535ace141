"""Each scheduling rule, with the 409 that names what it broke, and the chair's emergency override."""

import json
import zoneinfo
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from ccb import services
from ccb.choices import AuditAction
from ccb.exceptions import PacketInvalid
from ccb.models import AuditEvent, ChangeRequest, FreezeWindow, Service
from deployments import services as runbook_services

from .conftest import at, book, freeze, in_window, window


@pytest.fixture
def packet(packet):
    """These rules are shown on a ten-minute timeline: the runbook's step timeouts and no rollback time
    (test_scheduling_rules.py shows how rollback time lengthens a booking)."""
    return {**packet, "rollback_minutes": 0}


NO_TIMEOUTS_YAML = """\
schema: 2
stages:
  - name: Only
    steps:
      - {name: Flip the flag by hand, type: manual_gate, params: {role: implementer, question: "Flag flipped?"}}
"""


def post_schedule(api, person, change, start, **extra):
    return api(person).post(
        f"/api/v1/changes/{change.pk}/schedule/", {"planned_start": start.isoformat(), **extra}, format="json"
    )


# --- windows -----------------------------------------------------------------------------------


def test_a_service_without_a_window_cannot_be_scheduled(api, approved_on, people):
    change = approved_on("api")
    r = post_schedule(api, people["frank"], change, at(10))
    assert r.status_code == 409, r.content
    assert r.json()["detail"] == "No maintenance window is defined for API in production."
    assert [p["rule"] for p in r.json()["problems"]] == ["no_window"]
    assert r.json()["next_slots"] == []
    assert ChangeRequest.objects.get(pk=change.pk).status == "approved"


def test_the_end_follows_from_the_runbook(api, approved_on, people, windows, runbook):
    change = approved_on("api")
    r = post_schedule(api, people["frank"], change, at(10))
    assert r.status_code == 200, r.content
    assert runbook.estimated_minutes == 10
    change.refresh_from_db()
    assert (change.planned_start, change.planned_end) == (at(10), at(10, 10))
    assert r.json()["timeline_minutes"] == 10 and r.json()["schedule_problems"] == []


@pytest.fixture
def runbook_without_timeouts(board, people):
    version = runbook_services.runbook_create(
        actor=people["frank"], board=board, name="Flag flip", description="", source_yaml=NO_TIMEOUTS_YAML
    )
    return runbook_services.runbook_version_approve(actor=people["erin"], version_id=version.pk)


def test_the_packet_estimate_counts_when_the_runbook_has_none(approved_on, people, windows, runbook_without_timeouts):
    change = approved_on("api", runbook_version=runbook_without_timeouts.pk, estimated_duration_minutes=45)
    change = book(change, at(10), people["frank"])
    assert change.planned_end - change.planned_start == timedelta(minutes=45)


def test_without_any_estimate_scheduling_is_refused_with_400(
    api, approved_on, people, windows, runbook_without_timeouts
):
    change = approved_on("api", runbook_version=runbook_without_timeouts.pk, estimated_duration_minutes=None)
    r = post_schedule(api, people["frank"], change, at(10))
    assert r.status_code == 400 and "length of the deployment is unknown" in r.json()["timeline"][0]
    with pytest.raises(PacketInvalid):
        book(change, at(10), people["frank"])


def test_the_timeline_must_fit_the_window_to_the_minute(api, approved_on, people, windows):
    change = approved_on("api")
    assert post_schedule(api, people["frank"], change, at(6)).status_code == 200  # opens at 06:00
    assert post_schedule(api, people["frank"], change, at(21, 50)).status_code == 200  # ends as it closes
    r = post_schedule(api, people["frank"], change, at(21, 51))
    assert r.status_code == 409
    assert "runs 1 min past the end of 'Daytime'" in r.json()["detail"]
    assert "for API in production" in r.json()["detail"]
    assert r.json()["problems"][0]["window"] == windows["api"].pk
    r = post_schedule(api, people["frank"], change, at(5, 55))
    assert r.status_code == 409 and "starts 5 min before 'Daytime'" in r.json()["detail"]
    assert ChangeRequest.objects.get(pk=change.pk).planned_start == at(21, 50)  # the refusals changed nothing


def test_the_timeline_fits_one_occurrence_not_two_that_touch(api, approved_on, people, service_map):
    for name, hour in (("Early", 6), ("Late", 8)):
        window(
            people["erin"],
            service_map["api"],
            name=name,
            dtstart=in_window(days=-400, hour=hour).replace(tzinfo=None),
            duration_minutes=120,
        )
    change = approved_on("api")
    r = post_schedule(api, people["frank"], change, at(7, 55))
    assert r.status_code == 409 and "does not fit inside one occurrence" in r.json()["detail"]
    assert post_schedule(api, people["frank"], change, at(7, 50)).status_code == 200


def test_every_affected_service_needs_its_window(api, approved_on, people, service_map, windows):
    services.maintenance_window_deactivate(actor=people["erin"], window_id=windows["customer-db"].pk)
    change = approved_on("api", services=[service_map["api"], service_map["customer-db"]])
    r = post_schedule(api, people["frank"], change, at(10))
    assert r.status_code == 409
    assert r.json()["detail"] == "No maintenance window is defined for Customer DB in production."


def test_a_window_across_the_spring_forward_is_its_exact_length(api, approved_on, people, service_map):
    """Sundays 00:30 London for three hours: on the night the clocks go forward it closes at 04:30 BST."""
    year = timezone.now().year + 1
    last_sunday = max(datetime(year, 3, d, tzinfo=UTC) for d in range(25, 32) if datetime(year, 3, d).weekday() == 6)
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
    # 03:15 UTC is 04:15 BST: inside the three real hours from 00:30 GMT, though past 03:30 on the wall.
    assert post_schedule(api, people["frank"], change, last_sunday.replace(hour=3, minute=15)).status_code == 200
    r = post_schedule(api, people["frank"], change, last_sunday.replace(hour=3, minute=25))
    assert r.status_code == 409  # times in the reader's zone: UTC when they name none
    assert "00:30–03:30 UTC" in r.json()["detail"] and "runs 5 min past the end" in r.json()["detail"]
    r = api(people["frank"]).post(
        f"/api/v1/changes/{change.pk}/schedule/?tz=Europe/London",
        {"planned_start": last_sunday.replace(hour=3, minute=25).isoformat()},
        format="json",
    )
    assert r.status_code == 409 and "00:30 GMT–04:30 BST" in r.json()["detail"]


# --- freezes ---------------------------------------------------------------------------------------


def test_a_freeze_blocks_and_is_named_with_its_reason(api, approved_on, people, windows, board):
    f = freeze(people["erin"], board=board, start=at(12), end=at(14), reason="Black Friday peak.")
    change = approved_on("api")
    r = post_schedule(api, people["frank"], change, at(13, 55))
    assert r.status_code == 409
    assert "overlaps the freeze 'Release freeze'" in r.json()["detail"] and "Black Friday peak." in r.json()["detail"]
    assert r.json()["problems"] == [
        {
            "rule": "freeze",
            "message": r.json()["detail"],
            "service": "",
            "window": None,
            "freeze": f.pk,
            "change": None,
            "pieces": [
                "The timeline ",
                {"start": at(13, 55).isoformat(), "end": at(14, 5).isoformat()},
                " overlaps the freeze 'Release freeze' (",
                {"start": at(12).isoformat(), "end": at(14).isoformat()},
                "): Black Friday peak.",
            ],
        }
    ]
    assert post_schedule(api, people["frank"], change, at(11, 50)).status_code == 200  # ends as the freeze starts
    assert post_schedule(api, people["frank"], change, at(14)).status_code == 200  # starts as it ends


def test_a_freeze_covers_only_its_scope(api, approved_on, people, windows, board, service_map):
    freeze(people["erin"], board=board, svcs=[service_map["customer-db"]], start=at(9), end=at(12), name="DB")
    freeze(people["erin"], board=board, env="staging", start=at(9), end=at(12), name="Staging")
    freeze(people["erin"], board=board, start=at(9), end=at(12), name="Old", reason="Lifted.")
    services.freeze_deactivate(actor=people["erin"], freeze_id=FreezeWindow.objects.get(name="Old").pk)
    change = approved_on("api")
    assert post_schedule(api, people["frank"], change, at(10)).status_code == 200
    other = approved_on("customer-db", title="Resize the DB")
    r = post_schedule(api, people["frank"], other, at(10, 30))
    assert r.status_code == 409 and "the freeze 'DB'" in r.json()["detail"]


def test_a_freeze_over_every_board_blocks_too(api, approved_on, people, windows, admin_user):
    freeze(admin_user, board=None, start=at(9), end=at(12), name="Company-wide", reason="Data-centre move.")
    r = post_schedule(api, people["frank"], approved_on("api"), at(10))
    assert r.status_code == 409 and "Company-wide" in r.json()["detail"]


# --- conflicts -------------------------------------------------------------------------------------


def test_a_change_on_the_same_service_conflicts_and_is_named(api, approved_on, people, windows):
    first = book(approved_on("api", title="Rotate keys"), at(10), people["frank"])
    second = approved_on("api")
    r = post_schedule(api, people["frank"], second, at(10, 5))
    assert r.status_code == 409
    assert (
        f"overlaps {first.reference} 'Rotate keys' (scheduled " in r.json()["detail"]
        and "on API, which both change." in r.json()["detail"]
    )
    assert r.json()["problems"][0]["change"] == first.pk
    assert post_schedule(api, people["frank"], second, at(10, 10)).status_code == 200  # back to back is fine


def test_a_conflict_is_found_through_a_dependency_both_ways(api, approved_on, people, windows):
    db_change = book(approved_on("customer-db", title="Resize the DB"), at(10), people["frank"])
    api_change = approved_on("api")
    r = post_schedule(api, people["frank"], api_change, at(10, 5))
    assert r.status_code == 409
    assert f"{db_change.reference} 'Resize the DB'" in r.json()["detail"]
    assert "on Customer DB, which API depends on." in r.json()["detail"]
    book(api_change, at(11), people["frank"])
    other_db = approved_on("customer-db", title="Vacuum")
    r = post_schedule(api, people["frank"], other_db, at(10, 55))
    assert r.status_code == 409 and "on API, which depends on Customer DB." in r.json()["detail"]


def test_a_conflict_is_found_through_a_chain_of_dependencies(
    api, approved_on, people, windows, service_map, admin_user, make_change, approve
):
    edge = services.service_save(
        actor=admin_user,
        data={"name": "Edge", "slug": "edge", "board": service_map["api"].board},
        depends_on=[service_map["api"]],
    )
    window(people["erin"], edge)
    db_change = book(approved_on("customer-db", title="Resize the DB"), at(10), people["frank"])
    change = make_change(services=[edge])
    services.change_request_submit(change_id=change.pk, actor=people["alice"])
    r = post_schedule(api, people["frank"], approve(change), at(10, 5))
    assert r.status_code == 409
    assert (
        f"{db_change.reference}" in r.json()["detail"]
        and "on Customer DB, which Edge depends on" in (r.json()["detail"])
    )


def test_unrelated_services_and_other_environments_do_not_conflict(
    api, approved_on, people, windows, service_map, admin_user
):
    lone = services.service_save(
        actor=admin_user, data={"name": "Lone", "slug": "lone", "board": service_map["api"].board}
    )
    window(people["erin"], lone)
    window(people["erin"], service_map["api"], environment="staging")
    book(approved_on("api", environment="staging", title="Staging run"), at(10), people["frank"])
    book(approved_on("api", services=[Service.objects.get(slug="lone")], title="Lone"), at(10), people["frank"])
    assert post_schedule(api, people["frank"], approved_on("api"), at(10, 5)).status_code == 200


def test_an_implementing_change_occupies_its_slot(api, approved_on, people, windows):
    running = book(approved_on("api", title="Running"), at(10), people["frank"])
    ChangeRequest.objects.filter(pk=running.pk).update(status="implementing")  # its run has started
    r = post_schedule(api, people["frank"], approved_on("api"), at(10, 5))
    assert r.status_code == 409 and "(implementing " in r.json()["detail"]


def test_every_broken_rule_is_named_at_once(api, approved_on, people, windows, board):
    book(approved_on("api", title="Rotate keys"), at(21, 50), people["frank"])
    freeze(people["erin"], board=board, start=at(21), end=at(23))
    r = post_schedule(api, people["frank"], approved_on("api"), at(21, 55))
    assert [p["rule"] for p in r.json()["problems"]] == ["outside_window", "freeze", "conflict"]


# --- the request itself --------------------------------------------------------------------------


def test_a_start_without_an_offset_is_refused_by_the_service(approved_on, people, windows):
    with pytest.raises(PacketInvalid, match="with its offset"):
        book(approved_on("api"), at(10).replace(tzinfo=None), people["frank"])


def test_the_end_is_not_for_the_client_to_choose(api, approved_on, people, windows):
    change = approved_on("api")
    r = post_schedule(api, people["frank"], change, at(10), planned_end=at(11).isoformat())
    assert r.status_code == 400 and "send planned_start only" in r.json()["planned_end"][0]


def test_a_refusal_offers_slots_that_are_accepted(api, approved_on, people, windows):
    book(approved_on("api", title="Rotate keys"), at(10), people["frank"])
    change = approved_on("api")
    r = post_schedule(api, people["frank"], change, at(10, 5))
    assert r.status_code == 409 and len(r.json()["next_slots"]) == 3
    first = r.json()["next_slots"][0]["start"]
    r = api(people["frank"]).post(f"/api/v1/changes/{change.pk}/schedule/", {"planned_start": first}, format="json")
    assert r.status_code == 200, r.content


def test_times_are_shown_and_read_in_the_viewers_zone(api, approved_on, people, windows):
    change = approved_on("api")
    local = at(10).astimezone(zoneinfo.ZoneInfo("Europe/Berlin"))
    r = api(people["frank"]).post(
        f"/api/v1/changes/{change.pk}/schedule/?tz=Europe/Berlin",
        {"planned_start": local.replace(tzinfo=None).isoformat()},
        format="json",
    )
    assert r.status_code == 200, r.content
    assert r.json()["planned_start"] == local.isoformat()  # +01:00 or +02:00, as Berlin is on that day
    assert ChangeRequest.objects.get(pk=change.pk).planned_start == at(10)  # stored as the same instant
    assert api(people["frank"]).get(f"/api/v1/changes/{change.pk}/").json()["planned_start"].endswith("Z")
    r = api(people["frank"]).get(f"/api/v1/changes/{change.pk}/?tz=Mars/Olympus")
    assert r.status_code == 400 and "Unknown time zone" in r.json()["tz"][0]


# --- the chair's emergency override ----------------------------------------------------------------


def _events(change, action):
    return [json.loads(e.data) for e in AuditEvent.objects.filter(action=action, target_id=str(change.pk))]


def test_the_chair_may_override_a_window_with_a_written_reason(api, approved_on, people, windows):
    change = approved_on("api")
    r = post_schedule(api, people["erin"], change, at(23), override_reason="Certificate expires at midnight.")
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["schedule_override_reason"] == "Certificate expires at midnight."
    assert body["schedule_overridden_by"] == "erin"
    [event] = _events(change, AuditAction.CHANGE_SCHEDULE_OVERRIDDEN)
    assert event["reason"] == "Certificate expires at midnight."
    assert [p["rule"] for p in event["problems"]] == ["outside_window"]
    assert _events(change, AuditAction.CHANGE_SCHEDULED)[-1]["overridden"] is True


@pytest.mark.parametrize(
    ("person", "rule"),
    [
        ("frank", "chair_only_overrides_schedule"),
        ("bob", "implementer_or_chair_schedules"),
        ("alice", "implementer_or_chair_schedules"),
        ("grace", "implementer_or_chair_schedules"),
    ],
)
def test_the_override_is_refused_for_anyone_but_the_chair(api, approved_on, people, windows, person, rule):
    change = approved_on("api")
    before = AuditEvent.objects.filter(action=AuditAction.POLICY_REFUSED).count()
    r = post_schedule(api, people[person], change, at(23), override_reason="Trust me.")
    assert r.status_code == 403 and r.json()["rule"] == rule
    assert AuditEvent.objects.filter(action=AuditAction.POLICY_REFUSED).count() == before + 1
    assert ChangeRequest.objects.get(pk=change.pk).status == "approved"


def test_the_override_is_refused_even_when_no_rule_needed_overriding(api, approved_on, people, windows):
    r = post_schedule(api, people["frank"], approved_on("api"), at(10), override_reason="Just in case.")
    assert r.status_code == 403 and r.json()["rule"] == "chair_only_overrides_schedule"


def test_a_blank_override_reason_is_no_override(api, approved_on, people, windows):
    assert post_schedule(api, people["frank"], approved_on("api"), at(10), override_reason="  ").status_code == 200


def test_a_chair_who_requested_the_change_cannot_override_for_it(api, approved_on, people, windows):
    change = approved_on("api", requester="erin")
    r = post_schedule(api, people["erin"], change, at(23), override_reason="Mine, and urgent.")
    assert r.status_code == 403 and r.json()["rule"] == "requester_cannot_override_schedule"


def test_an_override_does_not_lift_a_freeze(api, approved_on, people, windows, board):
    freeze(people["erin"], board=board, start=at(9), end=at(12))
    r = post_schedule(api, people["erin"], approved_on("api"), at(10), override_reason="Urgent.")
    assert r.status_code == 409
    assert "An override does not lift a freeze" in r.json()["detail"]
    assert [p["rule"] for p in r.json()["problems"]] == ["freeze"]


def test_the_chair_may_override_a_conflict_and_the_other_change_is_flagged(
    api, approved_on, people, windows, monkeypatch
):
    sent = []
    monkeypatch.setattr("notifications.services.notify", lambda **kw: sent.append(kw) or [])
    first = book(approved_on("api", title="Rotate keys"), at(10), people["frank"])
    change = approved_on("api", title="Hotfix")
    r = post_schedule(api, people["erin"], change, at(10, 5), override_reason="Exploit in the wild.")
    assert r.status_code == 200, r.content
    first.refresh_from_db()
    assert [p["rule"] for p in first.schedule_problems] == ["conflict"]
    assert first.schedule_problems[0]["change"] == change.pk
    conflict = [m for m in sent if m["event"] == "schedule_conflict"]
    assert [(m["change_id"], m["user_ids"]) for m in conflict] == [
        (first.pk, sorted([people["alice"].pk, people["frank"].pk]))
    ]
    assert (conflict[0]["context"]["other_reference"], conflict[0]["context"]["other_title"]) == (
        change.reference,
        "Hotfix",
    )
    change.refresh_from_db()
    assert change.schedule_problems == []  # the override took responsibility for its own conflict


# --- what a booking covers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("estimate", "rollback", "covered"),
    [
        (None, 20, 30),  # the runbook's 10 min of step timeouts, and 20 min to roll back
        (45, 20, 65),  # the packet's estimate is longer than the runbook's timeouts
        (5, 20, 30),  # the runbook's timeouts are longer than the packet's estimate
        (45, 0, 45),
    ],
)
def test_a_booking_covers_the_longer_estimate_and_the_time_to_roll_back(
    api, approved_on, people, windows, client, estimate, rollback, covered
):
    from notifications.models import CalendarInvite

    change = approved_on("api", estimated_duration_minutes=estimate, rollback_minutes=rollback)
    assert api(people["alice"]).get(f"/api/v1/changes/{change.pk}/").json()["timeline_minutes"] == covered
    slots = api(people["frank"]).get(f"/api/v1/changes/{change.pk}/slots/?count=1").json()
    assert slots["timeline_minutes"] == covered
    assert datetime.fromisoformat(slots["slots"][0]["end"]) - datetime.fromisoformat(
        slots["slots"][0]["start"]
    ) == timedelta(minutes=covered)
    r = post_schedule(api, people["frank"], change, at(10))
    assert r.status_code == 200, r.content
    change.refresh_from_db()
    assert change.planned_end == at(10) + timedelta(minutes=covered)
    assert CalendarInvite.objects.get(change=change).end == change.planned_end  # the invite's DTEND
    client.force_login(people["alice"])
    assert f"{covered} min: " in client.get(f"/changes/{change.pk}/").content.decode()


def test_a_window_with_room_for_the_deployment_but_not_its_rollback_refuses_it(api, approved_on, people, windows):
    change = approved_on("api", rollback_minutes=20)  # 10 min of step timeouts + 20 min = 30 min
    r = post_schedule(api, people["frank"], change, at(21, 40))  # the daytime window closes at 22:00
    assert r.status_code == 409 and "runs 10 min past the end of 'Daytime'" in r.json()["detail"]
    assert post_schedule(api, people["frank"], change, at(21, 30)).status_code == 200


def test_a_booking_made_short_is_rechecked_for_its_whole_timeline(approved_on, people, windows, board):
    change = book(approved_on("api", rollback_minutes=20), at(10), people["frank"])
    ChangeRequest.objects.filter(pk=change.pk).update(planned_end=at(10, 10))  # as booked before rollback counted
    freeze(people["erin"], start=at(10, 20), end=at(11), board=board, name="Rollback time")
    assert [p["rule"] for p in ChangeRequest.objects.get(pk=change.pk).schedule_problems] == ["freeze"]
