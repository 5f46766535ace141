import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from ccb import recurrence
from ccb.choices import Environment

from .boards import Board, Service

logger = logging.getLogger(__name__)

MAX_WINDOW_MINUTES = 14 * 24 * 60
# A recurring window must open at least once in this long from when it starts (or from now): a rule
# that yields nothing there is refused when it is saved, not discovered when nothing can be booked.
RULE_HORIZON = timedelta(days=366)


class MaintenanceWindow(models.Model):
    """When changes to one service in one environment may run: a one-off period or an RFC 5545 recurrence.

    The first occurrence starts at ``start_date`` ``start_time`` as a wall-clock time in ``time_zone``
    and lasts ``duration_minutes`` (an exact duration). ``rrule`` (blank for a one-off window) repeats
    it; ``exdates`` removes occurrences, given as local date-times or whole local dates. Occurrences
    are computed by ccb.recurrence; a deactivated window admits nothing but stays for the record.
    """

    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="maintenance_windows")
    environment = models.CharField(max_length=20, choices=Environment.choices, default=Environment.PRODUCTION)
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    time_zone = models.CharField(max_length=64, default="UTC", help_text="IANA zone the times are read in.")
    start_date = models.DateField(help_text="Local date of the first occurrence.")
    start_time = models.TimeField(help_text="Local wall-clock time every occurrence starts.")
    duration_minutes = models.PositiveIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(MAX_WINDOW_MINUTES)]
    )
    rrule = models.CharField(max_length=500, blank=True, help_text="RFC 5545 RRULE value; blank for a one-off.")
    exdates = models.JSONField(default=list, blank=True, help_text="Local date-times or dates removed (EXDATE).")
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["service__name", "environment", "name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["service", "environment", "name"], name="uniq_window_name"),
            models.CheckConstraint(condition=Q(duration_minutes__gte=1), name="window_has_length"),
        ]
        indexes = [models.Index(fields=["service", "environment", "active"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.service} · {self.environment})"

    @property
    def dtstart(self) -> datetime:
        """The first occurrence's local wall-clock start (naive: it is read in ``time_zone``)."""
        return datetime.combine(self.start_date, self.start_time)

    @property
    def duration(self) -> timedelta:
        return timedelta(minutes=self.duration_minutes)

    def clean(self) -> None:
        errors: dict[str, list[str]] = {}
        tz = None
        try:
            tz = recurrence.zone(self.time_zone)
        except recurrence.RecurrenceError as exc:
            errors["time_zone"] = [str(exc)]
        try:
            self.rrule = recurrence.normalize_rrule(self.rrule)
            if self.rrule and tz is not None and self.start_date and self.start_time:
                recurrence.build_rule(self.rrule, self.dtstart, tz)
        except recurrence.RecurrenceError as exc:
            errors["rrule"] = [str(exc)]
        try:
            self.exdates = recurrence.normalize_exdates(self.exdates or [])
        except recurrence.RecurrenceError as exc:
            errors["exdates"] = [str(exc)]
        if self.exdates and not self.rrule:
            errors.setdefault("exdates", []).append("Only a recurring window has exception dates.")
        if not errors and self.rrule and self.active and self.start_date and self.start_time and self.duration_minutes:
            problem = self._horizon_problem(tz)
            if problem:
                errors["rrule"] = [problem]
        if errors:
            raise ValidationError(errors)

    def _horizon_problem(self, tz) -> str:
        """Why the rule opens no window in the RULE_HORIZON from its start (or from now), or ''."""
        begin = max(timezone.now(), recurrence.to_instant(self.dtstart, tz))
        budget = recurrence.Budget()
        found = next(iter(self._expand(begin, begin + RULE_HORIZON, budget)), None)
        if found is not None:
            return ""
        until = timezone.localtime(begin + RULE_HORIZON, tz).date()
        if budget.exhausted:
            return (
                f"This rule opens no window between {timezone.localtime(begin, tz).date()} and {until} that ccb could "
                "find in reasonable time: it may never match (for example BYMONTHDAY=30 with BYMONTH=2). "
                "Check the rule."
            )
        return (
            f"This rule (with its exception dates) opens no window between {timezone.localtime(begin, tz).date()} and "
            f"{until}: it has ended, never matches, or starts later. Check COUNT, UNTIL and the BY… parts."
        )

    def _expand(self, start: datetime, end: datetime, budget: recurrence.Budget):
        return recurrence.occurrences(
            dtstart=self.dtstart,
            duration=self.duration,
            tz=recurrence.zone(self.time_zone),
            rule_text=self.rrule,
            exdates=self.exdates,
            start=start,
            end=end,
            budget=budget,
        )

    @property
    def rule_problem(self) -> str:
        """Why a stored window cannot be expanded (its rule or zone fails today's checks), or ''."""
        try:
            recurrence.zone(self.time_zone)
            recurrence.normalize_rrule(self.rrule)
            recurrence.normalize_exdates(self.exdates or [])
        except recurrence.RecurrenceError as exc:
            return str(exc)
        return ""

    def occurrences(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """(start, end) UTC instants of this window's occurrences overlapping [start, end).

        Bounded: a stored rule that no longer passes the checks gives none, and one whose expansion runs
        out of its budget (recurrence.MAX_EXPANSION_STEPS, MAX_EXPANSION_SECONDS) gives those found so
        far; both are logged, so no request waits on a rule.
        """
        budget = recurrence.Budget()
        try:
            found = list(self._expand(start, end, budget))
        except recurrence.RecurrenceError as exc:
            logger.warning("maintenance window %s cannot be expanded: %s", self.pk, exc)
            return []
        if budget.exhausted:
            logger.warning("maintenance window %s: expansion of %r cut short at its budget", self.pk, self.rrule)
        return found


class FreezeWindow(models.Model):
    """A blackout: no change may be scheduled to run in it, whatever the maintenance windows say.

    Scope: ``board`` (blank: every board, administrators only), ``services`` (none: every service in
    that scope), ``environment`` (blank: every environment). Overlapping freezes act as their union.
    """

    name = models.CharField(max_length=120)
    reason = models.TextField()
    board = models.ForeignKey(Board, null=True, blank=True, on_delete=models.PROTECT, related_name="freezes")
    services = models.ManyToManyField(Service, blank=True, related_name="freezes")
    environment = models.CharField(max_length=20, choices=Environment.choices, blank=True)
    start = models.DateTimeField(db_index=True)
    end = models.DateTimeField(db_index=True)
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["start", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=models.F("start")), name="freeze_ordered"),
            models.CheckConstraint(condition=~Q(reason=""), name="freeze_has_reason"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors: dict[str, list[str]] = {}
        if self.start and self.end and self.end <= self.start:
            errors["end"] = ["The freeze must end after it starts."]
        if not (self.reason or "").strip():
            errors["reason"] = ["Say why changes are frozen."]
        if errors:
            raise ValidationError(errors)


class CalendarFeedToken(models.Model):
    """The secret in one person's calendar feed URL. Rotating replaces it; revoking deletes it."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feed_token")
    key = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"calendar feed of {self.user}"
