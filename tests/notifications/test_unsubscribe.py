"""One-click unsubscribe from a signed link, and the preferences page behind it."""

import pytest
from django.test import Client
from django.urls import reverse

from notifications import services, tokens
from notifications.delivery import outbox_send
from notifications.models import OutboxMessage, Preference, Subscription
from notifications.tokens import Person

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.notifications.urls")]
CONTEXT = {"reference": "CHG-000003", "title": "Resize the cache"}


def path_of(url: str) -> str:
    assert url.startswith("http://127.0.0.1:8000/")
    return url.removeprefix("http://127.0.0.1:8000")


def recipients(event, **kwargs) -> list[str]:
    ids = services.notify(event=event, context=CONTEXT, **kwargs)
    return sorted(a for row in OutboxMessage.objects.filter(pk__in=ids) for a in row.to)


def test_the_link_in_a_received_email_unsubscribes_from_that_event_only(people, smtp):
    bob = people["bob"]
    (outbox_id,) = services.notify(event="completed", user_ids=[bob.pk], context=CONTEXT)
    outbox_send(outbox_id=outbox_id)
    (received,) = smtp.wait_for(1)
    link = received.message["List-Unsubscribe"].strip().strip("<>")
    assert link in received.text and f'href="{link}"' in received.html

    page = Client().get(path_of(link))  # link checkers and previews GET every URL: that only asks
    assert page.status_code == 200 and "A change was completed" in page.text
    assert recipients("completed", user_ids=[bob.pk]) == ["bob@example.com"]

    done = Client().post(path_of(link), {"scope": "event"})
    assert done.status_code == 200 and "no more emails about" in done.text
    assert recipients("completed", user_ids=[bob.pk]) == []
    assert recipients("failed", user_ids=[bob.pk]) == ["bob@example.com"]


def test_mail_clients_one_click_post_works_without_a_session_or_csrf_token(people):
    """RFC 8058: the client POSTs List-Unsubscribe=One-Click to the link itself."""
    link = tokens.unsubscribe_url(Person(user_id=None, email="customer@example.org"), "customer_notification")
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        path_of(link), "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200
    assert Preference.objects.get(email="customer@example.org").muted_events == ["customer_notification"]
    assert recipients("customer_notification", emails=["Customer@Example.org"]) == []


def test_stop_everything(people):
    link = tokens.unsubscribe_url(Person(user_id=people["carol"].pk, email=""), "decision")
    assert Client().post(path_of(link), {"scope": "all"}).status_code == 200
    assert Preference.objects.get(user=people["carol"]).all_off
    assert recipients("closed", user_ids=[people["carol"].pk]) == []


def test_a_forged_or_truncated_link_changes_nothing(people):
    good = path_of(tokens.unsubscribe_url(Person(user_id=people["bob"].pk, email=""), "decision"))
    forged = good.replace("dTo", "dTp", 1)  # the payload names someone else; the signature no longer fits
    for path in (forged, good[:-12] + "/", "/notifications/unsubscribe/nonsense/"):
        assert Client().post(path, {"scope": "all"}).status_code == 400
        assert Client().get(path).status_code == 400
    assert not Preference.objects.exists()


def test_the_digest_link_turns_the_digest_off(people):
    bob = Person(user_id=people["bob"].pk, email="")
    services.preference_save(person=bob, digest=True)
    Client().post(path_of(tokens.unsubscribe_url(bob, "digest")), {"scope": "event"})
    preference = Preference.objects.get(user=people["bob"])
    assert preference.digest is False and preference.muted_events == [] and not preference.all_off


def test_the_preferences_page_lets_a_person_choose_their_events_and_the_digest(people):
    dave = Person(user_id=people["dave"].pk, email="")
    path = path_of(tokens.preferences_url(dave))
    client = Client()
    page = client.get(path)
    assert page.status_code == 200
    assert page.text.count('name="events"') == page.text.count(" checked") == 17  # every event on at first
    wanted = ["vote_needed", "decision", "scheduled"]
    response = client.post(path, {"events": wanted, "digest": "on"})
    assert response.status_code == 302 and response["Location"] == path
    preference = Preference.objects.get(user=people["dave"])
    assert preference.digest and not preference.all_off
    assert set(preference.muted_events) == {
        "submitted",
        "on_agenda",
        "rescheduled",
        "unscheduled",
        "schedule_conflict",
        "deployment_started",
        "gate_waiting",
        "deployment_progress",
        "completed",
        "rolled_back",
        "failed",
        "closed",
        "withdrawn",
        "customer_notification",
    }
    assert recipients("submitted", user_ids=[people["dave"].pk]) == []
    assert recipients("vote_needed", user_ids=[people["dave"].pk]) == ["dave@example.com"]


def test_people_without_an_account_get_no_digest_choice_and_can_stop_following(people, service_map):
    person = Person(user_id=None, email="ops@example.org")
    subscription = services.subscription_save(
        target="service", target_id=service_map["api"].pk, email="ops@example.org"
    )
    path = path_of(tokens.preferences_url(person))
    page = Client().get(path)
    assert "daily digest" not in page.text and "Service API" in page.text

    other = services.subscription_save(target="service", target_id=service_map["api"].pk, email="x@example.org")
    Client().post(path, {"unfollow": str(other.pk)})  # not theirs: untouched
    Client().post(path, {"unfollow": str(subscription.pk)})
    assert list(Subscription.objects.values_list("pk", flat=True)) == [other.pk]


def test_signed_in_people_reach_their_own_preferences(people):
    client = Client()
    assert client.get(reverse("notifications:my-preferences")).status_code == 302  # to the login page
    client.force_login(people["erin"])
    response = client.get(reverse("notifications:my-preferences"))
    assert response.status_code == 302
    assert response["Location"] == path_of(tokens.preferences_url(Person(user_id=people["erin"].pk, email="")))
