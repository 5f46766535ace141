"""The board's quorum rule: minimum approvals, the chair at high risk, consensus, and unreachable quorums."""

from ccb import selectors, services
from ccb.models import ChangeRequest

HIGH_RISK = {
    "customer_facing": "yes",
    "downtime": "outage",
    "data_change": "reversible",
    "blast_radius": "one_service",
    "rollback_tested": "yes",
    "precedent": "similar",
    "security_sensitive": "no",
}


def vote(change, people, *votes):
    for name, decision in votes:
        services.vote_cast(
            change_id=change.pk, voter=people[name], decision=decision, comment="" if decision != "reject" else "no"
        )
    return ChangeRequest.objects.get(pk=change.pk)


def test_high_risk_needs_the_chair_besides_the_minimum(make_change, people):
    change = make_change(risk_answers=HIGH_RISK)
    assert change.risk_level == "high"
    services.change_request_submit(change_id=change.pk, actor=people["alice"])
    change = vote(change, people, ("bob", "approve"), ("carol", "approve"), ("dave", "approve"))
    assert change.status == "in_review"
    assert selectors.tally(change=change).chair_required is True
    change = vote(change, people, ("erin", "approve"))
    assert change.status == "approved"
    assert change.decisions.get().rationale == "4 of 2 required approvals, including the chair."


def test_consensus_board_rejects_on_any_reject(make_change, people, board, admin_user):
    services.board_save(actor=admin_user, board=board, data={"consensus_required": True})
    change = make_change()
    services.change_request_submit(change_id=change.pk, actor=people["alice"])
    change = vote(change, people, ("bob", "approve"), ("carol", "reject"))
    assert change.status == "rejected"
    assert change.decisions.get().basis == "consensus"


def test_rejects_once_approval_can_no_longer_be_reached(make_change, people, board, admin_user):
    services.board_save(actor=admin_user, board=board, data={"min_approvals": 3})
    change = make_change()
    services.change_request_submit(change_id=change.pk, actor=people["alice"])
    change = vote(change, people, ("bob", "reject"))
    assert change.status == "in_review"  # three approvals are still possible from carol, dave and erin
    change = vote(change, people, ("carol", "abstain"))
    assert change.status == "rejected" and change.decisions.get().basis == "unreachable"


def test_a_member_holding_two_roles_counts_once(make_change, people, board, admin_user):
    services.board_role_grant(actor=admin_user, board=board, user=people["erin"], role="member")
    services.board_save(actor=admin_user, board=board, data={"min_approvals": 2})
    change = make_change()
    services.change_request_submit(change_id=change.pk, actor=people["alice"])
    change = vote(change, people, ("erin", "approve"))
    tally = selectors.tally(change=change)
    assert (tally.approvals, tally.eligible, change.status) == (1, 4, "in_review")


def test_approval_with_conditions_carries_them_to_the_decision(make_change, people):
    change = make_change()
    services.change_request_submit(change_id=change.pk, actor=people["alice"])
    services.vote_cast(
        change_id=change.pk,
        voter=people["bob"],
        decision="approve",
        conditions=["Notify support first", "Notify support first", "Run at 02:00 UTC"],
    )
    services.vote_cast(change_id=change.pk, voter=people["carol"], decision="approve")
    change.refresh_from_db()
    assert change.status == "approved_with_conditions"
    assert list(change.conditions.values_list("text", flat=True)) == ["Notify support first", "Run at 02:00 UTC"]


def test_the_chair_may_decide_before_quorum_with_a_rationale(submitted, people):
    decision = services.change_request_decide(
        change_id=submitted.pk,
        actor=people["erin"],
        outcome="approved_with_conditions",
        rationale="Urgent fix",
        conditions=[{"text": "Pair with SRE", "kind": "manual"}],
    )
    submitted.refresh_from_db()
    assert submitted.status == "approved_with_conditions" and decision.basis == "chair"
    assert decision.conditions.get().proposed_by == people["erin"]
