"""Votes, the quorum evaluation after each vote, the chair's decision, its conditions, and the
retrospective review an emergency change owes."""

from typing import Any

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from ccb import audit, notices, policies, selectors
from ccb.choices import (
    REVIEW_STATES,
    AuditAction,
    BoardRole,
    ChangeType,
    DecisionBasis,
    DecisionOutcome,
    Status,
    VoteDecision,
)
from ccb.exceptions import Conflict, IllegalTransition, PacketInvalid
from ccb.models import Board, ChangeRequest, Condition, Decision, Vote

from .base import assert_transition, lock_change, service
from .changes import record_decision


def _clean_conditions(conditions: list[Any] | None) -> list[str]:
    cleaned = [str(c).strip() for c in conditions or [] if str(c).strip()]
    if len(cleaned) > 20:
        raise PacketInvalid({"conditions": ["At most 20 conditions per vote."]})
    return cleaned


def _start_review(change: ChangeRequest, actor: User, *, via: str = "") -> None:
    """Put the change on the agenda; ``via="vote"`` when a first vote did it rather than a person's act."""
    assert_transition(change, Status.IN_REVIEW, "put on the agenda")
    change.status = Status.IN_REVIEW
    change.save(update_fields=["status", "updated_at"])
    audit.record(
        actor=actor,
        action=AuditAction.CHANGE_REVIEW_STARTED,
        target=change,
        data={"revision": change.revision.content_hash, **({"via": via} if via else {})},
    )
    members, _ = selectors.eligible_voters(change=change)
    voted = set(Vote.objects.filter(revision=change.current_revision).values_list("voter_id", flat=True))
    notices.on_agenda(change, actor, members - voted - {actor.pk}, selectors.tally(change=change).explanation)


@service
def change_request_start_review(*, change_id: int, actor: User) -> ChangeRequest:
    """Put a submitted change on the board's agenda."""
    change = lock_change(change_id)
    if not (
        policies.has_role(actor, change.board, BoardRole.CHAIR)
        or policies.has_role(actor, change.board, BoardRole.MEMBER)
    ):
        policies.assert_can_vote(actor=actor, change=change)
    _start_review(change, actor)
    return change


@service
def vote_cast(
    *,
    change_id: int,
    voter: User,
    decision: str,
    comment: str = "",
    conditions: list[str] | None = None,
    revision_hash: str = "",
) -> Vote:
    change = lock_change(change_id)
    policies.assert_not_read_only(actor=voter, board=change.board, target=change)
    policies.assert_can_vote(actor=voter, change=change)
    if change.status not in REVIEW_STATES:
        raise IllegalTransition(change.status, "vote on")
    revision = change.revision
    if revision_hash and revision_hash != revision.content_hash:
        raise Conflict(
            f"You reviewed revision {revision_hash[:12]}, but the change is now at revision "
            f"{revision.number} ({revision.content_hash[:12]}). Review the changes and vote again."
        )
    if decision not in VoteDecision.values:
        raise PacketInvalid({"decision": [f"Choose one of: {', '.join(VoteDecision.values)}."]})
    if decision == VoteDecision.REJECT and not comment.strip():
        raise PacketInvalid({"comment": ["Say why you reject, so the requester can address it."]})
    cleaned = _clean_conditions(conditions) if decision == VoteDecision.APPROVE else []
    if Vote.objects.filter(revision=revision, voter=voter).exists():
        raise Conflict(f"You already voted on revision {revision.number} of this change.")
    if change.status == Status.SUBMITTED:
        _start_review(change, voter, via="vote")
    try:
        with transaction.atomic():
            vote = Vote.objects.create(
                change=change,
                revision=revision,
                voter=voter,
                decision=decision,
                comment=comment.strip(),
                conditions=cleaned,
            )
    except IntegrityError as exc:
        raise Conflict(f"You already voted on revision {revision.number} of this change.") from exc
    audit.record(
        actor=voter,
        action=AuditAction.VOTE_CAST,
        target=change,
        data={"revision": revision.content_hash, "decision": decision, "conditions": cleaned, "comment": vote.comment},
    )
    _decide_if_quorum(change, voter)
    return vote


def _decide_if_quorum(change: ChangeRequest, voter: User | None, why: str = "") -> Decision | None:
    result = selectors.tally(change=change)
    if result.outcome is None or result.basis is None:
        return None
    conditions = [{"text": text, "proposed_by": None} for text in dict.fromkeys(result.conditions)]
    return record_decision(
        change=change,
        outcome=result.outcome,
        basis=result.basis,
        actor=voter,
        rationale=f"{why} {result.explanation}" if why else result.explanation,
        conditions=conditions,
    )


@service
def change_request_decide(
    *, change_id: int, actor: User, outcome: str, rationale: str, conditions: list[dict] | None = None
) -> Decision:
    """The chair decides directly, with the reason on record."""
    change = lock_change(change_id)
    policies.assert_can_decide(actor=actor, change=change)
    if change.status not in REVIEW_STATES:
        raise IllegalTransition(change.status, "decide")
    if outcome not in DecisionOutcome.values:
        raise PacketInvalid({"outcome": [f"Choose one of: {', '.join(DecisionOutcome.values)}."]})
    if not rationale.strip():
        raise PacketInvalid({"rationale": ["Record why the chair decides this way."]})
    conditions = conditions or []
    if outcome == DecisionOutcome.APPROVED_WITH_CONDITIONS and not conditions:
        raise PacketInvalid({"conditions": ["Approving with conditions needs at least one condition."]})
    if outcome != DecisionOutcome.APPROVED_WITH_CONDITIONS and conditions:
        raise PacketInvalid({"conditions": ["Only an approval with conditions carries conditions."]})
    return record_decision(
        change=change,
        outcome=outcome,
        basis=DecisionBasis.CHAIR,
        actor=actor,
        rationale=rationale.strip(),
        conditions=[{**c, "proposed_by": actor} for c in conditions],
    )


@service
def condition_satisfy(*, condition_id: int, actor: User, evidence: str) -> Condition:
    condition = Condition.objects.select_for_update().select_related("change__board").get(pk=condition_id)
    change = condition.change
    policies.assert_can_satisfy_condition(actor=actor, change=change)
    if condition.satisfied_at:
        raise Conflict("This condition was already met.")
    if not evidence.strip():
        raise PacketInvalid({"evidence": ["Say how the condition was met (a link or a note)."]})
    condition.satisfied_at, condition.satisfied_by, condition.evidence = timezone.now(), actor, evidence.strip()
    condition.save()
    audit.record(
        actor=actor,
        action=AuditAction.CONDITION_SATISFIED,
        target=change,
        data={"condition": condition.pk, "text": condition.text, "evidence": condition.evidence},
    )
    return condition


@service
def change_request_record_retrospective(*, change_id: int, actor: User, notes: str) -> ChangeRequest:
    """The full board review an emergency change owes after the fact."""
    change = lock_change(change_id)
    policies.assert_can_review_retrospective(actor=actor, change=change)
    if change.change_type != ChangeType.EMERGENCY:
        raise Conflict("Only emergency changes have a retrospective review.")
    if change.decided_at is None:
        raise IllegalTransition(change.status, "review the retrospective of")
    if change.retrospective_at:
        raise Conflict("The retrospective review is already recorded.")
    if not notes.strip():
        raise PacketInvalid({"notes": ["Record what the board found in its review."]})
    change.retrospective_at, change.retrospective_by = timezone.now(), actor
    change.retrospective_notes = notes.strip()
    change.save(update_fields=["retrospective_at", "retrospective_by", "retrospective_notes", "updated_at"])
    audit.record(
        actor=actor,
        action=AuditAction.CHANGE_RETROSPECTIVE,
        target=change,
        data={
            "notes": change.retrospective_notes,
            "overdue": bool(change.review_due_at and change.review_due_at < change.retrospective_at),
        },
    )
    return change


def quorum_reevaluate(*, board: Board, actor: User | None, why: str) -> list[Decision]:
    """Apply the board's quorum rule again to every change it has under review; decide those it now decides.

    Called in the transaction of whatever changed the rule or who may vote (the board's quorum fields, a
    member's or chair's role), so a change's status never disagrees with what ``tally`` reports. Changes
    are locked one by one in id order, the order every other re-evaluation takes them in.
    """
    decisions = []
    open_ids = ChangeRequest.objects.filter(board=board, status__in=REVIEW_STATES).order_by("pk")
    for change_id in open_ids.values_list("pk", flat=True):
        change = lock_change(change_id)
        if change.status in REVIEW_STATES and change.current_revision_id:
            decision = _decide_if_quorum(change, actor, why)
            if decision is not None:
                decisions.append(decision)
    return decisions
