"""The sources ccb registers with notifications (ccb/notification_sources.py), for tests that register them."""

from ccb.notification_sources import board_member_ids, changes_awaiting_vote

__all__ = ["board_member_ids", "changes_awaiting_vote"]
