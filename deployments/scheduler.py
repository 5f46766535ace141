"""Armed starts: an implementer asks ccb to start an approved, scheduled change itself when its slot
opens. At that moment ccb's system principal makes the same start a person would, on their behalf,
with every check a person's start makes; a refusal is kept on the arming for the implementer to see."""

from __future__ import annotations

import logging
from datetime import datetime

from django.contrib.auth.models import User

from ccb import audit, policies
from ccb.choices import AuditAction, Status
from ccb.exceptions import CCBError, Conflict
from ccb.principals import system_user
from ccb.services.base import lock_change, service

from .models import ArmedStart

logger = logging.getLogger(__name__)


@service
def run_arm(*, change_id: int, actor: User) -> ArmedStart:
    change = lock_change(change_id)
    policies.assert_can_implement(actor=actor, change=change)
    if change.status != Status.SCHEDULED:
        raise Conflict("Only a scheduled change can be armed to start in its slot.")
    armed, _ = ArmedStart.objects.update_or_create(change=change, defaults={"armed_by": actor, "last_error": ""})
    audit.record(
        actor=actor,
        action=AuditAction.CHANGE_UPDATED,
        target=change,
        data={"armed": True, "starts_at": change.planned_start},
    )
    return armed


@service
def run_disarm(*, change_id: int, actor: User) -> None:
    change = lock_change(change_id)
    policies.assert_can_implement(actor=actor, change=change)
    if ArmedStart.objects.filter(change=change, run__isnull=True).delete()[0]:
        audit.record(actor=actor, action=AuditAction.CHANGE_UPDATED, target=change, data={"armed": False})


def start_armed(now: datetime) -> list[int]:
    """Start every armed change whose slot is open now; returns the runs started."""
    from .runs import live_plan, run_start

    started = []
    due = ArmedStart.objects.filter(
        run__isnull=True, change__status=Status.SCHEDULED, change__planned_start__lte=now, change__planned_end__gt=now
    )
    for armed in due.select_related("change", "armed_by"):
        try:
            plan = live_plan(armed.change, armed.change.environment)
            run = run_start(change_id=armed.change_id, actor=system_user(), plan=plan, armed_by=armed.armed_by)
        except CCBError as exc:
            ArmedStart.objects.filter(pk=armed.pk).update(last_error=exc.message)
            logger.warning("armed start of change %s refused: %s", armed.change_id, exc.message)
            continue
        ArmedStart.objects.filter(pk=armed.pk).update(run=run, last_error="")
        started.append(run.pk)
    return started
