"""What notifications needs to know about boards and votes, supplied by ccb without an import.

ccb registers two callables when it starts (``CcbConfig.ready``):

- ``register_board_members_source(func)``: ``func(board_id) -> iterable of user ids``, the people
  subscribed to a board by holding a voting role on it;
- ``register_digest_source(func)``: ``func(user_ids) -> {user_id: [change, ...]}``, the changes
  awaiting each person's vote, each a dict with ``id``, ``reference``, ``title``, ``board``,
  ``risk_level`` and ``submitted_at``.

Until they are registered, board mail reaches only explicit subscribers and no digest is sent.
"""

from collections.abc import Callable, Iterable, Mapping

BoardMembersSource = Callable[[int], Iterable[int]]
DigestSource = Callable[[list[int]], Mapping[int, list[dict]]]

_sources: dict[str, Callable | None] = {"board_members": None, "digest": None}


def register_board_members_source(func: BoardMembersSource | None) -> None:
    _sources["board_members"] = func


def register_digest_source(func: DigestSource | None) -> None:
    _sources["digest"] = func


def board_member_ids(board_id: int) -> set[int]:
    source = _sources["board_members"]
    return set(source(board_id)) if source else set()


def digest_source() -> DigestSource | None:
    return _sources["digest"]
