import hashlib

from django.conf import settings
from django.db import models

from ccb.audit import canonical_json


class Runbook(models.Model):
    """A deployment runbook (6.2) for one board's changes; its content lives in numbered versions."""

    board = models.ForeignKey("ccb.Board", on_delete=models.PROTECT, related_name="runbooks")
    name = models.CharField(max_length=160)
    description = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["board", "name"]
        constraints = [models.UniqueConstraint(fields=["board", "name"], name="uniq_runbook_name")]

    def __str__(self) -> str:
        return self.name


class RunbookVersion(models.Model):
    """One immutable version of a runbook: stages of steps with their rollbacks, and go/no-go gates.

    The engine runs exactly this document; its content hash is what an approval binds to.
    """

    runbook = models.ForeignKey(Runbook, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    source_yaml = models.TextField()
    document = models.JSONField()
    content_hash = models.CharField(max_length=64)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["runbook", "number"]
        constraints = [models.UniqueConstraint(fields=["runbook", "number"], name="uniq_runbook_version")]

    def __str__(self) -> str:
        return f"{self.runbook} v{self.number}"

    def computed_hash(self) -> str:
        """The hash of the document as stored now; differs from content_hash if the row was tampered with."""
        return hashlib.sha256(canonical_json(self.document).encode()).hexdigest()

    @property
    def estimated_minutes(self) -> int:
        seconds = sum(
            int(step.get("timeout_seconds", 0))
            for stage in self.document.get("stages", [])
            for step in stage.get("steps", [])
        )
        return -(-seconds // 60)
