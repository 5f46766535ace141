"""What ccb tells notifications about boards, registered in CcbConfig.ready (notifications imports no ccb)."""

from django.contrib.auth import get_user_model
from guardian.shortcuts import get_users_with_perms

from ccb import selectors
from ccb.models import Board


def board_member_ids(board_id: int) -> list[int]:
    """The board's voting members and chair (directly or through groups), active accounts only."""
    board = Board.objects.filter(pk=board_id).first()
    if board is None:
        return []
    holders = get_users_with_perms(board, with_group_users=True, only_with_perms_in=list(selectors.VOTING_PERMISSIONS))
    return [user.pk for user in holders if user.is_active]


def changes_awaiting_vote(user_ids: list[int]) -> dict[int, list[dict]]:
    """For each person, the changes in review whose current revision still lacks their vote (one query each)."""
    result: dict[int, list[dict]] = {}
    for user in get_user_model().objects.filter(pk__in=user_ids, is_active=True):
        for change in selectors.changes_awaiting_vote(user=user).order_by("submitted_at", "pk"):
            result.setdefault(user.pk, []).append(
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
