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


class RefusalWindow(models.Model):
    """Repeats of one refusal (the same person, the same rule) within one window of time.

    The first refusal of a window is an event on the chain at once; the repeats only count here, off
    the chain's lock, so a loop of refused requests cannot slow anyone else's writes. When the window
    has closed, one chain event records how many repeats there were (see ccb.services.refusals).
    """

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor_name = models.CharField(max_length=150)
    rule = models.CharField(max_length=64)
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    count = models.PositiveIntegerField(default=1, help_text="Refusals in the window, the first one included.")
    first_seq = models.BigIntegerField(help_text="The chain event that recorded the first refusal.")
    last_at = models.DateTimeField()
    last_data = models.JSONField(default=dict, help_text="What the latest repeat was refused (path, service).")
    digested_seq = models.BigIntegerField(
        null=True, blank=True, help_text="The chain event that recorded the repeats, once the window closed."
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["actor_name", "rule", "window_start"], name="uniq_refusal_window")
        ]
        indexes = [
            models.Index(
                fields=["window_end"], condition=models.Q(digested_seq__isnull=True), name="refusal_window_open"
            )
        ]

    def __str__(self) -> str:
        return f"{self.actor_name} · {self.rule} · {self.count} from {self.window_start:%Y-%m-%d %H:%M}"
