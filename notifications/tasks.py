"""Thin Celery tasks on the ``notifications`` queue: they take ids and call the services.

The queue is named where messages are sent (``services.enqueue``, the retry, the beat entries in
``celery_config``) and in ``celery_config.TASK_ROUTES``; Celery 6 drops the ``queue=`` task attribute.
"""

import logging

from celery import shared_task
from django.utils import timezone

from . import delivery, services

logger = logging.getLogger(__name__)


QUEUE = "notifications"


@shared_task(
    bind=True,
    name="notifications.send_message",
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=None,
    ignore_result=True,
)
def send_message(self, outbox_id: int) -> str:
    """Send one outbox row. Safe to deliver any number of times: the row decides, not the broker."""
    outcome = delivery.outbox_send(outbox_id=outbox_id)
    # Eagerly run tasks (tests, shells) would retry at once, in a loop; the sweep picks those up.
    if outcome.retry_in is not None and not self.request.is_eager:
        raise self.retry(countdown=outcome.retry_in, queue=QUEUE)
    return outcome.status


@shared_task(name="notifications.sweep_outbox", ignore_result=True)
def sweep_outbox() -> int:
    """Requeue rows whose worker died before sending and rows the broker lost; flag uncertain ones."""
    ids = delivery.outbox_sweep()
    services.enqueue(ids)
    return len(ids)


@shared_task(name="notifications.daily_digest", ignore_result=True)
def daily_digest() -> int:
    ids = services.digest_send(day=timezone.localdate())
    logger.info("notifications: daily digest queued %s message(s)", len(ids))
    return len(ids)
