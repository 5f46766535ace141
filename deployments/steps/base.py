"""What every step type is: a registered name, a parameter schema, and plan / execute / verify / rollback.

The engine owns leases, retries, timeouts, audit events and the window re-check; a step type only talks
to its adapters through the context and says what happened. Every method may be called again after a
crash (the engine cannot know whether a call reached AWS before the worker died), so each one
reconciles: it reads live state, compares it with what it wants, and acts only on the difference, with
``ctx.state`` as its memory between calls. Long work is never a sleep: ``Outcome.wait`` hands the step
back to the engine, which calls it again after the countdown.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict


class Params(BaseModel):
    """Base of every step type's parameters: unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Result(enum.StrEnum):
    DONE = "done"  # this phase finished: go on
    WAIT = "wait"  # call again after ``wait_seconds`` (a bake, a stack still updating)
    ANSWER = "answer"  # a person must answer a go/no-go before the step can go on
    FAILED = "failed"  # the phase failed: the engine rolls back (or pauses, as the runbook says)


@dataclass(frozen=True)
class Outcome:
    """What one call of a step method came to. ``evidence`` is what it decided on, kept for the record."""

    result: Result
    message: str = ""
    wait_seconds: int = 0
    evidence: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def done(cls, message: str = "", **evidence: Any) -> Outcome:
        return cls(Result.DONE, message, evidence=evidence)

    @classmethod
    def wait(cls, seconds: int, message: str = "", **evidence: Any) -> Outcome:
        return cls(Result.WAIT, message, wait_seconds=max(1, int(seconds)), evidence=evidence)

    @classmethod
    def answer(cls, message: str = "", **evidence: Any) -> Outcome:
        return cls(Result.ANSWER, message, evidence=evidence)

    @classmethod
    def failed(cls, message: str, **evidence: Any) -> Outcome:
        return cls(Result.FAILED, message, evidence=evidence)


@dataclass(frozen=True)
class Plan:
    """What a step will do, read from live state without changing anything.

    ``before`` and ``after`` are plain data (the alias's versions and weights, the stack's template
    digest...). ``changes`` are human lines (a template diff, "weight 0% -> 10%"). The digest the
    board's decision binds is taken over ``before`` and ``after``; at start they are read again and
    any difference is drift.
    """

    summary: str
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)
    changes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"summary": self.summary, "before": self.before, "after": self.after, "changes": self.changes}


class StepContext:
    """Everything a step method may use. Built by the engine for each call; nothing here touches the
    engine's own rows.

    ``state`` is the step's memory, saved by the engine after each call in the same transaction as
    the call's result. ``idempotency_key`` is stable for the step run (a ClientRequestToken, a marker
    row), ``now`` is the engine's clock, ``fast`` is set when an abort asks for a rollback that skips
    bakes, ``phase`` is execute, verify or rollback.
    """

    def __init__(
        self,
        *,
        params: Params,
        state: dict[str, Any],
        idempotency_key: str,
        phase: str,
        now: Callable[[], datetime],
        log: Callable[..., None],
        aws: Any = None,
        services: dict[str, Any] | None = None,
        labels: dict[str, str] | None = None,
        fast: bool = False,
    ):
        self.p = params
        self.state = state
        self.idempotency_key = idempotency_key
        self.phase = phase
        self.now = now
        self._log = log
        self.aws = aws
        self.services = services or {}
        self.labels = labels or {}
        self.fast = fast

    def log(self, message: str, **data: Any) -> None:
        """A line in the run's log, shown live on the change page."""
        self._log(message, **data)


class StepType:
    """One kind of step. Subclasses set ``name`` (through ``register``), ``params`` and ``summary``."""

    name: ClassVar[str] = ""
    params: ClassVar[type[Params]] = Params
    summary: ClassVar[str] = ""
    # What the step is to the release plan: an action changes something, a gate decides go or no-go,
    # a check reads and judges. Only actions have something to roll back.
    kind: ClassVar[str] = "action"

    def planned_seconds(self, params: Params) -> int:
        """How long the step is planned to take, for the release plan's timeline and the booking."""
        return int(getattr(params, "timeout_seconds", 0) or 0)

    def plan(self, ctx: StepContext) -> Plan:
        return Plan(summary=self.summary)

    def execute(self, ctx: StepContext) -> Outcome:
        raise NotImplementedError

    def verify(self, ctx: StepContext) -> Outcome:
        return Outcome.done()

    def rollback(self, ctx: StepContext) -> Outcome:
        return Outcome.done("Nothing to roll back.")

    def rollback_seconds(self, params: Params) -> int:
        """How long undoing the step is planned to take (no bakes: a rollback does not wait to watch)."""
        return 60 if self.kind == "action" else 0

    def rollback_summary(self, params: Params) -> str:
        """What rolling this step back does, in words, for the release plan."""
        return "Nothing to undo." if self.kind != "action" else "Restore what the step changed."


REGISTRY: dict[str, type[StepType]] = {}


def register(name: str) -> Callable[[type[StepType]], type[StepType]]:
    """Class decorator: make a step type available to runbooks under ``name``."""

    def add(cls: type[StepType]) -> type[StepType]:
        if name in REGISTRY and REGISTRY[name] is not cls:
            raise ValueError(f"step type {name!r} is registered twice")
        cls.name = name
        REGISTRY[name] = cls
        return cls

    return add


def get(name: str) -> StepType:
    """An instance of the registered type; KeyError names the known types."""
    try:
        return REGISTRY[name]()
    except KeyError:
        raise KeyError(f"unknown step type {name!r}; known: {', '.join(sorted(REGISTRY))}") from None
