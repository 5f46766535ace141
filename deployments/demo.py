"""The demo's runbooks, written and approved by the demo personas as a real team would."""

from __future__ import annotations

import time
from typing import Any

from . import services
from .models import Runbook

CANARY_RUNBOOK = """\
schema: 2
description: Canary the fraud model behind its alias, with a go/no-go before the rest.
stages:
  - name: Canary
    steps:
      - {name: Bake at 10%, type: wait, timeout_seconds: 600, params: {seconds: 300, reason: watch the canary}}
    gate: {role: implementer, question: "Canary healthy?"}
  - name: Full rollout
    steps:
      - {name: Bake at 100%, type: wait, timeout_seconds: 600, params: {seconds: 300, reason: watch the rollout}}
"""
MOBILE_RUNBOOK = """\
schema: 2
description: Staged mobile release, each stage confirmed by the verifier.
stages:
  - name: Beta
    steps:
      - {name: Beta bake, type: wait, timeout_seconds: 3600, params: {seconds: 1800, reason: beta feedback}}
    gate: {role: verifier, question: "Beta crash-free rate above 99.5%?"}
  - name: Staged rollout
    steps:
      - {name: Rollout bake, type: wait, timeout_seconds: 3600, params: {seconds: 1800, reason: 10% of users}}
"""
CERT_RUNBOOK = """\
schema: 2
description: Import the renewed certificate and check the gateway still answers.
stages:
  - name: Rotate
    steps:
      - {name: Let the import settle, type: wait, timeout_seconds: 300, params: {seconds: 120}}
"""

# key: (name, author, approver, source)
RUNBOOKS = {
    "canary": ("Fraud model canary", "alice", "frank", CANARY_RUNBOOK),
    "mobile": ("Mobile staged release", "mia", "frank", MOBILE_RUNBOOK),
    "cert": ("Rotate TLS certificate", "frank", "erin", CERT_RUNBOOK),
}


class DemoRunbooks:
    """ccb.demo's runbook provider: finds the demo runbook, or writes it and has it approved."""

    def version(self, *, key: str, board: Any, users: dict[str, Any]) -> int:
        name, author, approver, source = RUNBOOKS[key]
        existing = Runbook.objects.filter(board=board, name=name).first()
        if existing:
            return existing.versions.order_by("-number").values_list("pk", flat=True).first()
        version = services.runbook_create(
            actor=users[author], board=board, name=name, description=f"{name} (demo)", source_yaml=source
        )
        return services.runbook_version_approve(actor=users[approver], version_id=version.pk).pk

    def deploy(self, *, change: Any, users: dict[str, Any]) -> None:
        """Run the scheduled change's runbook to its end: frank starts it once its slot is open, mia
        answers the go/no-go, and the bakes pass on the engine's clock rather than the demo's time."""
        from datetime import timedelta

        from django.utils import timezone

        from . import engine, runs
        from .models import RunStatus

        wait = (change.planned_start - timezone.now()).total_seconds()
        if wait > 0:
            time.sleep(wait)
        run = runs.run_start(change_id=change.pk, actor=users["frank"], plan=runs.live_plan(change, change.environment))
        clock = [timezone.now()]
        for _ in range(100):
            again = engine.advance(run.pk, now=lambda: clock[0])
            run.refresh_from_db()
            if run.status == RunStatus.AWAITING_ANSWER:
                gate = run.steps.get(status="awaiting_answer")
                runs.gate_answer(
                    run_id=run.pk, position=gate.position, actor=users["mia"], answer="go", comment="Dashboards flat."
                )
                continue
            if again is None or run.finished:
                return
            clock[0] = max(clock[0], again) + timedelta(milliseconds=1)
