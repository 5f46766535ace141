"""The one way ccb and deployments tell people about events. Imports neither of them.

notify() is called inside the caller's transaction: the outbox rows it writes commit or roll back
with the event itself, and sending starts only after commit.
"""

from collections.abc import Iterable


def notify(*, event: str, change_id: int | None = None, board_id: int | None = None,
           service_ids: Iterable[int] = (), user_ids: Iterable[int] = (), emails: Iterable[str] = (),
           context: dict | None = None, calendar: dict | None = None) -> list[int]:
    """Queue the messages for one event; returns the outbox ids written.

    event: a stable name (submitted, on_agenda, vote_needed, decision, scheduled, rescheduled,
    unscheduled, schedule_conflict, deployment_started, gate_waiting, completed, rolled_back,
    failed, closed, customer_notification, ...). Recipients: the users named, the plain addresses,
    and whoever subscribed to the change, the board or the services. context: plain data for
    the templates (titles, links, reasons). calendar: for scheduling events, the slot
    {"uid", "start", "end", "summary", "description", "sequence", "method": "REQUEST"|"CANCEL"}.
    """
    return []  # the outbox that fills this in is being built (issue 5)
