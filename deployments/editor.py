"""The runbook editor: a step type's parameters as form fields generated from its pydantic schema, a
runbook's source as those fields and back, and the YAML the services accept.

The editor works on the source as written (a stage's strategy and gate as the author put them), never on
the stored document, where they are expanded. It only arranges what people type: ``documents.parse``
stays the one judge of what is valid, and the YAML stays the truth (a key the fields do not know is
carried along unchanged, so editing the fields never drops what someone wrote in the YAML).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from django.http import QueryDict

from deployments import steps
from deployments.documents import ENVIRONMENTS, GATE_ROLES, SCHEMA_VERSION
from deployments.steps import strategies

MISSING = object()
NUMBER = re.compile(r"^-?\d+$")
DECIMAL = re.compile(r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$")

# --- fields from a pydantic schema ---------------------------------------------------------------------


@dataclass(frozen=True)
class FieldSpec:
    """One parameter as a form field: ``kind`` is text, textarea, int, number, bool, choice, multi (a
    list of choices), lines (a list, one item a line), yaml (a mapping, written as YAML) or object (a
    nested model, with ``children``)."""

    name: str
    label: str
    help: str
    kind: str
    required: bool
    choices: tuple[str, ...] = ()
    children: tuple[FieldSpec, ...] = ()
    item_kind: str = "text"
    type_text: str = ""  # the parameter's type in words, for the step types' help


def _resolve(schema: dict, defs: dict) -> dict:
    ref = schema.get("$ref")
    return defs[ref.rsplit("/", 1)[-1]] if ref else schema


def _bounds(schema: dict) -> str:
    low, high = schema.get("minimum"), schema.get("maximum")
    if low is not None and high is not None:
        return f"{low} to {high}"
    if low is not None:
        return f"at least {low}"
    if high is not None:
        return f"at most {high}"
    return ""


def _help(schema: dict, options: list[dict]) -> str:
    parts = [schema.get("description", "")]
    bounds = "; ".join(b for b in (_bounds(o) for o in options) if b)
    if bounds:
        parts.append(f"{bounds[0].upper()}{bounds[1:]}.")
    default = schema.get("default")
    if default not in (None, "", [], {}):
        shown = str(default).lower() if isinstance(default, bool) else default
        parts.append(f"Default: {shown}.")
    return " ".join(p.strip() for p in parts if p and p.strip())


def field_specs(model: type[Any]) -> list[FieldSpec]:
    """The form fields of a parameter model (a pydantic model), in the order it declares them."""
    schema = model.model_json_schema()
    return _specs(schema, schema.get("$defs", {}))


def _specs(schema: dict, defs: dict) -> list[FieldSpec]:
    required = set(schema.get("required", []))
    return [_spec(name, prop, defs, name in required) for name, prop in schema.get("properties", {}).items()]


def _spec(name: str, prop: dict, defs: dict, required: bool) -> FieldSpec:
    options = [_resolve(o, defs) for o in prop.get("anyOf", [])] or [_resolve(prop, defs)]
    options = [o for o in options if o.get("type") != "null"]
    label = name.replace("_", " ").capitalize()
    text = _help(prop, options)
    make = lambda kind, **kw: FieldSpec(name, label, text, kind, required, **kw)  # noqa: E731
    if len(options) != 1:  # a number or a word ("publish"): typed as text, converted back on reading
        words = [str(o["const"]) for o in options if "const" in o]
        kinds = [o.get("type", "") for o in options if "const" not in o]
        return make("text", type_text=" or ".join([*(_type_word(k) for k in kinds), *words]))
    main = options[0]
    kind = main.get("type")
    if kind == "object" and main.get("properties"):
        return make("object", children=tuple(_specs(main, defs)), type_text="a group of fields")
    if kind == "object":
        return make("yaml", type_text="a mapping of names to values")
    if kind == "array":
        items = _resolve(main.get("items", {}), defs)
        if "enum" in items:
            return make("multi", choices=tuple(map(str, items["enum"])), type_text="any of the choices")
        item = "int" if items.get("type") == "integer" else "text"
        words = "whole numbers" if item == "int" else "text values"
        return make("lines", item_kind=item, type_text=f"a list of {words}")
    if "enum" in main:
        return make("choice", choices=tuple(map(str, main["enum"])), type_text="one of the choices")
    if kind == "boolean":
        return make("bool", type_text="true or false")
    if kind in ("integer", "number"):
        return make("int" if kind == "integer" else "number", type_text=_type_word(kind))
    long = (main.get("maxLength") or 0) > 2000
    return make("textarea" if long else "text", type_text="text" if main.get("format") != "uri" else "an address")


def _type_word(kind: str) -> str:
    return {"integer": "whole number", "number": "number", "string": "text", "boolean": "true or false"}.get(
        kind, kind or "value"
    )


def type_specs(type_name: str) -> list[FieldSpec] | None:
    """The fields of a registered step type's parameters, or None for a type that is not registered."""
    kind = steps.REGISTRY.get(type_name)
    return field_specs(kind.params) if kind is not None else None


# Knobs a strategy takes besides its step type's parameters (see steps.strategies._shifts).
STRATEGY_KNOBS = (
    FieldSpec(
        "percent",
        "Percent",
        "Share moved at each shift (canary: the first shift). Default: 10.",
        "int",
        False,
        type_text="whole number",
    ),
    FieldSpec(
        "bake_seconds",
        "Bake seconds",
        "How long to bake after the shift (canary, blue/green).",
        "int",
        False,
        type_text="whole number",
    ),
    FieldSpec(
        "interval_seconds",
        "Interval seconds",
        "Linear: the bake between shifts. Default: 60.",
        "int",
        False,
        type_text="whole number",
    ),
    FieldSpec(
        "final_bake_seconds",
        "Final bake seconds",
        "The bake after the last shift. Default: 0.",
        "int",
        False,
        type_text="whole number",
    ),
)
STRATEGY_OWNED = ("weight", "bake_seconds")  # set by the strategy for each step it makes


def strategy_specs(type_name: str) -> list[FieldSpec]:
    own = [s for s in type_specs(type_name) or [] if s.name not in STRATEGY_OWNED]
    return [*STRATEGY_KNOBS, *own]


def strategy_names() -> list[str]:
    return [*strategies.GENERIC, *sorted(set(strategies.CODEDEPLOY) - {"Linear10PercentEvery1Minutes"})]


# --- values <-> text -----------------------------------------------------------------------------------


def to_text(spec: FieldSpec, value: Any) -> Any:
    """What a field shows for a value (a list of chosen values for ``multi``, a dict for ``object``)."""
    if value is MISSING or value is None:
        return [] if spec.kind == "multi" else ({} if spec.kind == "object" else "")
    if spec.kind == "multi":
        return [str(v) for v in value] if isinstance(value, list) else [str(value)]
    if spec.kind == "object":
        return value if isinstance(value, dict) else {}
    if spec.kind == "lines" and isinstance(value, list):
        return "\n".join(_scalar(v) for v in value)
    if spec.kind == "yaml" or isinstance(value, dict | list):
        return yaml.safe_dump(value, default_flow_style=False, sort_keys=False, allow_unicode=True).strip()
    return _scalar(value)


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _number(text: str, kind: str) -> Any:
    if kind == "int" and NUMBER.match(text):
        return int(text)
    if kind == "number" and DECIMAL.match(text):
        return float(text) if not NUMBER.match(text) else int(text)
    return text  # a ${placeholder}, or a mistake the validation names


def from_text(spec: FieldSpec, raw: Any) -> Any:
    """The value a field's text stands for, or MISSING when it was left empty (the default applies)."""
    if spec.kind == "multi":
        return list(raw) if raw else MISSING
    if spec.kind == "object":
        values = {c.name: from_text(c, raw.get(c.name, "")) for c in spec.children}
        values = {k: v for k, v in values.items() if v is not MISSING}
        return values or MISSING
    text = str(raw or "")
    if spec.kind not in ("textarea",):
        text = text.strip()
    if not text.strip():
        return MISSING
    if spec.kind in ("int", "number"):
        return _number(text, spec.kind)
    if spec.kind == "bool":
        return {"true": True, "false": False}.get(text, text)
    if spec.kind == "lines":
        items = [line.strip() for line in text.splitlines() if line.strip()]
        return [_number(i, "int") if spec.item_kind == "int" else i for i in items]
    if spec.kind == "yaml":
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError:
            return text
    if spec.kind == "text" and spec.type_text and " or " in spec.type_text:
        return _number(text, "int")
    return text


# --- the editor's model --------------------------------------------------------------------------------


@dataclass
class Row:
    """A field as the template draws it: its spec, input name and id, and what it shows."""

    spec: FieldSpec
    name: str
    value: Any
    choices: list[str] = field(default_factory=list)
    children: list[Row] = field(default_factory=list)

    @property
    def id(self) -> str:
        return "ed-" + self.name.replace(".", "-")


def rows(specs: list[FieldSpec], values: dict, prefix: str) -> list[Row]:
    out = []
    for spec in specs:
        value = to_text(spec, values.get(spec.name, MISSING))
        choices = list(spec.choices)
        if spec.kind == "choice" and value and value not in choices:
            choices.append(value)  # a value the YAML gives (a ${placeholder}) stays selectable
        children = rows(list(spec.children), value, f"{prefix}{spec.name}.") if spec.kind == "object" else []
        out.append(Row(spec, f"{prefix}{spec.name}", value, choices, children))
    return out


def read(specs: list[FieldSpec], post: QueryDict, prefix: str) -> dict:
    values = {}
    for spec in specs:
        if spec.kind == "multi":
            raw: Any = post.getlist(f"{prefix}{spec.name}")
        elif spec.kind == "object":
            raw = {c.name: post.get(f"{prefix}{spec.name}.{c.name}", "") for c in spec.children}
        else:
            raw = post.get(f"{prefix}{spec.name}", "")
        value = from_text(spec, raw)
        if value is not MISSING:
            values[spec.name] = value
    return values


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
