from .audit import AuditEvent, RefusalWindow
from .boards import Board, BoardMembership, Service, StandardChangeTemplate
from .changes import Attachment, ChangeRequest, ChangeRevision, Condition, Decision, Vote
from .windows import CalendarFeedToken, FreezeWindow, MaintenanceWindow

__all__ = [
    "Attachment",
    "AuditEvent",
    "Board",
    "BoardMembership",
    "CalendarFeedToken",
    "ChangeRequest",
    "ChangeRevision",
    "Condition",
    "Decision",
    "FreezeWindow",
    "MaintenanceWindow",
    "RefusalWindow",
    "Service",
    "StandardChangeTemplate",
    "Vote",
]
