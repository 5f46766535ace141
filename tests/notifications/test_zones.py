"""Mail is written in each reader's zone: the one their browser reported while they used ccb (recorded
on their Preference), named; UTC, named, for people whose zone is unknown."""

import datetime as dt

import pytest

from notifications import services
from notifications.models import OutboxMessage, Preference

pytestmark = pytest.mark.django_db

SLOT = (dt.datetime(2026, 12, 3, 22, 0, tzinfo=dt.UTC), dt.datetime(2026, 12, 3, 23, 30, tzinfo=dt.UTC))


def test_browsing_records_the_zone_the_browser_reports(client, people):
    client.force_login(people["frank"])
    client.cookies["tz"] = "Europe/Berlin"
    client.get("/")
    assert Preference.objects.get(user=people["frank"]).time_zone == "Europe/Berlin"
    client.cookies["tz"] = "Asia/Tokyo"
    client.get("/")
    assert Preference.objects.get(user=people["frank"]).time_zone == "Asia/Tokyo"
    client.cookies["tz"] = "../../etc/passwd"
    client.get("/")
    assert Preference.objects.get(user=people["frank"]).time_zone == "Asia/Tokyo"


def test_an_invite_mail_is_written_in_each_readers_zone(client, submitted, people):
    client.force_login(people["frank"])
    client.cookies["tz"] = "Europe/Berlin"
    client.get("/")
    services.notify(
        event="scheduled",
        change_id=submitted.pk,
        user_ids=[people["frank"].pk, people["bob"].pk],
        context={"reference": submitted.reference, "title": submitted.title, "start": SLOT[0], "end": SLOT[1]},
        calendar={"start": SLOT[0], "end": SLOT[1], "summary": "CHG window"},
    )
    mail = {m.user_id: m for m in OutboxMessage.objects.filter(event="scheduled")}
    frank, bob = mail[people["frank"].pk], mail[people["bob"].pk]
    assert frank.subject == f"[{submitted.reference}] Scheduled Thu 3 Dec 2026, 23:00 CET: {submitted.title}"
    assert "When: Thu 3 Dec 2026, 23:00 – Fri 4 Dec 2026, 00:30 CET" in frank.body_text
    assert "23:00 – Fri 4 Dec 2026, 00:30 CET" in frank.body_html and "UTC" not in frank.body_text
    assert bob.subject == f"[{submitted.reference}] Scheduled Thu 3 Dec 2026, 22:00 UTC: {submitted.title}"
    assert "When: Thu 3 Dec 2026, 22:00 – 23:30 UTC" in bob.body_text
    assert "DTSTART:20261203T220000Z" in frank.attachments[0]["content"]  # the invite carries the instant


def test_what_no_longer_fits_is_written_in_each_readers_zone(client, submitted, people):
    client.force_login(people["frank"])
    client.cookies["tz"] = "America/New_York"
    client.get("/")
    problem = {
        "message": "The timeline Thu 03 Dec 2026 22:00–23:30 UTC overlaps the freeze 'Peak'.",
        "pieces": [
            "The timeline ",
            {"start": SLOT[0].isoformat(), "end": SLOT[1].isoformat()},
            " overlaps the freeze 'Peak'.",
        ],
    }
    services.notify(
        event="schedule_conflict",
        change_id=submitted.pk,
        user_ids=[people["frank"].pk, people["bob"].pk],
        context={"reference": submitted.reference, "title": submitted.title, "problems": [problem, "Plain text."]},
    )
    mail = {m.user_id: m for m in OutboxMessage.objects.filter(event="schedule_conflict")}
    assert (
        "The timeline Thu 3 Dec 2026, 17:00–18:30 EST overlaps the freeze 'Peak'." in mail[people["frank"].pk].body_text
    )
    assert (
        "The timeline Thu 3 Dec 2026, 22:00–23:30 UTC overlaps the freeze 'Peak'." in mail[people["bob"].pk].body_text
    )
    assert "Plain text." in mail[people["bob"].pk].body_text
