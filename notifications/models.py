"""Who wants which mail, the outbox every message goes through, and the calendar invites sent."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from .events import Event

# One row is about exactly one thing, and belongs to exactly one person.
_ONE_TARGET = (
    Q(service__isnull=False, board__isnull=True, change__isnull=True)
    | Q(service__isnull=True, board__isnull=False, change__isnull=True)
    | Q(service__isnull=True, board__isnull=True, change__isnull=False)
)
_ONE_PERSON = Q(user__isnull=False, email="") | Q(user__isnull=True) & ~Q(email="")


def _unique_per_person_and_target() -> list[models.UniqueConstraint]:
    constraints = []
    for target in ("service", "board", "change"):
        constraints.append(
            models.UniqueConstraint(
                fields=["user", target],
                condition=Q(user__isnull=False, **{f"{target}__isnull": False}),
                name=f"uniq_subscription_user_{target}",
            )
        )
        constraints.append(
            models.UniqueConstraint(
                fields=["email", target],
                condition=Q(user__isnull=True, **{f"{target}__isnull": False}),
                name=f"uniq_subscription_email_{target}",
            )
        )
    return constraints


def validate_events(value: list) -> None:
    unknown = sorted(set(value) - set(Event.values)) if isinstance(value, list) else value
    if unknown:
        raise ValidationError(f"Unknown events: {unknown}.")


class Subscription(models.Model):
    """Someone who wants mail about a service, a board or a change.

    A person is a user or, for stakeholders without an account, a plain address. ``events`` limits
    the row to those events (empty: every event). A customer row (services only) receives customer
    notices and never the board's internal mail, whatever ``events`` says. Board members are subscribed to their board
    without a row (see ``registry``); a row for a member overrides that, and ``active=False``
    turns the board's mail off for them.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notification_subscriptions",
    )
    email = models.EmailField(blank=True, help_text="For stakeholders without an account.")
    service = models.ForeignKey("ccb.Service", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    board = models.ForeignKey("ccb.Board", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    change = models.ForeignKey("ccb.ChangeRequest", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    events = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_events],
        help_text="The events this person wants about it; empty means all of them.",
    )
    customer = models.BooleanField(
        default=False, help_text="A customer of the service: gets the customer notices and nothing internal."
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=_ONE_TARGET, name="subscription_one_target"),
            models.CheckConstraint(
                condition=Q(customer=False) | Q(service__isnull=False), name="subscription_customers_follow_services"
            ),
            models.CheckConstraint(condition=_ONE_PERSON, name="subscription_one_person"),
            *_unique_per_person_and_target(),
        ]

    def __str__(self) -> str:
        target = (
            f"service {self.service_id}"
            if self.service_id
            else f"board {self.board_id}"
            if self.board_id
            else f"change {self.change_id}"
        )
        return f"{self.user or self.email} → {target}"

    def wants(self, event: str) -> bool:
        if self.customer:
            return self.active and event == Event.CUSTOMER_NOTIFICATION
        return self.active and (not self.events or event in self.events)


class Preference(models.Model):
    """One person's choices across all their mail: events turned off, everything off, the daily digest,
    and the time zone their mail is written in (the one their browser reports, recorded as they browse)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notification_preference",
    )
    email = models.EmailField(blank=True, help_text="For people without an account (stored lower-case).")
    muted_events = models.JSONField(default=list, blank=True, validators=[validate_events])
    all_off = models.BooleanField(default=False, help_text="Unsubscribed from every ccb email.")
    digest = models.BooleanField(default=False, help_text="A daily email listing the changes awaiting my vote.")
    time_zone = models.CharField(
        max_length=64,
        blank=True,
        help_text="IANA zone this person's browser last reported; their mail shows times in it (blank: UTC).",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=_ONE_PERSON, name="preference_one_person"),
            models.UniqueConstraint(fields=["email"], condition=Q(user__isnull=True), name="uniq_preference_email"),
        ]

    def __str__(self) -> str:
        return str(self.user or self.email)

    def allows(self, event: str) -> bool:
        return not self.all_off and event not in self.muted_events


class OutboxStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    UNCERTAIN = "uncertain", "Delivery unknown"


class OutboxMessage(models.Model):
    """One email to one recipient, written in the transaction of the event that caused it.

    Sending claims the row (``sending``, a lease owned by one attempt) before it talks to SMTP and
    stamps ``handed_at`` just before handing the message over; see ``delivery`` for why a row that
    was handed over is never resent automatically.
    """

    event = models.CharField(max_length=40, choices=Event.choices, db_index=True)
    change = models.ForeignKey("ccb.ChangeRequest", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    to = models.JSONField(help_text="Recipient addresses.")
    from_email = models.CharField(max_length=254)
    subject = models.CharField(max_length=255)
    body_text = models.TextField()
    body_html = models.TextField(blank=True)
    attachments = models.JSONField(
        default=list, blank=True, help_text='[{"filename", "mimetype", "content"}], text content.'
    )
    headers = models.JSONField(default=dict, blank=True)
    message_id = models.CharField(
        max_length=255, unique=True, help_text="The same on every attempt, so a receiver can drop a duplicate."
    )
    dedupe_key = models.CharField(
        max_length=120,
        null=True,
        blank=True,
        unique=True,
        help_text="Set for messages that must exist once (a day's digest).",
    )

    status = models.CharField(max_length=12, choices=OutboxStatus.choices, default=OutboxStatus.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    lease_owner = models.CharField(max_length=100, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    handed_at = models.DateTimeField(null=True, blank=True, help_text="When this attempt began the SMTP send.")
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "outbox message"
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"#{self.pk} {self.event} → {', '.join(self.to)}"


class CalendarInvite(models.Model):
    """The last invite sent for one calendar UID, so updates carry a higher SEQUENCE and a
    cancellation can name the slot it cancels."""

    uid = models.CharField(max_length=255, unique=True)
    change = models.ForeignKey("ccb.ChangeRequest", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    sequence = models.PositiveIntegerField(default=0)
    method = models.CharField(max_length=10)
    start = models.DateTimeField()
    end = models.DateTimeField()
    summary = models.CharField(max_length=255, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]

    def __str__(self) -> str:
        return f"{self.uid} #{self.sequence} {self.method}"
