"""Boards, roles on them, services (configuration items) and standard-change templates."""

from typing import Any

from django.contrib.auth.models import Group, Permission, User
from django.core.exceptions import ObjectDoesNotExist
from django.utils import timezone
from guardian.shortcuts import assign_perm, remove_perm

from ccb import audit, execution, policies
from ccb.choices import ROLE_PERMISSIONS, AuditAction, BoardRole
from ccb.exceptions import PacketInvalid
from ccb.models import Board, BoardMembership, Service, StandardChangeTemplate

from .base import lock_scheduling, service
from .review import quorum_reevaluate
from .windows import change_schedules_recheck

BOARD_FIELDS = (
    "name",
    "slug",
    "description",
    "min_approvals",
    "chair_required_from_risk",
    "consensus_required",
    "emergency_review_days",
    "allow_requester_as_implementer",
)
SERVICE_FIELDS = ("name", "slug", "description", "owner", "board", "criticality", "environments")
# Changing any of these, or who holds a voting role, re-applies the rule to the board's open changes.
QUORUM_FIELDS = frozenset({"min_approvals", "chair_required_from_risk", "consensus_required"})
VOTING_ROLES = frozenset({BoardRole.MEMBER, BoardRole.CHAIR})
TEMPLATE_FIELDS = (
    "board",
    "name",
    "description",
    "environment",
    "max_risk",
    "packet_defaults",
    "active",
)


def _current(obj: Any, name: str) -> Any:
    try:
        return getattr(obj, name)
    except ObjectDoesNotExist:  # an unset foreign key on a new row
        return None


def _assign(obj: Any, data: dict[str, Any], fields: tuple[str, ...]) -> list[str]:
    changed = [f for f in fields if f in data and _current(obj, f) != data[f]]
    for name in changed:
        setattr(obj, name, data[name])
    return changed


def _audit_data(obj: Any, fields: list[str]) -> dict:
    return {f: getattr(obj, f"{f}_id", None) or str(getattr(obj, f)) for f in fields}


@service
def board_save(*, actor: User, data: dict[str, Any], board: Board | None = None) -> Board:
    policies.assert_board_admin(actor=actor, board=None)
    created = board is None
    board = board or Board()
    changed = _assign(board, data, BOARD_FIELDS)
    board.full_clean()
    board.save()
    audit.record(
        actor=actor,
        action=AuditAction.BOARD_CREATED if created else AuditAction.BOARD_UPDATED,
        target=board,
        data=_audit_data(board, changed),
    )
    rule_changed = sorted(set(changed) & QUORUM_FIELDS)
    if rule_changed and not created:
        names = ", ".join(f.replace("_", " ") for f in rule_changed)
        quorum_reevaluate(board=board, actor=actor, why=f"{board} changed its quorum rule ({names}).")
    return board


@service
def board_role_grant(*, actor: User | None, board: Board, user: User, role: str) -> BoardMembership:
    if actor is not None:
        policies.assert_board_admin(actor=actor, board=None)
    if role not in ROLE_PERMISSIONS:
        raise PacketInvalid({"role": [f"Choose one of: {', '.join(ROLE_PERMISSIONS)}."]})
    membership, created = BoardMembership.objects.get_or_create(board=board, user=user, role=role)
    assign_perm(f"ccb.{ROLE_PERMISSIONS[role]}", user, board)
    assign_perm("ccb.view_board", user, board)
    if created:
        audit.record(
            actor=actor,
            action=AuditAction.BOARD_ROLE_GRANTED,
            target=board,
            data={"user": user.get_username(), "role": role},
        )
        if role in VOTING_ROLES:
            why = f"{user.get_username()} became {BoardRole(role).label.lower()} of {board}."
            quorum_reevaluate(board=board, actor=actor, why=why)
    return membership


@service
def board_role_revoke(*, actor: User | None, board: Board, user: User, role: str) -> None:
    if actor is not None:
        policies.assert_board_admin(actor=actor, board=None)
    deleted, _ = BoardMembership.objects.filter(board=board, user=user, role=role).delete()
    remove_perm(f"ccb.{ROLE_PERMISSIONS[role]}", user, board)
    if not BoardMembership.objects.filter(board=board, user=user).exists():
        remove_perm("ccb.view_board", user, board)
    if deleted:
        audit.record(
            actor=actor,
            action=AuditAction.BOARD_ROLE_REVOKED,
            target=board,
            data={"user": user.get_username(), "role": role},
        )
        if role in VOTING_ROLES:
            why = f"{user.get_username()} is no longer {BoardRole(role).label.lower()} of {board}."
            quorum_reevaluate(board=board, actor=actor, why=why)


AUDITORS_GROUP = "Auditors"


def _auditors_group() -> Group:
    group, created = Group.objects.get_or_create(name=AUDITORS_GROUP)
    if created:
        group.permissions.add(Permission.objects.get(content_type__app_label="ccb", codename="audit_everything"))
    return group


@service
def site_auditor_grant(*, actor: User | None, user: User) -> None:
    """Make someone a site auditor: they read every change and the whole trail, and change nothing."""
    if actor is not None:
        policies.assert_board_admin(actor=actor, board=None)
    group = _auditors_group()
    if not user.groups.filter(pk=group.pk).exists():
        user.groups.add(group)
        audit.record(
            actor=actor, action=AuditAction.SITE_AUDITOR_GRANTED, target=user, data={"user": user.get_username()}
        )


@service
def site_auditor_revoke(*, actor: User | None, user: User) -> None:
    if actor is not None:
        policies.assert_board_admin(actor=actor, board=None)
    group = _auditors_group()
    if user.groups.filter(pk=group.pk).exists():
        user.groups.remove(group)
        audit.record(
            actor=actor, action=AuditAction.SITE_AUDITOR_REVOKED, target=user, data={"user": user.get_username()}
        )


@service
def service_save(
    *,
    actor: User | None,
    data: dict[str, Any],
    instance: Service | None = None,
    depends_on: list[Service] | None = None,
) -> Service:
    if actor is not None:
        policies.assert_board_admin(actor=actor, board=None)
    if depends_on is not None:
        lock_scheduling()  # new dependencies can make booked changes clash
    created = instance is None
    svc = instance or Service()
    changed = _assign(svc, data, SERVICE_FIELDS)
    svc.full_clean()
    svc.save()
    if depends_on is not None:
        if svc in depends_on or svc.pk in _dependents_closure(svc):
            cycle = [s.name for s in depends_on if s == svc or s.pk in _dependents_closure(svc)]
            raise PacketInvalid({"depends_on": [f"A dependency cycle would form through: {', '.join(cycle)}."]})
        svc.depends_on.set(depends_on)
        changed.append("depends_on")
        if not created:
            change_schedules_recheck(
                actor=actor, service_ids=None, trigger=f"The dependencies of {svc.name} were changed."
            )
    data_out = _audit_data(svc, [c for c in changed if c != "depends_on"])
    if depends_on is not None:
        data_out["depends_on"] = sorted(s.slug for s in depends_on)
    audit.record(
        actor=actor,
        action=AuditAction.SERVICE_CREATED if created else AuditAction.SERVICE_UPDATED,
        target=svc,
        data=data_out,
    )
    return svc


def _dependents_closure(svc: Service) -> set[int]:
    """Ids of every service that depends on svc, directly or transitively."""
    through = Service.depends_on.through
    seen: set[int] = set()
    frontier = {svc.pk}
    while frontier:
        frontier = set(through.objects.filter(to_service_id__in=frontier).values_list("from_service_id", flat=True))
        frontier -= seen
        seen |= frontier
    return seen


@service
def template_save(
    *,
    actor: User,
    data: dict[str, Any],
    instance: StandardChangeTemplate | None = None,
    services: list[Service] | None = None,
) -> StandardChangeTemplate:
    """Create or change a standard template. Saving it is the board's pre-approval, so only its chair may."""
    board = instance.board if instance else data.get("board")
    policies.assert_board_admin(actor=actor, board=board)
    if instance and "board" in data and data["board"] != instance.board:
        raise PacketInvalid({"board": ["A template stays with the board that pre-approved it."]})
    created = instance is None
    if created and data.get("runbook_version") is None:
        raise PacketInvalid({"runbook_version": ["A template names the approved runbook version it runs."]})
    template = instance or StandardChangeTemplate()
    changed = _assign(template, data, TEMPLATE_FIELDS)
    template.approved_by, template.approved_at = actor, timezone.now()
    template.full_clean()
    template.save()
    if data.get("runbook_version") is not None:
        # the runbook must be one of the board's approved versions (400 on runbook_version otherwise)
        execution.link_template_runbook(template=template, version_id=data["runbook_version"], actor=actor)
        changed.append("runbook_version")
    if services is not None:
        template.services.set(services)
    audit.record(
        actor=actor,
        action=AuditAction.TEMPLATE_CREATED if created else AuditAction.TEMPLATE_UPDATED,
        target=template,
        data={
            **_audit_data(template, [c for c in changed if c != "runbook_version"]),
            **({"runbook_version": data["runbook_version"]} if "runbook_version" in changed else {}),
            "services": sorted(s.slug for s in services or []),
        },
    )
    return template
