"""ccb's services tell people what happened, through a real SMTP server: who hears of what."""

from ccb import services
from ccb.notification_sources import board_member_ids
from notifications import registry


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
    smtp.wait_for(7)  # on the agenda: four board members; vote needed: the three who have not voted
    asked = [m for m in smtp.messages if "vote" in m.subject.lower() and "agenda" not in m.subject.lower()]
    assert sorted(a for m in asked for a in m.rcpt_tos) == ["carol@example.com", "dave@example.com", "erin@example.com"]

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
