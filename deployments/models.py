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
        """The planned timeline in minutes: the release plan's for typed runbooks, the step timeouts' sum
        for runbooks written before them."""
        from . import documents

        if not documents.needs_review(self.document):
            return -(-documents.release_plan(self.document).planned_seconds // 60)
        seconds = sum(
            int(step.get("timeout_seconds", 0))
            for stage in self.document.get("stages", [])
            for step in stage.get("steps", [])
        )
        return -(-seconds // 60)


class RunStatus(models.TextChoices):
    PENDING = "pending", "Starting"
    RUNNING = "running", "Running"
    WAITING = "waiting", "Waiting (bake or AWS in progress)"
    AWAITING_ANSWER = "awaiting_answer", "Waiting for a go/no-go"
    PAUSED = "paused", "Paused after a failure: a go/no-go decides"
    HELD = "held", "Held: outside its window or in a freeze"
    ROLLING_BACK = "rolling_back", "Rolling back"
    SUCCEEDED = "succeeded", "Succeeded"
    ROLLED_BACK = "rolled_back", "Rolled back"
    FAILED = "failed", "Failed (rollback incomplete)"


ACTIVE_RUN_STATES = frozenset(
    {
        RunStatus.PENDING,
        RunStatus.RUNNING,
        RunStatus.WAITING,
        RunStatus.AWAITING_ANSWER,
        RunStatus.PAUSED,
        RunStatus.HELD,
        RunStatus.ROLLING_BACK,
    }
)
FINISHED_RUN_STATES = frozenset({RunStatus.SUCCEEDED, RunStatus.ROLLED_BACK, RunStatus.FAILED})


class StepStatus(models.TextChoices):
    PENDING = "pending", "Not started"
    RUNNING = "running", "Running"
    WAITING = "waiting", "Waiting"
    AWAITING_ANSWER = "awaiting_answer", "Waiting for a go/no-go"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"
    ROLLING_BACK = "rolling_back", "Rolling back"
    ROLLED_BACK = "rolled_back", "Rolled back"
    ROLLBACK_FAILED = "rollback_failed", "Rollback failed"


class DeploymentRun(models.Model):
    """One execution of an approved change's runbook version, or a rehearsal of it. The truth about a
    run is this row and its step rows; the broker only wakes workers."""

    change = models.ForeignKey("ccb.ChangeRequest", on_delete=models.PROTECT, related_name="deployment_runs")
    runbook_version = models.ForeignKey(RunbookVersion, on_delete=models.PROTECT, related_name="runs")
    environment = models.CharField(max_length=20)
    rehearsal = models.BooleanField(default=False)
    status = models.CharField(max_length=20, choices=RunStatus.choices, default=RunStatus.PENDING, db_index=True)
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    armed = models.BooleanField(default=False, help_text="Started by ccb itself when the window opened.")
    revision_hash = models.CharField(max_length=64)
    runbook_hash = models.CharField(max_length=64)
    plan_digest = models.CharField(max_length=64)
    plan = models.JSONField(default=dict, help_text="Each step's plan as read at start.")
    drift = models.JSONField(default=list, blank=True, help_text="Differences from the plan the board saw.")
    drift_accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    drift_reason = models.TextField(blank=True)
    outputs = models.JSONField(default=dict, blank=True, help_text="Values steps hand to later steps.")
    window_end = models.DateTimeField(null=True, blank=True)
    window_closes = models.CharField(max_length=10, default="rollback")
    abort_requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    abort_fast = models.BooleanField(default=False)
    abort_reason = models.TextField(blank=True)
    outcome = models.TextField(blank=True, help_text="Why the run ended as it did.")
    position = models.PositiveIntegerField(default=0, help_text="The step the run is at.")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["change", "-created_at"])]
        constraints = [
            # One live production run per change at a time; rehearsals have their own lane.
            models.UniqueConstraint(
                fields=["change", "rehearsal"],
                condition=models.Q(
                    status__in=["pending", "running", "waiting", "awaiting_answer", "paused", "held", "rolling_back"]
                ),
                name="one_active_run_per_change",
            ),
        ]

    def __str__(self) -> str:
        return f"run {self.pk} of change {self.change_id}"

    @property
    def finished(self) -> bool:
        return self.status in FINISHED_RUN_STATES


class StepRun(models.Model):
    """One step of a run: its parameters as resolved for the run's environment, where it stands, the
    lease of the worker acting on it, and everything it did (external ids, AWS request ids, evidence)."""

    run = models.ForeignKey(DeploymentRun, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField()
    stage_index = models.PositiveIntegerField()
    stage_name = models.CharField(max_length=200)
    name = models.CharField(max_length=200)
    type = models.CharField(max_length=64)
    params = models.JSONField(default=dict)
    timeout_seconds = models.PositiveIntegerField()
    on_failure = models.CharField(max_length=10, default="rollback")
    pause_role = models.CharField(max_length=20, blank=True)
    status = models.CharField(max_length=20, choices=StepStatus.choices, default=StepStatus.PENDING)
    undo_needed = models.BooleanField(default=False, help_text="Set when the run rolls back and this step ran.")
    phase = models.CharField(max_length=10, default="execute", help_text="execute, verify or rollback")
    attempt = models.PositiveIntegerField(default=0, help_text="Calls of the step's methods so far.")
    idempotency_key = models.CharField(max_length=120)
    lease_owner = models.CharField(max_length=200, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    next_at = models.DateTimeField(null=True, blank=True, help_text="Not to be called again before this.")
    deadline_at = models.DateTimeField(null=True, blank=True, help_text="The step fails if not done by then.")
    state = models.JSONField(default=dict, blank=True)
    plan = models.JSONField(default=dict, blank=True)
    evidence = models.JSONField(default=dict, blank=True)
    request_ids = models.JSONField(default=list, blank=True)
    message = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "position"]
        constraints = [models.UniqueConstraint(fields=["run", "position"], name="uniq_step_position")]
        indexes = [models.Index(fields=["status", "lease_expires_at"]), models.Index(fields=["status", "next_at"])]

    def __str__(self) -> str:
        return f"{self.run_id}#{self.position} {self.name}"


class RunLogLine(models.Model):
    """A line of a run's log, as the change page shows it live."""

    run = models.ForeignKey(DeploymentRun, on_delete=models.CASCADE, related_name="log_lines")
    step = models.ForeignKey(StepRun, null=True, blank=True, on_delete=models.CASCADE, related_name="log_lines")
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    level = models.CharField(max_length=10, default="info")
    message = models.TextField()
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["run", "id"]

    def __str__(self) -> str:
        return self.message[:80]


class RevisionPlan(models.Model):
    """Each step's plan for a submitted revision, read from live state when it was submitted: what the
    board sees and votes on. Its digest is bound by the decision; a run compares live state with it."""

    revision = models.OneToOneField("ccb.ChangeRevision", on_delete=models.CASCADE, related_name="plan")
    environment = models.CharField(max_length=20)
    steps = models.JSONField(default=list)
    digest = models.CharField(max_length=64)
    computed_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"plan of revision {self.revision_id}"


class ArmedStart(models.Model):
    """An implementer's request that ccb start the change itself when its slot opens (and resume it
    when a freeze that held it ends). ccb's system principal starts it on their behalf."""

    change = models.OneToOneField("ccb.ChangeRequest", on_delete=models.CASCADE, related_name="armed_start")
    armed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    armed_at = models.DateTimeField(auto_now_add=True)
    run = models.ForeignKey(DeploymentRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    last_error = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"armed start of change {self.change_id}"


class ChangeRunbook(models.Model):
    """The runbook version a change runs: part of its packet, kept here because runbooks are execution's.

    A change links one of its own board's approved versions, or a draft its requester wrote
    (deployments.links decides); the revision snapshot records the version and its hash.
    """

    change = models.OneToOneField("ccb.ChangeRequest", on_delete=models.CASCADE, related_name="runbook_link")
    version = models.ForeignKey(RunbookVersion, on_delete=models.PROTECT, related_name="change_links")
    linked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    linked_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"change {self.change_id} runs {self.version}"


class TemplateRunbook(models.Model):
    """The runbook version a standard-change template runs; approved with the template."""

    template = models.OneToOneField("ccb.StandardChangeTemplate", on_delete=models.CASCADE, related_name="runbook_link")
    version = models.ForeignKey(RunbookVersion, on_delete=models.PROTECT, related_name="template_links")

    def __str__(self) -> str:
        return f"template {self.template_id} runs {self.version}"


class SentNotice(models.Model):
    """A runbook's notify step sent its message: once per step run, whatever happens to the worker."""

    key = models.CharField(max_length=120, unique=True)
    outbox_ids = models.JSONField(default=list)
    sent_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.key


class DriftAcceptance(models.Model):
    """The chair accepts that live state moved from the plan the board approved, for one revision and
    one reading of live state (its digest); the implementer's start then goes ahead with it on record."""

    change = models.ForeignKey("ccb.ChangeRequest", on_delete=models.CASCADE, related_name="drift_acceptances")
    revision = models.ForeignKey("ccb.ChangeRevision", on_delete=models.CASCADE, related_name="+")
    live_digest = models.CharField(max_length=64)
    drift = models.JSONField(default=list)
    accepted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField()
    accepted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-accepted_at", "-id"]

    def __str__(self) -> str:
        return f"drift of change {self.change_id} accepted by {self.accepted_by_id}"
