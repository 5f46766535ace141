"""The board's quorum rule, as a pure function of the votes on the current revision."""

from dataclasses import dataclass, field

from ccb.choices import RISK_ORDER, ChangeType, DecisionBasis, DecisionOutcome, VoteDecision


@dataclass(frozen=True)
class Tally:
    required: int
    approvals: int
    rejects: int
    abstains: int
    eligible: int
    pending: int
    chair_required: bool
    chair_approved: bool
    outcome: str | None = None
    basis: str | None = None
    explanation: str = ""
    conditions: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def evaluate(
    *,
    board,
    change_type: str,
    risk_level: str,
    eligible_ids: set[int],
    chair_ids: set[int],
    votes: list[tuple[int, str, list[str]]],
) -> Tally:
    """votes: (voter_id, decision, conditions) for each current vote by an eligible member."""
    emergency = change_type == ChangeType.EMERGENCY
    approvers = {v for v, d, _ in votes if d == VoteDecision.APPROVE}
    rejecters = {v for v, d, _ in votes if d == VoteDecision.REJECT}
    abstainers = {v for v, d, _ in votes if d == VoteDecision.ABSTAIN}
    voted = approvers | rejecters | abstainers
    pending = len(eligible_ids - voted)
    chair_required = emergency or bool(
        board.chair_required_from_risk and RISK_ORDER[risk_level] >= RISK_ORDER[board.chair_required_from_risk]
    )
    chair_approved = bool(approvers & chair_ids)
    # Emergency changes are expedited: the chair plus one other member.
    required = 2 if emergency else board.min_approvals
    conditions = [c for v, d, conds in votes if d == VoteDecision.APPROVE for c in conds]
    base = dict(
        required=required,
        approvals=len(approvers),
        rejects=len(rejecters),
        abstains=len(abstainers),
        eligible=len(eligible_ids),
        pending=pending,
        chair_required=chair_required,
        chair_approved=chair_approved,
        conditions=conditions,
    )
    if board.consensus_required and rejecters:
        return Tally(
            **base,
            outcome=DecisionOutcome.REJECTED,
            basis=DecisionBasis.CONSENSUS,
            explanation="The board requires consensus and a member rejected.",
        )
    chair_possible = chair_approved or bool((eligible_ids - voted) & chair_ids)
    if len(approvers) + pending < required or (chair_required and not chair_possible):
        return Tally(
            **base,
            outcome=DecisionOutcome.REJECTED,
            basis=DecisionBasis.UNREACHABLE,
            explanation="Not enough eligible members are left to approve it.",
        )
    if len(approvers) >= required and (chair_approved or not chair_required):
        outcome = DecisionOutcome.APPROVED_WITH_CONDITIONS if conditions else DecisionOutcome.APPROVED
        return Tally(
            **base,
            outcome=outcome,
            basis=DecisionBasis.QUORUM,
            explanation=f"{len(approvers)} of {required} required approvals"
            + (", including the chair." if chair_required else "."),
        )
    return Tally(
        **base,
        explanation=f"{len(approvers)} of {required} approvals so far"
        + ("; the chair must approve." if chair_required and not chair_approved else "."),
    )


def reachable(*, board, change_type: str, risk_level: str, eligible_ids: set[int], chair_ids: set[int]) -> str:
    """Why the quorum can never be met with these eligible members, or '' when it can."""
    tally = evaluate(
        board=board,
        change_type=change_type,
        risk_level=risk_level,
        eligible_ids=eligible_ids,
        chair_ids=chair_ids,
        votes=[],
    )
    if tally.outcome == DecisionOutcome.REJECTED:
        need = f"{tally.required} approvals" + (" including the chair's" if tally.chair_required else "")
        return (
            f"{board} needs {need}, but only {tally.eligible} eligible member(s) remain once the requester "
            "and implementer are excluded."
        )
    return ""
