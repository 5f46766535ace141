from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models

from ccb.choices import BoardRole, Criticality, Environment, RiskLevel


class Board(models.Model):
    """A Change Control Board: who votes, who chairs, and the quorum rule its decisions follow."""

    name = models.CharField(max_length=120, unique=True)
    slug = models.SlugField(max_length=60, unique=True)
    description = models.TextField(blank=True)
    min_approvals = models.PositiveSmallIntegerField(
        default=2,
        validators=[MinValueValidator(1)],
        help_text="Approvals needed from eligible members (the chair counts once, as a member).",
    )
    chair_required_from_risk = models.CharField(
        max_length=10,
        choices=RiskLevel.choices,
        blank=True,
        default=RiskLevel.HIGH,
        help_text="At or above this risk level the chair must approve too. Blank: never required.",
    )
    consensus_required = models.BooleanField(default=False, help_text="Any reject rejects the change.")
    emergency_review_days = models.PositiveSmallIntegerField(
        default=5,
        help_text="Days within which an emergency change must get its full retrospective review.",
    )
    allow_requester_as_implementer = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        permissions = [
            ("board_member", "Votes on the board's changes"),
            ("board_chair", "Chairs the board and decides"),
            ("board_implementer", "Implements the board's approved changes"),
            ("board_verifier", "Verifies the board's deployed changes"),
            ("board_auditor", "Reads everything on the board, changes nothing"),
        ]

    def __str__(self) -> str:
        return self.name


class BoardMembership(models.Model):
    """One role one person holds on one board. Granting it also grants the matching object permission."""

    board = models.ForeignKey(Board, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="board_roles")
    role = models.CharField(max_length=20, choices=BoardRole.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["board", "user", "role"], name="uniq_board_user_role")]
        ordering = ["board", "role", "user__username"]

    def __str__(self) -> str:
        return f"{self.user} · {self.get_role_display()} · {self.board}"


class Service(models.Model):
    """A configuration item: something a change can affect, with the services it depends on."""

    name = models.CharField(max_length=120, unique=True)
    slug = models.SlugField(max_length=60, unique=True)
    description = models.TextField(blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="owned_services"
    )
    board = models.ForeignKey(Board, on_delete=models.PROTECT, related_name="services")
    criticality = models.CharField(max_length=10, choices=Criticality.choices, default=Criticality.TIER_2)
    environments = models.JSONField(default=list, blank=True, help_text="Environments the service runs in.")
    depends_on = models.ManyToManyField("self", symmetrical=False, blank=True, related_name="dependents")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def dependency_closure(self) -> set[int]:
        """Ids of every service this one depends on, directly or through others."""
        seen: set[int] = set()
        frontier = {self.pk}
        while frontier:
            nxt = set(
                Service.depends_on.through.objects.filter(from_service_id__in=frontier).values_list(
                    "to_service_id", flat=True
                )
            )
            frontier = nxt - seen - {self.pk}
            seen |= frontier
        return seen


class StandardChangeTemplate(models.Model):
    """A routine change the board pre-approved: changes made from it need no vote."""

    board = models.ForeignKey(Board, on_delete=models.PROTECT, related_name="templates")
    name = models.CharField(max_length=160)
    description = models.TextField(blank=True)
    services = models.ManyToManyField(Service, blank=True, related_name="templates")
    environment = models.CharField(max_length=20, choices=Environment.choices, default=Environment.PRODUCTION)
    # Its runbook version is linked by deployments (ccb.execution.template_runbook).
    max_risk = models.CharField(max_length=10, choices=RiskLevel.choices, default=RiskLevel.LOW)
    packet_defaults = models.JSONField(default=dict, blank=True, help_text="Packet fields copied into new changes.")
    active = models.BooleanField(default=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["board", "name"]
        constraints = [models.UniqueConstraint(fields=["board", "name"], name="uniq_template_name")]

    def __str__(self) -> str:
        return self.name
