"""The engine's Celery tasks, on the ``deployments`` queue. Thin: ids in, the engine does the work.

``advance`` calls the run's due step and keeps going while the next call is due at once, so a run of
fast steps is not slowed by a broker round trip per step; a wait comes back as a countdown. The sweep
(beat) re-queues what the broker lost or a dead worker left: expired leases, passed countdowns, held
runs whose freeze ended, armed changes whose slot opened.
"""

from __future__ import annotations

import logging
import time

from celery import shared_task
from django.db.models import Q
from django.utils import timezone

from .models import ACTIVE_RUN_STATES, DeploymentRun, RunStatus, StepRun, StepStatus

logger = logging.getLogger(__name__)
QUEUE = "deployments"
# One task keeps advancing a run for at most this long, then hands it back to the broker.
SLICE_SECONDS = 20


def wake(run_id: int, countdown: float = 0) -> None:
    try:
        advance_task.apply_async((run_id,), queue=QUEUE, countdown=max(0.0, countdown))
    except Exception:
        logger.exception("deployments: could not enqueue run %s; the sweep will pick it up", run_id)


@shared_task(name="deployments.advance", queue=QUEUE, acks_late=True, reject_on_worker_lost=True)
def advance_task(run_id: int) -> None:
    from . import engine

    started = time.monotonic()
    while True:
        try:
            again = engine.advance(run_id)
        except DeploymentRun.DoesNotExist:
            return
        if again is None:
            return
        delay = (again - timezone.now()).total_seconds()
        if delay > 0.05 or time.monotonic() - started > SLICE_SECONDS:
            wake(run_id, delay)
            return


@shared_task(name="deployments.sweep", queue=QUEUE)
def sweep_task() -> int:
    from .runs import resume_if_clear
    from .scheduler import start_armed

    now = timezone.now()
    due = (
        StepRun.objects.filter(run__status__in=ACTIVE_RUN_STATES)
        .filter(
            Q(status__in=[StepStatus.RUNNING, StepStatus.ROLLING_BACK], lease_expires_at__lt=now)
            | Q(status__in=[StepStatus.RUNNING, StepStatus.ROLLING_BACK], lease_owner="")
            | Q(status=StepStatus.WAITING, next_at__lte=now)
            | Q(status=StepStatus.AWAITING_ANSWER, deadline_at__lte=now)
        )
        .values_list("run_id", flat=True)
        .distinct()
    )
    woken = set(due)
    woken |= set(
        DeploymentRun.objects.filter(
            status__in=[RunStatus.PENDING, RunStatus.ROLLING_BACK], updated_at__lt=now - timezone.timedelta(seconds=30)
        ).values_list("pk", flat=True)
    )
    for run_id in sorted(woken):
        wake(run_id)
    for run_id in DeploymentRun.objects.filter(status=RunStatus.HELD).values_list("pk", flat=True):
        resume_if_clear(run_id)
    start_armed(now)
    return len(woken)
