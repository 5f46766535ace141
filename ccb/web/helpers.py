"""What the page views share: finding the change, running a service, and what a person may do."""

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from ccb import policies, selectors
from ccb.choices import APPROVED_STATES, OUTCOME_STATES, REVIEW_STATES, BoardRole, Status
from ccb.exceptions import CCBError, PacketInvalid, PolicyViolation
from ccb.models import ChangeRequest
from ccb.services.base import record_refusal


def change_for(request: HttpRequest, pk: int) -> ChangeRequest:
    return selectors.change_request_get(user=request.user, pk=pk)


def refused(request: HttpRequest, exc: PolicyViolation) -> HttpResponse:
    """A refusal by a rule: 403, naming the rule, like the API, and on the audit trail."""
    record_refusal(exc, path=request.path)
    return render(request, "ccb/refused.html", {"rule": exc.rule, "message": exc.message}, status=403)


def attempt(request: HttpRequest, func: Callable[..., Any], back: str, **kwargs) -> tuple[Any, HttpResponse | None]:
    """Run a service. Returns (result, None), or (None, the response to send) when it was refused."""
    try:
        return func(**kwargs), None
    except PolicyViolation as exc:
        return None, refused(request, exc)
    except PacketInvalid as exc:
        for field, msgs in exc.errors.items():
            for message in msgs:
                messages.error(request, f"{field.replace('_', ' ').capitalize()}: {message}")
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


def abilities(user, change: ChangeRequest) -> dict[str, bool]:
    """Which buttons this person sees on this change. The services refuse the rest anyway."""
    status = change.status
    board = change.board
    is_chair = policies.has_role(user, board, BoardRole.CHAIR)
    can_edit = _allowed(policies.assert_can_edit, actor=user, change=change)
    can_vote = _allowed(policies.assert_can_vote, actor=user, change=change) and not policies.is_site_auditor(user)
    already = (
        bool(change.current_revision_id)
        and change.votes.filter(revision_id=change.current_revision_id, voter=user).exists()
    )
    return {
        "edit": can_edit and status in (Status.DRAFT, *REVIEW_STATES),
        "submit": can_edit and status == Status.DRAFT,
        "withdraw": (can_edit or (is_chair and not policies.is_author(user, change)))
        and status in (Status.DRAFT, *REVIEW_STATES, *APPROVED_STATES, Status.SCHEDULED),
        "revise": can_edit and status == Status.REJECTED,
        "attach": can_edit and status in (Status.DRAFT, *REVIEW_STATES),
        "vote": can_vote and status in REVIEW_STATES and not already,
        "already_voted": already,
        "decide": _allowed(policies.assert_can_decide, actor=user, change=change) and status in REVIEW_STATES,
        "schedule": _allowed(policies.assert_can_schedule, actor=user, change=change)
        and status in (*APPROVED_STATES, Status.SCHEDULED),
        "implement": _allowed(policies.assert_can_implement, actor=user, change=change)
        and status in (Status.SCHEDULED, Status.IMPLEMENTING),
        "close": _allowed(policies.assert_can_close, actor=user, change=change) and status in OUTCOME_STATES,
    }
