"""A tiny stand-in for the engine: calls a step's methods until they are done, moves a fake clock
through every wait instead of sleeping, and can lose a call's state as a worker that died before
the engine committed it would."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from deployments import steps
from deployments.steps import Outcome, Result, StepContext


class SimulatedCrash(Exception):
    """The worker died here: nothing of this call is committed."""


class FakeClock:
    def __init__(self, start: datetime | None = None):
        self.at = start or datetime(2026, 12, 1, 22, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


class Driver:
    """One step run. ``state`` and ``outputs`` hold what the engine committed."""

    def __init__(
        self,
        type_name: str,
        params: dict,
        *,
        aws: Any = None,
        services: dict | None = None,
        outputs: dict | None = None,
        clock: FakeClock | None = None,
        key: str = "run-1-step-1",
        labels: dict | None = None,
    ):
        self.step = steps.get(type_name)
        self.params = self.step.params.model_validate(params)
        self.aws = aws
        self.services = services or {}
        self.outputs = outputs if outputs is not None else {}
        self.clock = clock or FakeClock()
        self.key = key
        self.labels = labels or {"change": "CHG-000042", "run": "1"}
        self.state: dict = {}
        self.log: list[tuple[str, dict]] = []
        self.outcomes: list[tuple[str, Outcome]] = []

    def context(self, phase: str, *, fast: bool = False) -> StepContext:
        return StepContext(
            params=self.params,
            state=copy.deepcopy(self.state),
            idempotency_key=self.key,
            phase=phase,
            now=self.clock,
            log=lambda message, **data: self.log.append((message, data)),
            aws=self.aws,
            services={**self.services, "outputs": copy.deepcopy(self.outputs)},
            labels=self.labels,
            fast=fast,
        )

    def plan(self):
        return self.step.plan(self.context("plan"))

    def call(self, method: str, *, lose_state: bool = False, fast: bool = False) -> Outcome:
        """One call; ``lose_state``: the worker dies after the call, before the engine commits it."""
        ctx = self.context(method, fast=fast)
        outcome = getattr(self.step, method)(ctx)
        self.outcomes.append((method, outcome))
        if not lose_state:
            self.state = ctx.state
            self.outputs.clear()
            self.outputs.update(ctx.services["outputs"])
        return outcome

    def run(
        self,
        method: str = "execute",
        *,
        lose_state_after: Iterable[int] = (),
        fast: bool = False,
        between: Callable[[int, Outcome], None] | None = None,
        max_calls: int = 200,
    ) -> Outcome:
        """Call ``method`` until it is not waiting. ``lose_state_after``: the call numbers (from 0) whose
        state is lost; a lost or crashed call is made again, as the engine would after the lease expired."""
        lose = set(lose_state_after)
        for n in range(max_calls):
            try:
                outcome = self.call(method, lose_state=n in lose, fast=fast)
            except SimulatedCrash:
                continue
            if between is not None:
                between(n, outcome)
            if n in lose:
                continue
            if outcome.result is Result.WAIT:
                self.clock.advance(outcome.wait_seconds)
                continue
            return outcome
        raise AssertionError(f"{method} did not finish in {max_calls} calls")

    def calls_of(self, method: str) -> int:
        return sum(1 for m, _ in self.outcomes if m == method)


def crash_before(client: Any, operation: str, times: int = 1) -> None:
    """The next ``times`` calls of ``operation`` on this adapter client die before they leave the worker."""
    left = {"n": times}

    def die(**kwargs):
        if left["n"] > 0:
            left["n"] -= 1
            raise SimulatedCrash(f"worker died before {operation}")
        return None

    client.raw.meta.events.register(f"before-send.*.{operation}", die)
