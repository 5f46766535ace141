"""ecs_blue_green: shift a share of an ALB listener's traffic from the blue target group to the green one
by weighted forwarding, then bake under CloudWatch alarms; optionally roll the green ECS service to a
new task definition first and wait for its deployment to complete.

As with the Lambda canary, the first call records what it will change (the listener's or rule's
actions, the green service's task definition) and the engine commits that before anything changes;
rollback sends the recorded actions back as they were and returns the green service to its task
definition.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from . import bake
from .base import Outcome, Params, Plan, StepContext, StepType, register

_ARN = r"^arn:aws[a-z\-]*:"


class GreenService(Params):
    cluster: str = Field(min_length=1, max_length=255, description="The ECS cluster's name or ARN.")
    service: str = Field(min_length=1, max_length=255, description="The ECS service behind the green target group.")
    task_definition: str = Field(
        min_length=1,
        max_length=512,
        pattern=r"^(arn:aws[a-z\-]*:ecs:.+|[A-Za-z0-9_\-]+:\d+)$",
        description="The task definition the green service runs before traffic moves: family:revision or ARN.",
    )


class EcsBlueGreenParams(bake.WatchFields):
    listener_arn: str = Field(pattern=_ARN, max_length=512, description="The ALB listener whose forward action shifts.")
    rule_arn: str | None = Field(
        None,
        pattern=_ARN,
        max_length=512,
        description="A rule of that listener to shift instead of its default action.",
    )
    blue_target_group: str = Field(
        pattern=_ARN, max_length=512, description="The target group serving the old version."
    )
    green_target_group: str = Field(
        pattern=_ARN, max_length=512, description="The target group serving the new version."
    )
    weight: int = Field(ge=0, le=100, description="Percent of the traffic on green after this step; 100 is all of it.")
    green_service: GreenService | None = Field(
        None, description="Roll this ECS service to a task definition, and wait for it, before shifting."
    )


@register("ecs_blue_green")
class EcsBlueGreen(StepType):
    params = EcsBlueGreenParams
    summary = "Shift an ALB listener's traffic from blue to green target groups by weight, then bake under alarms."
    kind = "action"

    def planned_seconds(self, params: EcsBlueGreenParams) -> int:  # type: ignore[override]
        return params.bake_seconds + (600 if params.green_service else 30)

    def rollback_seconds(self, params: EcsBlueGreenParams) -> int:  # type: ignore[override]
        return 600 if params.green_service else 30

    def rollback_summary(self, params: EcsBlueGreenParams) -> str:  # type: ignore[override]
        service = (
            f"; service {params.green_service.service} back on its task definition" if params.green_service else ""
        )
        return f"Restore the listener's forward weights as they were{service}."

    # --- the listener ------------------------------------------------------------------------------------

    def _actions(self, ctx: StepContext) -> list[dict]:
        if ctx.p.rule_arn:
            return ctx.aws.elbv2.describe_rules(RuleArns=[ctx.p.rule_arn])["Rules"][0]["Actions"]
        return ctx.aws.elbv2.describe_listeners(ListenerArns=[ctx.p.listener_arn])["Listeners"][0]["DefaultActions"]

    def _put_actions(self, ctx: StepContext, actions: list[dict]) -> None:
        if ctx.p.rule_arn:
            ctx.aws.elbv2.modify_rule(RuleArn=ctx.p.rule_arn, Actions=actions)
        else:
            ctx.aws.elbv2.modify_listener(ListenerArn=ctx.p.listener_arn, DefaultActions=actions)

    def _where(self, ctx: StepContext) -> str:
        return f"rule {ctx.p.rule_arn}" if ctx.p.rule_arn else f"listener {ctx.p.listener_arn}"

    def _desired(self, ctx: StepContext, actions: list[dict]) -> list[dict]:
        p = ctx.p
        out = []
        for action in actions:
            if action["Type"] != "forward":
                out.append(action)
                continue
            config: dict[str, Any] = {
                "TargetGroups": [
                    {"TargetGroupArn": p.blue_target_group, "Weight": 100 - p.weight},
                    {"TargetGroupArn": p.green_target_group, "Weight": p.weight},
                ]
            }
            stickiness = (action.get("ForwardConfig") or {}).get("TargetGroupStickinessConfig")
            if stickiness:
                config["TargetGroupStickinessConfig"] = stickiness
            new = {"Type": "forward", "ForwardConfig": config}
            if "Order" in action:
                new["Order"] = action["Order"]
            out.append(new)
        return out

    def _check_shape(self, ctx: StepContext, actions: list[dict]) -> str:
        forwards = [a for a in actions if a["Type"] == "forward"]
        if len(forwards) != 1:
            return f"The {self._where(ctx)} has {len(forwards)} forward actions; a blue/green shift needs exactly one."
        strangers = set(_weights(forwards[0])) - {ctx.p.blue_target_group, ctx.p.green_target_group}
        if strangers:
            return f"The {self._where(ctx)} forwards to {', '.join(sorted(strangers))}, neither blue nor green."
        return ""

    # --- plan --------------------------------------------------------------------------------------------

    def plan(self, ctx: StepContext) -> Plan:
        p = ctx.p
        actions = self._actions(ctx)
        problem = self._check_shape(ctx, actions)
        want = self._desired(ctx, actions)
        lines = [f"{self._where(ctx)}: {self._describe(ctx, actions)} -> {self._describe(ctx, want)}"]
        if problem:
            lines.insert(0, f"CANNOT RUN: {problem}")
        before: dict[str, Any] = {"weights": _named(ctx, actions)}
        after: dict[str, Any] = {"weights": _named(ctx, want)}
        if p.green_service:
            service = self._service(ctx)
            current = service["taskDefinition"] if service else None
            before["green_task_definition"] = current
            after["green_task_definition"] = p.green_service.task_definition
            lines.insert(
                0, f"service {p.green_service.service}: task definition {current} -> {p.green_service.task_definition}"
            )
        watch, alarm_lines = bake.plan_lines(ctx.aws, list(p.alarms), p.insufficient_data, p.bake_seconds)
        return Plan(
            summary=f"Shift {p.weight}% of the {self._where(ctx)} to green"
            + (f", bake {p.bake_seconds} s." if p.bake_seconds else "."),
            before={**before, **watch},
            after=after,
            changes=lines + alarm_lines,
        )

    def _describe(self, ctx: StepContext, actions: list[dict]) -> str:
        named = _named(ctx, actions)
        return ", ".join(f"{name} {share:g}%" for name, share in named.items()) or "no forward action"

    # --- execute -----------------------------------------------------------------------------------------

    def execute(self, ctx: StepContext) -> Outcome:
        p = ctx.p
        if "before" not in ctx.state:
            return self._record(ctx)
        if p.green_service and not ctx.state.get("service_ready"):
            waiting = self._roll_service(ctx, p.green_service.task_definition, forward=True)
            if waiting is not None:
                return waiting
            ctx.state["service_ready"] = True
        if not ctx.state.get("shifted"):
            problem = self._shift(ctx)
            if problem:
                return problem
        return bake.bake(ctx, what=f"{p.weight}% on green")

    def _record(self, ctx: StepContext) -> Outcome:
        actions = self._actions(ctx)
        problem = self._check_shape(ctx, actions)
        if problem:
            return Outcome.failed(problem)
        before: dict[str, Any] = {"actions": actions}
        if ctx.p.green_service:
            service = self._service(ctx)
            if service is None:
                return Outcome.failed(f"ECS service {ctx.p.green_service.service} not found.")
            before["task_definition"] = service["taskDefinition"]
        ctx.state["before"] = before
        ctx.log(f"The {self._where(ctx)} before the shift: {self._describe(ctx, actions)}.", **before)
        return Outcome.wait(1, "Recorded the listener before changing it.", before=before)

    def _shift(self, ctx: StepContext) -> Outcome | None:
        before = ctx.state["before"]["actions"]
        want = self._desired(ctx, before)
        live = self._actions(ctx)
        if _weights(_forward(live)) != _weights(_forward(want)):
            if _weights(_forward(live)) != _weights(_forward(before)):
                return Outcome.failed(
                    f"The {self._where(ctx)} changed since it was recorded: {self._describe(ctx, live)}.",
                    live=live,
                )
            self._put_actions(ctx, want)
            ctx.log(f"The {self._where(ctx)}: {self._describe(ctx, live)} -> {self._describe(ctx, want)}.")
        ctx.state["shifted"] = _named(ctx, want)
        return None

    # --- the green service -------------------------------------------------------------------------------

    def _service(self, ctx: StepContext) -> dict | None:
        g = ctx.p.green_service
        answer = ctx.aws.ecs.describe_services(cluster=g.cluster, services=[g.service])
        found = [s for s in answer.get("services", []) if s.get("status") != "INACTIVE"]
        return found[0] if found else None

    def _roll_service(self, ctx: StepContext, task_definition: str, *, forward: bool) -> Outcome | None:
        """Bring the green service to ``task_definition`` and wait for its deployment: None once it runs it."""
        g = ctx.p.green_service
        flag = "service_updated" if forward else "service_restored"
        service = self._service(ctx)
        if service is None:
            return Outcome.failed(f"ECS service {g.service} not found.")
        deployments = service.get("deployments", [])
        if not _same_task_definition(service["taskDefinition"], task_definition):
            failed = [d for d in deployments if _same_task_definition(d["taskDefinition"], task_definition)]
            failed = [d for d in failed if d.get("rolloutState") == "FAILED"]
            if failed or ctx.state.get(flag):
                reason = failed[0].get("rolloutStateReason", "") if failed else "the service went back to another"
                return Outcome.failed(f"Service {g.service} did not take {task_definition}: {reason}")
            ctx.aws.ecs.update_service(cluster=g.cluster, service=g.service, taskDefinition=task_definition)
            ctx.state[flag] = True
            ctx.log(f"Service {g.service}: {service['taskDefinition']} -> {task_definition}.")
            return Outcome.wait(ctx.p.poll_seconds, f"Service {g.service} is deploying {task_definition}.")
        primary = next((d for d in deployments if d.get("status") == "PRIMARY"), None)
        state = (primary or {}).get("rolloutState")
        if state == "FAILED":
            return Outcome.failed(f"Service {g.service}'s deployment failed: {primary.get('rolloutStateReason', '')}")
        settled = len(deployments) == 1 and primary is not None and primary["runningCount"] == primary["desiredCount"]
        if state == "COMPLETED" or (state is None and settled):
            ctx.log(f"Service {g.service} runs {task_definition}.", deployment=(primary or {}).get("id"))
            return None
        running = f"{(primary or {}).get('runningCount', 0)} of {(primary or {}).get('desiredCount', 0)}"
        return Outcome.wait(ctx.p.poll_seconds, f"Service {g.service} deploying {task_definition}: {running} running.")

    # --- verify and rollback -----------------------------------------------------------------------------

    def verify(self, ctx: StepContext) -> Outcome:
        want = ctx.state.get("shifted")
        actions = self._actions(ctx)
        live = _named(ctx, actions)
        if want and live == want:
            return Outcome.done(f"The {self._where(ctx)} forwards {self._describe(ctx, actions)}.", weights=live)
        return Outcome.failed(f"The {self._where(ctx)} forwards {live}, expected {want}.", weights=live)

    def rollback(self, ctx: StepContext) -> Outcome:
        before = ctx.state.get("before")
        if before is None:
            return Outcome.done("Nothing was changed.")
        live = self._actions(ctx)
        if _weights(_forward(live)) != _weights(_forward(before["actions"])):
            self._put_actions(ctx, before["actions"])
            ctx.log(f"The {self._where(ctx)} restored: {self._describe(ctx, before['actions'])}.")
        if ctx.p.green_service and before.get("task_definition"):
            waiting = self._roll_service(ctx, before["task_definition"], forward=False)
            if waiting is not None:
                return waiting
        return Outcome.done(
            f"The {self._where(ctx)} forwards {self._describe(ctx, before['actions'])} again.",
            weights=_named(ctx, before["actions"]),
        )


def _forward(actions: list[dict]) -> dict:
    return next((a for a in actions if a["Type"] == "forward"), {})


def _weights(action: dict) -> dict[str, int | None]:
    groups = (action.get("ForwardConfig") or {}).get("TargetGroups")
    if groups:
        return {g["TargetGroupArn"]: g.get("Weight", 1) for g in groups}
    return {action["TargetGroupArn"]: None} if action.get("TargetGroupArn") else {}


def _named(ctx: StepContext, actions: list[dict]) -> dict[str, float]:
    """Each side's share in percent, named blue and green."""
    weights = _weights(_forward(actions))
    raw = {arn: (1 if w is None else w) for arn, w in weights.items()}
    total = sum(raw.values()) or 1
    names = {ctx.p.blue_target_group: "blue", ctx.p.green_target_group: "green"}
    shares = {names.get(arn, arn): round(100 * w / total, 2) for arn, w in raw.items()}
    return {side: shares.get(side, 0.0) for side in ("blue", "green")} | {
        k: v for k, v in shares.items() if k not in ("blue", "green")
    }


def _same_task_definition(actual: str, wanted: str) -> bool:
    return actual == wanted or actual.endswith(f"task-definition/{wanted}")
