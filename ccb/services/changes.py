"""Filing, editing, submitting, withdrawing and revising change requests."""

import hashlib
from datetime import date, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.core.files.uploadedfile import UploadedFile
from django.utils import timezone

from ccb import audit, execution, notices, policies, revisions, risk, scheduling, selectors
from ccb.choices import (
    REVIEW_STATES,
    AttachmentKind,
    AuditAction,
    ChangeType,
    DecisionBasis,
    DecisionOutcome,
    Status,
)
from ccb.exceptions import IllegalTransition, PacketInvalid
from ccb.models import (
    Attachment,
    Board,
    ChangeRequest,
    ChangeRevision,
    Condition,
    Decision,
    StandardChangeTemplate,
    Vote,
)
from ccb.models.changes import PACKET_FIELDS

from .base import assert_transition, lock_change, lock_scheduling, service
from .uploads import ALLOWED_TYPES, inspect_upload
from .windows import change_schedules_recheck

EDITABLE_STATES = frozenset({Status.DRAFT, *REVIEW_STATES})


def _validate(change: ChangeRequest, services: list | None) -> None:
    errors = risk.validate_answers(change.risk_answers)
    if change.requested_start and change.requested_end and change.requested_end <= change.requested_start:
        errors["requested_end"] = ["The requested window must end after it starts."]
    for svc in services or []:
        if svc.board_id != change.board_id:
            errors.setdefault("services", []).append(f"{svc} is governed by {svc.board}, not {change.board}.")
    if errors:
        raise PacketInvalid(errors)


def _link_runbook(change: ChangeRequest, data: dict[str, Any], actor: User) -> bool:
    """Link the runbook version ``data`` names, if it names one; True when the link changed.

    The execution layer decides which versions a change may run (its own board's approved ones, or a
    draft its filer wrote) and refuses others with 400 on ``runbook_version``.
    """
    if "runbook_version" not in data:
        return False
    wanted = data["runbook_version"]
    current = execution.runbook_of(change=change)
    if (current.version_id if current else None) == wanted:
        return False
    execution.link_runbook(change=change, version_id=wanted, actor=actor)
    return True


def _apply(change: ChangeRequest, data: dict[str, Any]) -> list[str]:
    """Copy packet fields from data onto change; returns the names that changed."""
    changed = []
    for name in (*PACKET_FIELDS, "implementer"):
        if name in data and name not in ("risk_level", "change_type") and getattr(change, name) != data[name]:
            setattr(change, name, data[name])
            changed.append(name)
    return changed


def _recompute_risk(change: ChangeRequest) -> None:
    criticalities = change.services.values_list("criticality", flat=True) if change.pk else []
    change.risk_level = risk.compute_level(change.risk_answers, criticalities)


def _set_services(change: ChangeRequest, services: list | None) -> bool:
    if services is None:
        return False
    before = set(change.services.values_list("pk", flat=True))
    change.services.set(services)
    return before != {s.pk for s in services}


@service
def change_request_create(*, actor: User, board: Board, data: dict[str, Any]) -> ChangeRequest:
    policies.assert_not_read_only(actor=actor, board=board, target=board)
    change_type = data.get("change_type", ChangeType.NORMAL)
    if change_type == ChangeType.STANDARD:
        raise PacketInvalid({"change_type": ["Standard changes are created from a pre-approved template."]})
    change = ChangeRequest(board=board, requester=actor, change_type=change_type, title=data.get("title", ""))
    services = data.get("services")
    _apply(change, data)
    _validate(change, services)
    policies.assert_implementer_allowed(implementer=change.implementer, change=change, actor=actor)
    change.save()
    _link_runbook(change, data, actor)
    _set_services(change, services)
    _recompute_risk(change)
    change.save(update_fields=["risk_level"])
    audit.record(
        actor=actor,
        action=AuditAction.CHANGE_CREATED,
        target=change,
        data={"board": board.pk, "type": change_type, "title": change.title},
    )
    return change


@service
def change_request_create_from_template(
    *, actor: User, template: StandardChangeTemplate, data: dict[str, Any]
) -> ChangeRequest:
    policies.assert_not_read_only(actor=actor, board=template.board, target=template)
    if not template.active or template.approved_at is None:
        raise PacketInvalid({"template": [f"'{template}' is not an active, board-approved template."]})
    merged = {**template.packet_defaults, **{k: v for k, v in data.items() if k != "services"}}
    change = ChangeRequest(
        board=template.board,
        requester=actor,
        change_type=ChangeType.STANDARD,
        template=template,
        environment=template.environment,
    )
    _apply(change, merged)
    _validate(change, None)
    policies.assert_implementer_allowed(implementer=change.implementer, change=change, actor=actor)
    change.save()
    runbook = execution.template_runbook(template=template)
    if runbook is not None:  # the template's runbook, approved with it
        execution.link_runbook(change=change, version_id=runbook.version_id, actor=actor, trusted=True)
    change.services.set(template.services.all())
    _recompute_risk(change)
    change.save(update_fields=["risk_level"])
    audit.record(
        actor=actor,
        action=AuditAction.CHANGE_CREATED,
        target=change,
        data={"board": template.board_id, "type": ChangeType.STANDARD, "template": template.pk},
    )
    return change


def _new_revision(change: ChangeRequest, actor: User) -> ChangeRevision:
    content = revisions.snapshot(change)
    number = (change.revision.number + 1) if change.current_revision_id else 1
    revision = ChangeRevision.objects.create(
        change=change,
        number=number,
        content=content,
        content_hash=revisions.content_hash(content),
        runbook_hash=runbook.content_hash if (runbook := execution.runbook_of(change=change)) else "",
        created_by=actor,
    )
    revision.plan_digest = execution.plan_for_revision(change=change, revision=revision)
    if revision.plan_digest:
        revision.save(update_fields=["plan_digest"])
    change.current_revision = revision
    return revision


def _void_votes(change: ChangeRequest, actor: User) -> int:
    voided = Vote.objects.filter(change=change, voided_at__isnull=True).update(voided_at=timezone.now())
    if voided:
        audit.record(
            actor=actor,
            action=AuditAction.VOTES_VOIDED,
            target=change,
            data={"count": voided, "revision": change.revision.content_hash},
        )
    return voided


def _packet_changed_under_review(change: ChangeRequest, actor: User, changed: list[str]) -> None:
    """A change under review that is edited gets a new revision; votes on the old one no longer count."""
    if change.status not in REVIEW_STATES:
        return
    old = change.current_revision
    revision = _new_revision(change, actor)
    change.save(update_fields=["current_revision"])
    if _void_votes(change, actor):
        members, _ = selectors.eligible_voters(change=change)
        notices.vote_needed(change, actor, members, f"Revision {revision.number} needs your vote again.")
    audit.record(
        actor=actor,
        action=AuditAction.CHANGE_REVISED,
        target=change,
        data={
            "from": old.content_hash if old else None,
            "to": revision.content_hash,
            "number": revision.number,
            "fields": changed,
        },
    )


@service
def change_request_update(*, change_id: int, actor: User, data: dict[str, Any]) -> ChangeRequest:
    change = lock_change(change_id)
    policies.assert_can_edit(actor=actor, change=change)
    if change.status not in EDITABLE_STATES:
        raise IllegalTransition(change.status, "edit")
    if change.change_type == ChangeType.STANDARD and "runbook_version" in data:
        raise PacketInvalid({"runbook_version": ["A standard change runs its template's runbook."]})
    services = data.get("services")
    changed = _apply(change, data)
    _validate(change, services)
    if "implementer" in changed:
        policies.assert_implementer_allowed(implementer=change.implementer, change=change, actor=actor)
    if _link_runbook(change, data, actor):
        changed.append("runbook_version")
    if _set_services(change, services):
        changed.append("services")
    if not changed:
        return change
    _recompute_risk(change)
    change.save()
    audit.record(actor=actor, action=AuditAction.CHANGE_UPDATED, target=change, data={"fields": sorted(changed)})
    _packet_changed_under_review(change, actor, sorted(changed))
    return change


@service
def change_request_submit(*, change_id: int, actor: User) -> ChangeRequest:
    change = lock_change(change_id)
    policies.assert_can_edit(actor=actor, change=change)
    standard = change.change_type == ChangeType.STANDARD
    assert_transition(change, Status.APPROVED if standard else Status.SUBMITTED, "submit")
    policies.assert_implementer_allowed(implementer=change.implementer, change=change, actor=actor)
    _recompute_risk(change)
    missing = selectors.entry_criteria(change=change)
    if missing:
        raise PacketInvalid(missing)
    revision = _new_revision(change, actor)
    now = timezone.now()
    change.submitted_at = now
    change.status = Status.SUBMITTED
    change.save()
    audit.record(
        actor=actor,
        action=AuditAction.CHANGE_SUBMITTED,
        target=change,
        data={
            "revision": revision.content_hash,
            "number": revision.number,
            "runbook": revision.runbook_hash,
            "risk": change.risk_level,
        },
    )
    notices.submitted(change, actor)
    if standard:
        record_decision(
            change=change,
            outcome=DecisionOutcome.APPROVED,
            basis=DecisionBasis.TEMPLATE,
            actor=None,
            rationale=f"Pre-approved by {change.board} as template '{change.template}'.",
        )
    return change


def record_decision(
    *,
    change: ChangeRequest,
    outcome: str,
    basis: str,
    actor: User | None,
    rationale: str = "",
    conditions: list[dict] | None = None,
) -> Decision:
    """Write the decision on the current revision and move the change; caller holds the row lock."""
    assert_transition(change, outcome, "decide")
    revision = change.revision
    decision = Decision.objects.create(
        change=change,
        revision=revision,
        outcome=outcome,
        basis=basis,
        decided_by=actor,
        rationale=rationale,
        revision_hash=revision.content_hash,
        runbook_hash=revision.runbook_hash,
        plan_digest=revision.plan_digest,
    )
    for cond in conditions or []:
        Condition.objects.create(
            change=change,
            decision=decision,
            kind=cond.get("kind", "manual"),
            text=cond["text"],
            automated_check=cond.get("check", {}),
            proposed_by=cond.get("proposed_by"),
        )
    now = timezone.now()
    change.status = outcome
    change.decided_at = now
    if change.change_type == ChangeType.EMERGENCY and outcome != DecisionOutcome.REJECTED:
        change.review_due_at = now + timedelta(days=change.board.emergency_review_days)
    change.save(update_fields=["status", "decided_at", "review_due_at", "updated_at"])
    notices.decision(
        change,
        actor,
        outcome=outcome,
        label=change.get_status_display(),
        rationale=rationale,
        conditions=[c["text"] for c in conditions or []],
    )
    audit.record(
        actor=actor,
        action=AuditAction.CHANGE_DECIDED,
        target=change,
        data={
            "outcome": outcome,
            "basis": basis,
            "revision": decision.revision_hash,
            "runbook": decision.runbook_hash,
            "conditions": [c["text"] for c in conditions or []],
            "rationale": rationale,
        },
    )
    return decision


@service
def change_request_withdraw(*, change_id: int, actor: User, reason: str = "") -> ChangeRequest:
    lock_scheduling()  # a withdrawn booking frees its slot: changes flagged against it are re-checked
    change = lock_change(change_id)
    policies.assert_can_withdraw(actor=actor, change=change)
    assert_transition(change, Status.WITHDRAWN, "withdraw")
    previous = change.status
    change.status = Status.WITHDRAWN
    change.save(update_fields=["status", "updated_at"])
    notices.withdrawn(change, actor, was=previous, reason=reason)
    if previous == Status.SCHEDULED:
        change_schedules_recheck(
            actor=actor,
            service_ids=scheduling.related_services(change.services.values_list("pk", flat=True)),
            trigger=f"{change.reference} was withdrawn by {actor.get_username()}.",
        )
    audit.record(
        actor=actor, action=AuditAction.CHANGE_WITHDRAWN, target=change, data={"from": previous, "reason": reason}
    )
    return change


@service
def change_request_revise(*, change_id: int, actor: User) -> ChangeRequest:
    """A rejected change goes back to draft so its requester can address the board and resubmit."""
    change = lock_change(change_id)
    policies.assert_can_edit(actor=actor, change=change)
    assert_transition(change, Status.DRAFT, "revise")
    change.status = Status.DRAFT
    change.save(update_fields=["status", "updated_at"])
    audit.record(
        actor=actor,
        action=AuditAction.CHANGE_UPDATED,
        target=change,
        data={"from": Status.REJECTED, "to": Status.DRAFT},
    )
    return change


@service
def attachment_add(
    *, change_id: int, actor: User, upload: UploadedFile, kind: str, signed_by: str = "", signed_on: date | None = None
) -> Attachment:
    change = lock_change(change_id)
    policies.assert_can_edit(actor=actor, change=change)
    if change.status not in EDITABLE_STATES:
        raise IllegalTransition(change.status, "attach files to")
    errors: dict[str, list[str]] = {}
    content_type = inspect_upload(upload, errors)
    if kind == AttachmentKind.VALIDATION_REPORT and not (signed_by.strip() and signed_on):
        errors["signed_by"] = ["A validation report needs its signer and the date it was signed."]
    if errors:
        raise PacketInvalid(errors)
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    attachment = Attachment(
        change=change,
        kind=kind,
        original_name=(upload.name or "upload")[:200],
        content_type=content_type,
        size=upload.size or 0,
        sha256=digest.hexdigest(),
        signed_by=signed_by.strip(),
        signed_on=signed_on,
        uploaded_by=actor,
    )
    attachment.file.save(f"upload.{ALLOWED_TYPES[content_type]}", upload, save=False)
    try:
        attachment.save()
        audit.record(
            actor=actor,
            action=AuditAction.ATTACHMENT_ADDED,
            target=change,
            data={
                "attachment": attachment.pk,
                "kind": kind,
                "sha256": attachment.sha256,
                "name": attachment.original_name,
            },
        )
        _packet_changed_under_review(change, actor, ["attachments"])
    except BaseException:
        attachment.file.delete(save=False)  # the row is rolled back, so the file must go too
        raise
    return attachment
