from typing import Any

from django.contrib.auth.models import User
from django.db.models import Q, QuerySet
from django.http import Http404

from ccb.selectors import board_ids_with_role, reads_everything

from .models import DeploymentRun, RevisionPlan, Runbook, RunbookVersion


def runbook_list(*, user: User) -> QuerySet[Runbook]:
    """Runbooks of boards where the user holds a role, and the ones they wrote."""
    qs = Runbook.objects.select_related("board", "created_by").prefetch_related(
        "versions__approved_by", "versions__created_by"
    )
    if reads_everything(user=user):
        return qs
    linked = Runbook.objects.filter(
        Q(versions__change_links__change__requester=user) | Q(versions__change_links__change__implementer=user)
    )
    return qs.filter(
        Q(board_id__in=board_ids_with_role(user=user)) | Q(created_by=user) | Q(pk__in=linked.values("pk"))
    )


def runbook_version_get(*, user: User, runbook_id: int, number: int) -> RunbookVersion:
    try:
        runbook = runbook_list(user=user).get(pk=runbook_id)
        return runbook.versions.get(number=number)
    except (Runbook.DoesNotExist, RunbookVersion.DoesNotExist, ValueError):
        raise Http404("No such runbook version.") from None


def runbook_versions_for_filing(*, user: User, board_id: int | None) -> QuerySet[RunbookVersion]:
    """The approved runbook versions a packet on this board may link: anyone filing there may pick one."""
    if board_id is None:
        return RunbookVersion.objects.none()
    return (
        RunbookVersion.objects.filter(runbook__board_id=board_id, approved_at__isnull=False)
        .select_related("runbook", "approved_by")
        .order_by("runbook__name", "-number")
    )


def runbook_get(*, user: User, pk: int) -> Runbook:
    """A runbook the user may read (see runbook_list), or 404: a hidden one looks like a missing one."""
    try:
        return runbook_list(user=user).get(pk=pk)
    except (Runbook.DoesNotExist, ValueError, TypeError):
        raise Http404("No runbook with that id.") from None


# --- runs -----------------------------------------------------------------------------------------------


def run_list(*, user: User) -> QuerySet[DeploymentRun]:
    """Runs of the changes the user may see (ccb decides who sees which change)."""
    from ccb.selectors import change_request_list

    return DeploymentRun.objects.filter(change__in=change_request_list(user=user).values("pk")).select_related(
        "change", "started_by", "runbook_version__runbook"
    )


def run_get(*, user: User, pk: int | str) -> DeploymentRun:
    try:
        return run_list(user=user).get(pk=pk)
    except (DeploymentRun.DoesNotExist, ValueError, TypeError):
        raise Http404("No deployment run with that id.") from None


def revision_plan(*, change: Any) -> RevisionPlan | None:
    """The plan the board sees for the change's current revision (None before it is submitted)."""
    return RevisionPlan.objects.filter(revision_id=change.current_revision_id).first()
