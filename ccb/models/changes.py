import uuid
from pathlib import PurePosixPath

from django.conf import settings
from django.db import models
from django.db.models import Q

from ccb.choices import (
    AttachmentKind,
    ChangeType,
    ConditionKind,
    DecisionBasis,
    DecisionOutcome,
    Environment,
    NotificationAudience,
    NotificationTiming,
    RiskLevel,
    Status,
    VoteDecision,
)

from .boards import Board, Service, StandardChangeTemplate

# The packet: every field a revision snapshots and the board approves (DESIGN 6.1).
PACKET_FIELDS = (
    "change_type",
    "title",
    "summary",
    "justification",
    "environment",
    "users_affected",
    "expected_downtime_minutes",
    "impact_dependencies",
    "risk_answers",
    "risk_level",
    "roi_cost",
    "roi_benefit",
    "roi_payback_months",
    "rollback_steps",
    "rollback_minutes",
    "rollback_tested_on",
    "notification_subject",
    "notification_body",
    "notification_audience",
    "notification_timing",
    "requested_start",
    "requested_end",
    "estimated_duration_minutes",
    "open_issues_resolved",
    "open_issue_links",
    "test_environments_validated",
    "test_environments",
)


class ChangeRequest(models.Model):
    """A Change Request Packet and where it stands in the lifecycle."""

    board = models.ForeignKey(Board, on_delete=models.PROTECT, related_name="changes")
    change_type = models.CharField(max_length=12, choices=ChangeType.choices, default=ChangeType.NORMAL)
    template = models.ForeignKey(
        StandardChangeTemplate, null=True, blank=True, on_delete=models.PROTECT, related_name="changes"
    )
    status = models.CharField(max_length=32, choices=Status.choices, default=Status.DRAFT, db_index=True)
    requester = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="requested_changes")
    implementer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="implemented_changes"
    )

    title = models.CharField(max_length=200)
    summary = models.TextField(blank=True)
    justification = models.TextField(blank=True)
    services = models.ManyToManyField(Service, related_name="changes", blank=True)
    environment = models.CharField(max_length=20, choices=Environment.choices, default=Environment.PRODUCTION)

    users_affected = models.PositiveIntegerField(null=True, blank=True)
    expected_downtime_minutes = models.PositiveIntegerField(null=True, blank=True)
    impact_dependencies = models.TextField(blank=True)

    risk_answers = models.JSONField(default=dict, blank=True)
    risk_level = models.CharField(max_length=10, choices=RiskLevel.choices, default=RiskLevel.LOW, db_index=True)

    roi_cost = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    roi_benefit = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    roi_payback_months = models.PositiveSmallIntegerField(null=True, blank=True)

    rollback_steps = models.TextField(blank=True)
    rollback_minutes = models.PositiveIntegerField(null=True, blank=True)
    rollback_tested_on = models.DateField(null=True, blank=True)

    notification_subject = models.CharField(max_length=200, blank=True)
    notification_body = models.TextField(blank=True)
    notification_audience = models.CharField(
        max_length=12, choices=NotificationAudience.choices, default=NotificationAudience.NONE
    )
    notification_timing = models.CharField(
        max_length=12, choices=NotificationTiming.choices, default=NotificationTiming.ON_SCHEDULE
    )

    requested_start = models.DateTimeField(null=True, blank=True)
    requested_end = models.DateTimeField(null=True, blank=True)
    estimated_duration_minutes = models.PositiveIntegerField(null=True, blank=True)
    # The runbook version the change runs is linked by deployments (ccb.execution.runbook_of); the
    # release & rollback plan (6.3) follows from that runbook.

    open_issues_resolved = models.BooleanField(
        default=False, help_text="The requester attests no critical or high issue is open."
    )
    open_issue_links = models.JSONField(default=list, blank=True)
    test_environments_validated = models.BooleanField(default=False)
    test_environments = models.TextField(blank=True)

    current_revision = models.ForeignKey(
        "ChangeRevision", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    submitted_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    planned_start = models.DateTimeField(null=True, blank=True, db_index=True)
    planned_end = models.DateTimeField(null=True, blank=True)
    schedule_sequence = models.PositiveIntegerField(
        default=0, help_text="Bumped on every reschedule: the SEQUENCE of the change's calendar event."
    )
    schedule_problems = models.JSONField(
        default=list,
        blank=True,
        help_text="Rules the schedule breaks since a window, freeze or other schedule changed; empty when it fits.",
    )
    schedule_checked_at = models.DateTimeField(null=True, blank=True)
    schedule_override_reason = models.TextField(
        blank=True, help_text="Why the chair scheduled outside a window or over a conflict (emergency override)."
    )
    schedule_overridden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    review_due_at = models.DateTimeField(null=True, blank=True)
    retrospective_at = models.DateTimeField(null=True, blank=True)
    retrospective_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    retrospective_notes = models.TextField(blank=True)
    exit_criteria = models.JSONField(default=dict, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # Who may see a change (its board's people once it is submitted, its requester and implementer)
            # is answered from this index alone, so counting a person's list never reads the table.
            models.Index(fields=["board", "status", "requester", "implementer"], name="change_visibility_idx"),
            models.Index(fields=["requester", "-created_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(requested_end__isnull=True)
                | Q(requested_start__isnull=True)
                | Q(requested_end__gt=models.F("requested_start")),
                name="change_requested_window_ordered",
            ),
            models.CheckConstraint(
                condition=Q(change_type=ChangeType.STANDARD, template__isnull=False)
                | ~Q(change_type=ChangeType.STANDARD),
                name="standard_change_has_template",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.title}"

    @property
    def revision(self) -> "ChangeRevision":
        """The current revision; only a change that was never submitted has none."""
        if self.current_revision is None:
            raise ValueError(f"{self.reference} has not been submitted, so it has no revision yet.")
        return self.current_revision

    @property
    def reference(self) -> str:
        return f"CHG-{self.pk:06d}" if self.pk else "CHG-new"

    @property
    def is_review_overdue(self) -> bool:
        from django.utils import timezone

        return bool(
            self.change_type == ChangeType.EMERGENCY
            and self.review_due_at
            and self.retrospective_at is None
            and self.review_due_at < timezone.now()
        )


class ChangeRevision(models.Model):
    """An immutable snapshot of the packet and its runbook, made at submit; votes and the decision bind to it."""

    change = models.ForeignKey(ChangeRequest, on_delete=models.PROTECT, related_name="revisions")
    number = models.PositiveIntegerField()
    content = models.JSONField()
    content_hash = models.CharField(max_length=64)
    runbook_hash = models.CharField(max_length=64, blank=True)
    plan_digest = models.CharField(
        max_length=64, blank=True, help_text="Digest of each step's plan read from live state at submit."
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["change", "number"]
        constraints = [models.UniqueConstraint(fields=["change", "number"], name="uniq_revision_number")]

    def __str__(self) -> str:
        return f"{self.change.reference} r{self.number}"


class Vote(models.Model):
    """One member's vote on one revision. A newer revision voids it."""

    change = models.ForeignKey(ChangeRequest, on_delete=models.PROTECT, related_name="votes")
    revision = models.ForeignKey(ChangeRevision, on_delete=models.PROTECT, related_name="votes")
    voter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="votes")
    decision = models.CharField(max_length=10, choices=VoteDecision.choices)
    comment = models.TextField(blank=True)
    conditions = models.JSONField(default=list, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["revision", "voter"], name="one_vote_per_member_per_revision"),
            models.CheckConstraint(
                condition=~Q(decision=VoteDecision.REJECT) | ~Q(comment=""), name="reject_needs_comment"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.voter} {self.decision} r{self.revision.number}"


class Decision(models.Model):
    """The board's decision on one revision, bound to that revision's and its runbook's hashes."""

    change = models.ForeignKey(ChangeRequest, on_delete=models.PROTECT, related_name="decisions")
    revision = models.ForeignKey(ChangeRevision, on_delete=models.PROTECT, related_name="decisions")
    outcome = models.CharField(max_length=32, choices=DecisionOutcome.choices)
    basis = models.CharField(max_length=16, choices=DecisionBasis.choices)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The chair for a chair's decision; the member whose vote met the rule for a quorum decision.",
    )
    rationale = models.TextField(blank=True)
    revision_hash = models.CharField(max_length=64)
    runbook_hash = models.CharField(max_length=64, blank=True)
    plan_digest = models.CharField(max_length=64, blank=True, help_text="The plan the board saw, as its digest.")
    decided_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-decided_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["revision"], name="one_decision_per_revision")]

    def __str__(self) -> str:
        return f"{self.change.reference} {self.outcome}"


class Condition(models.Model):
    """A condition attached to an approval: attested by a person, or checked by the engine at a gate."""

    change = models.ForeignKey(ChangeRequest, on_delete=models.PROTECT, related_name="conditions")
    decision = models.ForeignKey(Decision, on_delete=models.PROTECT, related_name="conditions")
    kind = models.CharField(max_length=10, choices=ConditionKind.choices, default=ConditionKind.MANUAL)
    text = models.TextField()
    automated_check = models.JSONField(
        default=dict, blank=True, help_text="For automated conditions: what the engine checks."
    )
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    satisfied_at = models.DateTimeField(null=True, blank=True)
    satisfied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    evidence = models.TextField(blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.text[:60]


def attachment_path(instance: "Attachment", filename: str) -> str:
    suffix = PurePosixPath(filename).suffix.lower()[:10]
    return f"attachments/{uuid.uuid4().hex}{suffix}"


class Attachment(models.Model):
    """A file on a change (the signed validation report, other evidence). Served only to readers of the change."""

    change = models.ForeignKey(ChangeRequest, on_delete=models.PROTECT, related_name="attachments")
    kind = models.CharField(max_length=20, choices=AttachmentKind.choices, default=AttachmentKind.EVIDENCE)
    file = models.FileField(upload_to=attachment_path, max_length=200)
    original_name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    signed_by = models.CharField(max_length=120, blank=True)
    signed_on = models.DateField(null=True, blank=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["uploaded_at", "id"]

    def __str__(self) -> str:
        return self.original_name
