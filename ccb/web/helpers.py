"""What the page views share: finding the change, running a service, and what a person may do."""

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from ccb import policies, selectors
from ccb.choices import OUTCOME_STATES, REVIEW_STATES, TRANSITIONS, ChangeType, DecisionOutcome, Status
from ccb.exceptions import CCBError, PacketInvalid, PolicyViolation
from ccb.models import ChangeRequest
from ccb.services.base import record_refusal
from ccb.services.changes import EDITABLE_STATES
from ccb.web import words


def change_for(request: HttpRequest, pk: int) -> ChangeRequest:
    return selectors.change_request_get(user=request.user, pk=pk)


def refused(request: HttpRequest, exc: PolicyViolation) -> HttpResponse:
    """A refusal by a rule: 403, naming the rule, like the API, and on the audit trail."""
    record_refusal(exc, path=request.path)
    return render(request, "ccb/refused.html", {"rule": exc.rule, "message": exc.message}, status=403)


def attempt(
    request: HttpRequest, func: Callable[..., Any], back: str, invalid: str = "", **kwargs
) -> tuple[Any, HttpResponse | None]:
    """Run a service. Returns (result, None), or (None, the response to send) when it was refused.

    Input the service refuses becomes one message, in people's words: ``invalid`` (with ``{count}`` and
    ``{plural}``) when the page lists the items itself, else each item with its label.
    """
    try:
        return func(**kwargs), None
    except PolicyViolation as exc:
        return None, refused(request, exc)
    except PacketInvalid as exc:
        if invalid:
            count = len(exc.errors)
            messages.error(request, invalid.format(count=count, plural="on" if count == 1 else "a"))
        else:
            items = [f"{words.criterion(key)[0]}: {' '.join(msgs)}" for key, msgs in exc.errors.items()]
            messages.error(request, "Not done. " + " ".join(items))
        return None, redirect(back)
    except CCBError as exc:
        messages.error(request, exc.message)
        return None, redirect(back)


def _allowed(check: Callable[..., None], **kwargs) -> bool:
    try:
        check(**kwargs)
        return True
    except PolicyViolation:
        return False


def _moves_to(change: ChangeRequest, *targets: str) -> bool:
    """Whether the transition map lets the change move from where it is to one of ``targets``."""
    return bool(TRANSITIONS[change.status] & set(targets))


def abilities(user, change: ChangeRequest) -> dict[str, bool]:
    """Which buttons this person sees on this change.

    Each is the transition map (or the state set the service checks) and the service's policy, read
    from where the rules live, so a change to either changes the buttons. The services refuse the rest.
    """

    def may(*checks: Callable[..., None]) -> bool:
        return all(_allowed(check, actor=user, change=change) for check in checks)

    def not_read_only(*, actor, change):
        policies.assert_not_read_only(actor=actor, board=change.board, target=change)

    status = change.status
    can_edit = may(policies.assert_can_edit)
    submits_to = Status.APPROVED if change.change_type == ChangeType.STANDARD else Status.SUBMITTED
    already = (
        bool(change.current_revision_id)
        and change.votes.filter(revision_id=change.current_revision_id, voter=user).exists()
    )
    can = {
        "edit": can_edit and status in EDITABLE_STATES,
        "submit": can_edit and status == Status.DRAFT and _moves_to(change, submits_to),
        "withdraw": _moves_to(change, Status.WITHDRAWN) and may(policies.assert_can_withdraw),
        "revise": can_edit and _moves_to(change, Status.DRAFT),
        "attach": can_edit and status in EDITABLE_STATES,
        "vote": status in REVIEW_STATES and not already and may(not_read_only, policies.assert_can_vote),
        "already_voted": already,
        "decide": status in REVIEW_STATES
        and _moves_to(change, *DecisionOutcome.values)
        and may(policies.assert_can_decide),
        "schedule": _moves_to(change, Status.SCHEDULED) and may(policies.assert_can_schedule),
        "implement": _moves_to(change, Status.IMPLEMENTING, *OUTCOME_STATES) and may(policies.assert_can_implement),
        "close": _moves_to(change, Status.CLOSED) and may(policies.assert_can_close),
        "satisfy": may(policies.assert_can_satisfy_condition),
    }
    can["override"] = can["schedule"] and may(policies.assert_can_override_schedule)
    return can
