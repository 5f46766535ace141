"""The canonical snapshot of a packet, and its hash: what the board approves and the engine runs."""

import hashlib

from ccb import execution
from ccb.audit import canonical_json
from ccb.models import ChangeRequest
from ccb.models.changes import PACKET_FIELDS


def _plain(value):
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if value.__class__.__name__ == "Decimal":
        return str(value)
    return value


def snapshot(change: ChangeRequest) -> dict:
    runbook = execution.runbook_of(change=change)
    return {
        "packet": {name: _plain(getattr(change, name)) for name in PACKET_FIELDS},
        "board": change.board_id,
        "template": change.template_id,
        "requester": change.requester.get_username(),
        "implementer": change.implementer.get_username() if change.implementer_id else None,
        "services": sorted(change.services.values_list("slug", flat=True)),
        "runbook": None
        if runbook is None
        else {
            "id": runbook.version_id,
            "runbook": runbook.runbook_id,
            "version": runbook.number,
            "content_hash": runbook.content_hash,
        },
        "attachments": [
            {
                "id": a.pk,
                "kind": a.kind,
                "name": a.original_name,
                "sha256": a.sha256,
                "signed_by": a.signed_by,
                "signed_on": _plain(a.signed_on),
            }
            for a in change.attachments.order_by("pk")
        ],
    }


def content_hash(content: dict) -> str:
    return hashlib.sha256(canonical_json(content).encode()).hexdigest()
