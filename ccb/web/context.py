from functools import cache

from django.http import HttpRequest

from ccb import policies, selectors
from ccb.choices import BoardRole


def navigation(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    boards = [
        b
        for b in selectors.boards_with_role(user=user)
        if policies.has_role(user, b, BoardRole.MEMBER) or policies.has_role(user, b, BoardRole.CHAIR)
    ]

    @cache
    def can_file() -> bool:  # asked only by pages that offer "File a change"
        return bool(selectors.boards_for_filing(user=user))

    return {"nav_boards": boards, "nav_can_audit": selectors.can_read_audit(user=user), "nav_can_file": can_file}
