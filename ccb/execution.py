"""What ccb asks of the execution layer, which registers itself here (ccb never imports deployments).

``deployments`` registers its hooks in its AppConfig.ready. Without them ccb still files, reviews and
schedules changes; it just has no plan to show and no engine to start.
"""

from __future__ import annotations

from typing import Any, Protocol


class ExecutionHooks(Protocol):
    def plan_for_revision(self, *, change: Any, revision: Any) -> str:
        """Read each step's plan from live state for this revision and keep it; return its digest."""


_hooks: ExecutionHooks | None = None


def register(hooks: ExecutionHooks) -> None:
    global _hooks
    _hooks = hooks


def plan_for_revision(*, change: Any, revision: Any) -> str:
    return _hooks.plan_for_revision(change=change, revision=revision) if _hooks is not None else ""
