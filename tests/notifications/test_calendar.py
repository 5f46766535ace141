"""Scheduling mail carries an .ics: an invite, an updated invite when the slot moves, a cancellation
when it is withdrawn; all with one UID and a growing SEQUENCE, read back with icalendar."""

import datetime as dt

import icalendar
import pytest
from django.db import transaction

from notifications import services

pytestmark = pytest.mark.django_db

SLOT = (dt.datetime(2026, 12, 3, 22, 0, tzinfo=dt.UTC), dt.datetime(2026, 12, 3, 23, 30, tzinfo=dt.UTC))
MOVED = (dt.datetime(2026, 12, 5, 21, 0, tzinfo=dt.UTC), dt.datetime(2026, 12, 5, 22, 0, tzinfo=dt.UTC))


def send(event, change, people, django_capture_on_commit_callbacks, calendar, **context):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        services.notify(
            event=event,
            change_id=change.pk,
            user_ids=[people["frank"].pk],
            calendar=calendar,
            context={"reference": change.reference, "title": change.title, **context},
        )


def invite(received) -> tuple[icalendar.Calendar, icalendar.Event, str]:
    """The .ics file, parsed; and the inline text/calendar part's type, which must carry the same."""
    (part,) = [a for a in received.attachments() if a.get_filename() == "invite.ics"]
    assert part.get_content_type() == "application/ics"
    calendar = icalendar.Calendar.from_ical(part.get_content())
    (event,) = calendar.walk("VEVENT")
    inline = received.message.get_body(preferencelist=("calendar",))
    assert icalendar.Calendar.from_ical(inline.get_content()).to_ical() == calendar.to_ical()
    return calendar, event, inline.get_content_type() + "; method=" + inline.get_param("method")


def test_schedule_move_and_withdraw_send_request_update_and_cancel(
    submitted, people, smtp, eager_celery, django_capture_on_commit_callbacks
):
    change, capture = submitted, django_capture_on_commit_callbacks
    send(
        "scheduled",
        change,
        people,
        capture,
        {"start": SLOT[0], "end": SLOT[1], "summary": "CHG window", "description": "Canary of the fraud model"},
    )
    send(
        "rescheduled",
        change,
        people,
        capture,
        {"start": MOVED[0].isoformat(), "end": MOVED[1].isoformat()},
        previous_start=SLOT[0],
        previous_end=SLOT[1],
        reason="Clashes with the payments freeze",
    )
    send("unscheduled", change, people, capture, {}, reason="Withdrawn by the requester")

    first, moved, cancelled = smtp.wait_for(3)
    assert all(m.rcpt_tos == ["frank@example.com"] for m in (first, moved, cancelled))

    cal, event, content_type = invite(first)
    assert content_type == "text/calendar; method=REQUEST" and str(cal["method"]) == "REQUEST"
    uid = str(event["uid"])
    assert uid == f"ccb-change-{change.pk}-slot@127.0.0.1"
    assert event.decoded("dtstart") == SLOT[0] and event.decoded("dtend") == SLOT[1]
    assert int(event["sequence"]) == 0 and str(event["status"]) == "CONFIRMED"
    assert str(event["summary"]) == "CHG window" and str(event["attendee"]) == "mailto:frank@example.com"
    assert str(event["organizer"]) == "mailto:ccb@localhost"
    assert str(event["url"]) == f"http://127.0.0.1:8000/changes/{change.pk}/"
    assert "Thu 3 Dec 2026, 22:00 – 23:30 UTC" in first.text and "invite.ics" in first.text

    cal, event, _ = invite(moved)
    assert str(cal["method"]) == "REQUEST" and str(event["uid"]) == uid and int(event["sequence"]) == 1
    assert event.decoded("dtstart") == MOVED[0] and str(event["summary"]) == "CHG window"
    assert "Now:    Sat 5 Dec 2026, 21:00 – 22:00 UTC" in moved.text
    assert "Before: Thu 3 Dec 2026, 22:00 – 23:30 UTC" in moved.text and "payments freeze" in moved.text
    assert moved.subject == f"[{change.reference}] Moved to Sat 5 Dec 2026, 21:00 UTC: Enable fraud model v3"

    cal, event, content_type = invite(cancelled)
    assert content_type == "text/calendar; method=CANCEL" and str(cal["method"]) == "CANCEL"
    assert str(event["uid"]) == uid and int(event["sequence"]) == 2 and str(event["status"]) == "CANCELLED"
    assert event.decoded("dtstart") == MOVED[0]  # the slot it cancels
    assert "removes it from your calendar" in cancelled.text


def test_a_sequence_from_the_caller_is_kept_when_higher_and_never_goes_back(submitted, people):
    from notifications.models import CalendarInvite

    calendar = {"uid": "slot-42@ccb", "start": SLOT[0], "end": SLOT[1], "sequence": 5}
    services.notify(event="scheduled", change_id=submitted.pk, user_ids=[people["frank"].pk], calendar=calendar)
    services.notify(
        event="rescheduled", change_id=submitted.pk, user_ids=[people["frank"].pk], calendar={**calendar, "sequence": 1}
    )
    assert CalendarInvite.objects.get(uid="slot-42@ccb").sequence == 6


def test_a_first_invite_needs_its_slot(submitted, people):
    with pytest.raises(ValueError, match="start and end"):
        services.notify(
            event="scheduled", change_id=submitted.pk, user_ids=[people["frank"].pk], calendar={"summary": "no times"}
        )


def test_an_invite_folds_long_text_at_75_octets_without_splitting_a_character_or_an_escape(submitted, people):
    from notifications import invites

    from .folding import HOSTILE_TEXT, assert_folded_well, unfolded_value

    slot = invites.Slot(
        uid="slot-7@ccb",
        sequence=0,
        method="REQUEST",
        start=SLOT[0],
        end=SLOT[1],
        summary="Откат \\\\ схемы; шаг, второй " * 3,
        description=HOSTILE_TEXT,
        url="http://127.0.0.1:8000/changes/7/",
    )
    data = invites.build_ics(slot, attendee="frank@example.com").encode()
    assert_folded_well(data)
    assert unfolded_value(data, "VEVENT", "description") == HOSTILE_TEXT
    assert unfolded_value(data, "VEVENT", "summary") == slot.summary
