from django.conf import settings
from django.db import models


class AuditEvent(models.Model):
    """One link of the tamper-evident chain: hash = SHA-256(prev_hash || canonical JSON of the rest).

    Rows are append-only: database triggers refuse UPDATE, DELETE and TRUNCATE.
    """

    seq = models.BigIntegerField(primary_key=True)
    at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=64, db_index=True)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    data = models.TextField(default="{}", help_text="Canonical JSON, exactly as hashed.")
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["seq"]
        permissions = [("audit_everything", "Reads every change and the whole audit trail; changes nothing")]
        indexes = [models.Index(fields=["target_type", "target_id"])]
        # The chain starts at 1; verification reads from the lowest seq stored, so a row below it is
        # refused here and, were the constraint dropped, reported there.
        constraints = [models.CheckConstraint(condition=models.Q(seq__gte=1), name="audit_seq_starts_at_one")]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action}"
