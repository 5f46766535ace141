"""The demo's runbooks, written and approved by the demo personas as a real team would."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings

from . import services
from .models import Runbook

CANARY_RUNBOOK = """\
schema: 2
description: >-
  Canary the fraud scorer's new version behind its alias: 10% of traffic under the errors alarm,
  a go/no-go, then all of it, and a smoke test of ccb itself standing in for the service's health.
parameters:
  production: {function: fraud-scorer, alias: live, alarm: fraud-scorer-errors, health: "HEALTH_URL"}
window_closes: rollback
stages:
  - name: Canary 10%
    steps:
      - name: Shift 10% to the new version, bake under the errors alarm
        type: lambda_canary
        timeout_seconds: 600
        params: {function: "${function}", alias: "${alias}", version: publish, weight: 10, bake_seconds: 60,
                 poll_seconds: 5, alarms: ["${alarm}"]}
    gate: {role: implementer, question: "Is the canary healthy?", not_starter: false}
  - name: Full rollout
    steps:
      - name: Shift all traffic to the new version
        type: lambda_canary
        timeout_seconds: 300
        params: {function: "${function}", alias: "${alias}", version: publish, weight: 100, alarms: ["${alarm}"]}
      - name: Smoke test
        type: http_smoke
        timeout_seconds: 120
        params: {url: "${health}", expect_status: [200], max_latency_ms: 2000, attempts: 3, retry_delay_seconds: 2}
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
    "canary": ("Fraud model canary", "alice", "erin", CANARY_RUNBOOK),
    "mobile": ("Mobile staged release", "mia", "frank", MOBILE_RUNBOOK),
    "cert": ("Rotate TLS certificate", "frank", "erin", CERT_RUNBOOK),
}


class DemoRunbooks:
    """ccb.demo's runbook provider: finds the demo runbook, or writes it and has it approved."""

    def version(self, *, key: str, board: Any, users: dict[str, Any]) -> int:
        name, author, approver, source = RUNBOOKS[key]
        source = source.replace("HEALTH_URL", f"{settings.CCB_BASE_URL.rstrip('/')}/healthz")
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
