"""Building a change the engine may run: a typed runbook the board approved, the change approved and
booked into a slot that is open now."""

from datetime import timedelta

from django.utils import timezone

from ccb import services
from ccb.models import ChangeRequest
from deployments import engine, runs
from deployments import services as runbook_services
from deployments.models import RunStatus

from ..ccb.conftest import book, in_window

GATED = """\
schema: 2
stages:
  - name: First
    steps:
      - {name: Settle, type: wait, params: {seconds: 60}}
    gate: {role: implementer, question: "Go on?", not_starter: false}
  - name: Second
    steps:
      - {name: Settle again, type: wait, params: {seconds: 60}}
"""


def typed_runbook(board, people, source, name="Typed"):
    """frank writes the runbook, erin approves it."""
    version = runbook_services.runbook_create(
        actor=people["frank"], board=board, name=name, description="", source_yaml=source
    )
    return runbook_services.runbook_version_approve(actor=people["erin"], version_id=version.pk)


def deployable_change(*, make_change, approve, board, people, source=GATED, name="Typed"):
    """An approved change of alice's, frank implementing, its slot open now (the services' windows needed)."""
    version = typed_runbook(board, people, source, name)
    change = make_change(runbook_version=version.pk)
    services.change_request_submit(change_id=change.pk, actor=people["alice"])
    approve(change)
    book(change, in_window(days=2), people["frank"])
    now = timezone.now()
    ChangeRequest.objects.filter(pk=change.pk).update(
        planned_start=now - timedelta(minutes=1), planned_end=now + timedelta(hours=2)
    )
    return ChangeRequest.objects.get(pk=change.pk)


def open_slot_now(change):
    """Move the change's booked slot to now (as if its window had come)."""
    now = timezone.now()
    ChangeRequest.objects.filter(pk=change.pk).update(
        planned_start=now - timedelta(minutes=1), planned_end=now + timedelta(hours=2)
    )
    return ChangeRequest.objects.get(pk=change.pk)


def start_run(change, person):
    """Start the change's run as ``person`` does from the page: live plan read first, then the start."""
    return runs.run_start(change_id=change.pk, actor=person, plan=runs.live_plan(change, change.environment))


def started_at_its_gate(change, people):
    """frank starts the run; the engine plays until the first gate waits for its answer."""
    run = runs.run_start(change_id=change.pk, actor=people["frank"], plan=runs.live_plan(change, change.environment))
    t = [timezone.now()]
    for _ in range(20):
        again = engine.advance(run.pk, now=lambda: t[0])
        run.refresh_from_db()
        if run.status == RunStatus.AWAITING_ANSWER or again is None:
            break
        t[0] = max(t[0], again)
    return run
