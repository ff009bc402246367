"""YAML files with line numbers, validated against a JSON Schema with one-line errors."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgate.errors import ConfigError
from mlgate.schemacheck import cached_checker
from mlgate.yamlimport import yaml

if TYPE_CHECKING:
    import jsonschema

KeyPath = tuple[str | int, ...]

MAX_BYTES = 1_000_000  # a policy or .mlgate.yml is a few KB; 1 MB is generous
MAX_NODES = 100_000  # nodes after alias expansion
MAX_DEPTH = 200
_FLOAT_TAG = "tag:yaml.org,2002:float"
_DATE_TAG = "tag:yaml.org,2002:timestamp"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_NON_FINITE = re.compile(r"^[-+]?\.(?:inf|Inf|INF|nan|NaN|NAN)$")


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
    """Load a YAML file safely; malformed YAML is a ConfigError naming file and line.

    Bounded before and while parsing: at most MAX_BYTES bytes are read, and a document whose
    aliases would expand past MAX_NODES nodes (a "billion laughs" bomb) or nest deeper than
    MAX_DEPTH is refused. Duplicate keys, NaN/infinite numbers and impossible dates are
    errors naming their line, never a silent choice or an internal error.
    """
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {_reason(exc)}") from None
    if len(raw) > MAX_BYTES:
        raise ConfigError(f"{path}: larger than {MAX_BYTES} bytes: not a configuration file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: cannot read: not UTF-8 ({exc.reason})") from None
    return parse_yaml(text, path)


# libyaml's parser when PyYAML was built with it (its wheels are): a tenth of the pure-Python
# parser's time; the same nodes, marks and constructors.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_yaml(text: str, path: Path) -> YamlDoc:
    """Parse YAML text (read from `path`, or from a git ref labelled by it) with the limits
    of `load_yaml`."""
    if len(text.encode("utf-8", "replace")) > MAX_BYTES:
        raise ConfigError(f"{path}: larger than {MAX_BYTES} bytes: not a configuration file")
    loader: yaml.SafeLoader | yaml.CSafeLoader | None = None
    try:
        loader = _LOADER(text)
        node = loader.get_single_node()
        if node is None:
            return YamlDoc(path, {}, {})
        _check_nodes(node, path)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        problem = exc.problem or str(exc)
        if problem == "exceeded maximum nesting depth":  # libyaml's own bound (1000)
            problem = f"nested deeper than {MAX_DEPTH}"
        raise ConfigError(f"{path}:{line}: invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{path}: invalid YAML: nested deeper than Python can read") from None
    except (ValueError, TypeError, OverflowError) as exc:
        raise ConfigError(f"{path}: invalid YAML value: {exc}") from None
    finally:
        if loader is not None:
            loader.dispose()
    lines: dict[KeyPath, int] = {}
    _index(node, (), lines)
    return YamlDoc(path, {} if data is None else data, lines)


def _reason(exc: OSError) -> str:
    return " ".join(str(exc.strerror or exc).split())


def _check_nodes(root: yaml.Node, path: Path) -> None:
    """Refuse alias bombs, deep nesting, duplicate keys, NaN/inf and impossible dates.

    Aliases make the node graph a DAG (or a cycle); its expanded size is counted with one
    visit per distinct node, so the check itself is linear in the text.
    """
    sizes: dict[int, int] = {}
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 1, False)]
    active: set[int] = set()
    while stack:
        node, depth, done = stack.pop()
        key = id(node)
        if done:
            active.discard(key)
            sizes[key] = 1 + sum(sizes[id(c)] for c in _children(node))
            if sizes[key] > MAX_NODES:
                raise ConfigError(
                    f"{path}:{_line(node)}: invalid YAML: aliases expand to more than "
                    f"{MAX_NODES} nodes (a YAML bomb?)"
                )
            continue
        if key in sizes:
            continue
        if key in active:
            raise ConfigError(f"{path}:{_line(node)}: invalid YAML: an alias refers to itself")
        if depth > MAX_DEPTH:
            raise ConfigError(f"{path}:{_line(node)}: invalid YAML: nested deeper than {MAX_DEPTH}")
        _check_scalar(node, path)
        _check_duplicates(node, path)
        active.add(key)
        stack.append((node, depth, True))
        stack += [(c, depth + 1, False) for c in _children(node) if id(c) not in sizes]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _check_scalar(node: yaml.Node, path: Path) -> None:
    if not isinstance(node, yaml.ScalarNode):
        return
    if node.tag == _FLOAT_TAG and _NON_FINITE.match(str(node.value)):
        raise ConfigError(
            f"{path}:{_line(node)}: invalid YAML value: {node.value!r} is not a finite number"
        )
    if node.tag == _DATE_TAG:
        try:
            yaml.SafeLoader.construct_yaml_timestamp(yaml.SafeLoader(""), node)
        except (ValueError, OverflowError) as exc:
            raise ConfigError(
                f"{path}:{_line(node)}: invalid YAML value: {node.value!r} is not a date: {exc}"
            ) from None


def _check_duplicates(node: yaml.Node, path: Path) -> None:
    if not isinstance(node, yaml.MappingNode):
        return
    seen: dict[str, int] = {}
    for key, _ in node.value:
        if not isinstance(key, yaml.ScalarNode) or key.tag == _MERGE_TAG:
            continue
        name = str(key.value)
        if name in seen:
            raise ConfigError(
                f"{path}:{_line(key)}: invalid YAML: duplicate key {name!r} "
                f"(first at line {seen[name]}, again at line {_line(key)})"
            )
        seen[name] = _line(key)


def _index(node: yaml.Node, prefix: KeyPath, lines: dict[KeyPath, int]) -> None:
    """The line of every key and item. A shared (aliased) node is indexed once: the
    document was already checked to be small, and aliases add no lines of their own."""
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, KeyPath]] = [(node, prefix)]
    while stack:
        current, where = stack.pop()
        lines.setdefault(where, _line(current))
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, yaml.MappingNode):
            for key, value in current.value:
                here = (*where, str(key.value))
                lines[here] = _line(key)
                stack.append((value, here))
        elif isinstance(current, yaml.SequenceNode):
            stack += [(item, (*where, i)) for i, item in enumerate(current.value)]


def validate(doc: YamlDoc, schema: Mapping[str, Any], what: str) -> None:
    """Raise a ConfigError for the first schema violation: file, line, key, and a hint.

    A valid document is recognised by `schemacheck` (fast); jsonschema, slow to import,
    only explains an invalid one."""
    check = cached_checker(json.dumps(schema, sort_keys=True))
    if check is not None and check(doc.data):
        return
    import jsonschema  # noqa: PLC0415 (1-2 s to import: only for a document with an error)

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
        near = _close_match(bad, allowed)
        hint = f"did you mean {near[0]!r}?" if near else f"valid keys: {', '.join(allowed)}"
        return f"unknown key {bad!r}", hint, [*key_path, bad]
    if error.validator == "required":
        return str(error.message), None, key_path
    if error.validator == "enum":
        options = [str(c) for c in schema.get("enum", [])]
        near = _close_match(str(error.instance), options)
        enum_hint = f"did you mean {near[0]!r}?" if near else None
        return f"{error.instance!r} is not one of: {', '.join(options)}", enum_hint, key_path
    return str(error.message), None, key_path


def _extra_keys(instance: Any, allowed: Iterable[str]) -> list[str]:
    if not isinstance(instance, dict):
        return []
    known = set(allowed)
    return sorted(str(k) for k in instance if k not in known)


def _close_match(word: str, choices: Sequence[str]) -> list[str]:
    """The choice closest to a misspelt `word`, if one is close (only for an error)."""
    import difflib  # noqa: PLC0415 (only a bad file needs a suggestion)

    return difflib.get_close_matches(word, choices, n=1)
