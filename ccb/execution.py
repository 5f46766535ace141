"""What ccb asks of the execution layer, which registers itself here (ccb never imports deployments).

A change's packet names the runbook version it runs; runbooks, their links to changes and templates,
the plans read from live state and the runs themselves belong to ``deployments``, which registers
``ExecutionHooks`` in its AppConfig.ready. Without them ccb still files, reviews and schedules
changes; it has no runbook to link, no plan to show and no engine to start.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from ccb.exceptions import PacketInvalid


@dataclass(frozen=True)
class RunbookRef:
    """What ccb knows of a runbook version: enough to show it, snapshot it and check it is approved."""

    version_id: int
    runbook_id: int
    name: str
    number: int
    board_id: int
    author_id: int
    content_hash: str
    computed_hash: str  # recomputed from the stored document: differs if the row was tampered with
    approved: bool
    approved_by: str
    needs_review: bool  # written before typed runbooks: shown, never run
    planned_minutes: int  # the release plan's timeline (0 when unknown)
    url: str

    @property
    def label(self) -> str:
        return f"{self.name} v{self.number}"


@dataclass(frozen=True)
class DeploymentSummary:
    """The change's latest deployment run, as its page and the API show it."""

    run_id: int
    status: str
    status_label: str
    started_at: Any
    finished_at: Any
    outcome: str
    url: str


class ExecutionHooks(Protocol):
    def runbook_of(self, *, change: Any) -> RunbookRef | None: ...

    def link_runbook(self, *, change: Any, version_id: int | None, actor: Any, trusted: bool = False) -> None: ...

    def template_runbook(self, *, template: Any) -> RunbookRef | None: ...

    def link_template_runbook(self, *, template: Any, version_id: int, actor: Any) -> None: ...

    def runbook_choices(
        self, *, board_id: int | None, user: Any, current_id: int | None = None
    ) -> list[RunbookRef]: ...

    def plan_for_revision(self, *, change: Any, revision: Any) -> str: ...

    def deployment_of(self, *, change: Any) -> DeploymentSummary | None: ...

    def preload_runbooks(self, *, objects: list[Any]) -> None: ...


_hooks: ExecutionHooks | None = None


def register(hooks: ExecutionHooks) -> None:
    global _hooks
    _hooks = hooks


def runbook_of(*, change: Any) -> RunbookRef | None:
    """The runbook version the change runs, or None."""
    return _hooks.runbook_of(change=change) if _hooks is not None and change.pk else None


def link_runbook(*, change: Any, version_id: int | None, actor: Any, trusted: bool = False) -> None:
    """Make the change run this version (None: none), in the caller's transaction; PacketInvalid on
    ``runbook_version`` when it may not. ``trusted``: a standard template's approved runbook."""
    if _hooks is None:
        if version_id is not None:
            raise PacketInvalid({"runbook_version": ["Runbooks are not available here."]})
        return
    _hooks.link_runbook(change=change, version_id=version_id, actor=actor, trusted=trusted)


def template_runbook(*, template: Any) -> RunbookRef | None:
    return _hooks.template_runbook(template=template) if _hooks is not None and template.pk else None


def link_template_runbook(*, template: Any, version_id: int, actor: Any) -> None:
    if _hooks is None:
        raise PacketInvalid({"runbook_version": ["Runbooks are not available here."]})
    _hooks.link_template_runbook(template=template, version_id=version_id, actor=actor)


def runbook_choices(*, board_id: int | None, user: Any, current_id: int | None = None) -> list[RunbookRef]:
    """The versions a packet on this board may link (and the current one, so a save keeps it)."""
    return _hooks.runbook_choices(board_id=board_id, user=user, current_id=current_id) if _hooks else []


def plan_for_revision(*, change: Any, revision: Any) -> str:
    return _hooks.plan_for_revision(change=change, revision=revision) if _hooks is not None else ""


def preload_runbooks(*, objects: list[Any]) -> None:
    """Read the runbooks of many changes or templates at once, so a list costs one query, not one a row."""
    if _hooks is not None and objects:
        _hooks.preload_runbooks(objects=objects)


def deployment_of(*, change: Any) -> DeploymentSummary | None:
    return _hooks.deployment_of(change=change) if _hooks is not None and change.pk else None
