"""Poetry's `[tool.poetry]` dependency tables (read from pyproject.toml), and Poetry version
constraints translated to PEP 440 (`^1.2` is `>=1.2,<2.0`) for the range audit."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from mlgate.deps.sources.common import LineFinder, as_dict
from mlgate.deps.sources.interface import LOCAL_OR_URL, Reading


def read_poetry(rel: str, poetry: Mapping[str, Any], finder: LineFinder, reading: Reading) -> None:
    tables = [poetry.get("dependencies"), poetry.get("dev-dependencies")]
    tables += [as_dict(g).get("dependencies") for g in as_dict(poetry.get("group")).values()]
    for table in tables:
        for name, constraint in as_dict(table).items():
            if canonicalize_name(name) != "python":
                _poetry_dependency(rel, name, constraint, finder, reading)


def _poetry_dependency(
    rel: str, name: str, constraint: Any, finder: LineFinder, reading: Reading
) -> None:
    line = finder.key(name)
    if isinstance(constraint, dict) and {"git", "path", "url"} & constraint.keys():
        reading.problem(rel, line, f"{LOCAL_OR_URL}: {name}")
        return
    version = constraint.get("version") if isinstance(constraint, dict) else constraint
    if isinstance(constraint, list) or not isinstance(version, str):
        reading.add(canonicalize_name(name), None, f"{name} = {constraint!r}", rel, line)
        return
    pinned = _poetry_exact(version)
    reading.add(canonicalize_name(name), pinned, f'{name} = "{version}"', rel, line)


def _poetry_exact(constraint: str) -> str | None:
    """Poetry pins with a bare version ("1.2.3") or "==1.2.3"; anything else is a range."""
    text = constraint.strip().lstrip("=").strip()
    if not text or text.endswith("*") or any(c in text for c in "<>=!~^,| "):
        return None
    try:
        Version(text)
    except InvalidVersion:
        return None
    return text


def poetry_specifiers(constraint: str) -> list[str] | None:
    """A Poetry version constraint as PEP 440 specifier sets, one per `||` alternative
    (`^1.2.3` is `>=1.2.3,<2.0.0`, `^0.2` is `>=0.2,<0.3`, `~1.2.3` is `>=1.2.3,<1.3.0`,
    `1.2.*` is `==1.2.*`, `*` is any version; `,` or spaces join clauses), or None when a
    clause is not one Poetry accepts."""
    alternatives: list[str] = []
    for alternative in constraint.split("||"):
        joined = re.sub(r"(\^|~=?|[<>=!]=?)\s+", r"\1", alternative.strip())
        clauses = [c for c in re.split(r"[\s,]+", joined) if c]
        converted = [_poetry_clause(c) for c in clauses]
        if not clauses or any(c is None for c in converted):
            return None
        alternatives.append(",".join(c for c in converted if c))
    return alternatives


def _poetry_clause(clause: str) -> str | None:
    text = clause.strip()
    if text in ("*", ""):
        return ""
    if text.startswith("^"):
        return _caret(text[1:])
    if text.startswith("~") and not text.startswith("~="):
        return _tilde(text[1:])
    if text[0].isdigit():
        text = "==" + text
    # packaging's specifier grammar: loaded only when a Poetry file is read
    from packaging.specifiers import InvalidSpecifier, SpecifierSet  # noqa: PLC0415

    try:
        return str(SpecifierSet(text))
    except InvalidSpecifier:
        return None


def _release(text: str) -> list[int] | None:
    try:
        version = Version(text)
    except InvalidVersion:
        return None
    return list(version.release)


def _caret(text: str) -> str | None:
    """`^X.Y.Z`: up to the next change of the leftmost non-zero part."""
    parts = _release(text)
    if parts is None:
        return None
    first = next((i for i, p in enumerate(parts) if p != 0), len(parts) - 1)
    upper = [*parts[:first], parts[first] + 1]
    return f">={text},<{'.'.join(map(str, upper))}"


def _tilde(text: str) -> str | None:
    """`~X.Y.Z` and `~X.Y`: patch updates only; `~X`: minor updates."""
    parts = _release(text)
    if parts is None:
        return None
    keep = parts[:2] if len(parts) >= 2 else parts[:1]
    upper = [*keep[:-1], keep[-1] + 1]
    return f">={text},<{'.'.join(map(str, upper))}"
