from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q, QuerySet
from django.http import Http404

from ccb.selectors import board_ids_with_role

from .models import Runbook, RunbookVersion


def runbook_list(*, user: AbstractBaseUser) -> QuerySet[Runbook]:
    """Runbooks of boards where the user holds a role, and the ones they wrote."""
    qs = Runbook.objects.select_related("board", "created_by").prefetch_related("versions__approved_by",
                                                                                  "versions__created_by")
    if user.is_superuser:
        return qs
    return qs.filter(Q(board_id__in=board_ids_with_role(user=user)) | Q(created_by=user))


def runbook_version_get(*, user: AbstractBaseUser, runbook_id: int, number: int) -> RunbookVersion:
    try:
        runbook = runbook_list(user=user).get(pk=runbook_id)
        return runbook.versions.get(number=number)
    except (Runbook.DoesNotExist, RunbookVersion.DoesNotExist, ValueError):
        raise Http404("No such runbook version.") from None
