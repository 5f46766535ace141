"""Runbooks (6.2) as typed documents, and the release & rollback plan (6.3) that follows from one.

A runbook version is YAML. Schema 2, the only one new versions may use:

    schema: 2
    description: Canary the fraud model.
    parameters:                  # values per environment; any string may use them as ${name}
      production: {function: fraud-scorer, alias: live, alarm: fraud-errors}
      staging: {function: fraud-scorer-staging, alias: live, alarm: fraud-errors-staging}
    deploy_role:                 # optional: the role each environment's runs assume (STS)
      production: arn:aws:iam::123456789012:role/ccb-deploy
    window_closes: rollback      # or hold: what a run does when its window closes mid-run
    stages:
      - name: Canary 10%
        steps:
          - name: Shift 10% to the new version
            type: lambda_canary  # a registered step type; its parameter schema checks params
            timeout_seconds: 600
            params: {function: "${function}", alias: "${alias}", weight: 10, bake_seconds: 300,
                     alarms: ["${alarm}"]}
            on_failure: rollback # or pause: a go/no-go by pause_role decides
        gate: {role: implementer, question: Error rate normal?, not_starter: true}
      - name: The rest
        strategy: {name: Linear10PercentEvery1Minute, type: lambda_canary,
                   params: {function: "${function}", alias: "${alias}", alarms: ["${alarm}"]}}

Validation names the YAML line and the field of every error. The stored document is the validated
one with strategies expanded into their steps and each stage's gate made a step of its own, so what
the board approves (its hash) is exactly the list of steps the engine runs. Documents without a schema
(written before typed runbooks) are read and shown as they are, flagged as needing review, and never run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from deployments import steps
from deployments.steps import strategies

SCHEMA_VERSION = 2
ENVIRONMENTS = ("production", "staging", "test", "development")
GATE_ROLES = ("implementer", "verifier", "chair", "member")
PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class DocumentInvalid(ValueError):
    """A runbook that cannot be accepted: ``errors`` are human lines, each naming its line and field."""

    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors))
        self.errors = errors


# --- YAML with line numbers --------------------------------------------------------------------------


def load_yaml(source: str) -> tuple[Any, dict[tuple, int]]:
    """The YAML's data and the 1-based line of every mapping key and sequence item, by path."""
    try:
        loader = yaml.SafeLoader(source)  # reads the text at once: a character YAML refuses fails here
    except yaml.YAMLError as exc:
        raise DocumentInvalid([f"not valid YAML: {exc}"]) from exc
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise DocumentInvalid([f"{where}not valid YAML: {getattr(exc, 'problem', None) or exc}"]) from exc
    finally:
        loader.dispose()
    lines: dict[tuple, int] = {}

    def walk(n: yaml.Node, path: tuple) -> None:
        lines[path] = n.start_mark.line + 1
        if isinstance(n, yaml.MappingNode):
            for key, value in n.value:
                child = (*path, key.value)
                walk(value, child)
                lines[child] = key.start_mark.line + 1
        elif isinstance(n, yaml.SequenceNode):
            for i, item in enumerate(n.value):
                walk(item, (*path, i))

    if node is not None:
        walk(node, ())
    return data, lines


def _line_of(lines: dict[tuple, int], loc: tuple) -> int | None:
    for end in range(len(loc), -1, -1):
        if tuple(loc[:end]) in lines:
            return lines[tuple(loc[:end])]
    return None


def _field_name(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "document"


# --- the schema ------------------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GateSpec(_Strict):
    """A go/no-go between stages, answered by a person holding ``role`` on the change's board."""

    role: Literal["implementer", "verifier", "chair", "member"]
    question: str = Field(min_length=1, max_length=500)
    not_starter: bool = Field(True, description="The person who started the run may not answer it.")
    timeout_seconds: int = Field(4 * 3600, ge=60, le=7 * 86400, description="Unanswered by then: no-go.")


class StepSpec(_Strict):
    name: str = Field(min_length=1, max_length=200)
    type: str
    timeout_seconds: int = Field(600, ge=1, le=7 * 86400)
    params: dict[str, Any] = Field(default_factory=dict)
    on_failure: Literal["rollback", "pause"] = "rollback"
    pause_role: Literal["implementer", "verifier", "chair", "member"] | None = None

    @field_validator("type")
    @classmethod
    def _registered(cls, value: str) -> str:
        if value not in steps.REGISTRY:
            raise ValueError(f"unknown step type {value!r}; known: {', '.join(sorted(steps.REGISTRY))}")
        return value

    @model_validator(mode="after")
    def _pause_needs_role(self) -> StepSpec:
        if self.on_failure == "pause" and self.pause_role is None:
            raise ValueError("on_failure: pause needs pause_role, the role whose go/no-go decides")
        return self


class StrategySpec(_Strict):
    name: str
    type: str
    params: dict[str, Any] = Field(default_factory=dict)
    timeout_seconds: int = Field(600, ge=1, le=7 * 86400)

    @model_validator(mode="after")
    def _known(self) -> StrategySpec:
        strategies.resolve(self.name, self.type)  # raises ValueError naming what is known
        for key in strategies.FIGURES:
            value = self.params.get(key)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 7 * 86400:
                raise ValueError(f"params.{key} must be a whole number (0 to 604800), not {value!r}")
            if key == "percent" and not 1 <= value <= 99:
                raise ValueError(f"params.percent must be 1 to 99, not {value}")
        if self.type not in steps.REGISTRY:
            raise ValueError(f"unknown step type {self.type!r}; known: {', '.join(sorted(steps.REGISTRY))}")
        return self


class StageSpec(_Strict):
    name: str = Field(min_length=1, max_length=200)
    steps: list[StepSpec] | None = None
    strategy: StrategySpec | None = None
    gate: GateSpec | None = None

    @model_validator(mode="after")
    def _steps_or_strategy(self) -> StageSpec:
        if bool(self.steps) == bool(self.strategy):
            raise ValueError("a stage has a non-empty list of steps or a strategy, exactly one")
        return self


class RunbookSpec(_Strict):
    schema_: Literal[2] = Field(alias="schema")
    description: str = ""
    parameters: dict[Literal["production", "staging", "test", "development"], dict[str, str | int | float | bool]] = (
        Field(default_factory=dict)
    )
    deploy_role: dict[Literal["production", "staging", "test", "development"], str] = Field(default_factory=dict)
    window_closes: Literal["rollback", "hold"] = "rollback"
    stages: list[StageSpec] = Field(min_length=1, max_length=50)


# --- parsing -------------------------------------------------------------------------------------------


def schema_of(document: dict) -> int:
    """The schema a stored document was written in: 1 for documents from before typed runbooks."""
    return int(document.get("schema", 1)) if isinstance(document, dict) else 1


def needs_review(document: dict) -> bool:
    return schema_of(document) != SCHEMA_VERSION


def parse(source: str) -> dict:
    """The stored document for a runbook's YAML, or DocumentInvalid with every error's line and field."""
    data, lines = load_yaml(source)
    if not isinstance(data, dict):
        raise DocumentInvalid(["line 1: a runbook is a mapping with schema, stages and the rest"])
    if "schema" not in data:
        raise DocumentInvalid(
            [f"line 1: schema: say which schema the runbook is written in (schema: {SCHEMA_VERSION})"]
        )
    try:
        spec = RunbookSpec.model_validate(data)
    except ValidationError as exc:
        raise DocumentInvalid(_messages(exc, lines)) from None
    document = _expand(spec)
    errors = _check_params(document, data, lines)
    if errors:
        raise DocumentInvalid(errors)
    return document


def _messages(exc: ValidationError, lines: dict[tuple, int], prefix: tuple = ()) -> list[str]:
    out = []
    for error in exc.errors():
        loc = (*prefix, *error["loc"])
        loc = tuple("schema" if part == "schema_" else part for part in loc)
        line = _line_of(lines, loc)
        message = error["msg"].removeprefix("Value error, ")
        out.append(f"line {line}: {_field_name(loc)}: {message}" if line else f"{_field_name(loc)}: {message}")
    return out


def _expand(spec: RunbookSpec) -> dict:
    """Strategies become their steps, gates become steps, every step knows its stage."""
    stages = []
    for s, stage in enumerate(spec.stages):
        if stage.strategy is not None:
            expanded = strategies.expand(
                stage.strategy.name, stage.strategy.type, stage.strategy.params, stage.strategy.timeout_seconds
            )
            items = [{**item, "source": ("stages", s, "strategy")} for item in expanded]
        else:
            items = [
                {**step.model_dump(exclude_none=True), "source": ("stages", s, "steps", i)}
                for i, step in enumerate(stage.steps or [])
            ]
        if stage.gate is not None:
            gate = stage.gate
            items.append(
                {
                    "name": f"Go/no-go: {gate.question}",
                    "type": "manual_gate",
                    "timeout_seconds": gate.timeout_seconds,
                    "params": {"role": gate.role, "question": gate.question, "not_starter": gate.not_starter},
                    "on_failure": "rollback",
                    "source": ("stages", s, "gate"),
                }
            )
        stages.append({"name": stage.name, "steps": items})
    return {
        "schema": SCHEMA_VERSION,
        "description": spec.description,
        "parameters": {env: dict(values) for env, values in spec.parameters.items()},
        "deploy_role": dict(spec.deploy_role),
        "window_closes": spec.window_closes,
        "stages": stages,
    }


def environments_of(document: dict) -> list[str]:
    """The environments the runbook gives parameters for; none means it names its targets outright."""
    return sorted(document.get("parameters") or {})


def substitute(value: Any, values: dict[str, Any]) -> Any:
    """``value`` with every ``${name}`` replaced; a string that is exactly one placeholder takes its type."""
    if isinstance(value, str):
        whole = PLACEHOLDER.fullmatch(value)
        if whole:
            return values[whole.group(1)]
        return PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), value)
    if isinstance(value, list):
        return [substitute(v, values) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, values) for k, v in value.items()}
    return value


def placeholders(value: Any) -> set[str]:
    if isinstance(value, str):
        return set(PLACEHOLDER.findall(value))
    if isinstance(value, list):
        return set().union(*(placeholders(v) for v in value)) if value else set()
    if isinstance(value, dict):
        return set().union(*(placeholders(v) for v in value.values())) if value else set()
    return set()


def step_params(step: dict, document: dict, environment: str | None) -> steps.Params:
    """The step's parameters for an environment, validated by its type (raises ValidationError/KeyError)."""
    raw = step.get("params", {})
    if environment is not None and document.get("parameters"):
        raw = substitute(raw, document["parameters"].get(environment, {}))
    return steps.get(step["type"]).params.model_validate(raw)


def _check_params(document: dict, data: dict, lines: dict[tuple, int]) -> list[str]:
    errors = []
    envs = environments_of(document) or [None]
    for stage in document["stages"]:
        for step in stage["steps"]:
            source = tuple(step["source"])
            missing = sorted(
                name
                for env in envs
                if env is not None
                for name in placeholders(step.get("params", {}))
                if name not in document["parameters"][env]
            )
            if missing or (envs == [None] and placeholders(step.get("params", {}))):
                names = ", ".join(dict.fromkeys(missing)) or ", ".join(sorted(placeholders(step["params"])))
                line = _line_of(lines, (*source, "params"))
                errors.append(
                    f"line {line}: {_field_name((*source, 'params'))}: no value for ${{{names}}} in "
                    f"parameters{' for ' + ', '.join(envs) if envs != [None] else ''}"
                )
                continue
            for env in envs:
                try:
                    step_params(step, document, env)
                except ValidationError as exc:
                    where = (*source, "params") if source[-1] != "strategy" else (*source, "params")
                    for message in _messages(exc, lines, where):
                        errors.append(message + (f" (in {env})" if env else ""))
    return list(dict.fromkeys(errors))


# --- the release & rollback plan (6.3) --------------------------------------------------------------


def _rollback_seconds(kind: steps.StepType, step: dict, document: dict, env: str | None) -> int:
    try:
        return kind.rollback_seconds(step_params(step, document, env))
    except (ValidationError, KeyError):
        return 60


@dataclass
class PlanStage:
    name: str
    starts_after_seconds: int
    planned_seconds: int
    steps: list[dict] = field(default_factory=list)
    decision: dict | None = None  # the go/no-go that closes the stage: question, role, not_starter
    rollback: list[str] = field(default_factory=list)  # what undoing the stage does, in order


@dataclass
class ReleasePlan:
    stages: list[PlanStage]
    planned_seconds: int
    rollback_seconds: int
    window_closes: str

    def as_dict(self) -> dict:
        return {
            "planned_seconds": self.planned_seconds,
            "rollback_seconds": self.rollback_seconds,
            "window_closes": self.window_closes,
            "stages": [s.__dict__ for s in self.stages],
        }


def release_plan(document: dict, environment: str | None = None) -> ReleasePlan:
    """The 6.3 plan: each stage's planned start and length, its go/no-go and who answers, its rollback."""
    if needs_review(document):
        return ReleasePlan(stages=[], planned_seconds=0, rollback_seconds=0, window_closes="rollback")
    out, offset, rollback_total = [], 0, 0
    env = environment or (environments_of(document) or [None])[0]
    for stage in document["stages"]:
        rows, undo, length, decision = [], [], 0, None
        for step in stage["steps"]:
            kind = steps.get(step["type"])
            try:
                params = step_params(step, document, env)
                seconds = 0 if step["type"] == "manual_gate" else max(kind.planned_seconds(params), 0)
                if not seconds and kind.kind == "action":  # an action that cannot say: its timeout bounds it
                    seconds = step.get("timeout_seconds", 0)
                undo_text = kind.rollback_summary(params)
            except (ValidationError, KeyError):
                seconds, undo_text = step.get("timeout_seconds", 0), "Restore what the step changed."
            if step["type"] == "manual_gate":
                p = steps.get("manual_gate").params.model_validate(step["params"])
                decision = {
                    "question": p.question,  # type: ignore[attr-defined]
                    "role": p.role,  # type: ignore[attr-defined]
                    "not_starter": p.not_starter,  # type: ignore[attr-defined]
                    "timeout_seconds": step["timeout_seconds"],
                }
            else:
                rows.append(
                    {
                        "name": step["name"],
                        "type": step["type"],
                        "planned_seconds": seconds,
                        "on_failure": step.get("on_failure", "rollback"),
                    }
                )
                if kind.kind == "action":
                    undo.insert(0, f"{step['name']}: {undo_text}")
                    rollback_total += _rollback_seconds(kind, step, document, env)
            length += seconds
        out.append(
            PlanStage(
                name=stage["name"],
                starts_after_seconds=offset,
                planned_seconds=length,
                steps=rows,
                decision=decision,
                rollback=undo,
            )
        )
        offset += length
    return ReleasePlan(
        stages=out,
        planned_seconds=offset,
        rollback_seconds=rollback_total,
        window_closes=document.get("window_closes", "rollback"),
    )
