"""CloudFormation templates as ccb compares them: JSON or YAML (with the short intrinsic-function
tags, ``!Ref``, ``!GetAtt``, ``!Sub``...) read into one normal form, so a template written either way,
with any key order or spacing, compares equal to itself and diffs line by line."""

from __future__ import annotations

import difflib
import hashlib
import json
from typing import Any

import yaml

INLINE_LIMIT = 51_200  # bytes CloudFormation takes as TemplateBody; larger ones go through S3


class _CfnLoader(yaml.SafeLoader):
    """YAML as CloudFormation reads it: ``!Name value`` is ``{"Fn::Name": value}`` (``!Ref``: ``Ref``)."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict:
    name = "Ref" if suffix == "Ref" else ("Condition" if suffix == "Condition" else f"Fn::{suffix}")
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _intrinsic)


def parse(text: str) -> Any:
    """The template as data; ValueError if it is neither JSON nor YAML."""
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return yaml.load(text, Loader=_CfnLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ValueError(f"the template is neither JSON nor YAML: {exc}") from exc


def normalise(text: str) -> str:
    """One text per meaning: sorted keys, fixed indentation (dates as CloudFormation writes them)."""
    try:
        return json.dumps(parse(text), sort_keys=True, indent=2, default=str)
    except ValueError:
        return text


def digest(text: str) -> str:
    return hashlib.sha256(normalise(text).encode()).hexdigest()


def raw_digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def parameter_names(text: str) -> set[str]:
    try:
        data = parse(text)
    except ValueError:
        return set()
    return set((data or {}).get("Parameters") or {}) if isinstance(data, dict) else set()


def diff(live: str, new: str, *, limit: int = 300) -> list[str]:
    """A unified diff of the normalised templates, at most ``limit`` lines."""
    lines = list(
        difflib.unified_diff(
            normalise(live).splitlines(), normalise(new).splitlines(), "live template", "new template", lineterm=""
        )
    )
    if len(lines) > limit:
        lines = [*lines[:limit], f"... {len(lines) - limit} more lines"]
    return lines
