"""Sending: retries of transient SMTP failures, permanent failures recorded, and never twice."""

import datetime as dt
import smtplib
import threading
from unittest import mock

import pytest
from django.db import connection
from django.utils import timezone

from notifications import delivery, services
from notifications.models import OutboxMessage, OutboxStatus
from notifications.tasks import send_message

pytestmark = pytest.mark.django_db
S = OutboxStatus


class WorkerDied(BaseException):
    """What a SIGKILL looks like from inside: nothing after it runs, no except clause catches it."""


def queued(to="stakeholder@example.org", event="completed") -> OutboxMessage:
    (outbox_id,) = services.notify(event=event, emails=[to], context={"reference": "CHG-000007", "title": "Patch"})
    return OutboxMessage.objects.get(pk=outbox_id)


def make_due(row: OutboxMessage) -> None:
    """Time passes until the next attempt is due."""
    OutboxMessage.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now() - dt.timedelta(seconds=1))


def expire_lease(row: OutboxMessage) -> None:
    OutboxMessage.objects.filter(pk=row.pk).update(lease_expires_at=timezone.now() - dt.timedelta(seconds=1))


def test_refused_connections_are_retried_with_backoff_until_the_server_comes_back(mail_server, settings):
    settings.NOTIFICATIONS_RETRY_BASE_SECONDS = 30
    row = queued()

    outcome = delivery.outbox_send(outbox_id=row.pk)  # nobody listens on the port yet
    row.refresh_from_db()
    assert outcome == delivery.Outcome(S.QUEUED, retry_in=30)
    assert row.status == S.QUEUED and row.attempts == 1 and row.handed_at is None
    assert row.last_error.startswith("ConnectionRefusedError")
    assert dt.timedelta(seconds=29) < row.next_attempt_at - timezone.now() <= dt.timedelta(seconds=30)

    assert delivery.outbox_send(outbox_id=row.pk).status == "early"  # a retry delivered early waits
    make_due(row)
    assert delivery.outbox_send(outbox_id=row.pk) == delivery.Outcome(S.QUEUED, retry_in=60)  # still down: 2x

    mail_server.up()
    make_due(row)
    assert delivery.outbox_send(outbox_id=row.pk).status == S.SENT
    (received,) = mail_server.inbox.wait_for(1)
    row.refresh_from_db()
    assert received.rcpt_tos == ["stakeholder@example.org"] and received.subject == "[CHG-000007] Completed: Patch"
    assert row.status == S.SENT and row.attempts == 3 and row.last_error == "" and row.sent_at is not None


def test_backoff_doubles_up_to_its_cap(settings):
    settings.NOTIFICATIONS_RETRY_BASE_SECONDS, settings.NOTIFICATIONS_RETRY_MAX_SECONDS = 30, 200
    assert [delivery.backoff_seconds(n) for n in range(1, 6)] == [30, 60, 120, 200, 200]


def test_a_4xx_reply_is_retried(smtp):
    smtp.data_reply = "451 4.3.0 Mailbox busy, try again later"
    row = queued()
    assert delivery.outbox_send(outbox_id=row.pk).status == S.QUEUED
    row.refresh_from_db()
    assert row.status == S.QUEUED and "451" in row.last_error

    smtp.data_reply = None
    make_due(row)
    assert delivery.outbox_send(outbox_id=row.pk).status == S.SENT
    assert len(smtp.wait_for(1)) == 1


def test_a_5xx_reply_fails_the_message_at_once_with_the_error(smtp):
    smtp.rcpt_reply = "550 5.1.1 No such user here"
    row = queued(to="nobody@example.org")
    assert delivery.outbox_send(outbox_id=row.pk) == delivery.Outcome(S.FAILED)
    row.refresh_from_db()
    assert row.status == S.FAILED and row.attempts == 1
    assert "SMTPRecipientsRefused" in row.last_error and "No such user here" in row.last_error
    assert delivery.outbox_send(outbox_id=row.pk).status == S.FAILED and smtp.messages == []


def test_transient_failures_give_up_after_the_attempt_budget(mail_server, settings):
    settings.NOTIFICATIONS_MAX_ATTEMPTS = 3
    row = queued()
    for _ in range(3):
        make_due(row)
        delivery.outbox_send(outbox_id=row.pk)
    row.refresh_from_db()
    assert row.status == S.FAILED and row.attempts == 3
    assert row.last_error.startswith("Gave up after 3 attempts. Last error: ConnectionRefusedError")


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (ConnectionRefusedError(), True),
        (TimeoutError(), True),
        (ConnectionResetError(), True),
        (smtplib.SMTPServerDisconnected("gone"), True),
        (smtplib.SMTPConnectError(554, "no service"), True),
        (smtplib.SMTPDataError(452, "too many"), True),
        (smtplib.SMTPDataError(554, "rejected"), False),
        (smtplib.SMTPSenderRefused(553, "bad sender", "a@b"), False),
        (smtplib.SMTPAuthenticationError(535, "bad password"), False),
        (smtplib.SMTPRecipientsRefused({"a@b": (450, b"later"), "c@d": (451, b"later")}), True),
        (smtplib.SMTPRecipientsRefused({"a@b": (450, b"later"), "c@d": (550, b"never")}), False),
        (ValueError("cannot build the message"), False),
    ],
)
def test_only_named_transient_errors_are_retried(exc, transient):
    assert delivery.is_transient(exc) is transient


def test_a_task_delivered_again_after_sending_sends_nothing(smtp):
    row = queued()
    assert send_message.apply(args=[row.pk]).get() == S.SENT
    assert send_message.apply(args=[row.pk]).get() == S.SENT  # the broker redelivers it: the row says sent
    assert len(smtp.wait_for(1)) == 1
    assert OutboxMessage.objects.get(pk=row.pk).attempts == 1


def test_a_worker_dying_after_the_server_accepted_never_causes_a_second_copy(smtp):
    row = queued()
    with mock.patch.object(delivery, "_record_sent", side_effect=WorkerDied), pytest.raises(WorkerDied):
        delivery.outbox_send(outbox_id=row.pk)  # SMTP said 250, then the process died
    (first,) = smtp.wait_for(1)
    row.refresh_from_db()
    assert row.status == S.SENDING and row.handed_at is not None

    assert send_message.apply(args=[row.pk]).get() == S.SENDING  # redelivered while the lease runs: nothing
    expire_lease(row)
    assert row.pk not in delivery.outbox_sweep()  # the lease ran out after the hand-over: not resent
    assert send_message.apply(args=[row.pk]).get() == S.UNCERTAIN
    row.refresh_from_db()
    assert row.status == S.UNCERTAIN and row.last_error.startswith("Delivery unknown")
    assert len(smtp.messages) == 1

    # An administrator who checked that it did not arrive retries it: same Message-ID, so a receiver
    # that did get the first copy can drop this one.
    assert delivery.outbox_retry(outbox_ids=[row.pk]) == [row.pk]
    assert send_message.apply(args=[row.pk]).get() == S.SENT
    second = smtp.wait_for(2)[1]
    assert second.message["Message-ID"] == first.message["Message-ID"] == row.message_id


def test_a_worker_dying_before_the_hand_over_is_retried_and_sends_once(smtp):
    row = queued()
    real_get_connection = delivery.get_connection

    def dies_on_connect(**kwargs):
        conn = real_get_connection(**kwargs)
        conn.open = mock.Mock(side_effect=WorkerDied)
        return conn

    with mock.patch.object(delivery, "get_connection", dies_on_connect), pytest.raises(WorkerDied):
        delivery.outbox_send(outbox_id=row.pk)
    row.refresh_from_db()
    assert row.status == S.SENDING and row.handed_at is None

    assert send_message.apply(args=[row.pk]).get() == S.SENDING  # redelivered early: the lease still runs
    assert smtp.messages == []
    expire_lease(row)
    assert delivery.outbox_sweep() == [row.pk]  # nothing reached SMTP: safe to send again
    assert send_message.apply(args=[row.pk]).get() == S.SENT
    assert send_message.apply(args=[row.pk]).get() == S.SENT
    assert len(smtp.wait_for(1)) == 1


def test_an_attempt_whose_lease_was_taken_over_does_not_send(smtp):
    row = queued()
    assert isinstance(delivery._claim(row.pk, "slow-worker"), OutboxMessage)
    expire_lease(row)
    delivery.outbox_sweep()  # requeued: the slow attempt never stamped handed_at
    assert delivery.outbox_send(outbox_id=row.pk).status == S.SENT  # another worker sends it
    assert delivery._mark_handed(row.pk, "slow-worker") is False  # the slow one may not go on
    assert len(smtp.wait_for(1)) == 1


def test_the_sweep_requeues_rows_the_broker_lost(settings):
    settings.NOTIFICATIONS_SWEEP_GRACE_SECONDS = 120
    row = queued()
    assert delivery.outbox_sweep() == []  # just queued: its task is on its way
    OutboxMessage.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now() - dt.timedelta(minutes=3))
    assert delivery.outbox_sweep() == [row.pk]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_racing_for_one_row_send_it_once(smtp):
    row = queued()
    barrier, outcomes = threading.Barrier(2), []

    def worker():
        try:
            barrier.wait(timeout=10)
            outcomes.append(delivery.outbox_send(outbox_id=row.pk).status)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert S.SENT in outcomes and len(outcomes) == 2
    assert sorted(outcomes)[0] in {"busy", S.SENDING, S.SENT}
    assert len(smtp.wait_for(1)) == 1
    row.refresh_from_db()
    assert row.attempts == 1
