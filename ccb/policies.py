"""Separation of duties and role rules. Pure checks that raise PolicyViolation with the rule's name.

Services call these; nothing else decides who may do what to a change.
"""

from typing import Any

from django.contrib.auth.models import Permission
from django.db.models import Q
from guardian.shortcuts import get_group_perms, get_user_perms

from ccb.choices import BoardRole
from ccb.exceptions import PolicyViolation

ROLE_CODENAME = {role: f"board_{role}" for role in BoardRole.values}


def has_role(user: Any, board: Any, role: str) -> bool:
    """The role's object permission on the board, held directly or through a group.

    Deliberately not ``user.has_perm``: a superuser holds every permission there, and an
    administrator must not become a voter by being one.
    """
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    codename = ROLE_CODENAME[role]
    return codename in get_user_perms(user, board) or codename in get_group_perms(user, board)


def is_author(user: Any, change: Any) -> bool:
    """Whoever authored the change or any revision of it counts as its requester."""
    if change.requester_id == user.pk:
        return True
    return change.pk is not None and change.revisions.filter(created_by=user).exists()


def _refuse(rule: str, message: str, actor: Any, target: Any) -> None:
    raise PolicyViolation(rule, message, actor=actor, target=target)


def is_site_auditor(user: Any) -> bool:
    """Holds the site-wide auditor permission (directly or through a group): reads all, writes nothing."""
    if user is None or not user.is_authenticated or user.is_superuser or not user.is_active:
        return False
    if not hasattr(user, "_ccb_site_auditor"):  # one query, remembered for the request
        user._ccb_site_auditor = (
            Permission.objects.filter(content_type__app_label="ccb", codename="audit_everything")
            .filter(Q(user=user) | Q(group__user=user))
            .exists()
        )
    return user._ccb_site_auditor


def assert_not_read_only(*, actor: Any, board: Any, target: Any = None) -> None:
    if is_site_auditor(actor):
        _refuse("auditor_read_only", "Auditors read everything and change nothing.", actor, target)
    if has_role(actor, board, BoardRole.AUDITOR) and not any(
        has_role(actor, board, r) for r in (BoardRole.MEMBER, BoardRole.CHAIR, BoardRole.IMPLEMENTER)
    ):
        _refuse("auditor_read_only", "Auditors read everything on their board and change nothing.", actor, target)


def assert_can_edit(*, actor: Any, change: Any) -> None:
    assert_not_read_only(actor=actor, board=change.board, target=change)
    if change.requester_id != actor.pk:
        _refuse("requester_only_edits", "Only the change's requester may edit or submit it.", actor, change)


def assert_can_withdraw(*, actor: Any, change: Any) -> None:
    """The requester withdraws their own change; the board's chair may withdraw anyone else's."""
    if has_role(actor, change.board, BoardRole.CHAIR) and not is_author(actor, change):
        return
    assert_can_edit(actor=actor, change=change)


def assert_can_satisfy_condition(*, actor: Any, change: Any) -> None:
    """A condition of the approval is attested as met by the change's requester or its implementer."""
    if actor.pk in (change.requester_id, change.implementer_id):
        return
    assert_can_implement(actor=actor, change=change)


def assert_implementer_allowed(*, implementer: Any, change: Any, actor: Any) -> None:
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


def assert_can_vote(*, actor: Any, change: Any) -> None:
    if is_author(actor, change):
        _refuse("requester_cannot_vote", "You requested this change, so you cannot vote on it.", actor, change)
    if change.implementer_id == actor.pk:
        _refuse(
            "implementer_cannot_approve", "You will implement this change, so you cannot vote on it.", actor, change
        )
    if not (has_role(actor, change.board, BoardRole.MEMBER) or has_role(actor, change.board, BoardRole.CHAIR)):
        _refuse("members_only_vote", f"Only current members of {change.board} vote on its changes.", actor, change)


def assert_can_decide(*, actor: Any, change: Any) -> None:
    if not has_role(actor, change.board, BoardRole.CHAIR):
        _refuse("chair_only_decides", f"Only the chair of {change.board} decides a change directly.", actor, change)
    if is_author(actor, change):
        _refuse("requester_cannot_decide", "You requested this change, so you cannot decide it.", actor, change)
    if change.implementer_id == actor.pk:
        _refuse("implementer_cannot_approve", "You will implement this change, so you cannot decide it.", actor, change)


def assert_can_review_retrospective(*, actor: Any, change: Any) -> None:
    assert_can_decide(actor=actor, change=change)


def assert_can_schedule(*, actor: Any, change: Any) -> None:
    if change.implementer_id == actor.pk or has_role(actor, change.board, BoardRole.CHAIR):
        return
    _refuse(
        "implementer_or_chair_schedules",
        "Only the change's implementer or the board's chair schedules it.",
        actor,
        change,
    )


def assert_can_implement(*, actor: Any, change: Any) -> None:
    if change.implementer_id != actor.pk:
        _refuse("implementer_only_executes", "Only the change's assigned implementer carries it out.", actor, change)
    if not has_role(actor, change.board, BoardRole.IMPLEMENTER):
        _refuse("implementer_needs_role", f"You are no longer an implementer on {change.board}.", actor, change)


def assert_can_close(*, actor: Any, change: Any) -> None:
    if has_role(actor, change.board, BoardRole.CHAIR) or has_role(actor, change.board, BoardRole.VERIFIER):
        return
    _refuse(
        "chair_or_verifier_closes",
        "Only the board's chair or a verifier closes a change after its post-implementation review.",
        actor,
        change,
    )


def assert_can_approve_runbook(*, actor: Any, version: Any) -> None:
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


def assert_board_admin(*, actor: Any, board: Any = None) -> None:
    if actor.is_superuser or actor.is_staff and actor.has_perm("ccb.change_board"):
        return
    if board is not None and has_role(actor, board, BoardRole.CHAIR):
        return
    _refuse("board_admin_only", "Only administrators manage boards, services and templates.", actor, board)


def is_admin(actor: Any) -> bool:
    return bool(actor.is_superuser or actor.is_staff and actor.has_perm("ccb.change_board"))


def assert_can_manage_windows(*, actor: Any, board: Any, target: Any = None) -> None:
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


def assert_can_override_schedule(*, actor: Any, change: Any) -> None:
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
