"""Domain errors. The API maps each to its status: PolicyViolation 403, IllegalTransition and
Conflict 409, PacketInvalid 400."""

from typing import Any


class CCBError(Exception):
    status_code = 400

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class PolicyViolation(CCBError):
    """A separation-of-duties or role rule refused the act. ``rule`` is the rule's stable name."""

    status_code = 403

    def __init__(self, rule: str, message: str, *, actor: Any = None, target: Any = None):
        super().__init__(message)
        self.rule = rule
        self.actor = actor
        self.target = target
        self.recorded = False


class IllegalTransition(CCBError):
    status_code = 409

    def __init__(self, current: str, action: str):
        super().__init__(f"Cannot {action} a change that is {current.replace('_', ' ')}.")
        self.current = current
        self.action = action


class Conflict(CCBError):
    status_code = 409


class PacketInvalid(CCBError):
    """Input that cannot be accepted, with a message per field."""

    status_code = 400

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))
        self.errors = errors
