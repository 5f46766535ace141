"""What ccb tells notifications about boards, registered in CcbConfig.ready (notifications imports no ccb)."""

from guardian.shortcuts import get_users_with_perms

from ccb.choices import REVIEW_STATES
from ccb.models import Board, ChangeRequest, Vote
from ccb.services import eligible_voters


def board_member_ids(board_id: int) -> list[int]:
    """The board's voting members and chair (directly or through groups), active accounts only."""
    board = Board.objects.filter(pk=board_id).first()
    if board is None:
        return []
    holders = get_users_with_perms(board, with_group_users=True, only_with_perms_in=["board_member", "board_chair"])
    return [user.pk for user in holders if user.is_active]


def changes_awaiting_vote(user_ids: list[int]) -> dict[int, list[dict]]:
    """For each person, the changes in review whose current revision still lacks their vote and on
    which they are eligible (requesters and implementers are not)."""
    wanted, result = set(user_ids), {}
    changes = (
        ChangeRequest.objects.filter(status__in=REVIEW_STATES, current_revision__isnull=False)
        .select_related("board")
        .order_by("submitted_at", "pk")
    )
    for change in changes:
        members, _chairs = eligible_voters(change)
        voted = set(
            Vote.objects.filter(revision_id=change.current_revision_id, voided_at__isnull=True).values_list(
                "voter_id", flat=True
            )
        )
        for user_id in sorted((members - voted) & wanted):
            result.setdefault(user_id, []).append(
                {
                    "id": change.pk,
                    "reference": change.reference,
                    "title": change.title,
                    "board": change.board.name,
                    "risk_level": change.get_risk_level_display(),
                    "submitted_at": change.submitted_at,
                }
            )
    return result
