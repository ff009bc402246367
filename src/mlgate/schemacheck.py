"""A fast yes/no JSON Schema check for the keywords mlgate's own schemas use.

`jsonschema` costs 1-2 s to import here (its format checkers compile grammars) and about
1 ms per finding to validate a merged report. mlgate validates every policy, config,
report and receipt it reads, and almost all of them are valid. `checker(schema)` compiles a
schema into a function that says whether a document is valid; only when it says no does
the caller run jsonschema, for the error message naming the field.

The check is conservative: a schema using a keyword this module does not implement gets
no checker (None), so the caller always asks jsonschema. The semantics follow JSON Schema
2020-12 as jsonschema implements it (booleans are not numbers, `1.0` is an integer,
`pattern` is `re.search`, `const`/`enum` tell `true` from `1`).
"""

from __future__ import annotations

import functools
import itertools
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence, Sized
from typing import Any, cast

Check = Callable[[Any], bool]

_IGNORED = frozenset({"$schema", "$id", "$comment", "title", "description", "examples", "default"})


class Unsupported(Exception):
    """The schema uses a keyword this module does not implement."""


def checker(schema: Mapping[str, Any] | bool) -> Check | None:
    """A function telling whether a document is valid against `schema`, or None when
    `schema` uses a keyword not implemented here."""
    try:
        return _compile(schema)
    except Unsupported:
        return None


@functools.lru_cache(maxsize=32)
def cached_checker(schema_json: str) -> Check | None:
    """`checker` for a schema given as JSON text (cached: compile each schema once)."""
    return checker(json.loads(schema_json))


def _compile(schema: Mapping[str, Any] | bool) -> Check:
    if schema is True:
        return _always
    if schema is False:
        return _never
    if not isinstance(schema, Mapping):
        raise Unsupported(repr(schema))
    found = [_keyword(key, value, schema) for key, value in schema.items() if key not in _IGNORED]
    checks = [c for c in found if c is not None]
    return _all_of(checks)


def _all_of(checks: Sequence[Check]) -> Check:
    if not checks:
        return _always
    if len(checks) == 1:
        return checks[0]
    first, rest = checks[0], _all_of(checks[1:])
    return lambda value: first(value) and rest(value)


def _always(_value: Any) -> bool:
    return True


def _never(_value: Any) -> bool:
    return False


def _keyword(key: str, value: Any, schema: Mapping[str, Any]) -> Check | None:
    if key == "additionalProperties" and "properties" in schema:
        return None  # compiled with `properties`
    builder = _BUILDERS.get(key)
    if builder is None:
        raise Unsupported(key)
    return builder(value, schema)


# --- types ------------------------------------------------------------------------------------


def _is_integer(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


_TYPES: dict[str, Check] = {
    "string": lambda v: isinstance(v, str),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "integer": _is_integer,
    "number": _is_number,
}


_EXACT: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "object": (dict,),
    "array": (list,),
    "boolean": (bool,),
    "null": (type(None),),
    "integer": (int,),  # `type(v) is int`: never a bool
    "number": (int, float),
}


def _type(value: Any, _schema: Mapping[str, Any]) -> Check:
    names = [value] if isinstance(value, str) else list(value)
    try:
        checks = [_TYPES[name] for name in names]
    except (KeyError, TypeError):
        raise Unsupported(f"type {value!r}") from None
    exact = frozenset(kind for name in names for kind in _EXACT[name])

    def check(v: Any) -> bool:  # the exact built-in types first, then subclasses, 2.0, ...
        return type(v) in exact or any(c(v) for c in checks)

    return check


# --- values -----------------------------------------------------------------------------------


def _same(a: Any, b: Any) -> bool:
    """JSON equality as jsonschema decides it: `true` is not `1`, `1.0` is `1`."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (dict, list)) or isinstance(b, (dict, list)):
        raise Unsupported("const/enum of containers")  # never needed by mlgate's schemas
    return bool(a == b)


def _const(value: Any, _schema: Mapping[str, Any]) -> Check:
    _same(value, value)
    return lambda v: not isinstance(v, (dict, list)) and _same(v, value)


def _enum(value: Any, _schema: Mapping[str, Any]) -> Check:
    if not isinstance(value, list):
        raise Unsupported("enum")
    for item in value:
        _same(item, item)
    return lambda v: not isinstance(v, (dict, list)) and any(_same(v, item) for item in value)


def _pattern(value: Any, _schema: Mapping[str, Any]) -> Check:
    regex = re.compile(value)
    return lambda v: not isinstance(v, str) or regex.search(v) is not None


def _number_bound(test: Callable[[Any, Any], bool]) -> Callable[[Any, Mapping[str, Any]], Check]:
    def build(bound: Any, _schema: Mapping[str, Any]) -> Check:
        if not _is_number(bound):
            raise Unsupported("bound")
        return lambda v: not _is_number(v) or test(v, bound)

    return build


def _size(
    kind: type | tuple[type, ...], test: Callable[[int, int], bool]
) -> Callable[[Any, Mapping[str, Any]], Check]:
    def build(bound: Any, _schema: Mapping[str, Any]) -> Check:
        if not _is_integer(bound):
            raise Unsupported("size")
        return lambda v: not isinstance(v, kind) or test(len(cast(Sized, v)), bound)

    return build


# --- containers -------------------------------------------------------------------------------


def _items(value: Any, _schema: Mapping[str, Any]) -> Check:
    if not isinstance(value, (Mapping, bool)):
        raise Unsupported("items as a list")
    item = _compile(value)
    rows = _rows_check(value)

    def check(v: Any) -> bool:
        if not isinstance(v, list):
            return True
        if rows is not None and len(v) >= _ROWS_FROM and rows(v):
            return True  # else each item, which may still be valid (`1.0` as an integer)
        return all(item(x) for x in v)

    return check


# --- long arrays of flat objects (a report's findings) ----------------------------------------
#
# 50,000 findings checked one by one cost about 9 microseconds each. An array of objects
# whose properties have simple schemas is checked a property at a time instead, over
# all the items at once (`map` over builtins). This check only ever says yes for valid
# arrays: anything it is not sure of (a float where an integer is asked, a keyword it does
# not know) makes it say no, and the array is then checked item by item as before.

_ROWS_FROM = 64
_ABSENT = object()
_ROW_KEYS = frozenset({"type", "required", "properties"}) | _IGNORED
_COLUMN_KEYS = frozenset({"type", "minimum", "minLength", "enum", "items"}) | _IGNORED
Column = Callable[[list[Any]], bool]


def _rows_check(schema: Mapping[str, Any] | bool) -> Check | None:
    """A check of a whole array of `schema` objects, or None when `schema` is not simple."""
    if not isinstance(schema, Mapping) or not schema.keys() <= _ROW_KEYS:
        return None
    if schema.get("type") != "object" or not isinstance(schema.get("properties"), Mapping):
        return None
    required = tuple(schema.get("required") or ())
    if not all(isinstance(name, str) for name in required):
        return None
    columns = {name: _column_check(sub) for name, sub in schema["properties"].items()}
    if any(check is None for check in columns.values()):
        return None
    ready = cast(dict[str, Column], columns)

    def check(rows: list[Any]) -> bool:
        if set(map(type, rows)) != {dict}:
            return False
        count = len(rows)
        for name in required:
            if not all(map(dict.__contains__, rows, itertools.repeat(name, count))):
                return False
        for name, column in ready.items():
            values = list(map(dict.get, rows, itertools.repeat(name, count), _absent(count)))
            if not column(values):
                return False
        return True

    return check


def _absent(count: int) -> Iterator[Any]:
    return itertools.repeat(_ABSENT, count)


def _column_check(schema: Any) -> Column | None:
    """A check of one property's values (`_ABSENT` where an item lacks it), or None."""
    if not isinstance(schema, Mapping) or not schema.keys() <= _COLUMN_KEYS:
        return None
    names = schema.get("type")
    names = [names] if isinstance(names, str) else names
    if names is not None and not (isinstance(names, list) and set(names) <= _EXACT.keys()):
        return None
    allowed = {type(_ABSENT)} | {k for name in names or () for k in _EXACT[name]}
    tests: list[Column] = []
    if names is not None:
        tests.append(lambda values: set(map(type, values)) <= allowed)
    if "minimum" in schema:
        bound = schema["minimum"]
        if not _is_number(bound):
            return None
        tests.append(lambda values: _ints_at_least(values, bound))
    if "minLength" in schema:
        length = schema["minLength"]
        if not _is_integer(length):
            return None
        tests.append(lambda values: _strings_at_least(values, length))
    if "enum" in schema:
        choices = schema["enum"]
        if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices):
            return None
        words = frozenset(choices) | {_ABSENT}
        tests.append(
            lambda values: set(map(type, values)) <= {str, type(_ABSENT)} and set(values) <= words
        )
    if "items" in schema:
        if schema["items"] != {"type": "string"} or names != ["array"]:
            return None
        tests.append(_all_strings)
    return lambda values: all(test(values) for test in tests)


def _ints_at_least(values: list[Any], bound: Any) -> bool:
    """No number below `bound`: only ints are looked at (a float: not sure, say no)."""
    numbers = [v for v in values if type(v) in (int, float)]
    return all(type(v) is int for v in numbers) and min(numbers, default=bound) >= bound


def _strings_at_least(values: list[Any], length: int) -> bool:
    strings = [v for v in values if isinstance(v, str)]
    return min(map(len, strings), default=length) >= length


def _all_strings(values: list[Any]) -> bool:
    return all(type(item) is str for value in values if type(value) is list for item in value)


def _required(value: Any, _schema: Mapping[str, Any]) -> Check:
    names = tuple(value)
    return lambda v: not isinstance(v, dict) or all(name in v for name in names)


def _properties(value: Any, schema: Mapping[str, Any]) -> Check:
    known = {name: _compile(sub) for name, sub in value.items()}
    extra_schema = schema.get("additionalProperties", True)
    check_other = _compile(extra_schema)
    open_ended = extra_schema is True

    def check(v: Any) -> bool:
        if not isinstance(v, dict):
            return True
        for name, item in v.items():
            sub = known.get(name)
            if sub is not None:
                if not sub(item):
                    return False
            elif not open_ended and not check_other(item):
                return False
        return True

    return check


def _additional(value: Any, _schema: Mapping[str, Any]) -> Check:
    check_other = _compile(value)
    return lambda v: not isinstance(v, dict) or all(check_other(x) for x in v.values())


def _any_of(value: Any, _schema: Mapping[str, Any]) -> Check:
    subs = _subschemas(value)
    return lambda v: any(sub(v) for sub in subs)


def _one_of(value: Any, _schema: Mapping[str, Any]) -> Check:
    subs = _subschemas(value)
    return lambda v: sum(1 for sub in subs if sub(v)) == 1


def _subschemas(value: Any) -> Sequence[Check]:
    if not isinstance(value, list) or not value:
        raise Unsupported("anyOf/oneOf")
    return [_compile(sub) for sub in value]


_BUILDERS: dict[str, Callable[[Any, Mapping[str, Any]], Check]] = {
    "type": _type,
    "const": _const,
    "enum": _enum,
    "pattern": _pattern,
    "minimum": _number_bound(lambda v, b: v >= b),
    "maximum": _number_bound(lambda v, b: v <= b),
    "exclusiveMinimum": _number_bound(lambda v, b: v > b),
    "exclusiveMaximum": _number_bound(lambda v, b: v < b),
    "minLength": _size(str, lambda n, b: n >= b),
    "maxLength": _size(str, lambda n, b: n <= b),
    "minItems": _size(list, lambda n, b: n >= b),
    "maxItems": _size(list, lambda n, b: n <= b),
    "minProperties": _size(dict, lambda n, b: n >= b),
    "maxProperties": _size(dict, lambda n, b: n <= b),
    "items": _items,
    "required": _required,
    "properties": _properties,
    "additionalProperties": _additional,
    "anyOf": _any_of,
    "oneOf": _one_of,
}

__all__ = ["Check", "cached_checker", "checker"]
