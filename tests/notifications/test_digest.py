"""The daily digest: each opted-in member gets one email listing the changes awaiting their vote."""

import pytest

from ccb import services as ccb_services
from notifications import registry, services
from notifications.celery_config import BEAT_SCHEDULE, TASK_ROUTES
from notifications.models import OutboxMessage
from notifications.tasks import daily_digest
from notifications.tokens import Person

from . import ccb_hooks

pytestmark = pytest.mark.django_db


def opt_in(people, *names):
    for name in names:
        services.preference_save(person=Person(user_id=people[name].pk, email=""), digest=True)


def test_members_get_the_changes_awaiting_their_vote_once_a_day(
    submitted, make_change, people, smtp, eager_celery, django_capture_on_commit_callbacks
):
    registry.register_digest_source(ccb_hooks.changes_awaiting_vote)
    other = ccb_services.change_request_submit(
        change_id=make_change(title="Rotate the <DB> password").pk, actor=people["alice"]
    )
    opt_in(people, "bob", "carol", "alice", "frank")  # dave did not ask for it
    ccb_services.vote_cast(change_id=submitted.pk, voter=people["carol"], decision="approve")

    with django_capture_on_commit_callbacks(execute=True):
        assert daily_digest.apply().get() == 2
    by_person = {m.rcpt_tos[0]: m for m in smtp.wait_for(2)}
    # alice requested both and frank implements both: neither may vote; dave did not opt in.
    assert set(by_person) == {"bob@example.com", "carol@example.com"}

    bob = by_person["bob@example.com"]
    assert bob.subject == "2 changes awaiting your vote"
    for change in (submitted, other):
        url = f"http://127.0.0.1:8000/changes/{change.pk}/"
        assert f"{change.reference} {change.title}" in bob.text and url in bob.text and f'href="{url}"' in bob.html
    assert "Rotate the &lt;DB&gt; password" in bob.html and "Production CCB" in bob.text
    carol = by_person["carol@example.com"]  # she already voted on the first
    assert carol.subject == "1 change awaiting your vote" and submitted.reference not in carol.text

    with django_capture_on_commit_callbacks(execute=True):
        assert daily_digest.apply().get() == 0  # beat fired twice, or a rerun: nobody gets a second one
    assert OutboxMessage.objects.filter(event="digest").count() == 2


def test_without_a_registered_source_no_digest_is_sent(people, caplog):
    opt_in(people, "bob")
    assert daily_digest.apply().get() == 0
    assert "no digest source registered" in caplog.text


def test_nobody_with_nothing_to_vote_on_gets_a_digest(board, people):
    registry.register_digest_source(ccb_hooks.changes_awaiting_vote)
    opt_in(people, "bob")
    assert daily_digest.apply().get() == 0


def test_beat_runs_the_digest_and_the_sweep_on_the_notifications_queue():
    from ccb.celery import app

    entries = {entry["task"]: entry for entry in BEAT_SCHEDULE.values()}
    assert set(entries) == {"notifications.daily_digest", "notifications.sweep_outbox"}
    assert all(entry["options"]["queue"] == "notifications" for entry in entries.values())
    assert {"notifications.daily_digest", "notifications.sweep_outbox", "notifications.send_message"} <= set(app.tasks)
    assert TASK_ROUTES == {"notifications.*": {"queue": "notifications"}}


def test_the_board_members_source_names_members_and_chair(board, people):
    ids = set(ccb_hooks.board_member_ids(board.pk))
    assert ids == {people[name].pk for name in ("bob", "carol", "dave", "erin")}
    assert ccb_hooks.board_member_ids(board.pk + 999) == []
