"""Every permission-sensitive read. Each takes the asking user and returns only what they may see."""

from django.contrib.auth.models import AbstractBaseUser
from django.contrib.contenttypes.models import ContentType
from django.db.models import Q, QuerySet
from django.http import Http404
from guardian.models import GroupObjectPermission, UserObjectPermission

from ccb import policies
from ccb.exceptions import PolicyViolation
from ccb.models import AuditEvent, Board, ChangeRequest, Condition, Service, StandardChangeTemplate


def board_ids_with_role(*, user: AbstractBaseUser) -> list[int]:
    """Ids of boards on which the user holds any role, granted directly or through a group: one query."""
    board_type = ContentType.objects.get_for_model(Board)
    direct = UserObjectPermission.objects.filter(user=user, content_type=board_type,
                                                 permission__codename="view_board").values_list("object_pk")
    via_group = GroupObjectPermission.objects.filter(group__user=user, content_type=board_type,
                                                     permission__codename="view_board").values_list("object_pk")
    return [int(pk) for (pk,) in direct.union(via_group)]


def boards_with_role(*, user: AbstractBaseUser) -> QuerySet[Board]:
    """Boards on which the user holds any role."""
    if user.is_superuser:
        return Board.objects.all()
    return Board.objects.filter(pk__in=board_ids_with_role(user=user))


def board_list(*, user: AbstractBaseUser) -> QuerySet[Board]:
    # Board names and rules are not secret: anyone filing a change must be able to pick one.
    return Board.objects.all()


def service_list(*, user: AbstractBaseUser) -> QuerySet[Service]:
    return Service.objects.select_related("board", "owner").prefetch_related("depends_on")


def template_list(*, user: AbstractBaseUser) -> QuerySet[StandardChangeTemplate]:
    return StandardChangeTemplate.objects.select_related(
        "board", "approved_by", "runbook_version__runbook"
    ).prefetch_related("services")


def change_request_list(*, user: AbstractBaseUser) -> QuerySet[ChangeRequest]:
    """Changes on boards where the user holds a role, plus the ones they requested or implement."""
    qs = ChangeRequest.objects.select_related("board", "requester", "implementer").prefetch_related("services")
    if reads_everything(user=user):
        return qs
    return qs.filter(Q(board_id__in=board_ids_with_role(user=user)) | Q(requester=user) | Q(implementer=user))


def change_request_get(*, user: AbstractBaseUser, pk: int) -> ChangeRequest:
    """The change, or 404 for one that is missing or that the user may not see (the two look alike)."""
    try:
        return change_request_list(user=user).get(pk=pk)
    except (ChangeRequest.DoesNotExist, ValueError, TypeError):
        raise Http404("No change request with that id.") from None


def condition_get(*, user: AbstractBaseUser, change: ChangeRequest, pk: int) -> Condition:
    try:
        return change.conditions.get(pk=pk)
    except (Condition.DoesNotExist, ValueError, TypeError):
        raise Http404("No condition with that id on this change.") from None


def reads_everything(*, user: AbstractBaseUser) -> bool:
    """Superusers and site auditors see every change, whatever board it is on."""
    return user.is_superuser or policies.is_site_auditor(user)


def can_read_audit(*, user: AbstractBaseUser) -> bool:
    return reads_everything(user=user)


def audit_event_list(*, user: AbstractBaseUser) -> QuerySet[AuditEvent]:
    """The whole chain, for site auditors: it spans every board, and is only verifiable read whole.

    Board members and chairs follow a change's own events on its page instead.
    """
    if not can_read_audit(user=user):
        raise PolicyViolation("auditors_only", "Only auditors read the audit trail.", actor=user)
    return AuditEvent.objects.all()
