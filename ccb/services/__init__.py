"""Every write in ccb. Views, serializers, admin, commands and tasks call these and nothing else."""

from .boards import (
    board_role_grant,
    board_role_revoke,
    board_save,
    service_save,
    site_auditor_grant,
    site_auditor_revoke,
    template_save,
)
from .booking import change_request_schedule
from .changes import (
    attachment_add,
    change_request_create,
    change_request_create_from_template,
    change_request_revise,
    change_request_submit,
    change_request_update,
    change_request_withdraw,
)
from .implementation import (
    approval_binding_error,
    change_request_close,
    change_request_record_outcome,
    change_request_start_implementation,
)
from .review import (
    change_request_decide,
    change_request_record_retrospective,
    change_request_start_review,
    condition_satisfy,
    vote_cast,
)
from .windows import (
    calendar_token_revoke,
    calendar_token_rotate,
    change_schedules_recheck,
    freeze_deactivate,
    freeze_save,
    maintenance_window_deactivate,
    maintenance_window_save,
)

__all__ = [
    "approval_binding_error",
    "attachment_add",
    "board_role_grant",
    "board_role_revoke",
    "board_save",
    "calendar_token_revoke",
    "calendar_token_rotate",
    "change_request_close",
    "change_request_create",
    "change_request_create_from_template",
    "change_request_decide",
    "change_request_record_outcome",
    "change_request_record_retrospective",
    "change_request_revise",
    "change_request_schedule",
    "change_request_start_implementation",
    "change_request_start_review",
    "change_request_submit",
    "change_request_update",
    "change_request_withdraw",
    "change_schedules_recheck",
    "condition_satisfy",
    "freeze_deactivate",
    "freeze_save",
    "maintenance_window_deactivate",
    "maintenance_window_save",
    "service_save",
    "site_auditor_grant",
    "site_auditor_revoke",
    "template_save",
    "vote_cast",
]
