"""Runbooks: versions parsed from YAML and validated, and their review and approval."""

from django.contrib.auth.models import User
from django.db.models import Max
from django.utils import timezone

from ccb import audit, policies
from ccb.choices import AuditAction
from ccb.exceptions import Conflict, PacketInvalid
from ccb.models import Board
from ccb.services.base import service

from . import documents
from .models import Runbook, RunbookVersion


def parse_document(source: str) -> dict:
    """The stored document for a runbook's YAML (deployments.documents), or PacketInvalid on
    ``source_yaml`` with each error's line and field."""
    try:
        return documents.parse(source)
    except documents.DocumentInvalid as exc:
        raise PacketInvalid({"source_yaml": exc.errors}) from None


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
