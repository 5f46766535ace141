"""What deployments offers ccb through ccb.execution (ccb never imports deployments)."""

from __future__ import annotations

from typing import Any

from . import documents, engine
from .models import RevisionPlan


class Hooks:
    def plan_for_revision(self, *, change: Any, revision: Any) -> str:
        version = change.runbook_version
        if version is None or documents.needs_review(version.document):
            return ""
        from .runs import _plan_aws

        plans = engine.compute_plan(
            version.document, change.environment, aws_factory=lambda: _plan_aws(change, version)
        )
        digest = engine.plan_digest(plans)
        RevisionPlan.objects.update_or_create(
            revision=revision, defaults={"environment": change.environment, "steps": plans, "digest": digest}
        )
        return digest
