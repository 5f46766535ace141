"""Maintenance windows, freezes, the re-check of booked changes they trigger, and calendar feed tokens."""

import secrets
from collections.abc import Iterable
from datetime import UTC, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.utils import timezone

from ccb import audit, policies, scheduling
from ccb.choices import OVERRIDABLE_SCHEDULE_RULES, AuditAction, Status
from ccb.exceptions import PacketInvalid
from ccb.models import CalendarFeedToken, ChangeRequest, FreezeWindow, MaintenanceWindow, Service
from notifications import services as notifications

from .base import lock_scheduling, service

WINDOW_FIELDS = (
    "service",
    "environment",
    "name",
    "description",
    "time_zone",
    "duration_minutes",
    "rrule",
    "exdates",
    "active",
)
FREEZE_FIELDS = ("name", "reason", "board", "environment", "start", "end", "active")


def _full_clean(obj: Any) -> None:
    try:
        obj.full_clean()
    except ValidationError as exc:
        errors = {("non_field_errors" if k == "__all__" else k): v for k, v in exc.message_dict.items()}
        raise PacketInvalid(errors) from None


def _assign(obj: Any, data: dict[str, Any], fields: tuple[str, ...]) -> list[str]:
    changed = []
    for name in fields:
        if name in data and (obj.pk is None or getattr(obj, name) != data[name]):
            setattr(obj, name, data[name])
            changed.append(name)
    return changed


def _window_record(window: MaintenanceWindow) -> dict:
    return {
        "service": window.service.slug,
        "environment": window.environment,
        "name": window.name,
        "time_zone": window.time_zone,
        "dtstart": window.dtstart.isoformat(timespec="minutes"),
        "duration_minutes": window.duration_minutes,
        "rrule": window.rrule,
        "exdates": window.exdates,
        "active": window.active,
    }


# --- the re-check ----------------------------------------------------------------------------------


def _problem_keys(problems: Iterable[dict]) -> set[tuple]:
    return {(p.get("rule"), p.get("service"), p.get("window"), p.get("freeze"), p.get("change")) for p in problems}


def _record_check(change: ChangeRequest, problems: list[scheduling.Problem], actor: Any, trigger: str) -> bool:
    """Store what the schedule now breaks; audit and tell people when that changed. True if it changed."""
    before = _problem_keys(change.schedule_problems)
    if {p.key for p in problems} == before:
        return False
    change.schedule_problems = [p.as_dict() for p in problems]
    change.schedule_checked_at = timezone.now()
    change.save(update_fields=["schedule_problems", "schedule_checked_at", "updated_at"])
    if not problems:
        audit.record(actor=actor, action=AuditAction.CHANGE_SCHEDULE_CLEARED, target=change, data={"trigger": trigger})
        return True
    audit.record(
        actor=actor,
        action=AuditAction.CHANGE_SCHEDULE_FLAGGED,
        target=change,
        data={"trigger": trigger, "problems": change.schedule_problems},
    )
    if any(p.key not in before for p in problems):
        assert change.planned_start and change.planned_end  # only booked changes are checked
        notifications.notify(
            event="schedule_conflict",
            change_id=change.pk,
            user_ids=sorted(i for i in (change.requester_id, change.implementer_id) if i is not None),
            context={
                "reference": change.reference,
                "title": change.title,
                "planned_start": change.planned_start.isoformat(),
                "planned_end": change.planned_end.isoformat(),
                # Each reader's mail writes the times in their own zone (notifications.rendering).
                "problems": [{"message": p.message, "pieces": p.as_dict()["pieces"]} for p in problems],
                "rules": sorted({str(p.rule) for p in problems}),
                "reason": trigger,
                "trigger": trigger,
                **_other_change(change, problems),
            },
        )
    return True


def _other_change(change: ChangeRequest, problems: list[scheduling.Problem]) -> dict:
    """The first change this one now clashes with; its title only when both are on the same board."""
    other = next(
        (ChangeRequest.objects.filter(pk=p.change).only("pk", "title", "board").first() for p in problems if p.change),
        None,
    )
    if other is None:
        return {}
    return {"other_reference": other.reference, "other_title": other.title if other.board_id == change.board_id else ""}


@service
def change_schedules_recheck(
    *,
    actor: User | None,
    service_ids: Iterable[int] | None,
    trigger: str,
    exclude_change: int | None = None,
) -> list[ChangeRequest]:
    """Re-run the schedule rules for the booked changes on these services (None: every booked change).

    A change that no longer fits is flagged (``schedule_problems``) and its requester and implementer
    are told; one that fits again is cleared. A schedule the chair overrode answers only to freezes.
    Returns the changes whose flags changed.
    """
    lock_scheduling()
    booked = ChangeRequest.objects.filter(status=Status.SCHEDULED, planned_end__gt=timezone.now())
    if service_ids is not None:
        booked = booked.filter(services__in=list(service_ids))
    if exclude_change is not None:
        booked = booked.exclude(pk=exclude_change)
    ids = set(booked.values_list("pk", flat=True))
    # Every row lock before the first audit append, so no transaction waits on a row while holding the chain.
    changes = list(
        ChangeRequest.objects.select_for_update(of=("self",)).select_related("board").filter(pk__in=ids).order_by("pk")
    )
    flagged = []
    for change in changes:
        ignore = OVERRIDABLE_SCHEDULE_RULES if change.schedule_override_reason else ()
        # A booking made before it covered the whole timeline (rollback included) is checked for all of it.
        minutes = scheduling.timeline_minutes(change)
        assert change.planned_start and change.planned_end  # booked: both are set
        end = max(change.planned_end, change.planned_start + timedelta(minutes=minutes or 0))
        with timezone.override(UTC):  # stored for everyone to read, not in the zone of whoever triggered it
            problems = scheduling.check(change, change.planned_start, end, ignore=ignore)
        if _record_check(change, problems, actor, trigger):
            flagged.append(change)
    return flagged


def _who(actor: Any) -> str:
    return actor.get_username() if actor is not None else "the system"


# --- maintenance windows ---------------------------------------------------------------------------


@service
def maintenance_window_save(
    *, actor: User, data: dict[str, Any], instance: MaintenanceWindow | None = None
) -> MaintenanceWindow:
    """Create or change a window; ``data["dtstart"]`` is a naive local date-time in the window's zone."""
    lock_scheduling()
    old_service: Service | None = instance.service if instance else None
    new_service = data.get("service", old_service)
    if new_service is None:
        raise PacketInvalid({"service": ["Choose the service the window is for."]})
    for svc in {old_service, new_service} - {None}:
        policies.assert_can_manage_windows(actor=actor, board=svc.board, target=instance)
    window = instance or MaintenanceWindow(created_by=actor)
    changed = _assign(window, data, WINDOW_FIELDS)
    if "dtstart" in data:
        dtstart = data["dtstart"].replace(second=0, microsecond=0)
        if window.pk is None or window.dtstart != dtstart:
            window.start_date, window.start_time = dtstart.date(), dtstart.time()
            changed.append("dtstart")
    _full_clean(window)
    window.save()
    created = instance is None
    change_schedules_recheck(
        actor=actor,
        service_ids={s.pk for s in (old_service, new_service) if s is not None},
        trigger=f"The maintenance window '{window.name}' for {window.service} was "
        f"{'created' if created else 'changed'} by {_who(actor)}.",
    )
    audit.record(
        actor=actor,
        action=AuditAction.WINDOW_CREATED if created else AuditAction.WINDOW_UPDATED,
        target=window,
        data={**_window_record(window), "changed": changed},
    )
    return window


@service
def maintenance_window_deactivate(*, actor: User, window_id: int) -> MaintenanceWindow:
    """Stop a window admitting changes; it stays on record, and booked changes that needed it are flagged."""
    lock_scheduling()
    window = (
        MaintenanceWindow.objects.select_for_update(of=("self",)).select_related("service__board").get(pk=window_id)
    )
    policies.assert_can_manage_windows(actor=actor, board=window.service.board, target=window)
    if window.active:
        window.active = False
        window.save(update_fields=["active", "updated_at"])
        change_schedules_recheck(
            actor=actor,
            service_ids={window.service_id},
            trigger=f"The maintenance window '{window.name}' for {window.service} was withdrawn by {_who(actor)}.",
        )
        audit.record(actor=actor, action=AuditAction.WINDOW_DEACTIVATED, target=window, data=_window_record(window))
    return window


# --- freezes ---------------------------------------------------------------------------------------


def _freeze_scope(freeze: FreezeWindow) -> set[int] | None:
    """Ids of the services a freeze covers, or None when it covers whole boards (re-check everything)."""
    named = set(freeze.services.values_list("pk", flat=True))
    return named or None


def _freeze_record(freeze: FreezeWindow) -> dict:
    return {
        "name": freeze.name,
        "reason": freeze.reason,
        "board": freeze.board_id,
        "services": sorted(freeze.services.values_list("slug", flat=True)),
        "environment": freeze.environment,
        "start": freeze.start,
        "end": freeze.end,
        "active": freeze.active,
    }


@service
def freeze_save(
    *,
    actor: User,
    data: dict[str, Any],
    services: list[Service] | None = None,
    instance: FreezeWindow | None = None,
) -> FreezeWindow:
    """Create or change a freeze. Booked changes it now covers are flagged; ones it released are cleared."""
    lock_scheduling()
    old_board = instance.board if instance else None
    new_board = data["board"] if "board" in data else old_board
    if instance is not None:
        policies.assert_can_manage_windows(actor=actor, board=old_board, target=instance)
    policies.assert_can_manage_windows(actor=actor, board=new_board, target=instance)
    named = services if services is not None else (list(instance.services.all()) if instance else [])
    strangers = [s.name for s in named if new_board is not None and s.board_id != new_board.pk]
    if strangers:
        raise PacketInvalid({"services": [f"Not services of {new_board}: {', '.join(strangers)}."]})
    old_scope = _freeze_scope(instance) if instance else set()
    freeze = instance or FreezeWindow(created_by=actor)
    changed = _assign(freeze, data, FREEZE_FIELDS)
    _full_clean(freeze)
    freeze.save()
    if services is not None:
        freeze.services.set(services)
        changed.append("services")
    new_scope = _freeze_scope(freeze)
    scope = None if old_scope is None or new_scope is None else old_scope | new_scope
    created = instance is None
    change_schedules_recheck(
        actor=actor,
        service_ids=scope,
        trigger=f"The freeze '{freeze.name}' was {'created' if created else 'changed'} by {_who(actor)}.",
    )
    audit.record(
        actor=actor,
        action=AuditAction.FREEZE_CREATED if created else AuditAction.FREEZE_UPDATED,
        target=freeze,
        data={**_freeze_record(freeze), "changed": changed},
    )
    return freeze


@service
def freeze_deactivate(*, actor: User, freeze_id: int) -> FreezeWindow:
    """Lift a freeze; booked changes it blocked are cleared."""
    lock_scheduling()
    freeze = FreezeWindow.objects.select_for_update(of=("self",)).select_related("board").get(pk=freeze_id)
    policies.assert_can_manage_windows(actor=actor, board=freeze.board, target=freeze)
    if freeze.active:
        freeze.active = False
        freeze.save(update_fields=["active", "updated_at"])
        change_schedules_recheck(
            actor=actor,
            service_ids=_freeze_scope(freeze),
            trigger=f"The freeze '{freeze.name}' was lifted by {_who(actor)}.",
        )
        audit.record(actor=actor, action=AuditAction.FREEZE_DEACTIVATED, target=freeze, data=_freeze_record(freeze))
    return freeze


# --- calendar feed tokens --------------------------------------------------------------------------


@service
def calendar_token_rotate(*, actor: User) -> CalendarFeedToken:
    """A new secret for the person's feed URL; the old URL stops working at once."""
    replaced, _ = CalendarFeedToken.objects.filter(user=actor).delete()
    token = CalendarFeedToken.objects.create(user=actor, key=secrets.token_urlsafe(32))
    audit.record(
        actor=actor, action=AuditAction.CALENDAR_TOKEN_ROTATED, target=actor, data={"replaced": bool(replaced)}
    )
    return token


@service
def calendar_token_revoke(*, actor: User) -> bool:
    deleted, _ = CalendarFeedToken.objects.filter(user=actor).delete()
    if deleted:
        audit.record(actor=actor, action=AuditAction.CALENDAR_TOKEN_REVOKED, target=actor, data={})
    return bool(deleted)
