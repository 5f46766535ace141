"""The StepContext a step method gets: its validated parameters, its memory, the run's AWS session,
the run-wide outputs and the services the engine offers it."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.conf import settings

from . import steps
from .models import StepRun


def labels_for(run: Any) -> dict[str, str]:
    """Who and what an AWS call is made for: STS session tags, CloudTrail's record of the change."""
    return {
        "ccb:change": run.change.reference,
        "ccb:run": str(run.pk),
        "ccb:started-by": run.started_by.get_username(),
    }


def aws_session(
    *,
    document: dict,
    environment: str,
    change_reference: str,
    run_id: int | str,
    started_by: str,
    on_request: Callable[[dict], None] | None = None,
) -> Any:
    """The AWS session a runbook acts (or plans) through: the environment's deploy role assumed with the
    session tags naming the change, the run and the person, when the runbook names one; else the
    worker's own credentials. The region comes from the environment's ``region`` parameter, if any."""
    from deployments import aws

    role = (document.get("deploy_role") or {}).get(environment, "")
    region = ((document.get("parameters") or {}).get(environment) or {}).get("region")
    config = aws.SessionConfig.for_run(
        region=region or None,
        role_arn=role or "",
        change_reference=change_reference,
        run_id=run_id,
        started_by=started_by,
        max_attempts=int(getattr(settings, "CCB_AWS_MAX_ATTEMPTS", 5)),
    )
    return aws.Aws(config, on_call=(lambda call: on_request(dataclasses.asdict(call))) if on_request else None)


def aws_for(run: Any, on_request: Callable[[dict], None] | None = None) -> Any:
    return aws_session(
        document=run.runbook_version.document,
        environment=run.environment,
        change_reference=run.change.reference,
        run_id=run.pk,
        started_by=run.started_by.get_username(),
        on_request=on_request,
    )


def build_context(
    step: StepRun,
    kind: steps.StepType,
    state: dict,
    method: str,
    now: Callable[[], datetime],
    lines: list,
    request_ids: list,
    outputs: dict | None = None,
) -> steps.StepContext:
    run = step.run

    def log(message: str, **data: Any) -> None:
        lines.append((message, data))

    def on_request(info: dict) -> None:
        request_ids.append(info)

    return steps.StepContext(
        params=kind.params.model_validate(step.params),
        state=state,
        idempotency_key=step.idempotency_key,
        phase=method,
        now=now,
        log=log,
        aws=_LazyAws(run, on_request),
        services={"outputs": outputs if outputs is not None else run.outputs, "notify": _notifier(run, step)},
        labels=labels_for(run),
        fast=run.abort_fast,
    )


class _LazyAws:
    """Opens the AWS session on first use, so steps that never call AWS never assume a role."""

    def __init__(self, run: Any, on_request: Callable[[dict], None]):
        self._run, self._on_request, self._session = run, on_request, None

    def __getattr__(self, name: str) -> Any:
        if self._session is None:
            self._session = aws_for(self._run, self._on_request)
        return getattr(self._session, name)


def _notifier(run: Any, step: StepRun) -> Callable[..., list[int]]:
    """The notify step's door to notifications: once per ``key``, however often the step is called."""

    def notify(
        *, event: str, audience: list[str], emails: list[str], message: str, context: dict, key: str
    ) -> list[int]:
        from django.db import transaction

        from .models import SentNotice
        from .notices import step_notice

        with transaction.atomic():
            sent = SentNotice.objects.select_for_update().filter(key=key).first()
            if sent is not None:
                return sent.outbox_ids
            ids = step_notice(
                run, step, event=event, audience=audience, emails=emails, message=message, context=context
            )
            SentNotice.objects.create(key=key, outbox_ids=ids)
            return ids

    return notify
