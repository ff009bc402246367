"""YAML files with line numbers, validated against a JSON Schema with one-line errors."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from mlgate.errors import ConfigError

KeyPath = tuple[str | int, ...]


@dataclass(frozen=True)
class YamlDoc:
    """Parsed data plus the line (1-based) of every key and item, for error messages."""

    path: Path
    data: Any
    lines: Mapping[KeyPath, int]

    def line_of(self, key_path: Sequence[str | int]) -> int:
        """The line of the deepest known ancestor of key_path (1 when nothing matches)."""
        probe: KeyPath = tuple(key_path)
        while probe:
            if probe in self.lines:
                return self.lines[probe]
            probe = probe[:-1]
        return 1

    def where(self, key_path: Sequence[str | int]) -> str:
        return f"{self.path}:{self.line_of(key_path)}"


def load_yaml(path: Path) -> YamlDoc:
    """Load a YAML file safely; malformed YAML is a ConfigError naming file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise ConfigError(f"{path}:{line}: invalid YAML: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    lines: dict[KeyPath, int] = {}
    if node is not None:
        _index(node, (), lines)
    return YamlDoc(path, {} if data is None else data, lines)


def _index(node: yaml.Node, prefix: KeyPath, lines: dict[KeyPath, int]) -> None:
    lines[prefix] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            here = (*prefix, str(key.value))
            lines[here] = key.start_mark.line + 1
            _index(value, here, lines)
            lines[here] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index(item, (*prefix, i), lines)


def validate(doc: YamlDoc, schema: Mapping[str, Any], what: str) -> None:
    """Raise a ConfigError for the first schema violation: file, line, key, and a hint."""
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(
        validator.iter_errors(doc.data), key=lambda e: (doc.line_of(e.absolute_path), str(e.path))
    )
    if not errors:
        return
    error = _deepest(errors[0])
    key_path = list(error.absolute_path)
    key = ".".join(str(k) for k in key_path) or "(top level)"
    message, hint, where_path = _describe(error, key_path)
    raise ConfigError(
        f"{doc.where(where_path)}: {what}: {key}: {message}",
        hint=hint,
    )


def _deepest(error: jsonschema.ValidationError) -> jsonschema.ValidationError:
    """For anyOf/oneOf failures, the most specific sub-error is the useful one."""
    if error.context:
        best = max(error.context, key=lambda e: len(e.absolute_path))
        return _deepest(best)
    return error


def _describe(
    error: jsonschema.ValidationError, key_path: list[str | int]
) -> tuple[str, str | None, list[str | int]]:
    schema: Mapping[str, Any] = error.schema if isinstance(error.schema, Mapping) else {}
    if error.validator == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        extra = _extra_keys(error.instance, allowed)
        bad = extra[0] if extra else "?"
        near = difflib.get_close_matches(bad, allowed, n=1)
        hint = f"did you mean {near[0]!r}?" if near else f"valid keys: {', '.join(allowed)}"
        return f"unknown key {bad!r}", hint, [*key_path, bad]
    if error.validator == "required":
        return str(error.message), None, key_path
    if error.validator == "enum":
        options = [str(c) for c in schema.get("enum", [])]
        near = difflib.get_close_matches(str(error.instance), options, n=1)
        enum_hint = f"did you mean {near[0]!r}?" if near else None
        return f"{error.instance!r} is not one of: {', '.join(options)}", enum_hint, key_path
    return str(error.message), None, key_path


def _extra_keys(instance: Any, allowed: Iterable[str]) -> list[str]:
    if not isinstance(instance, dict):
        return []
    known = set(allowed)
    return sorted(str(k) for k in instance if k not in known)
