"""notify(): who gets an event, written with the event's transaction, sent only after it commits."""

from unittest import mock

import pytest
from django.db import transaction

from notifications import registry, services
from notifications.delivery import outbox_sweep
from notifications.models import OutboxMessage, OutboxStatus
from notifications.tokens import Person

from . import ccb_hooks

pytestmark = pytest.mark.django_db


def change_context(change, **extra):
    return {"reference": change.reference, "title": change.title, "board": change.board.name, **extra}


def addresses(ids):
    return sorted(a for row in OutboxMessage.objects.filter(pk__in=ids) for a in row.to)


def test_messages_are_written_in_the_event_transaction_and_sent_only_after_commit(
    submitted, people, smtp, eager_celery, django_capture_on_commit_callbacks
):
    context = change_context(
        submitted,
        outcome="approved_with_conditions",
        outcome_label="Approved with conditions",
        rationale="2 of 2 approvals.",
        conditions=["Deploy after 22:00", "Watch <p99> & errors"],
    )
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with transaction.atomic():
            ids = services.notify(
                event="decision",
                change_id=submitted.pk,
                user_ids=[people["bob"].pk],
                emails=["Stakeholder@Example.org"],
                context=context,
            )
            assert OutboxMessage.objects.filter(pk__in=ids, status=OutboxStatus.QUEUED).count() == 2
        assert smtp.messages == []  # nothing leaves before the commit
    assert len(callbacks) == 1
    received = smtp.wait_for(2)
    assert sorted(r for m in received for r in m.rcpt_tos) == ["bob@example.com", "stakeholder@example.org"]
    bob = smtp.to("bob@example.com")[0]
    assert bob.subject == f"[{submitted.reference}] Approved with conditions: Enable fraud model v3"
    url = f"http://127.0.0.1:8000/changes/{submitted.pk}/"
    assert "Conditions of the approval:" in bob.text and "2. Watch <p99> & errors" in bob.text
    assert url in bob.text
    assert f'href="{url}"' in bob.html and "Watch &lt;p99&gt; &amp; errors</li>" in bob.html
    assert bob.message["List-Unsubscribe"].strip().startswith("<http://127.0.0.1:8000/notifications/unsubscribe/")
    assert bob.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    row = OutboxMessage.objects.get(pk__in=ids, to=["bob@example.com"])
    assert bob.message["Message-ID"] == row.message_id
    assert row.status == OutboxStatus.SENT and row.attempts == 1 and row.sent_at is not None
    assert row.event == "decision" and row.change_id == submitted.pk and row.user_id == people["bob"].pk


def test_an_event_rolled_back_leaves_no_message(submitted, people, django_capture_on_commit_callbacks):
    OutboxMessage.objects.all().delete()  # submitting the change told its requester and implementer
    with django_capture_on_commit_callbacks() as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            services.notify(
                event="submitted",
                change_id=submitted.pk,
                user_ids=[people["bob"].pk],
                context=change_context(submitted),
            )
            raise RuntimeError("the transition failed after notify()")
    assert OutboxMessage.objects.count() == 0 and callbacks == []


def test_subscribers_of_the_change_its_services_and_board_get_the_events_they_chose(submitted, people, service_map):
    api = service_map["api"]
    services.subscription_save(target="service", target_id=api.pk, email="Ops-Lead@Example.org")
    services.subscription_save(target="change", target_id=submitted.pk, user_id=people["oscar"].pk, events=["decision"])
    services.subscription_save(
        target="board", target_id=submitted.board_id, email="pmo@example.org", events=["submitted"]
    )
    scope = {
        "change_id": submitted.pk,
        "board_id": submitted.board_id,
        "service_ids": [api.pk],
        "context": change_context(submitted),
    }

    decided = services.notify(event="decision", **scope)
    filed = services.notify(event="submitted", **scope)

    assert addresses(decided) == ["ops-lead@example.org", "oscar@example.com"]
    assert addresses(filed) == ["ops-lead@example.org", "pmo@example.org"]
    # A subscriber to another service hears nothing about this change.
    services.subscription_save(target="service", target_id=service_map["customer-db"].pk, email="dba@example.org")
    assert "dba@example.org" not in addresses(services.notify(event="decision", **scope))


def test_board_members_follow_their_board_unless_they_turn_it_off(submitted, people):
    registry.register_board_members_source(ccb_hooks.board_member_ids)
    board_id = submitted.board_id

    ids = services.notify(event="on_agenda", board_id=board_id, context=change_context(submitted))
    assert addresses(ids) == ["bob@example.com", "carol@example.com", "dave@example.com", "erin@example.com"]

    services.subscription_save(target="board", target_id=board_id, user_id=people["dave"].pk, active=False)
    services.subscription_save(target="board", target_id=board_id, user_id=people["carol"].pk, events=["decision"])
    ids = services.notify(event="on_agenda", board_id=board_id, context=change_context(submitted))
    assert addresses(ids) == ["bob@example.com", "erin@example.com"]
    assert "carol@example.com" in addresses(
        services.notify(event="decision", board_id=board_id, context=change_context(submitted))
    )


def test_events_a_person_turned_off_do_not_reach_them(submitted, people):
    bob, carol = people["bob"], people["carol"]
    services.preference_save(person=Person(user_id=bob.pk, email=""), muted_events=["submitted"])
    services.preference_save(person=Person(user_id=None, email="cab@example.org"), all_off=True)
    everyone = {"user_ids": [bob.pk, carol.pk], "emails": ["CAB@example.org"], "context": change_context(submitted)}

    assert addresses(services.notify(event="submitted", change_id=submitted.pk, **everyone)) == ["carol@example.com"]
    assert addresses(services.notify(event="decision", change_id=submitted.pk, **everyone)) == [
        "bob@example.com",
        "carol@example.com",
    ]


def test_each_person_gets_one_message_however_many_ways_they_are_reached(submitted, people):
    bob = people["bob"]
    services.subscription_save(target="change", target_id=submitted.pk, user_id=bob.pk)
    ids = services.notify(
        event="completed",
        change_id=submitted.pk,
        user_ids=[bob.pk, bob.pk],
        emails=["BOB@example.com", "not an address"],
        context=change_context(submitted),
    )
    assert len(ids) == 1
    row = OutboxMessage.objects.get(pk=ids[0])
    assert row.to == ["bob@example.com"] and row.user_id == bob.pk


def test_inactive_accounts_and_accounts_without_an_address_get_nothing(submitted, people):
    people["bob"].is_active = False
    people["bob"].save()
    people["carol"].email = ""
    people["carol"].save()
    ids = services.notify(
        event="closed",
        change_id=submitted.pk,
        user_ids=[people["bob"].pk, people["carol"].pk],
        context=change_context(submitted),
    )
    assert ids == []


def test_an_unknown_event_is_refused():
    with pytest.raises(ValueError, match="unknown event"):
        services.notify(event="submited", emails=["x@example.org"])


def test_a_broker_outage_delays_mail_but_never_fails_the_event(
    submitted, people, settings, django_capture_on_commit_callbacks
):
    from notifications.tasks import send_message

    OutboxMessage.objects.all().delete()  # submitting the change told its requester and implementer
    with mock.patch.object(send_message, "apply_async", side_effect=ConnectionError("broker down")) as delay:
        with django_capture_on_commit_callbacks(execute=True):
            with transaction.atomic():
                ids = services.notify(
                    event="submitted",
                    change_id=submitted.pk,
                    user_ids=[people["bob"].pk],
                    context=change_context(submitted),
                )
    assert delay.called
    assert OutboxMessage.objects.get(pk=ids[0]).status == OutboxStatus.QUEUED
    settings.NOTIFICATIONS_SWEEP_GRACE_SECONDS = 0
    assert outbox_sweep() == ids  # the periodic sweep enqueues it again


def test_customers_of_a_service_get_its_customer_notices_and_nothing_internal(submitted, service_map):
    api = service_map["api"]
    services.subscription_save(target="service", target_id=api.pk, email="buyer@customer.example", customer=True)
    services.subscription_save(target="service", target_id=api.pk, email="owner@example.org")
    scope = {"change_id": submitted.pk, "service_ids": [api.pk]}

    notice = services.notify(
        event="customer_notification",
        **scope,
        context={"subject": "Maintenance on Tuesday", "body": "The API may be slow."},
    )
    internal = [
        services.notify(event=e, **scope, context=change_context(submitted))
        for e in ("submitted", "decision", "scheduled", "failed")
    ]

    assert addresses(notice) == ["buyer@customer.example", "owner@example.org"]
    assert all(addresses(ids) == ["owner@example.org"] for ids in internal)
    row = OutboxMessage.objects.get(pk__in=notice, to=["buyer@customer.example"])
    assert row.subject == "Maintenance on Tuesday" and "/changes/" not in row.body_text + row.body_html
    with pytest.raises(ValueError, match="customers follow services"):
        services.subscription_save(target="board", target_id=submitted.board_id, email="x@example.org", customer=True)
