"""Step types, registered by name. Importing this package registers every type ccb ships."""

from . import (  # noqa: F401 - each module registers its types
    alarm_gate,
    basic,
    cloudformation,
    db_schema_change,
    ecs_blue_green,
    lambda_canary,
    notify,
)
from .base import REGISTRY, Outcome, Params, Plan, Result, StepContext, StepType, get, register

__all__ = ["REGISTRY", "Outcome", "Params", "Plan", "Result", "StepContext", "StepType", "get", "register"]
