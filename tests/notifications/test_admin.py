"""Admins see failed and uncertain messages, retry them, and edit subscriptions and preferences."""

import pytest

from notifications import delivery, services
from notifications.models import OutboxMessage, OutboxStatus, Preference, Subscription

pytestmark = pytest.mark.django_db
S = OutboxStatus


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def failed_message(smtp) -> OutboxMessage:
    smtp.rcpt_reply = "550 5.1.1 Mailbox unavailable"
    (outbox_id,) = services.notify(
        event="closed", emails=["gone@example.org"], context={"reference": "CHG-000005", "title": "Old change"}
    )
    delivery.outbox_send(outbox_id=outbox_id)
    return OutboxMessage.objects.get(pk=outbox_id)


def test_failed_messages_are_listed_with_their_error_and_cannot_be_edited(admin_client, smtp):
    row = failed_message(smtp)
    listing = admin_client.get("/admin/notifications/outboxmessage/", {"status__exact": "failed"})
    assert listing.status_code == 200
    assert "gone@example.org" in listing.text and "Mailbox unavailable" in listing.text and "Failed" in listing.text
    assert "gone@example.org" in admin_client.get("/admin/notifications/outboxmessage/", {"q": "gone@"}).text
    assert (
        "gone@example.org"
        not in admin_client.get("/admin/notifications/outboxmessage/", {"status__exact": "sent"}).text
    )

    page = admin_client.get(f"/admin/notifications/outboxmessage/{row.pk}/change/")
    assert page.status_code == 200 and "Mailbox unavailable" in page.text and 'name="_save"' not in page.text
    assert admin_client.post(f"/admin/notifications/outboxmessage/{row.pk}/change/", {}).status_code == 403
    assert admin_client.get("/admin/notifications/outboxmessage/add/").status_code == 403


def test_the_retry_action_queues_failed_messages_again_and_they_are_sent(
    admin_client, smtp, eager_celery, django_capture_on_commit_callbacks
):
    row = failed_message(smtp)
    sent = OutboxMessage.objects.get(
        pk=services.notify(event="closed", emails=["ok@example.org"], context={"title": "x"})[0]
    )
    smtp.rcpt_reply = None
    delivery.outbox_send(outbox_id=sent.pk)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/notifications/outboxmessage/",
            {"action": "retry", "_selected_action": [row.pk, sent.pk]},
            follow=True,
        )
    assert "Queued 1 message(s) again. Left 1 sent or sending message(s) alone." in response.text
    row.refresh_from_db()
    assert row.status == S.SENT
    assert sorted(m.rcpt_tos[0] for m in smtp.wait_for(2)) == ["gone@example.org", "ok@example.org"]


def test_subscriptions_are_added_and_edited_in_the_admin(admin_client, service_map, people):
    api = service_map["api"]
    response = admin_client.post(
        "/admin/notifications/subscription/add/",
        {
            "email": "Stakeholder@Example.org",
            "service": api.pk,
            "events": ["scheduled", "completed"],
            "active": "on",
        },
    )
    assert response.status_code == 302, response.text
    subscription = Subscription.objects.get()
    assert (subscription.email, subscription.service_id, subscription.events) == (
        "stakeholder@example.org",
        api.pk,
        ["completed", "scheduled"],
    )

    response = admin_client.post(
        f"/admin/notifications/subscription/{subscription.pk}/change/",
        {"email": "stakeholder@example.org", "service": api.pk, "events": [], "active": "on"},
    )
    assert response.status_code == 302
    assert Subscription.objects.get().events == []

    both = admin_client.post(
        "/admin/notifications/subscription/add/",
        {"user": people["bob"].pk, "email": "bob@example.org", "service": api.pk, "board": api.board_id},
    )
    assert both.status_code == 200 and Subscription.objects.count() == 1  # one person, one target: refused


def test_preferences_are_edited_in_the_admin(admin_client, people):
    response = admin_client.post(
        "/admin/notifications/preference/add/",
        {"user": people["bob"].pk, "muted_events": ["submitted"], "digest": "on"},
    )
    assert response.status_code == 302, response.text
    preference = Preference.objects.get(user=people["bob"])
    assert preference.muted_events == ["submitted"] and preference.digest
