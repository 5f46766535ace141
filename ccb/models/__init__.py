from .audit import AuditEvent
from .boards import Board, BoardMembership, Service, StandardChangeTemplate
from .changes import Attachment, ChangeRequest, ChangeRevision, Condition, Decision, Vote

__all__ = [
    "Attachment",
    "AuditEvent",
    "Board",
    "BoardMembership",
    "ChangeRequest",
    "ChangeRevision",
    "Condition",
    "Decision",
    "Service",
    "StandardChangeTemplate",
    "Vote",
]
