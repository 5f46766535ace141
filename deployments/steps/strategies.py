"""Deployment strategies: stage templates that expand into traffic-shifting steps.

A strategy names how traffic moves to the new version (``canary``, ``linear``, ``blue_green``,
``all_at_once``, or one of CodeDeploy's predefined configurations by name, with or without the
``CodeDeployDefault.`` and ``Lambda``/``ECS`` prefixes) and the shifting step type that moves it
(``lambda_canary`` for a Lambda alias, ``ecs_blue_green`` for an ALB listener's target groups). It
expands into one step per shift, each with its share and its bake, so the approved document lists
every step the engine will run.
"""

from __future__ import annotations

import re
from typing import Any

SHIFTING_TYPES = ("lambda_canary", "ecs_blue_green")
# The strategy's own figures, taken out of the params it hands its steps.
FIGURES = ("percent", "bake_seconds", "interval_seconds", "final_bake_seconds")

# CodeDeploy's predefined configurations (docs: "Deployment configurations on an AWS Lambda compute
# platform" and "... on an Amazon ECS compute platform"): (kind, percent, minutes).
CODEDEPLOY = {
    "Canary10Percent5Minutes": ("canary", 10, 5),
    "Canary10Percent10Minutes": ("canary", 10, 10),
    "Canary10Percent15Minutes": ("canary", 10, 15),
    "Canary10Percent30Minutes": ("canary", 10, 30),
    "Linear10PercentEvery1Minute": ("linear", 10, 1),
    "Linear10PercentEvery1Minutes": ("linear", 10, 1),
    "Linear10PercentEvery2Minutes": ("linear", 10, 2),
    "Linear10PercentEvery3Minutes": ("linear", 10, 3),
    "Linear10PercentEvery10Minutes": ("linear", 10, 10),
    "AllAtOnce": ("all_at_once", 100, 0),
}
GENERIC = ("canary", "linear", "blue_green", "all_at_once")
_PREFIX = re.compile(r"^(CodeDeployDefault\.)?(Lambda|ECS)?")


def _codedeploy_name(name: str) -> str:
    return _PREFIX.sub("", name, count=1)


def resolve(name: str, step_type: str) -> tuple[str, int, int]:
    """(kind, percent, minutes) for a strategy name; ValueError saying what is known otherwise."""
    if step_type not in SHIFTING_TYPES:
        raise ValueError(f"a strategy shifts traffic with one of: {', '.join(SHIFTING_TYPES)}; not {step_type!r}")
    if name in GENERIC:
        return name, 0, 0
    short = _codedeploy_name(name)
    if short in CODEDEPLOY:
        return CODEDEPLOY[short]
    known = ", ".join([*GENERIC, *sorted(set(CODEDEPLOY) - {"Linear10PercentEvery1Minutes"})])
    raise ValueError(f"unknown strategy {name!r}; known: {known}")


def _shifts(kind: str, percent: int, minutes: int, params: dict[str, Any]) -> list[tuple[int, int]]:
    """[(share of traffic on the new version, bake seconds after reaching it)]."""
    if kind == "canary":
        percent = int(params.pop("percent", percent or 10))
        bake = int(params.pop("bake_seconds", minutes * 60 or 300))
        return [(percent, bake), (100, int(params.pop("final_bake_seconds", 0)))]
    if kind == "linear":
        percent = int(params.pop("percent", percent or 10))
        bake = int(params.pop("interval_seconds", minutes * 60 or 60))
        shares = list(range(percent, 100, percent)) + [100]
        return [(share, bake if share < 100 else int(params.pop("final_bake_seconds", 0))) for share in shares]
    if kind == "blue_green":
        # The new (green) side takes all traffic at once; the old (blue) stays ready while it bakes.
        return [(100, int(params.pop("bake_seconds", 300)))]
    return [(100, int(params.pop("bake_seconds", 0)))]  # all at once


def expand(name: str, step_type: str, params: dict[str, Any], timeout_seconds: int) -> list[dict]:
    """The strategy's steps, each a plain step dict of the runbook's stored document."""
    kind, percent, minutes = resolve(name, step_type)
    rest = dict(params)
    shifts = _shifts(kind, percent, minutes, rest)
    out = []
    for share, bake in shifts:
        label = "Shift all traffic" if share == 100 else f"Shift {share}%"
        out.append(
            {
                "name": f"{label} to the new version" + (f", bake {bake // 60 or 1} min" if bake else ""),
                "type": step_type,
                "timeout_seconds": max(timeout_seconds, bake + 300),
                "params": {**rest, "weight": share, "bake_seconds": bake},
                "on_failure": "rollback",
                "strategy": name,
            }
        )
    return out
