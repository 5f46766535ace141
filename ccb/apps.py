from django.apps import AppConfig


class CcbConfig(AppConfig):
    name = "ccb"
    verbose_name = "Change Control Board"

    def ready(self):
        from ccb import notification_sources
        from notifications import registry

        registry.register_board_members_source(notification_sources.board_member_ids)
        registry.register_digest_source(notification_sources.changes_awaiting_vote)
