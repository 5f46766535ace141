"""Step types, registered by name. Importing this package registers every type ccb ships."""

from . import basic  # noqa: F401 - registers wait, manual_gate, http_smoke
from .base import REGISTRY, Outcome, Params, Plan, Result, StepContext, StepType, get, register

__all__ = ["REGISTRY", "Outcome", "Params", "Plan", "Result", "StepContext", "StepType", "get", "register"]
