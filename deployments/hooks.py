"""What deployments offers ccb through ccb.execution (ccb never imports deployments)."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from ccb.execution import DeploymentSummary

from . import documents, engine, links
from .models import DeploymentRun, RevisionPlan


class Hooks:
    runbook_of = staticmethod(links.runbook_of)
    link_runbook = staticmethod(links.link_runbook)
    template_runbook = staticmethod(links.template_runbook)
    link_template_runbook = staticmethod(links.link_template_runbook)
    runbook_choices = staticmethod(links.runbook_choices)
    preload_runbooks = staticmethod(links.preload_runbooks)

    @staticmethod
    def plan_for_revision(*, change: Any, revision: Any) -> str:
        version = links.version_of(change)
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

    @staticmethod
    def deployment_of(*, change: Any) -> DeploymentSummary | None:
        run = DeploymentRun.objects.filter(change_id=change.pk, rehearsal=False).order_by("-created_at").first()
        if run is None:
            return None
        return DeploymentSummary(
            run_id=run.pk,
            status=run.status,
            status_label=run.get_status_display(),
            started_at=run.started_at,
            finished_at=run.finished_at,
            outcome=run.outcome,
            url=reverse("deployment-detail", args=[run.pk]),
        )
