"""What ccb tells people, through notifications.notify(), inside the transaction of the event.

Each function takes the locked change and names who hears about it; notifications resolves the
subscribers of the change, its board and its services, and everyone's own preferences.
"""

from ccb.choices import NotificationAudience, Status
from ccb.models import ChangeRequest, Service
from notifications import services as notifications


def change_context(change: ChangeRequest, actor, **extra) -> dict:
    return {
        "reference": change.reference,
        "title": change.title,
        "board": change.board.name,
        "actor": actor.get_username() if actor is not None else "ccb",
        "summary": change.summary,
        "risk_level": change.get_risk_level_display(),
        "environment": change.get_environment_display(),
        "services": [s.name for s in change.services.all()],
        **extra,
    }


def change_people(change: ChangeRequest, *more) -> list[int]:
    return sorted({change.requester_id, change.implementer_id, *more} - {None})


def change_service_ids(change: ChangeRequest) -> list[int]:
    return list(change.services.values_list("pk", flat=True))


def submitted(change: ChangeRequest, actor) -> None:
    notifications.notify(
        event="submitted",
        change_id=change.pk,
        board_id=change.board_id,
        service_ids=change_service_ids(change),
        user_ids=change_people(change),
        context=change_context(
            change, actor, requested_start=change.requested_start, requested_end=change.requested_end
        ),
    )


def on_agenda(change: ChangeRequest, actor, voters: set[int], tally_text: str) -> None:
    """One message per person: each eligible member who has not voted is asked for their vote (which
    says it is on the agenda); the rest of the board's audience hears it is on the agenda; the person
    whose act put it there hears nothing of their own act."""
    asked = vote_needed(change, actor, voters, tally_text)
    notifications.notify(
        event="on_agenda",
        change_id=change.pk,
        board_id=change.board_id,
        context=change_context(change, actor, quorum=tally_text),
        exclude_user_ids=notifications.told_user_ids(asked) | ({actor.pk} if actor is not None else set()),
    )


def vote_needed(change: ChangeRequest, actor, voters: set[int], tally_text: str) -> list[int]:
    if not voters:
        return []
    return notifications.notify(
        event="vote_needed",
        change_id=change.pk,
        user_ids=sorted(voters),
        context=change_context(change, actor, quorum=tally_text),
    )


def decision(change: ChangeRequest, actor, *, outcome: str, label: str, rationale: str, conditions: list[str]) -> None:
    notifications.notify(
        event="decision",
        change_id=change.pk,
        board_id=change.board_id,
        service_ids=change_service_ids(change),
        user_ids=change_people(change),
        context=change_context(
            change,
            actor,
            outcome=outcome,
            outcome_label=label,
            rationale=rationale,
            decided_by=actor.get_username() if actor else "the board's template",
            conditions=conditions,
        ),
    )


def withdrawn(change: ChangeRequest, actor, *, was: str, reason: str) -> None:
    if was == Status.SCHEDULED and change.planned_start:
        notifications.notify(
            event="unscheduled",
            change_id=change.pk,
            board_id=change.board_id,
            service_ids=change_service_ids(change),
            user_ids=change_people(change),
            context=change_context(change, actor, reason=reason, start=change.planned_start, end=change.planned_end),
            calendar={
                "uid": f"change-{change.pk}@ccb",
                "start": change.planned_start.isoformat(),
                "end": change.planned_end.isoformat(),
                "sequence": change.schedule_sequence + 1,
                "method": "CANCEL",
            },
        )
    else:
        notifications.notify(
            event="withdrawn",
            change_id=change.pk,
            board_id=change.board_id,
            user_ids=change_people(change),
            context=change_context(change, actor, reason=reason),
        )


def customer_notice(change: ChangeRequest) -> None:
    """The packet's approved customer notification, to the audience it names."""
    audience = change.notification_audience
    if audience == NotificationAudience.NONE or not change.notification_body.strip():
        return
    service_ids = {
        NotificationAudience.AFFECTED: change_service_ids(change),
        NotificationAudience.ALL: list(Service.objects.values_list("pk", flat=True)),
    }.get(audience, [])
    notifications.notify(
        event="customer_notification",
        change_id=change.pk,
        service_ids=service_ids,
        board_id=change.board_id if audience == NotificationAudience.INTERNAL else None,
        context={
            "reference": change.reference,
            "title": change.title,
            "subject": change.notification_subject,
            "body": change.notification_body,
            "start": change.planned_start,
            "end": change.planned_end,
        },
    )


def closed(change: ChangeRequest, actor) -> None:
    notifications.notify(
        event="closed",
        change_id=change.pk,
        service_ids=change_service_ids(change),
        user_ids=change_people(change),
        context=change_context(change, actor, review=change.exit_criteria.get("review", "")),
    )
