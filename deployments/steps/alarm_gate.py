"""alarm_gate: CloudWatch alarms watched over a bake time decide go or no-go."""

from __future__ import annotations

from pydantic import Field

from . import bake
from .base import Outcome, Plan, StepContext, StepType, register


class AlarmGateParams(bake.WatchFields):
    alarms: list[bake.AlarmName] = Field(
        min_length=1, max_length=100, description="CloudWatch alarm names; any in ALARM fails the gate."
    )
    bake_seconds: int = Field(
        300, ge=0, le=7 * 86400, description="How long the alarms are watched; 0 looks once and decides."
    )


@register("alarm_gate")
class AlarmGate(StepType):
    """Watches the alarms for ``bake_seconds``: ALARM at any look fails the gate, a missing alarm fails
    it, INSUFFICIENT_DATA is what the runbook states. The evidence of every look is each alarm's
    state, reason, threshold, comparison, metric and the datapoints its reason gives."""

    params = AlarmGateParams
    summary = "Watch CloudWatch alarms for a bake time; ALARM says no-go."
    kind = "gate"

    def planned_seconds(self, params: AlarmGateParams) -> int:  # type: ignore[override]
        return params.bake_seconds

    def plan(self, ctx: StepContext) -> Plan:
        p = ctx.p
        before, lines = bake.plan_lines(ctx.aws, list(p.alarms), p.insufficient_data, p.bake_seconds)
        return Plan(
            summary=f"Watch {', '.join(p.alarms)} for {p.bake_seconds} s: ALARM fails the gate, "
            f"INSUFFICIENT_DATA: {p.insufficient_data}.",
            before=before,
            after={"bake_seconds": p.bake_seconds, "insufficient_data": p.insufficient_data},
            changes=lines,
        )

    def execute(self, ctx: StepContext) -> Outcome:
        return bake.bake(ctx, what="Alarm gate")
