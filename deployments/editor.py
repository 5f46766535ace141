"""The runbook editor: a runbook's source as form fields (each step type's parameters as deployments.fields
generates them from its pydantic schema) and back, and the YAML the services accept.

The editor works on the source as written (a stage's strategy and gate as the author put them), never on
the stored document, where they are expanded. It only arranges what people type: ``documents.parse``
stays the one judge of what is valid, and the YAML stays the truth (a key the fields do not know is
carried along unchanged, so editing the fields never drops what someone wrote in the YAML).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import yaml
from django.http import QueryDict

from deployments import steps
from deployments.documents import ENVIRONMENTS, GATE_ROLES, SCHEMA_VERSION
from deployments.fields import (
    MISSING,
    FieldSpec,
    Row,
    _number,
    _scalar,
    read,
    rows,
    strategy_names,
    strategy_specs,
    type_specs,
)
from deployments.steps import strategies

STEP_KEYS = ("name", "type", "timeout_seconds", "params", "on_failure", "pause_role")
STAGE_KEYS = ("name", "steps", "strategy", "gate")
TOP_KEYS = ("schema", "description", "parameters", "deploy_role", "window_closes", "stages")
GATE_KEYS = ("role", "question", "not_starter", "timeout_seconds")
STRATEGY_KEYS = ("name", "type", "params", "timeout_seconds")


def _unknown(data: Any, known: tuple[str, ...]) -> str:
    """Keys the fields do not show, kept as JSON in a hidden field so they go back into the YAML."""
    if not isinstance(data, dict):
        return ""
    rest = {k: v for k, v in data.items() if k not in known}
    return json.dumps(rest) if rest else ""


def _restore(post: QueryDict, name: str) -> dict:
    try:
        value = json.loads(post.get(name, "") or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


@dataclass
class StepForm:
    prefix: str
    index: int
    name: str
    type: str
    timeout: str
    on_failure: str
    pause_role: str
    rows: list[Row] | None  # None: the type is not registered, its parameters are all in ``extra``
    extra: str
    unknown: str

    @property
    def dom(self) -> str:
        """The start of the step's element ids: its field names' prefix, with dashes for dots."""
        return self.prefix.replace(".", "-")


@dataclass
class StageForm:
    prefix: str
    index: int
    name: str
    mode: str  # steps or strategy
    steps: list[StepForm]
    strategy: dict
    gate: dict
    unknown: str


@dataclass
class EditorForm:
    description: str
    window_closes: str
    parameters: dict[str, str]
    deploy_role: dict[str, str]
    stages: list[StageForm]
    unknown: str
    type_names: list[str] = field(default_factory=lambda: sorted(steps.REGISTRY))
    strategy_names: list[str] = field(default_factory=strategy_names)
    shifting_types: tuple[str, ...] = strategies.SHIFTING_TYPES
    roles: tuple[str, ...] = GATE_ROLES
    environments: tuple[str, ...] = ENVIRONMENTS


def _params_split(type_name: str, params: dict, specs: list[FieldSpec] | None) -> tuple[dict, str]:
    known = {s.name for s in specs or []}
    rest = {k: v for k, v in params.items() if k not in known}
    extra = yaml.safe_dump(rest, default_flow_style=False, sort_keys=False, allow_unicode=True).strip()
    return {k: v for k, v in params.items() if k in known}, extra if rest else ""


def _step_form(prefix: str, index: int, step: Any) -> StepForm:
    step = _dict(step)
    type_name = str(step.get("type", "") or "")
    specs = type_specs(type_name)
    params, extra = _params_split(type_name, _dict(step.get("params")), specs)
    return StepForm(
        prefix=prefix,
        index=index,
        name=_scalar(step.get("name", "")),
        type=type_name,
        timeout=_scalar(step.get("timeout_seconds", "")),
        on_failure=_scalar(step.get("on_failure", "")),
        pause_role=_scalar(step.get("pause_role", "") or ""),
        rows=rows(specs, params, f"{prefix}param.") if specs is not None else None,
        extra=extra,
        unknown=_unknown(step, STEP_KEYS),
    )


def _strategy_form(prefix: str, strategy: dict) -> dict:
    type_name = str(strategy.get("type", "lambda_canary") or "lambda_canary")
    specs = strategy_specs(type_name)
    params, extra = _params_split(type_name, _dict(strategy.get("params")), specs)
    return {
        "name": _scalar(strategy.get("name", "canary")),
        "type": type_name,
        "timeout": _scalar(strategy.get("timeout_seconds", "")),
        "rows": rows(specs, params, f"{prefix}strategy.param."),
        "extra": extra,
        "unknown": _unknown(strategy, STRATEGY_KEYS),
    }


def form_of(data: Any) -> EditorForm:
    """The editor's fields for a runbook's source, as YAML loads it (anything: the fields read what they can)."""
    data = _dict(data)
    stages = []
    for i, stage in enumerate(_list(data.get("stages"))):
        stage = _dict(stage)
        prefix = f"stage-{i}."
        strategy = _dict(stage.get("strategy"))
        gate = _dict(stage.get("gate"))
        stages.append(
            StageForm(
                prefix=prefix,
                index=i,
                name=_scalar(stage.get("name", "")),
                mode="strategy" if "strategy" in stage and "steps" not in stage else "steps",
                steps=[_step_form(f"{prefix}step-{j}.", j, step) for j, step in enumerate(_list(stage.get("steps")))],
                strategy=_strategy_form(prefix, strategy),
                gate={
                    "role": _scalar(gate.get("role", "")),
                    "question": _scalar(gate.get("question", "")),
                    "not_starter": _scalar(gate["not_starter"]) if "not_starter" in gate else "",
                    "timeout": _scalar(gate.get("timeout_seconds", "")),
                    "unknown": _unknown(gate, GATE_KEYS),
                },
                unknown=_unknown(stage, STAGE_KEYS),
            )
        )
    as_yaml = lambda v: (  # noqa: E731
        yaml.safe_dump(v, default_flow_style=False, sort_keys=False, allow_unicode=True).strip() if v else ""
    )
    parameters, roles = _dict(data.get("parameters")), _dict(data.get("deploy_role"))
    return EditorForm(
        description=_scalar(data.get("description", "") or ""),
        window_closes=_scalar(data.get("window_closes", "") or ""),
        parameters={env: as_yaml(parameters.get(env)) for env in ENVIRONMENTS},
        deploy_role={env: _scalar(roles.get(env, "") or "") for env in ENVIRONMENTS},
        stages=stages,
        unknown=_unknown(data, TOP_KEYS),
    )


# --- reading the fields back ---------------------------------------------------------------------------


def _count(post: QueryDict, name: str) -> int:
    raw = post.get(name, "0")
    return min(int(raw), 200) if raw.isascii() and raw.isdecimal() else 0


def _put(target: dict, key: str, value: Any) -> None:
    if value is not MISSING and value not in (None, "", {}, []):
        target[key] = value


def _yaml_mapping(text: str) -> Any:
    if not text.strip():
        return MISSING
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def _read_params(post: QueryDict, prefix: str, type_name: str, shown: str, specs_of: Any) -> tuple[dict, bool]:
    """The parameters the fields give; on a change of type, only those the new type also takes."""
    shown_specs = specs_of(shown)
    params = read(shown_specs, post, f"{prefix}param.") if shown_specs is not None else {}
    extra = _yaml_mapping(post.get(f"{prefix}extra", ""))
    if isinstance(extra, dict):
        params.update(extra)
    if type_name == shown:
        return params, False
    wanted = {s.name for s in specs_of(type_name) or []}
    return {k: v for k, v in params.items() if k in wanted}, True


def _read_step(post: QueryDict, prefix: str) -> tuple[dict, bool]:
    step: dict[str, Any] = {}
    _put(step, "name", post.get(f"{prefix}name", "").strip())
    type_name = post.get(f"{prefix}type", "").strip()
    _put(step, "type", type_name)
    _put(step, "timeout_seconds", _number(post.get(f"{prefix}timeout_seconds", "").strip(), "int"))
    params, retyped = _read_params(post, prefix, type_name, post.get(f"{prefix}shown_type", type_name), type_specs)
    _put(step, "params", params)
    _put(step, "on_failure", post.get(f"{prefix}on_failure", "").strip())
    _put(step, "pause_role", post.get(f"{prefix}pause_role", "").strip())
    step.update({k: v for k, v in _restore(post, f"{prefix}unknown").items() if k not in step})
    return step, retyped


def _read_strategy(post: QueryDict, prefix: str) -> tuple[dict, bool]:
    p = f"{prefix}strategy."
    type_name = post.get(f"{p}type", "").strip() or "lambda_canary"
    name = post.get(f"{p}name", "").strip() or "canary"
    strategy: dict[str, Any] = {"name": name, "type": type_name}
    params, retyped = _read_params(post, p, type_name, post.get(f"{p}shown_type", type_name), strategy_specs)
    _put(strategy, "params", params)
    _put(strategy, "timeout_seconds", _number(post.get(f"{p}timeout_seconds", "").strip(), "int"))
    strategy.update({k: v for k, v in _restore(post, f"{p}unknown").items() if k not in strategy})
    return strategy, retyped


def _read_gate(post: QueryDict, prefix: str) -> dict | None:
    p = f"{prefix}gate."
    role = post.get(f"{p}role", "").strip()
    if not role:
        return None
    gate: dict[str, Any] = {"role": role}
    _put(gate, "question", post.get(f"{p}question", "").strip())
    not_starter = post.get(f"{p}not_starter", "")
    if not_starter in ("true", "false"):
        gate["not_starter"] = not_starter == "true"
    _put(gate, "timeout_seconds", _number(post.get(f"{p}timeout_seconds", "").strip(), "int"))
    gate.update({k: v for k, v in _restore(post, f"{p}unknown").items() if k not in gate})
    return gate


def data_of(post: QueryDict) -> tuple[dict, bool]:
    """The runbook's source the fields give, and whether its shape changed (a step's type, a stage's
    mode), so the fields must be drawn again."""
    data: dict[str, Any] = {"schema": SCHEMA_VERSION}
    _put(data, "description", post.get("description", "").strip())
    parameters = {}
    for env in ENVIRONMENTS:
        values = _yaml_mapping(post.get(f"parameters.{env}", ""))
        if values is not MISSING:
            parameters[env] = values
    _put(data, "parameters", parameters)
    _put(data, "deploy_role", {e: r for e in ENVIRONMENTS if (r := post.get(f"deploy_role.{e}", "").strip())})
    _put(data, "window_closes", post.get("window_closes", "").strip())
    reshaped = False
    stages = []
    for i in range(_count(post, "stages")):
        prefix = f"stage-{i}."
        stage: dict[str, Any] = {}
        _put(stage, "name", post.get(f"{prefix}name", "").strip())
        mode = post.get(f"{prefix}mode", "steps")
        reshaped |= mode != post.get(f"{prefix}shown_mode", mode)
        if mode == "strategy":
            stage["strategy"], retyped = _read_strategy(post, prefix)
            reshaped |= retyped
        else:
            stage["steps"] = []
            for j in range(_count(post, f"{prefix}steps")):
                step, retyped = _read_step(post, f"{prefix}step-{j}.")
                stage["steps"].append(step)
                reshaped |= retyped
            if not stage["steps"]:
                stage["steps"] = [new_step()]
        gate = _read_gate(post, prefix)
        if gate is not None:
            stage["gate"] = gate
        stage.update({k: v for k, v in _restore(post, f"{prefix}unknown").items() if k not in stage})
        stages.append(stage)
    data["stages"] = stages
    data.update({k: v for k, v in _restore(post, "unknown").items() if k not in data})
    return data, reshaped


# --- changing the shape --------------------------------------------------------------------------------


def new_step() -> dict:
    return {"name": "Wait a minute", "type": "wait", "params": {"seconds": 60}}


def apply(data: dict, op: str) -> dict:
    """One change of shape: add-stage, remove-stage:i, up-stage:i, add-step:i, remove-step:i:j, up-step:i:j."""
    verb, _, where = op.partition(":")
    at = [int(n) for n in where.split(":") if n.isdecimal()]
    stages = data.setdefault("stages", [])
    if verb == "add-stage":
        stages.append({"name": f"Stage {len(stages) + 1}", "steps": [new_step()]})
    elif not at or at[0] >= len(stages):
        return data
    elif verb == "remove-stage":
        del stages[at[0]]
    elif verb == "up-stage" and at[0] > 0:
        stages[at[0] - 1], stages[at[0]] = stages[at[0]], stages[at[0] - 1]
    elif verb in ("add-step", "remove-step", "up-step"):
        listed = stages[at[0]].setdefault("steps", [])
        if verb == "add-step":
            listed.append(new_step())
        elif len(at) > 1 and at[1] < len(listed):
            j = at[1]
            if verb == "remove-step":
                del listed[j]
            elif j > 0:
                listed[j - 1], listed[j] = listed[j], listed[j - 1]
    return data


# --- YAML out --------------------------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    pass


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def dump(data: dict) -> str:
    """The runbook source as YAML, keys in the order the fields show them."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100)


def load(source: str) -> Any:
    """What the YAML holds, or None when it is not readable YAML (the preview names the error)."""
    try:
        return yaml.safe_load(source)
    except yaml.YAMLError:
        return None
