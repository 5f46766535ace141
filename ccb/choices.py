"""Enumerations and the one map of legal change-request transitions."""

from django.db import models


class ChangeType(models.TextChoices):
    STANDARD = "standard", "Standard (pre-approved template)"
    NORMAL = "normal", "Normal"
    EMERGENCY = "emergency", "Emergency"


class Status(models.TextChoices):
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted"
    IN_REVIEW = "in_review", "In review"
    APPROVED = "approved", "Approved"
    APPROVED_WITH_CONDITIONS = "approved_with_conditions", "Approved with conditions"
    REJECTED = "rejected", "Rejected"
    WITHDRAWN = "withdrawn", "Withdrawn"
    SCHEDULED = "scheduled", "Scheduled"
    IMPLEMENTING = "implementing", "Implementing"
    COMPLETED = "completed", "Completed"
    ROLLED_BACK = "rolled_back", "Rolled back"
    FAILED = "failed", "Failed"
    CLOSED = "closed", "Closed"


APPROVED_STATES = frozenset({Status.APPROVED, Status.APPROVED_WITH_CONDITIONS})
REVIEW_STATES = frozenset({Status.SUBMITTED, Status.IN_REVIEW})
OUTCOME_STATES = frozenset({Status.COMPLETED, Status.ROLLED_BACK, Status.FAILED})

# The only legal moves. Every transition service checks this map before it writes.
TRANSITIONS: dict[str, frozenset[str]] = {
    Status.DRAFT: frozenset({Status.SUBMITTED, Status.APPROVED, Status.WITHDRAWN}),
    Status.SUBMITTED: frozenset({Status.IN_REVIEW, Status.WITHDRAWN, *APPROVED_STATES, Status.REJECTED}),
    Status.IN_REVIEW: frozenset({*APPROVED_STATES, Status.REJECTED, Status.WITHDRAWN}),
    Status.APPROVED: frozenset({Status.SCHEDULED, Status.WITHDRAWN}),
    Status.APPROVED_WITH_CONDITIONS: frozenset({Status.SCHEDULED, Status.WITHDRAWN}),
    Status.REJECTED: frozenset({Status.DRAFT}),
    Status.WITHDRAWN: frozenset(),
    Status.SCHEDULED: frozenset({Status.IMPLEMENTING, Status.SCHEDULED, Status.WITHDRAWN}),
    Status.IMPLEMENTING: frozenset(OUTCOME_STATES),
    Status.COMPLETED: frozenset({Status.CLOSED}),
    Status.ROLLED_BACK: frozenset({Status.CLOSED}),
    Status.FAILED: frozenset({Status.CLOSED}),
    Status.CLOSED: frozenset(),
}


class ImplementationOutcome(models.TextChoices):
    COMPLETED = "completed", "Completed"
    ROLLED_BACK = "rolled_back", "Rolled back"
    FAILED = "failed", "Failed"


class Environment(models.TextChoices):
    PRODUCTION = "production", "Production"
    STAGING = "staging", "Staging"
    TEST = "test", "Test"
    DEVELOPMENT = "development", "Development"


class RiskLevel(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"


RISK_ORDER: dict[str, int] = {RiskLevel.LOW: 0, RiskLevel.MEDIUM: 1, RiskLevel.HIGH: 2, RiskLevel.CRITICAL: 3}


class Criticality(models.TextChoices):
    TIER_1 = "tier1", "Tier 1 (business critical)"
    TIER_2 = "tier2", "Tier 2"
    TIER_3 = "tier3", "Tier 3"


class BoardRole(models.TextChoices):
    MEMBER = "member", "Member"
    CHAIR = "chair", "Chair"
    IMPLEMENTER = "implementer", "Implementer"
    VERIFIER = "verifier", "Verifier"
    AUDITOR = "auditor", "Auditor"


# Object permission on the board that each role carries (django-guardian).
ROLE_PERMISSIONS: dict[str, str] = {
    BoardRole.MEMBER: "board_member",
    BoardRole.CHAIR: "board_chair",
    BoardRole.IMPLEMENTER: "board_implementer",
    BoardRole.VERIFIER: "board_verifier",
    BoardRole.AUDITOR: "board_auditor",
}


class VoteDecision(models.TextChoices):
    APPROVE = "approve", "Approve"
    REJECT = "reject", "Reject"
    ABSTAIN = "abstain", "Abstain"


class DecisionOutcome(models.TextChoices):
    APPROVED = "approved", "Approved"
    APPROVED_WITH_CONDITIONS = "approved_with_conditions", "Approved with conditions"
    REJECTED = "rejected", "Rejected"


class DecisionBasis(models.TextChoices):
    QUORUM = "quorum", "Board quorum met"
    CHAIR = "chair", "Chair's decision"
    TEMPLATE = "template", "Pre-approved standard template"
    UNREACHABLE = "unreachable", "Quorum can no longer be reached"
    CONSENSUS = "consensus", "Consensus broken by a reject"


class ConditionKind(models.TextChoices):
    MANUAL = "manual", "Manual (attested with evidence)"
    AUTOMATED = "automated", "Automated check at a gate"


class NotificationAudience(models.TextChoices):
    NONE = "none", "No customer notification"
    AFFECTED = "affected", "Customers of the affected services"
    ALL = "all", "All customers"
    INTERNAL = "internal", "Internal stakeholders only"


class NotificationTiming(models.TextChoices):
    ON_SCHEDULE = "on_schedule", "When the change is scheduled"
    AT_START = "at_start", "When the deployment starts"


class AttachmentKind(models.TextChoices):
    VALIDATION_REPORT = "validation_report", "Validation report (Phase 5)"
    EVIDENCE = "evidence", "Other evidence"


class AuditAction(models.TextChoices):
    """Stable event names: never rename or reuse one."""

    CHANGE_CREATED = "change.created"
    CHANGE_UPDATED = "change.updated"
    CHANGE_SUBMITTED = "change.submitted"
    CHANGE_REVISED = "change.revised"
    CHANGE_REVIEW_STARTED = "change.review_started"
    CHANGE_WITHDRAWN = "change.withdrawn"
    CHANGE_DECIDED = "change.decided"
    CHANGE_SCHEDULED = "change.scheduled"
    CHANGE_IMPLEMENTATION_STARTED = "change.implementation_started"
    CHANGE_IMPLEMENTATION_FINISHED = "change.implementation_finished"
    CHANGE_CLOSED = "change.closed"
    CHANGE_RETROSPECTIVE = "change.retrospective_reviewed"
    VOTE_CAST = "vote.cast"
    VOTES_VOIDED = "vote.voided"
    CONDITION_SATISFIED = "condition.satisfied"
    ATTACHMENT_ADDED = "attachment.added"
    POLICY_REFUSED = "policy.refused"
    POLICY_REFUSED_REPEATED = "policy.refused_repeated"
    # Deployment runs (written by deployments' engine, on the change they deploy)
    DEPLOYMENT_STARTED = "deployment.started"
    DEPLOYMENT_DRIFT_ACCEPTED = "deployment.drift_accepted"
    DEPLOYMENT_STEP_STARTED = "deployment.step_started"
    DEPLOYMENT_STEP_SUCCEEDED = "deployment.step_succeeded"
    DEPLOYMENT_STEP_FAILED = "deployment.step_failed"
    DEPLOYMENT_STEP_RETRIED = "deployment.step_retried"
    DEPLOYMENT_AWS_CALLS = "deployment.aws_calls"
    DEPLOYMENT_GATE_WAITING = "deployment.gate_waiting"
    DEPLOYMENT_GATE_ANSWERED = "deployment.gate_answered"
    DEPLOYMENT_ROLLBACK_STARTED = "deployment.rollback_started"
    DEPLOYMENT_STEP_ROLLED_BACK = "deployment.step_rolled_back"
    DEPLOYMENT_ROLLBACK_FAILED = "deployment.rollback_failed"
    DEPLOYMENT_ABORT_REQUESTED = "deployment.abort_requested"
    DEPLOYMENT_HELD = "deployment.held"
    DEPLOYMENT_RESUMED = "deployment.resumed"
    DEPLOYMENT_WINDOW_EXTENDED = "deployment.window_extended"
    DEPLOYMENT_FINISHED = "deployment.finished"
    BOARD_CREATED = "board.created"
    BOARD_UPDATED = "board.updated"
    BOARD_ROLE_GRANTED = "board.role_granted"
    BOARD_ROLE_REVOKED = "board.role_revoked"
    SERVICE_CREATED = "service.created"
    SERVICE_UPDATED = "service.updated"
    TEMPLATE_CREATED = "template.created"
    TEMPLATE_UPDATED = "template.updated"
    RUNBOOK_CREATED = "runbook.version_created"
    RUNBOOK_APPROVED = "runbook.version_approved"
    SITE_AUDITOR_GRANTED = "auditor.granted"
    SITE_AUDITOR_REVOKED = "auditor.revoked"
    WINDOW_CREATED = "window.created"
    WINDOW_UPDATED = "window.updated"
    WINDOW_DEACTIVATED = "window.deactivated"
    FREEZE_CREATED = "freeze.created"
    FREEZE_UPDATED = "freeze.updated"
    FREEZE_DEACTIVATED = "freeze.deactivated"
    CHANGE_SCHEDULE_OVERRIDDEN = "change.schedule_overridden"
    CHANGE_SCHEDULE_FLAGGED = "change.schedule_conflict"
    CHANGE_SCHEDULE_CLEARED = "change.schedule_conflict_cleared"
    CALENDAR_TOKEN_ROTATED = "calendar.token_rotated"  # noqa: S105 -- an event name, not a secret
    CALENDAR_TOKEN_REVOKED = "calendar.token_revoked"  # noqa: S105


class ScheduleRule(models.TextChoices):
    """What a schedule can break: stable names, shown in 409s and stored on flagged changes."""

    NO_WINDOW = "no_window", "No maintenance window is defined"
    OUTSIDE_WINDOW = "outside_window", "Does not fit one window occurrence"
    FREEZE = "freeze", "Overlaps a freeze"
    CONFLICT = "conflict", "Overlaps another change on a related service"


# The chair's emergency override lifts these; a freeze is lifted only by ending or shortening it.
OVERRIDABLE_SCHEDULE_RULES = frozenset({ScheduleRule.NO_WINDOW, ScheduleRule.OUTSIDE_WINDOW, ScheduleRule.CONFLICT})
# Changes that occupy their planned slot: others may not overlap them on related services.
OCCUPYING_STATES = frozenset({Status.SCHEDULED, Status.IMPLEMENTING})
