"""A finished run decides the change's outcome, through ccb's service, by the system principal."""

from __future__ import annotations

from ccb import services as ccb_services
from ccb.choices import Status
from ccb.principals import system_user

from .models import DeploymentRun, RunStatus

OUTCOME = {
    RunStatus.SUCCEEDED: Status.COMPLETED,
    RunStatus.ROLLED_BACK: Status.ROLLED_BACK,
    RunStatus.FAILED: Status.FAILED,
}


def run_finished(run: DeploymentRun) -> None:
    if run.rehearsal:
        return
    outcome = OUTCOME[RunStatus(run.status)]
    ccb_services.change_request_record_outcome(
        change_id=run.change_id,
        actor=system_user(),
        on_behalf_of=run.started_by,
        outcome=outcome,
        notes=run.outcome,
        run_id=run.pk,
    )
    from .notices import deployment_finished

    deployment_finished(run, outcome)
