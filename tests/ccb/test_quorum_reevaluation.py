"""A change's status follows the board's quorum rule: when the rule or who may vote changes, open
changes are judged again, in the same transaction, and ``tally/`` and the status never disagree."""

import pytest

from ccb import selectors, services
from ccb.choices import BoardRole, DecisionBasis, Status
from ccb.models import AuditEvent, ChangeRequest

pytestmark = pytest.mark.django_db


def vote(change, people, name, decision, comment=""):
    services.vote_cast(change_id=change.pk, voter=people[name], decision=decision, comment=comment)


def test_raising_the_minimum_beyond_reach_rejects_the_change_as_tally_already_says(
    submitted, people, board, admin_user, api
):
    vote(submitted, people, "bob", "approve")
    vote(submitted, people, "carol", "reject", comment="Not this week.")
    assert ChangeRequest.objects.get(pk=submitted.pk).status == Status.IN_REVIEW

    services.board_save(actor=admin_user, board=board, data={"min_approvals": 4})

    change = ChangeRequest.objects.get(pk=submitted.pk)
    assert change.status == Status.REJECTED
    decision = change.decisions.get()
    assert decision.basis == DecisionBasis.UNREACHABLE and decision.decided_by == admin_user
    assert "changed its quorum rule (min approvals)" in decision.rationale
    assert api(people["bob"]).get(f"/api/v1/changes/{change.pk}/").json()["status"] == "rejected"
    decided = AuditEvent.objects.filter(action="change.decided", target_id=str(change.pk)).get()
    assert decided.actor_id == admin_user.pk


def test_lowering_the_minimum_approves_a_change_that_now_has_enough(submitted, people, board, admin_user):
    services.board_save(actor=admin_user, board=board, data={"min_approvals": 3})
    vote(submitted, people, "bob", "approve")
    vote(submitted, people, "carol", "approve")
    assert ChangeRequest.objects.get(pk=submitted.pk).status == Status.IN_REVIEW

    services.board_save(actor=admin_user, board=board, data={"min_approvals": 2})

    assert ChangeRequest.objects.get(pk=submitted.pk).status == Status.APPROVED


def test_a_change_that_still_needs_votes_stays_in_review(submitted, people, board, admin_user):
    vote(submitted, people, "bob", "approve")
    services.board_save(actor=admin_user, board=board, data={"min_approvals": 3})
    change = ChangeRequest.objects.get(pk=submitted.pk)
    assert change.status == Status.IN_REVIEW and not change.decisions.exists()
    assert selectors.tally(change=change).outcome is None


def test_turning_on_consensus_rejects_a_change_a_member_already_rejected(submitted, people, board, admin_user):
    vote(submitted, people, "bob", "approve")
    vote(submitted, people, "carol", "reject", comment="Risky.")
    services.board_save(actor=admin_user, board=board, data={"consensus_required": True})
    change = ChangeRequest.objects.get(pk=submitted.pk)
    assert change.status == Status.REJECTED and change.decisions.get().basis == DecisionBasis.CONSENSUS


def test_revoking_a_members_role_can_leave_the_quorum_out_of_reach(submitted, people, board, admin_user):
    services.board_save(actor=admin_user, board=board, data={"min_approvals": 3})
    vote(submitted, people, "bob", "approve")
    vote(submitted, people, "carol", "reject", comment="No.")
    services.board_role_revoke(actor=admin_user, board=board, user=people["dave"], role=BoardRole.MEMBER)
    change = ChangeRequest.objects.get(pk=submitted.pk)
    assert change.status == Status.REJECTED
    assert "dave is no longer member" in change.decisions.get().rationale


def test_a_member_who_approved_and_becomes_chair_meets_the_chair_requirement(make_change, people, board, admin_user):
    change = make_change(risk_answers=_high_risk())
    services.change_request_submit(change_id=change.pk, actor=people["alice"])
    vote(change, people, "bob", "approve")
    vote(change, people, "carol", "approve")
    change = ChangeRequest.objects.get(pk=change.pk)
    assert change.risk_level in ("high", "critical") and change.status == Status.IN_REVIEW
    services.board_role_grant(actor=admin_user, board=board, user=people["bob"], role=BoardRole.CHAIR)
    assert ChangeRequest.objects.get(pk=change.pk).status == Status.APPROVED


def test_a_board_without_rule_changes_decides_nothing(submitted, people, board, admin_user):
    vote(submitted, people, "bob", "approve")
    vote(submitted, people, "carol", "reject", comment="No.")
    services.board_save(actor=admin_user, board=board, data={"description": "The production board."})
    assert ChangeRequest.objects.get(pk=submitted.pk).status == Status.IN_REVIEW


def test_the_first_vote_is_recorded_as_what_put_the_change_on_the_agenda(submitted, make_change, people):
    vote(submitted, people, "bob", "approve")
    event = AuditEvent.objects.get(action="change.review_started", target_id=str(submitted.pk))
    assert event.actor_id == people["bob"].pk and '"via":"vote"' in event.data
    other = make_change()
    services.change_request_submit(change_id=other.pk, actor=people["alice"])
    services.change_request_start_review(change_id=other.pk, actor=people["erin"])
    event = AuditEvent.objects.get(action="change.review_started", target_id=str(other.pk))
    assert '"via"' not in event.data


def _high_risk():
    from ..conftest import ANSWERS

    # 3 + 2 + 2 + 2 = 9: high, so the chair must approve
    return {
        **ANSWERS,
        "customer_facing": "yes",
        "downtime": "degraded",
        "data_change": "reversible",
        "blast_radius": "several_services",
    }
