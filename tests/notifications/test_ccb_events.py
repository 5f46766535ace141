"""ccb's services tell people what happened, through a real SMTP server: who hears of what."""

from ccb import services
from ccb.notification_sources import board_member_ids
from notifications import registry
from notifications.models import OutboxMessage


def run(django_capture_on_commit_callbacks, func, **kwargs):
    with django_capture_on_commit_callbacks(execute=True):
        return func(**kwargs)


def addresses(inbox):
    return sorted({address for message in inbox.messages for address in message.rcpt_tos})


def test_submit_vote_and_decision_reach_the_right_people(
    make_change, people, smtp, eager_celery, django_capture_on_commit_callbacks
):
    registry.register_board_members_source(board_member_ids)
    change = make_change()
    run(django_capture_on_commit_callbacks, services.change_request_submit, change_id=change.pk, actor=people["alice"])
    submitted = smtp.wait_for(6)
    assert {m.subject for m in submitted} == {m.subject for m in submitted[:1]}
    assert change.reference in submitted[0].subject and "submitted" in submitted[0].subject.lower()
    assert addresses(smtp) == sorted(f"{n}@example.com" for n in ("alice", "bob", "carol", "dave", "erin", "frank"))
    assert f"/changes/{change.pk}/" in submitted[0].text and f"/changes/{change.pk}/" in submitted[0].html

    smtp.messages.clear()
    run(
        django_capture_on_commit_callbacks,
        services.vote_cast,
        change_id=change.pk,
        voter=people["bob"],
        decision="approve",
    )
    # One act, one message each: the three who have not voted are asked for their vote (which says the
    # change is on the agenda); bob, whose vote put it there, is not told of his own act.
    queued = OutboxMessage.objects.filter(change_id=change.pk, event__in=["on_agenda", "vote_needed"])
    assert sorted((m.to[0], m.event) for m in queued) == [
        ("carol@example.com", "vote_needed"),
        ("dave@example.com", "vote_needed"),
        ("erin@example.com", "vote_needed"),
    ]
    smtp.wait_for(3)
    assert sorted(a for m in smtp.messages for a in m.rcpt_tos) == [
        "carol@example.com",
        "dave@example.com",
        "erin@example.com",
    ]

    smtp.messages.clear()
    run(
        django_capture_on_commit_callbacks,
        services.vote_cast,
        change_id=change.pk,
        voter=people["carol"],
        decision="approve",
        conditions=["Page the on-call first"],
    )
    smtp.wait_for(1)
    to_alice = smtp.to("alice@example.com")
    assert to_alice and "approved with conditions" in to_alice[0].subject.lower()
    assert "Page the on-call first" in to_alice[0].text and "Page the on-call first" in to_alice[0].html


def test_withdrawing_a_draft_tells_the_requester_and_implementer(
    make_change, people, smtp, eager_celery, django_capture_on_commit_callbacks
):
    change = make_change()
    run(
        django_capture_on_commit_callbacks,
        services.change_request_withdraw,
        change_id=change.pk,
        actor=people["alice"],
        reason="Superseded by CHG-9",
    )
    smtp.wait_for(2)
    assert addresses(smtp) == ["alice@example.com", "frank@example.com"]
    assert "Superseded by CHG-9" in smtp.messages[0].text


def test_a_board_subscriber_who_does_not_vote_hears_once_that_it_is_on_the_agenda(
    make_change, people, django_capture_on_commit_callbacks
):
    from notifications import services as notifications

    registry.register_board_members_source(board_member_ids)
    change = make_change()
    services.change_request_submit(change_id=change.pk, actor=people["alice"])
    notifications.subscription_save(target="board", target_id=change.board_id, user_id=people["quinn"].pk)
    run(
        django_capture_on_commit_callbacks,
        services.change_request_start_review,
        change_id=change.pk,
        actor=people["erin"],
    )
    queued = OutboxMessage.objects.filter(change_id=change.pk, event__in=["on_agenda", "vote_needed"])
    assert sorted((m.to[0], m.event) for m in queued) == [
        ("bob@example.com", "vote_needed"),
        ("carol@example.com", "vote_needed"),
        ("dave@example.com", "vote_needed"),
        ("quinn@example.com", "on_agenda"),
    ]
