"""Every permission-sensitive read. Each takes the asking user and returns only what they may see."""

from datetime import datetime
from typing import Any, cast

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404
from guardian.models import GroupObjectPermission, UserObjectPermission
from guardian.shortcuts import get_users_with_perms

from ccb import execution, policies, quorum, risk
from ccb import filters as list_filters
from ccb.choices import (
    REVIEW_STATES,
    RISK_ORDER,
    AttachmentKind,
    BoardRole,
    ChangeType,
    NotificationAudience,
    Status,
)
from ccb.exceptions import PolicyViolation
from ccb.filters import Filters
from ccb.models import (
    AuditEvent,
    Board,
    CalendarFeedToken,
    ChangeRequest,
    ChangeRevision,
    Condition,
    FreezeWindow,
    MaintenanceWindow,
    Service,
    StandardChangeTemplate,
    Vote,
)


def board_ids_with_role(*, user: User, codenames: tuple[str, ...] = ("view_board",)) -> list[int]:
    """Ids of boards on which the user holds one of these permissions (any role: ``view_board``),
    granted directly or through a group: one query."""
    board_type = ContentType.objects.get_for_model(Board)
    direct = UserObjectPermission.objects.filter(
        user=user, content_type=board_type, permission__codename__in=codenames
    ).values_list("object_pk")
    via_group = GroupObjectPermission.objects.filter(
        group__user=user, content_type=board_type, permission__codename__in=codenames
    ).values_list("object_pk")
    return [int(pk) for (pk,) in direct.union(via_group)]


VOTING_PERMISSIONS = ("board_member", "board_chair")


def changes_awaiting_vote(*, user: User) -> QuerySet[ChangeRequest]:
    """Changes under review that still need this person's vote on their current revision.

    On boards where they are a member or the chair, and not theirs to vote on: not requested, authored
    (any revision) or implemented by them. The dashboard and the daily digest both read this.
    """
    if not user.is_active:
        return ChangeRequest.objects.none()
    voted = Vote.objects.filter(revision=OuterRef("current_revision"), voter=user, voided_at__isnull=True)
    authored = ChangeRevision.objects.filter(change=OuterRef("pk"), created_by=user)
    return (
        ChangeRequest.objects.filter(
            board_id__in=board_ids_with_role(user=user, codenames=VOTING_PERMISSIONS),
            status__in=REVIEW_STATES,
            current_revision__isnull=False,
        )
        .exclude(Q(requester=user) | Q(implementer=user))
        .exclude(Exists(authored))
        .exclude(Exists(voted))
        .select_related("board")
    )


def boards_with_role(*, user: User) -> QuerySet[Board]:
    """Boards on which the user holds any role."""
    if user.is_superuser:
        return Board.objects.all()
    return Board.objects.filter(pk__in=board_ids_with_role(user=user))


def board_list(*, user: User) -> QuerySet[Board]:
    # Board names and rules are not secret: anyone filing a change must be able to pick one.
    return Board.objects.all()


def service_list(*, user: User, filters: Filters = None) -> QuerySet[Service]:
    qs = Service.objects.select_related("board", "owner").prefetch_related("depends_on")
    return list_filters.apply(list_filters.ServiceFilter, qs, filters)


def template_list(*, user: User, filters: Filters = None) -> QuerySet[StandardChangeTemplate]:
    qs = StandardChangeTemplate.objects.select_related("board", "approved_by").prefetch_related("services")
    return list_filters.apply(list_filters.TemplateFilter, qs, filters)


def change_request_list(*, user: User, filters: Filters = None) -> QuerySet[ChangeRequest]:
    """Changes on boards where the user holds a role, plus the ones they requested or implement,
    narrowed by ``filters`` (the request's query string: ``ccb.filters.ChangeRequestFilter``).

    A draft is its requester's workspace: the board sees it once it is submitted.
    """
    qs = ChangeRequest.objects.select_related("board", "requester", "implementer").prefetch_related("services")
    if not reads_everything(user=user):
        on_my_boards = Q(board_id__in=board_ids_with_role(user=user)) & ~Q(status=Status.DRAFT)
        qs = qs.filter(on_my_boards | Q(requester=user) | Q(implementer=user))
    return list_filters.apply(list_filters.ChangeRequestFilter, qs, filters)


def change_request_get(*, user: User, pk: int) -> ChangeRequest:
    """The change, or 404 for one that is missing or that the user may not see (the two look alike)."""
    try:
        return change_request_list(user=user).get(pk=pk)
    except (ChangeRequest.DoesNotExist, ValueError, TypeError):
        raise Http404("No change request with that id.") from None


def condition_get(*, user: User, change: ChangeRequest, pk: int) -> Condition:
    try:
        return change.conditions.get(pk=pk)
    except (Condition.DoesNotExist, ValueError, TypeError):
        raise Http404("No condition with that id on this change.") from None


def reads_everything(*, user: User) -> bool:
    """Superusers and site auditors see every change, whatever board it is on."""
    return user.is_superuser or policies.is_site_auditor(user)


def agenda_board(*, user: User, slug: str) -> Board:
    """The board whose agenda the user may open (its members, its chair, site auditors), or 404."""
    board = Board.objects.filter(slug=slug).first()
    if board is None or not (
        policies.has_role(user, board, BoardRole.MEMBER)
        or policies.has_role(user, board, BoardRole.CHAIR)
        or reads_everything(user=user)
    ):
        raise Http404("No board agenda for you at this address.")
    return board


def can_read_audit(*, user: User) -> bool:
    return reads_everything(user=user)


def audit_event_list(*, user: User, filters: Filters = None) -> QuerySet[AuditEvent]:
    """The whole chain, for site auditors: it spans every board, and is only verifiable read whole;
    narrowed by ``filters`` (``ccb.filters.AuditEventFilter``).

    Board members and chairs follow a change's own events on its page instead.
    """
    if not can_read_audit(user=user):
        raise PolicyViolation("auditors_only", "Only auditors read the audit trail.", actor=user)
    return list_filters.apply(list_filters.AuditEventFilter, AuditEvent.objects.all(), filters)


# --- windows, freezes and the calendar ---------------------------------------------------------------


def maintenance_window_list(*, user: User, filters: Filters = None) -> QuerySet[MaintenanceWindow]:
    """Windows on the services the user can see: everyone who files changes must know when they may run."""
    visible = service_list(user=user).values("pk")
    qs = MaintenanceWindow.objects.filter(service__in=visible).select_related("service", "created_by")
    return list_filters.apply(list_filters.MaintenanceWindowFilter, qs, filters)


def freeze_list(*, user: User, filters: Filters = None) -> QuerySet[FreezeWindow]:
    """Freezes on the boards the user can see, and those over every board."""
    visible = board_list(user=user).values("pk")
    qs = (
        FreezeWindow.objects.filter(Q(board__isnull=True) | Q(board__in=visible))
        .select_related("board", "created_by")
        .prefetch_related("services")
    )
    return list_filters.apply(list_filters.FreezeWindowFilter, qs, filters)


def _get(queryset: QuerySet[Any], pk: object, what: str) -> Any:
    try:
        return queryset.get(pk=pk)
    except (queryset.model.DoesNotExist, ValueError, TypeError):
        raise Http404(f"No {what} with that id.") from None


def maintenance_window_get(*, user: User, pk: object) -> MaintenanceWindow:
    return _get(maintenance_window_list(user=user), pk, "maintenance window")


def freeze_get(*, user: User, pk: object) -> FreezeWindow:
    return _get(freeze_list(user=user), pk, "freeze")


def calendar_token_get(*, user: User) -> CalendarFeedToken | None:
    return CalendarFeedToken.objects.filter(user=user).first()


def calendar_feed_owner(*, key: str) -> User:
    """Whose feed a secret URL opens; 404 for an unknown, rotated or revoked secret or an inactive person."""
    token = CalendarFeedToken.objects.select_related("user").filter(key=key).first() if key else None
    if token is None or not token.user.is_active:
        raise Http404("No calendar feed at this address.")
    return token.user


CALENDAR_STATES = (
    Status.SCHEDULED,
    Status.IMPLEMENTING,
    Status.COMPLETED,
    Status.ROLLED_BACK,
    Status.FAILED,
    Status.CLOSED,
)


def calendar_changes(*, user: User, since: datetime) -> QuerySet[ChangeRequest]:
    """Booked changes the user may see, from ``since`` on."""
    return (
        change_request_list(user=user)
        .filter(status__in=CALENDAR_STATES, planned_start__isnull=False, planned_end__gte=since)
        .order_by("planned_start", "pk")
    )


def calendar_boards(*, user: User) -> QuerySet[Board]:
    """The boards whose windows and freezes belong in the user's calendar: the ones they work with."""
    if reads_everything(user=user):
        return Board.objects.all()
    own = ChangeRequest.objects.filter(Q(requester=user) | Q(implementer=user)).values("board_id")
    return Board.objects.filter(Q(pk__in=board_ids_with_role(user=user)) | Q(pk__in=own))


def calendar_windows(*, user: User) -> QuerySet[MaintenanceWindow]:
    boards = calendar_boards(user=user).values("pk")
    return maintenance_window_list(user=user).filter(active=True, service__board__in=boards)


def calendar_freezes(*, user: User, since: datetime) -> QuerySet[FreezeWindow]:
    boards = calendar_boards(user=user).values("pk")
    return freeze_list(user=user).filter(Q(board__isnull=True) | Q(board__in=boards), active=True, end__gte=since)


# --- review: who votes, what is missing, where the votes stand ---------------------------------------


def eligible_voters(*, change: ChangeRequest) -> tuple[set[int], set[int]]:
    """(eligible member ids, chair ids among them): members and chair, less requesters and implementer.

    Read from the board's object permissions, granted to people directly or through groups; a person
    holding several roles counts once.
    """
    holders = cast(
        dict[User, list[str]],
        get_users_with_perms(
            change.board, attach_perms=True, with_group_users=True, only_with_perms_in=list(VOTING_PERMISSIONS)
        ),
    )
    authors = {change.requester_id, *change.revisions.values_list("created_by_id", flat=True)}
    excluded = authors | {change.implementer_id}
    members = {u.pk for u in holders if u.is_active} - excluded
    chairs = {u.pk for u, perms in holders.items() if u.is_active and "board_chair" in perms} - excluded
    return members, chairs


def entry_criteria(*, change: ChangeRequest) -> dict[str, list[str]]:
    """What stands between the packet and submission, one message per missing item."""
    missing: dict[str, list[str]] = {}

    def need(key: str, message: str) -> None:
        missing.setdefault(key, []).append(message)

    normal = change.change_type == ChangeType.NORMAL
    standard = change.change_type == ChangeType.STANDARD
    for name in ("title", "summary", "justification"):
        if not getattr(change, name).strip():
            need(name, "Required before submitting.")
    if not change.services.exists():
        need("services", "Name at least one affected service.")
    if not standard:
        if change.users_affected is None:
            need("users_affected", "Say how many users the change affects (0 if none).")
        if change.expected_downtime_minutes is None:
            need("expected_downtime_minutes", "Give the expected downtime in minutes (0 if none).")
        for key in risk.unanswered(change.risk_answers):
            need(f"risk_answers.{key}", f"Answer: {risk.QUESTIONS[key]['label']}")
        if not change.open_issues_resolved:
            need("open_issues_resolved", "Attest that no critical or high issue is open.")
    if normal:
        if change.roi_cost is None or change.roi_benefit is None:
            need("roi", "Give the ROI: cost and benefit.")
        if not change.test_environments_validated:
            need("test_environments_validated", "Confirm the test environments were validated.")
        report = change.attachments.filter(kind=AttachmentKind.VALIDATION_REPORT).exclude(signed_by="")
        if not report.filter(signed_on__isnull=False).exists():
            need("validation_report", "Attach the signed Phase 5 validation report (signer and date).")
    if not change.rollback_steps.strip() or change.rollback_minutes is None:
        need("rollback_plan", "Describe the rollback steps and the time they take.")
    runbook = execution.runbook_of(change=change)
    if runbook is None:
        need("runbook_version", "Link the deployment runbook.")
    elif not runbook.approved:
        need("runbook_version", "The linked runbook version has not been reviewed and approved yet.")
    elif runbook.needs_review:
        need(
            "runbook_version",
            f"{runbook.label} was written before typed runbooks and needs review: make a "
            "new version in the current schema and have it approved.",
        )
    if change.notification_audience != NotificationAudience.NONE and not (
        change.notification_subject.strip() and change.notification_body.strip()
    ):
        need("notification", "Draft the customer notification (subject and body) for its audience.")
    if change.implementer_id is None:
        need("implementer", "Assign the implementer.")
    if standard and change.template and change.risk_level not in _levels_up_to(change.template.max_risk):
        need("risk_level", f"Risk is {change.risk_level}; the template covers up to {change.template.max_risk}.")
    if not standard:
        members, chairs = eligible_voters(change=change)
        why = quorum.reachable(
            board=change.board,
            change_type=change.change_type,
            risk_level=change.risk_level,
            eligible_ids=members,
            chair_ids=chairs,
        )
        if why:
            need("quorum", why)
    return missing


def _levels_up_to(level: str) -> list[str]:
    return [lvl for lvl, rank in RISK_ORDER.items() if rank <= RISK_ORDER[level]]


def tally(*, change: ChangeRequest) -> quorum.Tally:
    """The quorum rule applied to the current votes of eligible members on the current revision."""
    members, chairs = eligible_voters(change=change)
    votes = [
        (v.voter_id, v.decision, v.conditions)
        for v in Vote.objects.filter(revision=change.current_revision, voided_at__isnull=True, voter_id__in=members)
    ]
    return quorum.evaluate(
        board=change.board,
        change_type=change.change_type,
        risk_level=change.risk_level,
        eligible_ids=members,
        chair_ids=chairs,
        votes=votes,
    )


# --- what the pages offer: boards to file on, eligible implementers, conditions to carry ---------------


def boards_for_filing(*, user: User) -> list[Board]:
    """Boards on which the user may file a change: every board where they are not read-only."""
    allowed = []
    for board in Board.objects.order_by("name"):
        try:
            policies.assert_not_read_only(actor=user, board=board)
        except PolicyViolation:
            continue
        allowed.append(board)
    return allowed


def implementer_candidates(*, board: Board, actor: User, change: ChangeRequest | None = None) -> QuerySet[User]:
    """Who may be named to implement a change on this board: what policies.assert_implementer_allowed
    accepts (the board's implementers; not the requester unless the board allows it; no approver)."""
    draft = change if change is not None else ChangeRequest(board=board, requester=actor)
    holders = cast(
        "QuerySet[User]", get_users_with_perms(board, with_group_users=True, only_with_perms_in=["board_implementer"])
    )
    eligible = []
    for person in holders:
        if not person.is_active:
            continue
        try:
            policies.assert_implementer_allowed(implementer=person, change=draft, actor=actor)
        except PolicyViolation:
            continue
        eligible.append(person.pk)
    return get_user_model().objects.filter(pk__in=eligible).order_by("username")


def proposed_conditions(*, change: ChangeRequest) -> list[str]:
    """Conditions members attached to their approvals of the current revision, once each, in order."""
    votes = Vote.objects.filter(
        revision_id=change.current_revision_id, voided_at__isnull=True, decision="approve"
    ).order_by("created_at")
    return list(dict.fromkeys(text for vote in votes for text in vote.conditions))


def boards_managing_windows(*, user: User) -> list[Board]:
    """Boards whose maintenance windows and freezes the user may set (policies.assert_can_manage_windows)."""
    allowed = []
    for board in Board.objects.order_by("name"):
        try:
            policies.assert_can_manage_windows(actor=user, board=board)
        except PolicyViolation:
            continue
        allowed.append(board)
    return allowed
