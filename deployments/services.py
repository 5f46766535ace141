"""Runbooks: versions parsed from YAML and validated, and their review and approval."""

import yaml
from django.contrib.auth.models import User
from django.db.models import Max
from django.utils import timezone

from ccb import audit, policies
from ccb.choices import AuditAction, BoardRole
from ccb.exceptions import Conflict, PacketInvalid
from ccb.models import Board
from ccb.services.base import service

from .models import Runbook, RunbookVersion

GATE_ROLES = {BoardRole.CHAIR, BoardRole.IMPLEMENTER, BoardRole.VERIFIER, BoardRole.MEMBER}


def parse_document(source: str) -> dict:
    """The runbook document from YAML, or PacketInvalid naming what is wrong and where."""
    try:
        document = yaml.safe_load(source)
    except yaml.YAMLError as exc:
        raise PacketInvalid({"source_yaml": [f"Not valid YAML: {exc}"]}) from exc
    errors: list[str] = []
    stages = document.get("stages") if isinstance(document, dict) else None
    if not isinstance(stages, list) or not stages:
        raise PacketInvalid({"source_yaml": ["The runbook needs a non-empty list under 'stages'."]})
    for i, stage in enumerate(stages, 1):
        if not isinstance(stage, dict) or not str(stage.get("name", "")).strip():
            errors.append(f"Stage {i} needs a name.")
            continue
        steps = stage.get("steps")
        if not isinstance(steps, list) or not steps:
            errors.append(f"Stage '{stage['name']}' needs a non-empty list of steps.")
            continue
        for j, step in enumerate(steps, 1):
            if not isinstance(step, dict) or not step.get("name") or not step.get("type"):
                errors.append(f"Step {j} of stage '{stage['name']}' needs a name and a type.")
            elif not isinstance(step.get("timeout_seconds", 0), int) or step.get("timeout_seconds", 0) < 0:
                errors.append(f"Step '{step['name']}': timeout_seconds must be a whole number of seconds.")
        gate = stage.get("gate")
        if gate is not None and (not isinstance(gate, dict) or gate.get("role") not in GATE_ROLES):
            errors.append(f"The gate after stage '{stage['name']}' must name a role: {', '.join(sorted(GATE_ROLES))}.")
    if errors:
        raise PacketInvalid({"source_yaml": errors})
    return document


@service
def runbook_create(*, actor: User, board: Board, name: str, description: str, source_yaml: str) -> RunbookVersion:
    policies.assert_not_read_only(actor=actor, board=board, target=board)
    if not name.strip():
        raise PacketInvalid({"name": ["Name the runbook."]})
    if Runbook.objects.filter(board=board, name=name.strip()).exists():
        raise PacketInvalid({"name": [f"{board} already has a runbook named '{name.strip()}'."]})
    runbook = Runbook.objects.create(board=board, name=name.strip(), description=description, created_by=actor)
    return _add_version(runbook, actor, source_yaml)


@service
def runbook_version_create(*, actor: User, runbook_id: int, source_yaml: str) -> RunbookVersion:
    runbook = Runbook.objects.select_for_update().select_related("board").get(pk=runbook_id)
    policies.assert_not_read_only(actor=actor, board=runbook.board, target=runbook)
    return _add_version(runbook, actor, source_yaml)


def _add_version(runbook: Runbook, actor: User, source_yaml: str) -> RunbookVersion:
    document = parse_document(source_yaml)
    number = (runbook.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    version = RunbookVersion(
        runbook=runbook, number=number, source_yaml=source_yaml, document=document, created_by=actor
    )
    version.content_hash = version.computed_hash()
    version.save()
    audit.record(
        actor=actor,
        action=AuditAction.RUNBOOK_CREATED,
        target=version,
        data={"runbook": runbook.pk, "version": number, "content_hash": version.content_hash},
    )
    return version


@service
def runbook_version_approve(*, actor: User, version_id: int) -> RunbookVersion:
    version = RunbookVersion.objects.select_for_update().select_related("runbook__board").get(pk=version_id)
    policies.assert_can_approve_runbook(actor=actor, version=version)
    if version.approved_at:
        raise Conflict(f"Version {version.number} was already approved by {version.approved_by}.")
    version.approved_by, version.approved_at = actor, timezone.now()
    version.save(update_fields=["approved_by", "approved_at"])
    audit.record(
        actor=actor,
        action=AuditAction.RUNBOOK_APPROVED,
        target=version,
        data={"runbook": version.runbook_id, "version": version.number, "content_hash": version.content_hash},
    )
    return version
