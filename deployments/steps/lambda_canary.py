"""lambda_canary: shift a share of a Lambda alias's traffic to a new version by weighted alias routing,
then bake under CloudWatch alarms.

The first call records the alias as it stands (its version and routing) and, when the version is to be
published, the versions that exist and the code of $LATEST; the engine commits that before anything
changes, so a rollback always knows what to restore and a crash never loses it. Later calls publish (at
most once: a version that appeared since, with that code, is the one published), shift, and bake. The
version published is written to the run's outputs, so every later canary step of the run for the same
function shifts to that same version.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from deployments.aws import AwsError

from . import bake
from .base import Outcome, Plan, StepContext, StepType, register

_NAME = r"^[A-Za-z0-9_:\-]+$"


class LambdaCanaryParams(bake.WatchFields):
    function: str = Field(
        min_length=1, max_length=170, pattern=_NAME, description="The function's name or ARN (no qualifier)."
    )
    alias: str = Field(
        min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_\-]+$", description="The alias whose traffic shifts."
    )
    version: int | Literal["publish"] = Field(
        "publish",
        description='The new version: a published version number, or "publish" to publish $LATEST (once per '
        "run and function: later steps of the run shift to the version the first one published).",
    )
    weight: int = Field(
        ge=1,
        le=100,
        description="Percent of the alias's traffic on the new version after this step; "
        "100 promotes it (the alias points at it, no routing).",
    )


def output_key(function: str) -> str:
    """The run-wide output naming the version a run's canary steps shift this function to."""
    return f"lambda_canary:{function}:version"


@register("lambda_canary")
class LambdaCanary(StepType):
    params = LambdaCanaryParams
    summary = "Shift a Lambda alias's traffic to a new version by weighted routing, then bake under alarms."
    kind = "action"

    def planned_seconds(self, params: LambdaCanaryParams) -> int:  # type: ignore[override]
        return params.bake_seconds + 30

    def rollback_seconds(self, params: LambdaCanaryParams) -> int:  # type: ignore[override]
        return 30

    def rollback_summary(self, params: LambdaCanaryParams) -> str:  # type: ignore[override]
        return f"Point alias {params.alias} of {params.function} back at the version and routing it had before."

    # --- reading -----------------------------------------------------------------------------------------

    def _alias(self, ctx: StepContext) -> dict:
        alias = ctx.aws.lambda_.get_alias(FunctionName=ctx.p.function, Name=ctx.p.alias)
        weights = (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
        return {"version": alias["FunctionVersion"], "weights": dict(weights), "revision": alias.get("RevisionId")}

    def _versions(self, ctx: StepContext) -> dict[str, str]:
        out = {}
        for page in ctx.aws.lambda_.paginate("list_versions_by_function", FunctionName=ctx.p.function):
            for v in page.get("Versions", []):
                if v["Version"] != "$LATEST":
                    out[v["Version"]] = v["CodeSha256"]
        return out

    def _known_target(self, ctx: StepContext) -> str | None:
        """The new version without publishing: the number given, or the one this run already published."""
        if ctx.p.version != "publish":
            return str(ctx.p.version)
        return ctx.state.get("target") or ctx.services.get("outputs", {}).get(output_key(ctx.p.function))

    # --- plan --------------------------------------------------------------------------------------------

    def plan(self, ctx: StepContext) -> Plan:
        p = ctx.p
        alias = self._alias(ctx)
        target = self._known_target(ctx)
        if target is None:
            latest = ctx.aws.lambda_.get_function_configuration(FunctionName=p.function)
            new = {"publish": "$LATEST", "code_sha256": latest["CodeSha256"]}
            name = f"a version published from $LATEST (code {latest['CodeSha256'][:12]}…)"
        else:
            ctx.aws.lambda_.get_function_configuration(FunctionName=p.function, Qualifier=target)  # it exists
            new, name = {"version": target}, f"version {target}"
        after = _desired(
            {"version": alias["version"], "weights": alias["weights"]}, target or "(new version)", p.weight
        )
        watch, lines = bake.plan_lines(ctx.aws, list(p.alarms), p.insufficient_data, p.bake_seconds)
        return Plan(
            summary=f"Shift {p.weight}% of {p.function}:{p.alias} to {name}"
            + (f", bake {p.bake_seconds} s." if p.bake_seconds else "."),
            before={"version": alias["version"], "weights": alias["weights"], **watch},
            after={"new": new, "version": after["version"], "weights": after["weights"]},
            changes=[f"alias {p.alias}: {_describe(alias)} -> {_describe(after)}", *lines],
        )

    # --- execute -----------------------------------------------------------------------------------------

    def execute(self, ctx: StepContext) -> Outcome:
        p = ctx.p
        if "before" not in ctx.state:
            return self._record(ctx)
        if "target" not in ctx.state:
            ctx.state["target"] = self._publish(ctx)
        target = ctx.state["target"]
        ctx.services.setdefault("outputs", {})[output_key(p.function)] = target
        if not ctx.state.get("shifted"):
            problem = self._shift(ctx, target)
            if problem:
                return problem
        return bake.bake(ctx, what=f"{p.weight}% on version {target}")

    def _record(self, ctx: StepContext) -> Outcome:
        alias = self._alias(ctx)
        ctx.state["before"] = {"version": alias["version"], "weights": alias["weights"]}
        target = self._known_target(ctx)
        if target is not None:
            try:
                ctx.aws.lambda_.get_function_configuration(FunctionName=ctx.p.function, Qualifier=target)
            except AwsError as exc:
                if exc.code == "ResourceNotFoundException":
                    return Outcome.failed(f"{ctx.p.function} has no version {target}.")
                raise
            ctx.state["target"] = target
        else:
            latest = ctx.aws.lambda_.get_function_configuration(FunctionName=ctx.p.function)
            ctx.state["publish"] = {
                "code_sha256": latest["CodeSha256"],
                "versions": sorted(self._versions(ctx), key=int),
            }
        ctx.log(f"Alias {ctx.p.alias} before the shift: {_describe(alias)}.", **ctx.state["before"])
        return Outcome.wait(1, "Recorded the alias before changing it.", before=ctx.state["before"])

    def _publish(self, ctx: StepContext) -> str:
        """Publish $LATEST once: a version that appeared since the record, with the recorded code, is ours."""
        recorded = ctx.state["publish"]
        versions = self._versions(ctx)
        ours = [v for v, sha in versions.items() if v not in recorded["versions"] and sha == recorded["code_sha256"]]
        if ours:
            version = max(ours, key=int)
            ctx.log(f"Version {version} was already published for this step.", version=version)
            return version
        answer = ctx.aws.lambda_.publish_version(
            FunctionName=ctx.p.function,
            CodeSha256=recorded["code_sha256"],
            Description=f"ccb {ctx.labels.get('change', '')} {ctx.idempotency_key}"[:256],
        )
        version = answer["Version"]
        ctx.log(f"Published version {version} of {ctx.p.function}.", version=version, code=recorded["code_sha256"])
        return version

    def _shift(self, ctx: StepContext, target: str) -> Outcome | None:
        p, before = ctx.p, ctx.state["before"]
        if before["version"] == target and p.weight < 100:
            published = " (publishing $LATEST gave it: was the new code deployed?)" if "publish" in ctx.state else ""
            return Outcome.failed(
                f"Alias {p.alias} already points at version {target}{published}: there is nothing to shift from."
            )
        want = _desired(before, target, p.weight)
        live = self._alias(ctx)
        if not _same(live, want):
            if not _same(live, before):
                return Outcome.failed(
                    f"Alias {p.alias} changed since it was recorded: {_describe(live)}, was {_describe(before)}.",
                    live=_plain(live),
                    recorded=before,
                )
            ctx.aws.lambda_.update_alias(
                FunctionName=p.function,
                Name=p.alias,
                FunctionVersion=want["version"],
                RoutingConfig={"AdditionalVersionWeights": want["weights"]},
                RevisionId=live["revision"],
            )
            ctx.log(f"Alias {p.alias}: {_describe(live)} -> {_describe(want)}.", **want)
        ctx.state["shifted"] = want
        return None

    # --- verify and rollback -----------------------------------------------------------------------------

    def verify(self, ctx: StepContext) -> Outcome:
        want = ctx.state.get("shifted")
        if not want:
            return Outcome.failed("The step did not shift the alias.")
        live = self._alias(ctx)
        if _same(live, want):
            return Outcome.done(f"Alias {ctx.p.alias}: {_describe(live)}.", alias=_plain(live))
        return Outcome.failed(
            f"Alias {ctx.p.alias} is {_describe(live)}, expected {_describe(want)}.", alias=_plain(live)
        )

    def rollback(self, ctx: StepContext) -> Outcome:
        before = ctx.state.get("before")
        if before is None:
            return Outcome.done("Nothing was changed.")
        live = self._alias(ctx)
        if _same(live, before):
            return Outcome.done(f"Alias {ctx.p.alias} is as it was: {_describe(before)}.", alias=before)
        ctx.aws.lambda_.update_alias(
            FunctionName=ctx.p.function,
            Name=ctx.p.alias,
            FunctionVersion=before["version"],
            RoutingConfig={"AdditionalVersionWeights": before["weights"]},
        )
        ctx.log(f"Alias {ctx.p.alias} restored: {_describe(live)} -> {_describe(before)}.", **before)
        return Outcome.done(f"Alias {ctx.p.alias} restored to {_describe(before)}.", alias=before)


def _desired(before: dict, target: str, weight: int) -> dict:
    if weight == 100:
        return {"version": target, "weights": {}}
    return {"version": before["version"], "weights": {target: weight / 100}}


def _plain(alias: dict) -> dict:
    return {"version": alias["version"], "weights": alias["weights"]}


def _same(a: dict, b: dict) -> bool:
    def norm(x: dict[str, Any]) -> tuple:
        return str(x["version"]), sorted((str(k), round(float(v), 6)) for k, v in x["weights"].items())

    return norm(a) == norm(b)


def _describe(alias: dict) -> str:
    extra = sum(float(w) for w in alias["weights"].values())
    parts = [f"version {alias['version']} {round((1 - extra) * 100, 2):g}%"]
    parts += [f"version {v} {round(float(w) * 100, 2):g}%" for v, w in sorted(alias["weights"].items())]
    return ", ".join(parts)
