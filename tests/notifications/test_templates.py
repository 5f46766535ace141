"""Every event's templates render for plain-text and HTML readers, with a link to the change."""

import datetime as dt

import pytest

from notifications import rendering
from notifications.events import EXTERNAL_EVENTS, Event
from notifications.recipients import Recipient

CONTEXT = {
    "reference": "CHG-000042",
    "title": "Rotate <TLS> keys & certs",
    "board": "Production CCB",
    "actor": "alice",
    "summary": "Line one\nLine two",
    "risk_level": "High",
    "environment": "production",
    "services": ["API", "DB"],
    "outcome": "approved",
    "outcome_label": "Approved",
    "rationale": "Quorum met.",
    "conditions": ["Backup first"],
    "start": dt.datetime(2026, 12, 1, 22, 0, tzinfo=dt.UTC),
    "end": dt.datetime(2026, 12, 1, 23, 0, tzinfo=dt.UTC),
    "previous_start": "2026-11-30T22:00:00Z",
    "previous_end": "2026-11-30T23:00:00Z",
    "reason": "Freeze",
    "question": "Error rate under 1%?",
    "stage": "Canary",
    "role": "implementer",
    "notes": "All green.",
    "error": "Timeout",
    "review": "Went well.",
    "subject": "Maintenance on Tuesday",
    "body": "We will <upgrade>.",
    "quorum": "2 of 3 approvals",
    "other_reference": "CHG-000041",
}
EVENTS = [e for e in Event.values if e != Event.DIGEST]


@pytest.mark.parametrize("event", EVENTS)
def test_every_event_renders_subject_text_and_html(event):
    recipient = Recipient(email="bob@example.com", user_id=7, name="Bob")
    out = rendering.render(event=event, recipient=recipient, context=CONTEXT, change_id=42)
    url = "http://127.0.0.1:8000/changes/42/"
    assert out.subject and "\n" not in out.subject and "{" not in out.subject
    assert "&amp;" not in out.subject + out.text and "&lt;" not in out.subject + out.text  # plain text is not escaped
    assert "{{" not in out.text + out.html and "{%" not in out.text + out.html
    assert "/notifications/unsubscribe/" in out.text and "/notifications/unsubscribe/" in out.html
    assert out.html.startswith("<!doctype html>") and "<TLS>" not in out.html and "<upgrade>" not in out.html
    if event in EXTERNAL_EVENTS:  # customers get the notice, not links into ccb they cannot open
        assert "/changes/" not in out.text + out.html and "We will <upgrade>." in out.text
    else:
        assert url in out.text and f'href="{url}"' in out.html
        assert "CHG-000042" in out.subject and "Rotate <TLS> keys & certs" in out.subject + out.text


@pytest.mark.parametrize("event", EVENTS)
def test_every_event_renders_with_only_the_basics(event):
    out = rendering.render(
        event=event,
        recipient=Recipient(email="x@example.org"),
        context={"reference": "CHG-000001", "title": "T"},
        change_id=1,
    )
    assert out.subject and out.text.strip() and "None" not in out.text


def test_times_are_shown_in_utc_whoever_caused_the_event():
    from django.utils import timezone

    with timezone.override("America/New_York"):
        out = rendering.render(
            event="scheduled", recipient=Recipient(email="x@example.org"), context=CONTEXT, change_id=42
        )
    assert "Tue 1 Dec 2026, 22:00 – 23:00 UTC" in out.text


def test_the_context_ccb_scheduling_sends_reads_well():
    """ccb.services.booking / windows pass the slot as planned_start/planned_end ISO text."""
    base = {
        "reference": "CHG-000042",
        "title": "Rotate keys",
        "planned_start": "2026-12-01T22:00:00+00:00",
        "planned_end": "2026-12-02T00:30:00+00:00",
    }
    recipient = Recipient(email="x@example.org")
    scheduled = rendering.render(
        event="scheduled", recipient=recipient, change_id=42, context={**base, "override_reason": "Security fix"}
    )
    assert "When: Tue 1 Dec 2026, 22:00 – Wed 2 Dec 2026, 00:30 UTC" in scheduled.text
    assert "Scheduled by the chair's override: Security fix" in scheduled.text
    assert scheduled.subject == "[CHG-000042] Scheduled Tue 1 Dec 2026, 22:00 UTC: Rotate keys"
    conflict = rendering.render(
        event="schedule_conflict",
        recipient=recipient,
        change_id=42,
        context={**base, "problems": ["Overlaps CHG-000040 on API", "Inside a freeze"]},
    )
    assert "  - Overlaps CHG-000040 on API\n  - Inside a freeze" in conflict.text
    assert '<li style="margin:0 0 4px;">Inside a freeze</li>' in conflict.html
