"""A real Celery worker (``celery -A ccb worker -Q notifications --pool=solo``) on Redis, sending to a
real SMTP server, against the test's own PostgreSQL database."""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis
from django.db import connection, transaction

from notifications import delivery, services
from notifications.models import OutboxMessage, OutboxStatus

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = "redis://127.0.0.1:6379/14"
S = OutboxStatus


def wait(predicate, timeout=30.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class Worker:
    def __init__(self, env: dict, log: Path):
        self.log = log
        name = f"notifications-test-{uuid.uuid4().hex[:8]}@%h"
        with open(log, "wb") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "ccb",
                    "worker",
                    "-Q",
                    "notifications",
                    "--pool=solo",
                    "-n",
                    name,
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                    "--loglevel=INFO",
                ],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait(lambda: "ready." in self.output() or self.process.poll() is not None, 60, "the worker to start")
        assert self.process.poll() is None, self.output()

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no ack; the broker still holds the task it was running."""
        self.process.kill()
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # warm shutdown
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


@pytest.fixture
def broker():
    """Redis database 14, empty, as the broker of this process's Celery app and of the workers."""
    from ccb.celery import app

    redis.Redis.from_url(REDIS_URL).flushdb()
    # Celery resolves the read and write URLs from broker_url once; point all three here.
    keys = ("broker_url", "broker_read_url", "broker_write_url", "broker_transport_options")
    saved = {key: app.conf.get(key) for key in keys}
    app.conf.update(
        broker_url=REDIS_URL, broker_read_url=REDIS_URL, broker_write_url=REDIS_URL, broker_transport_options={}
    )
    _reset_connections(app)
    yield REDIS_URL
    app.conf.update(saved)
    _reset_connections(app)
    redis.Redis.from_url(REDIS_URL).flushdb()


def _reset_connections(app) -> None:
    # Forget the cached pools (kombu keeps them per broker URL, so closing one would poison it).
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def start_worker(broker, mail_server, tmp_path):
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.notifications.worker_settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "CELERY_BROKER_URL": broker,
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(mail_server.port),
        "CCB_VAR_DIR": str(tmp_path / "var"),
        "PYTHONPATH": str(ROOT),
    }
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = db["PASSWORD"]
    workers: list[Worker] = []

    def start() -> Worker:
        workers.append(Worker(env, tmp_path / f"worker{len(workers)}.log"))
        return workers[-1]

    yield start
    for worker in workers:
        worker.stop()


def notify_committed(to: str) -> int:
    with transaction.atomic():
        (outbox_id,) = services.notify(
            event="deployment_started", emails=[to], context={"reference": "CHG-000009", "title": "Blue-green API"}
        )
    return outbox_id


def status(outbox_id: int) -> OutboxMessage:
    return OutboxMessage.objects.get(pk=outbox_id)


def test_a_real_worker_sends_the_message_after_commit(start_worker, mail_server):
    mail_server.up()
    worker = start_worker()
    outbox_id = notify_committed("ops@example.org")

    (received,) = mail_server.inbox.wait_for(1, timeout=30)
    assert received.rcpt_tos == ["ops@example.org"]
    assert received.subject == "[CHG-000009] Deployment started: Blue-green API"
    assert "Blue-green API" in received.text and "Blue-green API" in received.html
    row = wait(lambda: status(outbox_id).status == S.SENT and status(outbox_id), what="the row to be sent")
    assert row.attempts == 1 and received.message["Message-ID"] == row.message_id
    assert "notifications.send_message" in worker.output()


def test_a_real_worker_retries_while_smtp_refuses_and_sends_when_it_is_back(start_worker, mail_server):
    start_worker()  # the SMTP port refuses connections for now
    outbox_id = notify_committed("ops@example.org")

    row = wait(lambda: status(outbox_id).attempts >= 2 and status(outbox_id), what="two refused attempts")
    assert row.status in (S.QUEUED, S.SENDING) and "ConnectionRefusedError" in row.last_error
    assert mail_server.inbox.messages == []

    mail_server.up()
    (received,) = mail_server.inbox.wait_for(1, timeout=30)
    assert received.rcpt_tos == ["ops@example.org"]
    row = wait(lambda: status(outbox_id).status == S.SENT and status(outbox_id), what="the row to be sent")
    assert row.attempts >= 3 and row.last_error == ""
    time.sleep(2)  # any late duplicate task would have arrived by now
    assert len(mail_server.inbox.messages) == 1


def test_a_worker_killed_mid_send_is_redelivered_and_sends_nothing_twice(start_worker, mail_server):
    inbox = mail_server.up().inbox
    inbox.hold.set()  # the server takes the message, then waits before saying 250
    first = start_worker()
    outbox_id = notify_committed("ops@example.org")

    assert inbox.arrived.wait(30), first.output()
    first.kill()  # dies mid-send: the task was never acknowledged
    inbox.release.set()
    row = status(outbox_id)
    assert row.status == S.SENDING and row.handed_at is not None

    second = start_worker()  # Redis hands the unacknowledged task to it (visibility timeout: 3 s)
    wait(
        lambda: "succeeded" in second.output() and "'sending'" in second.output(),
        30,
        "the redelivered task to run on the second worker",
    )
    assert len(inbox.messages) == 1
    assert status(outbox_id).status == S.SENDING

    OutboxMessage.objects.filter(pk=outbox_id).update(lease_expires_at=row.created_at)  # the lease runs out
    assert delivery.outbox_sweep() == []
    assert status(outbox_id).status == S.UNCERTAIN  # for an administrator; never resent on its own
    time.sleep(1)
    assert len(inbox.messages) == 1
