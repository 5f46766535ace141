"""A step type's parameters as form fields, generated from its pydantic schema: each field's kind, label
and help (its description and bounds), what it shows for a value, and the value its text stands for.

The runbook editor (deployments.editor) draws them; the step types' help lists them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from django.http import QueryDict

from deployments import steps
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
