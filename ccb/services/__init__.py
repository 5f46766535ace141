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
from .changes import (
    attachment_add,
    change_request_create,
    change_request_create_from_template,
    change_request_revise,
    change_request_submit,
    change_request_update,
    change_request_withdraw,
    eligible_voters,
    entry_criteria,
)
from .delivery import (
    approval_binding_error,
    change_request_close,
    change_request_finish_implementation,
    change_request_record_retrospective,
    change_request_schedule,
    change_request_start_implementation,
    condition_satisfy,
)
from .review import change_request_decide, change_request_start_review, tally, vote_cast

__all__ = [
    "approval_binding_error",
    "attachment_add",
    "board_role_grant",
    "board_role_revoke",
    "board_save",
    "change_request_close",
    "change_request_create",
    "change_request_create_from_template",
    "change_request_decide",
    "change_request_finish_implementation",
    "change_request_record_retrospective",
    "change_request_revise",
    "change_request_schedule",
    "change_request_start_implementation",
    "change_request_start_review",
    "change_request_submit",
    "change_request_update",
    "change_request_withdraw",
    "condition_satisfy",
    "eligible_voters",
    "entry_criteria",
    "service_save",
    "site_auditor_grant",
    "site_auditor_revoke",
    "tally",
    "template_save",
    "vote_cast",
]
