"""notify: a runbook step that tells people how the run is going, through notifications.notify() with
the deployment_progress event, once per step run."""

import pytest
from django.db import transaction

from deployments.steps import Result
from notifications import services as notifications
from notifications.models import OutboxMessage

from .driver import Driver


def engine_notify(change, calls):
    """What the engine hands the step as ctx.services["notify"]: the audience resolved for the change."""

    def notify(*, event, audience, emails, message, context, key):
        calls.append(key)
        return notifications.notify(
            event=event,
            change_id=change.pk if "change" in audience else None,
            board_id=change.board_id if "board" in audience else None,
            service_ids=[s.pk for s in change.services.all()] if "services" in audience else (),
            emails=emails,
            context={"reference": change.reference, "title": change.title, **context},
        )

    return notify


def step(change, calls, **params):
    return Driver(
        "notify",
        {"message": "Canary at 10%: error rate normal.", "emails": ["ops@example.com"], **params},
        services={"notify": engine_notify(change, calls)},
        labels={"change": change.reference, "stage": "Canary 10%", "step": "Tell support"},
    )


@pytest.mark.django_db
def test_the_message_reaches_the_change_s_people_and_the_addresses_given(make_change, people):
    change, calls = make_change(), []
    notifications.subscription_save(target="change", target_id=change.pk, user_id=people["frank"].pk)
    driver = step(change, calls)
    assert (
        driver.plan().summary == "Tell change, ops@example.com (deployment_progress): Canary at 10%: error rate normal."
    )
    outcome = driver.run()
    assert outcome.result is Result.DONE
    rows = list(OutboxMessage.objects.filter(event="deployment_progress"))
    assert sorted(r.to[0] for r in rows) == [people["frank"].email, "ops@example.com"]
    assert outcome.evidence["count"] == 2 and sorted(outcome.evidence["outbox_ids"]) == sorted(r.pk for r in rows)
    ops = next(r for r in rows if r.to == ["ops@example.com"])
    assert ops.subject == f"[{change.reference}] Deployment progress (Canary 10%): {change.title}"
    assert "Canary at 10%: error rate normal." in ops.body_text and 'step "Tell support"' in ops.body_text
    assert driver.run().message == "Already sent to 2 recipient(s)."
    assert calls == ["run-1-step-1"]


@pytest.mark.django_db(transaction=True)
def test_a_worker_dying_before_the_engine_commits_sends_nothing_twice(make_change):
    """The engine calls notify inside the transaction that keeps the step's state: a crash undoes both."""
    change, calls = make_change(), []
    driver = step(change, calls, audience=[])
    with pytest.raises(RuntimeError), transaction.atomic():
        driver.call("execute", lose_state=True)
        raise RuntimeError("worker died before the commit")
    assert OutboxMessage.objects.filter(event="deployment_progress").count() == 0
    with transaction.atomic():
        assert driver.call("execute").result is Result.DONE
    assert driver.call("execute").result is Result.DONE
    assert OutboxMessage.objects.filter(event="deployment_progress").count() == 1 and len(calls) == 2


def test_without_a_way_to_send_the_step_fails_saying_so():
    driver = Driver("notify", {"message": "hello"})
    assert driver.run().message == "No way to send notifications was given to the step."
