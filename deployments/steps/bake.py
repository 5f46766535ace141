"""Watching CloudWatch alarms over a bake: shared by the traffic-shifting step types and the alarm gate.

A bake is a time after a change during which named alarms must stay out of ALARM. It is never a
sleep: each call reads the alarms once and hands back ``Outcome.wait`` until the bake is over. An
alarm in ALARM fails the bake at once; INSUFFICIENT_DATA is what the runbook says (``fail``, ``pass``,
or ``wait`` for data, past the bake's end if need be, until the step's timeout); a named alarm that
does not exist fails, so a misspelt name never passes silently.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from .base import Outcome, Params, StepContext

AlarmName = Annotated[str, StringConstraints(min_length=1, max_length=255)]
InsufficientData = Literal["fail", "pass", "wait"]
_DATAPOINT = re.compile(r"(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?) \(([^)]*)\)")


class WatchFields(Params):
    """The parameters of anything that bakes under alarms."""

    alarms: list[AlarmName] = Field(
        default_factory=list, max_length=100, description="CloudWatch alarm names watched during the bake."
    )
    bake_seconds: int = Field(0, ge=0, le=7 * 86400, description="How long the alarms are watched after the change.")
    insufficient_data: InsufficientData = Field(
        "fail",
        description="What an alarm in INSUFFICIENT_DATA means: fail the bake, pass, or wait for data "
        "(until the step's timeout).",
    )
    poll_seconds: int = Field(30, ge=1, le=3600, description="How often the alarms are read during the bake.")


@dataclass
class Judgement:
    """What the alarms say now: ``failed`` (with why), ``waiting`` for data, or fine."""

    failed: bool = False
    waiting: bool = False
    message: str = ""
    alarms: list[dict] = field(default_factory=list)


def describe(aws: Any, names: list[str]) -> tuple[list[dict], list[str]]:
    """(evidence for each alarm found, in the order named; the names not found)."""
    found: dict[str, dict] = {}
    for start in range(0, len(names), 100):
        chunk = names[start : start + 100]
        for page in aws.cloudwatch.paginate(
            "describe_alarms", AlarmNames=chunk, AlarmTypes=["MetricAlarm", "CompositeAlarm"]
        ):
            for alarm in page.get("MetricAlarms", []):
                found[alarm["AlarmName"]] = evidence(alarm, "metric")
            for alarm in page.get("CompositeAlarms", []):
                found[alarm["AlarmName"]] = evidence(alarm, "composite")
    return [found[n] for n in names if n in found], [n for n in names if n not in found]


def evidence(alarm: dict, kind: str) -> dict:
    """An alarm's state as the record keeps it: state, reason, threshold, comparison, metric, datapoints."""
    reason = alarm.get("StateReason", "")
    try:
        data = json.loads(alarm.get("StateReasonData") or "{}") or {}
    except ValueError:
        data = {}
    since = alarm.get("StateUpdatedTimestamp")
    out: dict[str, Any] = {
        "name": alarm["AlarmName"],
        "type": kind,
        "state": alarm.get("StateValue"),
        "reason": reason,
        "since": since.isoformat() if isinstance(since, datetime) else since,
        "datapoints": data.get("evaluatedDatapoints") or data.get("recentDatapoints") or _datapoints_in(reason),
    }
    if kind == "composite":
        out["rule"] = alarm.get("AlarmRule", "")
        return out
    out.update(
        threshold=alarm.get("Threshold"),
        comparison=alarm.get("ComparisonOperator"),
        metric={
            "namespace": alarm.get("Namespace"),
            "name": alarm.get("MetricName"),
            "dimensions": {d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])},
            "statistic": alarm.get("Statistic") or alarm.get("ExtendedStatistic"),
            "period": alarm.get("Period"),
            "evaluation_periods": alarm.get("EvaluationPeriods"),
            "datapoints_to_alarm": alarm.get("DatapointsToAlarm"),
            "math": [m.get("Expression") or m.get("Id") for m in alarm.get("Metrics", [])],
        },
    )
    return out


def _datapoints_in(reason: str) -> list[dict]:
    """The datapoints CloudWatch quotes in a reason: '... datapoints [5.0 (01/12/26 10:00:00)] was ...'."""
    inside = re.findall(r"\[([^\]]*)\]", reason)
    return [{"value": float(v), "at": at} for chunk in inside for v, at in _DATAPOINT.findall(chunk)]


def judge(aws: Any, names: list[str], insufficient_data: str) -> Judgement:
    alarms, missing = describe(aws, names)
    if missing:
        return Judgement(failed=True, message=f"Alarm not found: {', '.join(missing)}.", alarms=alarms)
    firing = [a for a in alarms if a["state"] == "ALARM"]
    if firing:
        why = "; ".join(f"{a['name']}: {a['reason']}" for a in firing)
        return Judgement(failed=True, message=f"In ALARM: {why}", alarms=alarms)
    unsure = [a["name"] for a in alarms if a["state"] == "INSUFFICIENT_DATA"]
    if unsure and insufficient_data == "fail":
        return Judgement(
            failed=True, message=f"Insufficient data (the runbook says fail): {', '.join(unsure)}.", alarms=alarms
        )
    if unsure and insufficient_data == "wait":
        return Judgement(waiting=True, message=f"Waiting for data: {', '.join(unsure)}.", alarms=alarms)
    ok = f"{len(alarms)} alarm{'s' if len(alarms) != 1 else ''} OK" if alarms else "no alarms named"
    passed = f" ({', '.join(unsure)}: insufficient data, passed as the runbook says)" if unsure else ""
    return Judgement(message=ok + passed, alarms=alarms)


def bake(ctx: StepContext, *, what: str) -> Outcome:
    """One look at the alarms during the bake that follows ``what``; ``ctx.fast`` skips the waiting."""
    p = ctx.p
    if "bake_until" not in ctx.state:
        ctx.state["bake_until"] = (ctx.now() + timedelta(seconds=p.bake_seconds)).isoformat()
        if p.bake_seconds:
            ctx.log(f"{what}: baking {p.bake_seconds} s under {len(p.alarms)} alarm(s).", alarms=list(p.alarms))
    j = judge(ctx.aws, list(p.alarms), p.insufficient_data) if p.alarms else Judgement(message="no alarms named")
    if j.failed:
        ctx.log(f"{what}: the bake failed. {j.message}", alarms=j.alarms)
        return Outcome.failed(f"{what}: {j.message}", alarms=j.alarms)
    left = 0 if ctx.fast else seconds_until(ctx, ctx.state["bake_until"])
    if left > 0:
        return Outcome.wait(min(p.poll_seconds, left), f"{what}: baking, {left} s left; {j.message}.", alarms=j.alarms)
    if j.waiting and not ctx.fast:
        return Outcome.wait(p.poll_seconds, f"{what}: bake over; {j.message}", alarms=j.alarms)
    done = "bake skipped" if ctx.fast and p.bake_seconds else f"baked {p.bake_seconds} s"
    ctx.log(f"{what}: {done}; {j.message}.", alarms=j.alarms)
    return Outcome.done(f"{what}: {done}; {j.message}.", alarms=j.alarms)


def plan_lines(aws: Any, names: list[str], insufficient_data: str, bake_seconds: int) -> tuple[dict, list[str]]:
    """For a plan: which alarms exist (bound: it does not change by the minute) and their state now (shown)."""
    if not names:
        return {"alarms": []}, []
    alarms, missing = describe(aws, names)
    lines = [f"Bake {bake_seconds} s under {len(names)} alarm(s); INSUFFICIENT_DATA: {insufficient_data}."]
    lines += [f"alarm {a['name']}: {a['state']} now ({a['reason'] or 'no reason given'})" for a in alarms]
    lines += [f"alarm {n}: NOT FOUND (the bake would fail)" for n in missing]
    return {"alarms": [a["name"] for a in alarms], "missing_alarms": missing}, lines


def seconds_until(ctx: StepContext, iso: str) -> int:
    return max(0, int((datetime.fromisoformat(iso) - ctx.now()).total_seconds() + 0.999))
