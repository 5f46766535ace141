"""Separation of duties and role rules. Pure checks that raise PolicyViolation with the rule's name.

Services call these; nothing else decides who may do what to a change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NoReturn

from django.contrib.auth.models import AnonymousUser, Permission, User
from django.db.models import Q
from guardian.shortcuts import get_group_perms, get_user_perms

from ccb.choices import BoardRole
from ccb.exceptions import PolicyViolation

if TYPE_CHECKING:  # type names only
    from ccb.models import Board, ChangeRequest

ROLE_CODENAME = {role: f"board_{role}" for role in BoardRole.values}


def has_role(user: User | AnonymousUser | None, board: Board, role: str) -> bool:
    """The role's object permission on the board, held directly or through a group.

    Deliberately not ``user.has_perm``: a superuser holds every permission there, and an
    administrator must not become a voter by being one.
    """
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    codename = ROLE_CODENAME[role]
    return codename in get_user_perms(user, board) or codename in get_group_perms(user, board)


def is_author(user: User, change: ChangeRequest) -> bool:
    """Whoever authored the change or any revision of it counts as its requester."""
    if change.requester_id == user.pk:
        return True
    return change.pk is not None and change.revisions.filter(created_by=user).exists()


def _refuse(rule: str, message: str, actor: User, target: Any) -> NoReturn:
    raise PolicyViolation(rule, message, actor=actor, target=target)


def is_site_auditor(user: User | AnonymousUser | None) -> bool:
    """Holds the site-wide auditor permission (directly or through a group): reads all, writes nothing."""
    if user is None or not user.is_authenticated or user.is_superuser or not user.is_active:
        return False
    cached = getattr(user, "_ccb_site_auditor", None)
    if cached is None:  # one query, remembered on the user object for the request
        cached = (
            Permission.objects.filter(content_type__app_label="ccb", codename="audit_everything")
            .filter(Q(user=user) | Q(group__user=user))
            .exists()
        )
        setattr(user, "_ccb_site_auditor", cached)  # noqa: B010 - a private attribute the model does not declare
    return bool(cached)


def assert_not_read_only(*, actor: User, board: Board, target: Any = None) -> None:
    if is_site_auditor(actor):
        _refuse("auditor_read_only", "Auditors read everything and change nothing.", actor, target)
    if has_role(actor, board, BoardRole.AUDITOR) and not any(
        has_role(actor, board, r) for r in (BoardRole.MEMBER, BoardRole.CHAIR, BoardRole.IMPLEMENTER)
    ):
        _refuse("auditor_read_only", "Auditors read everything on their board and change nothing.", actor, target)


def assert_can_edit(*, actor: User, change: ChangeRequest) -> None:
    assert_not_read_only(actor=actor, board=change.board, target=change)
    if change.requester_id != actor.pk:
        _refuse("requester_only_edits", "Only the change's requester may edit or submit it.", actor, change)


def assert_can_withdraw(*, actor: User, change: ChangeRequest) -> None:
    """The requester withdraws their own change; the board's chair may withdraw anyone else's."""
    if has_role(actor, change.board, BoardRole.CHAIR) and not is_author(actor, change):
        return
    assert_can_edit(actor=actor, change=change)


def assert_can_satisfy_condition(*, actor: User, change: ChangeRequest) -> None:
    """A condition of the approval is attested as met by the change's requester or its implementer."""
    if actor.pk in (change.requester_id, change.implementer_id):
        return
    assert_can_implement(actor=actor, change=change)


def assert_implementer_allowed(*, implementer: User | None, change: ChangeRequest, actor: User) -> None:
    if implementer is None:
        return
    if not has_role(implementer, change.board, BoardRole.IMPLEMENTER):
        _refuse(
            "implementer_needs_role",
            f"{implementer.get_username()} is not an implementer on {change.board}.",
            actor,
            change,
        )
    if not change.board.allow_requester_as_implementer and is_author(implementer, change):
        _refuse(
            "implementer_not_requester", "The board does not allow a change's requester to implement it.", actor, change
        )
    if (
        change.pk
        and change.current_revision_id
        and change.votes.filter(voter=implementer, voided_at__isnull=True, decision="approve").exists()
    ):
        _refuse(
            "implementer_not_approver",
            f"{implementer.get_username()} approved this change and cannot implement it.",
            actor,
            change,
        )


def assert_can_vote(*, actor: User, change: ChangeRequest) -> None:
    if is_author(actor, change):
        _refuse("requester_cannot_vote", "You requested this change, so you cannot vote on it.", actor, change)
    if change.implementer_id == actor.pk:
        _refuse(
            "implementer_cannot_approve", "You will implement this change, so you cannot vote on it.", actor, change
        )
    if not (has_role(actor, change.board, BoardRole.MEMBER) or has_role(actor, change.board, BoardRole.CHAIR)):
        _refuse("members_only_vote", f"Only current members of {change.board} vote on its changes.", actor, change)


def assert_can_decide(*, actor: User, change: ChangeRequest) -> None:
    if not has_role(actor, change.board, BoardRole.CHAIR):
        _refuse("chair_only_decides", f"Only the chair of {change.board} decides a change directly.", actor, change)
    if is_author(actor, change):
        _refuse("requester_cannot_decide", "You requested this change, so you cannot decide it.", actor, change)
    if change.implementer_id == actor.pk:
        _refuse("implementer_cannot_approve", "You will implement this change, so you cannot decide it.", actor, change)


def assert_can_review_retrospective(*, actor: User, change: ChangeRequest) -> None:
    assert_can_decide(actor=actor, change=change)


def assert_can_schedule(*, actor: User, change: ChangeRequest) -> None:
    if change.implementer_id == actor.pk or has_role(actor, change.board, BoardRole.CHAIR):
        return
    _refuse(
        "implementer_or_chair_schedules",
        "Only the change's implementer or the board's chair schedules it.",
        actor,
        change,
    )


def assert_can_implement(*, actor: User, change: ChangeRequest) -> None:
    if change.implementer_id != actor.pk:
        _refuse("implementer_only_executes", "Only the change's assigned implementer carries it out.", actor, change)
    if not has_role(actor, change.board, BoardRole.IMPLEMENTER):
        _refuse("implementer_needs_role", f"You are no longer an implementer on {change.board}.", actor, change)


def assert_is_engine(*, actor: User, change: ChangeRequest) -> None:
    """Outcomes of deployments come from their runs: ccb's engine records them, no person does."""
    from ccb.principals import is_system

    if not is_system(actor):
        _refuse(
            "engine_records_outcomes",
            "A deployment's outcome is recorded by ccb's engine from its run; start a run instead.",
            actor,
            change,
        )


def assert_can_answer_gate(*, actor: User, change: ChangeRequest, role: str, starter: User, not_starter: bool) -> None:
    """A go/no-go is answered by the role the runbook names; never by an approver of the change (whoever
    voted to approve its current revision or decided it); not by whoever started the run when the
    runbook says so."""
    if role not in ROLE_CODENAME or not has_role(actor, change.board, role):
        _refuse("gate_needs_role", f"This go/no-go is answered by a {role} of {change.board}.", actor, change)
    approved = (
        change.votes.filter(
            voter=actor, revision_id=change.current_revision_id, decision="approve", voided_at__isnull=True
        ).exists()
        or change.decisions.filter(revision_id=change.current_revision_id, decided_by=actor).exists()
    )
    if approved:
        _refuse("gate_not_by_approver", "You approved this change, so its go/no-go is someone else's.", actor, change)
    if not_starter and starter.pk == actor.pk:
        _refuse("gate_not_by_starter", "You started this run; the runbook asks someone else to answer.", actor, change)


def assert_can_abort_run(*, actor: User, change: ChangeRequest) -> None:
    if change.implementer_id == actor.pk or has_role(actor, change.board, BoardRole.CHAIR):
        return
    _refuse(
        "implementer_or_chair_aborts",
        "Only the change's implementer or the board's chair aborts its run.",
        actor,
        change,
    )


def assert_can_accept_drift(*, actor: User, change: ChangeRequest) -> None:
    if not has_role(actor, change.board, BoardRole.CHAIR) or is_author(actor, change):
        _refuse(
            "chair_accepts_drift",
            f"Only the chair of {change.board} accepts drift from the approved plan.",
            actor,
            change,
        )


def assert_can_close(*, actor: User, change: ChangeRequest) -> None:
    if has_role(actor, change.board, BoardRole.CHAIR) or has_role(actor, change.board, BoardRole.VERIFIER):
        return
    _refuse(
        "chair_or_verifier_closes",
        "Only the board's chair or a verifier closes a change after its post-implementation review.",
        actor,
        change,
    )


def assert_can_approve_runbook(*, actor: User, version: Any) -> None:
    if version.created_by_id == actor.pk:
        _refuse(
            "runbook_author_cannot_approve",
            "You wrote this runbook version, so someone else must approve it.",
            actor,
            version,
        )
    board = version.runbook.board
    if not any(has_role(actor, board, r) for r in (BoardRole.MEMBER, BoardRole.CHAIR, BoardRole.IMPLEMENTER)):
        _refuse(
            "runbook_reviewer_role",
            f"Runbooks for {board} are approved by its members, chair or implementers.",
            actor,
            version,
        )


def assert_board_admin(*, actor: User, board: Board | None = None) -> None:
    if actor.is_superuser or actor.is_staff and actor.has_perm("ccb.change_board"):
        return
    if board is not None and has_role(actor, board, BoardRole.CHAIR):
        return
    _refuse("board_admin_only", "Only administrators manage boards, services and templates.", actor, board)


def is_admin(actor: User) -> bool:
    return bool(actor.is_superuser or actor.is_staff and actor.has_perm("ccb.change_board"))


def assert_can_manage_windows(*, actor: User, board: Board | None, target: Any = None) -> None:
    """Maintenance windows and freezes on a board's services: its chair, or an administrator.

    A freeze over every board (``board`` None) is an administrator's alone.
    """
    if is_admin(actor):
        return
    if board is not None and has_role(actor, board, BoardRole.CHAIR):
        return
    scope = f"the services of {board}" if board is not None else "every board"
    _refuse(
        "chair_or_admin_manages_windows",
        f"Only the chair of the board or an administrator sets maintenance windows and freezes on {scope}.",
        actor,
        target or board,
    )


def assert_can_override_schedule(*, actor: User, change: ChangeRequest) -> None:
    """The emergency override (outside a window, over a conflict) is the chair's, never the requester's."""
    if not has_role(actor, change.board, BoardRole.CHAIR):
        _refuse(
            "chair_only_overrides_schedule",
            f"Only the chair of {change.board} may schedule a change outside a maintenance window or over "
            "another change.",
            actor,
            change,
        )
    if is_author(actor, change):
        _refuse(
            "requester_cannot_override_schedule",
            "You requested this change, so you cannot override its scheduling rules.",
            actor,
            change,
        )
