"""What every service shares: its transaction, the refusal audit, locking and the transition check."""

import functools
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from django.db import connection, transaction

from ccb.choices import TRANSITIONS
from ccb.exceptions import IllegalTransition, PolicyViolation
from ccb.models import ChangeRequest

from .refusals import refusal_record

P = ParamSpec("P")
R = TypeVar("R")


def record_refusal(exc: PolicyViolation, **data: Any) -> None:
    """Audit a refusal once, in its own transaction (the refused one has rolled back); repeats coalesce."""
    if exc.recorded:
        return
    exc.recorded = True
    refusal_record(exc, **data)


def service(func: Callable[P, R]) -> Callable[P, R]:
    """Run ``func`` in one transaction. A refusal rolls it back and is then audited on its own."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            with transaction.atomic():
                return func(*args, **kwargs)
        except PolicyViolation as exc:
            record_refusal(exc, service=func.__name__)
            raise

    return wrapper


def lock_change(change_id: int) -> ChangeRequest:
    """The change row, locked for the rest of the transaction; every transition starts here."""
    rows = ChangeRequest.objects.select_for_update(of=("self",)).select_related("board", "current_revision")
    return rows.get(pk=change_id)


def assert_transition(change: ChangeRequest, target: str, action: str) -> None:
    if target not in TRANSITIONS[change.status]:
        raise IllegalTransition(change.status, action)


# Any constant works; it names the one lock that every write affecting schedules queues on.
_SCHEDULING_LOCK_KEY = 0x43434253  # "CCBS"


def lock_scheduling() -> None:
    """Serialise the writes that decide where changes may run: scheduling, windows, freezes, dependencies.

    Taken first, before any row lock, so that a check and the write it allows cannot interleave with
    another (two changes booked into the same slot, a freeze created while a change is booked into it).
    On SQLite every write transaction already starts with BEGIN IMMEDIATE, which serialises writers.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_SCHEDULING_LOCK_KEY])
