"""The events people can be told about. Stable names: never rename or reuse one.

Each event has its templates in templates/notifications/emails/<name>.subject.txt, .txt and .html.
"""

from django.db import models


class Event(models.TextChoices):
    SUBMITTED = "submitted", "A change was submitted"
    ON_AGENDA = "on_agenda", "A change is on the board's agenda"
    VOTE_NEEDED = "vote_needed", "Your vote is needed"
    DECISION = "decision", "The board decided (with any conditions)"
    SCHEDULED = "scheduled", "A change was scheduled (calendar invite)"
    RESCHEDULED = "rescheduled", "A scheduled change moved (updated invite)"
    UNSCHEDULED = "unscheduled", "A scheduled slot was withdrawn (cancellation)"
    SCHEDULE_CONFLICT = "schedule_conflict", "A scheduling conflict"
    DEPLOYMENT_STARTED = "deployment_started", "A deployment started"
    GATE_WAITING = "gate_waiting", "A go/no-go gate waits for an answer"
    DEPLOYMENT_PROGRESS = "deployment_progress", "News from a running deployment (a runbook's notify step)"
    COMPLETED = "completed", "A change was completed"
    ROLLED_BACK = "rolled_back", "A change was rolled back"
    FAILED = "failed", "A change failed"
    CLOSED = "closed", "A change was closed"
    WITHDRAWN = "withdrawn", "A change was withdrawn"
    CUSTOMER_NOTIFICATION = "customer_notification", "Customer notices about changes"
    DIGEST = "digest", "Daily digest of changes awaiting your vote"


# Events that carry a calendar invite, and the iTIP method each uses unless the caller names one.
CALENDAR_METHODS = {
    Event.SCHEDULED: "REQUEST",
    Event.RESCHEDULED: "REQUEST",
    Event.UNSCHEDULED: "CANCEL",
}

# Mail to customers is about the service, not the board's workflow: it carries no link into ccb,
# whose pages they cannot open.
EXTERNAL_EVENTS = frozenset({Event.CUSTOMER_NOTIFICATION})
