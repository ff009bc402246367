"""Read dependency files without executing anything.

requirements*.txt (at any depth), pyproject.toml (PEP 621, Poetry), setup.cfg, setup.py (a
static AST read: never executed), conda `environment.yml`/`conda.yaml` (conda and pip
entries), and lock files: pylock.toml, uv.lock, poetry.lock, pdm.lock.

Every entry comes back either as a `Requirement` (pinned or not) or as a `DepFileProblem`:
nothing is dropped silently. A problem with line 0 concerns the whole file.
"""

from __future__ import annotations

import ast
import configparser
import posixpath
import re
import shlex
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path, PurePosixPath
from typing import Any

import yaml
from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as _PackagingRequirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

LOCAL_OR_URL = "cannot audit a local/URL requirement"
_COMMENT = re.compile(r"(^|\s+)#.*$")
_TOML_LINE = re.compile(r"at line (\d+)")
_NAME_LINE = re.compile(r"""^\s*name\s*=\s*["']([^"']+)["']""")
# pip options that take no part in what gets installed from where, with or without a value
_IGNORED_OPTIONS = frozenset(
    {
        "-i",
        "--index-url",
        "--extra-index-url",
        "--no-index",
        "-f",
        "--find-links",
        "--trusted-host",
        "--pre",
        "--prefer-binary",
        "--only-binary",
        "--no-binary",
        "--require-hashes",
        "--use-feature",
        "--config-settings",
        "--global-option",
        "--install-option",
        "--hash",
    }
)
_INCLUDE_OPTIONS = {"-r": "-r", "--requirement": "-r", "-c": "-c", "--constraint": "-c"}
_EDITABLE_OPTIONS = frozenset({"-e", "--editable"})


@dataclass(frozen=True)
class Requirement:
    """One dependency as written in a file."""

    name: str
    version: str | None
    spec: str
    path: str
    line: int


@dataclass(frozen=True)
class DepFileProblem:
    """An entry that could not be read or audited (line 0: the whole file)."""

    path: str
    line: int
    message: str
    severity: str = "medium"  # "low": a file that is fine but cannot be read statically


LOCK_FILES = frozenset({"uv.lock", "poetry.lock", "pdm.lock", "pylock.toml"})
CONDA_FILES = frozenset({"environment.yml", "environment.yaml", "conda.yaml", "conda.yml"})
_CONDA_SKIP = frozenset({"python", "pip"})


def is_lock_file(relpath: str) -> bool:
    name = PurePosixPath(relpath.replace("\\", "/")).name.lower()
    return name in LOCK_FILES or fnmatch(name, "pylock.*.toml")


@dataclass
class _Result:
    requirements: list[Requirement] = field(default_factory=list)
    problems: list[DepFileProblem] = field(default_factory=list)

    def problem(self, path: str, line: int, message: str) -> None:
        self.problems.append(DepFileProblem(path, line, message))


def is_dependency_file(relpath: str) -> bool:
    """Whether a repo-relative path names a dependency file this module reads."""
    path = PurePosixPath(relpath.replace("\\", "/"))
    name = path.name.lower()
    if name in ("pyproject.toml", "setup.cfg", "setup.py") or is_lock_file(relpath):
        return True
    if name in CONDA_FILES:
        return True
    if not name.endswith(".txt"):
        return False
    return (
        name.startswith("requirements")
        or name.endswith(("-requirements.txt", "_requirements.txt"))
        or path.parent.name.lower() == "requirements"
    )


def read_dependency_file(
    root: Path, relpath: str
) -> tuple[list[Requirement], list[DepFileProblem]]:
    """Requirements and problems of one file; `-r` includes are followed (cycles guarded)."""
    rel = _normalise(relpath)
    result = _Result()
    name = PurePosixPath(rel).name.lower()
    if name == "pyproject.toml":
        _read_pyproject(root, rel, result)
    elif name == "pylock.toml" or fnmatch(name, "pylock.*.toml"):
        _read_pylock(root, rel, result)
    elif name in ("uv.lock", "poetry.lock", "pdm.lock"):
        _read_package_lock(root, rel, result)
    elif name == "setup.cfg":
        _read_setup_cfg(root, rel, result)
    elif name == "setup.py":
        _read_setup_py(root, rel, result)
    elif name.endswith((".yml", ".yaml")):
        _read_conda(root, rel, result)
    else:
        _RequirementsReader(root, result).read(rel)
    return result.requirements, result.problems


# --- shared -----------------------------------------------------------------------------------


def _normalise(relpath: str) -> str:
    return posixpath.normpath(relpath.replace("\\", "/")).lstrip("/")


def _read_text(root: Path, rel: str, result: _Result) -> str | None:
    """The file's text, or None after recording why it cannot be read."""
    if rel == ".." or rel.startswith("../") or not _inside(root, rel):
        result.problem(rel, 0, "file is outside the repository")
        return None
    try:
        raw = (root / rel).read_bytes()
    except FileNotFoundError:
        result.problem(rel, 0, "file does not exist")
        return None
    except OSError as exc:
        result.problem(rel, 0, f"unreadable: {exc.strerror or exc}")
        return None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        result.problem(rel, line, "not valid UTF-8 text")
        return None


def _inside(root: Path, rel: str) -> bool:
    try:
        (root / rel).resolve().relative_to(root.resolve())
    except (ValueError, OSError):
        return False
    return True


def _requirement(text: str, path: str, line: int, result: _Result) -> None:
    """Parse one PEP 508 string into a Requirement or a problem."""
    if _looks_local(text):
        result.problem(path, line, f"{LOCAL_OR_URL}: {text}")
        return
    try:
        parsed = _PackagingRequirement(text)
    except InvalidRequirement as exc:
        result.problem(path, line, f"invalid requirement {text!r}: {exc}")
        return
    if parsed.url:
        result.problem(path, line, f"{LOCAL_OR_URL}: {text}")
        return
    result.requirements.append(
        Requirement(canonicalize_name(parsed.name), _pinned(parsed), text, path, line)
    )


def _pinned(parsed: _PackagingRequirement) -> str | None:
    specs = list(parsed.specifier)
    if len(specs) != 1:
        return None
    spec = specs[0]
    if spec.operator == "===" or (spec.operator == "==" and not spec.version.endswith(".*")):
        return spec.version
    return None


def _looks_local(text: str) -> bool:
    head = text.split(";", 1)[0].strip()
    return (
        "://" in head.split("@", 1)[0]
        or head.startswith((".", "/", "~", "git+", "hg+", "svn+", "bzr+", "file:"))
        or head.endswith((".whl", ".zip", ".tar.gz", ".tgz", ".tar.bz2"))
        or bool(re.match(r"^[A-Za-z]:[\\/]", head))
    )


# --- requirements files -----------------------------------------------------------------------


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """(first line number, text) with continuations joined and comments removed, as pip does."""
    pending: list[str] = []
    start = 1
    for number, raw in enumerate(text.splitlines(), start=1):
        if not pending:
            start = number
        is_comment = _COMMENT.match(raw) is not None
        if raw.endswith("\\") and not is_comment:
            pending.append(raw[:-1])
            continue
        pending.append(f" {raw}" if is_comment else raw)
        cleaned = _COMMENT.sub("", "".join(pending)).strip()
        pending = []
        if cleaned:
            yield start, cleaned
    cleaned = _COMMENT.sub("", "".join(pending)).strip()
    if cleaned:
        yield start, cleaned


def _split_options(line: str) -> tuple[str, list[str]]:
    """pip's rule: the requirement is every token before the first that starts with '-'."""
    tokens = line.split()
    for index, token in enumerate(tokens):
        if token.startswith("-"):
            return " ".join(tokens[:index]), tokens[index:]
    return " ".join(tokens), []


def _option(line: str) -> tuple[str, str]:
    """('-r', 'file.txt') from `-r file.txt`, `-rfile.txt`, `--requirement=file.txt`, ..."""
    try:
        tokens = shlex.split(line)
    except ValueError:
        tokens = line.split()
    first, rest = tokens[0], " ".join(tokens[1:])
    if first.startswith("--"):
        name, eq, value = first.partition("=")
        return name, (value if eq else rest)
    if len(first) > 2:
        return first[:2], " ".join([first[2:].lstrip("="), *tokens[1:]])
    return first, rest


@dataclass
class _RequirementsReader:
    """Reads a requirements file and the files it includes, each at most once."""

    root: Path
    result: _Result
    seen: set[str] = field(default_factory=set)

    def read(self, rel: str, stack: tuple[str, ...] = ()) -> None:
        self.seen.add(rel)
        text = _read_text(self.root, rel, self.result)
        if text is None:
            return
        for number, line in _logical_lines(text):
            if line.startswith("-"):
                self._option(rel, number, line, (*stack, rel))
            else:
                spec, _ = _split_options(line)
                _requirement(spec, rel, number, self.result)

    def _option(self, rel: str, number: int, line: str, stack: tuple[str, ...]) -> None:
        name, value = _option(line)
        if name in _INCLUDE_OPTIONS:
            self._include(rel, number, _INCLUDE_OPTIONS[name], value, stack)
        elif name in _EDITABLE_OPTIONS:
            self.result.problem(rel, number, f"{LOCAL_OR_URL}: {value or line}")
        elif name not in _IGNORED_OPTIONS:
            self.result.problem(rel, number, f"unrecognised option line: {line}")

    def _include(
        self, rel: str, number: int, kind: str, value: str, stack: tuple[str, ...]
    ) -> None:
        """Follow `-r FILE`; for `-c FILE` only check it exists (constraints install nothing)."""
        problem = _include_problem(self.root, rel, kind, value)
        target = _normalise(posixpath.join(posixpath.dirname(rel), value))
        if problem is None and kind == "-r" and target in stack:
            problem = "include cycle: " + " -> ".join([*stack[stack.index(target) :], target])
        if problem is not None:
            self.result.problem(rel, number, problem)
        elif kind == "-r" and target not in self.seen:
            self.read(target, stack)


def _include_problem(root: Path, rel: str, kind: str, value: str) -> str | None:
    if not value:
        return f"{kind} without a file name"
    if "://" in value:
        return f"cannot audit a remote include: {value}"
    target = _normalise(posixpath.join(posixpath.dirname(rel), value))
    absolute = posixpath.isabs(value.replace("\\", "/")) or re.match(r"^[A-Za-z]:", value)
    if absolute or target == ".." or target.startswith("../") or not _inside(root, target):
        return f"include outside the repository: {value}"
    if not (root / target).is_file():
        return f"included file does not exist: {value}"
    return None


# --- pyproject.toml ---------------------------------------------------------------------------


def _load_toml(root: Path, rel: str, result: _Result) -> tuple[str, dict[str, Any]] | None:
    text = _read_text(root, rel, result)
    if text is None:
        return None
    try:
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        where = _TOML_LINE.search(str(exc))
        result.problem(rel, int(where.group(1)) if where else 0, f"invalid TOML: {exc}")
        return None


def _read_pyproject(root: Path, rel: str, result: _Result) -> None:
    loaded = _load_toml(root, rel, result)
    if loaded is None:
        return
    text, data = loaded
    finder = _LineFinder(text)
    project = _dict(data.get("project"))
    groups = [("project.dependencies", project.get("dependencies"))]
    groups += [
        (f"project.optional-dependencies.{extra}", specs)
        for extra, specs in _dict(project.get("optional-dependencies")).items()
    ]
    groups += [
        (f"dependency-groups.{group}", specs)
        for group, specs in _dict(data.get("dependency-groups")).items()
    ]
    for where, specs in groups:
        _pep508_list(rel, where, specs, finder, result)
    _read_poetry(rel, _dict(_dict(data.get("tool")).get("poetry")), finder, result)


def _pep508_list(rel: str, where: str, specs: Any, finder: _LineFinder, result: _Result) -> None:
    if specs is None:
        return
    if not isinstance(specs, list):
        result.problem(rel, 0, f"{where} is not a list")
        return
    for spec in specs:
        if isinstance(spec, str):
            _requirement(spec.strip(), rel, finder.quoted(spec), result)
        elif not (isinstance(spec, dict) and "include-group" in spec):
            result.problem(rel, 0, f"{where}: not a requirement string: {spec!r}")


def _read_poetry(rel: str, poetry: Mapping[str, Any], finder: _LineFinder, result: _Result) -> None:
    tables = [poetry.get("dependencies"), poetry.get("dev-dependencies")]
    tables += [_dict(g).get("dependencies") for g in _dict(poetry.get("group")).values()]
    for table in tables:
        for name, constraint in _dict(table).items():
            if canonicalize_name(name) != "python":
                _poetry_dependency(rel, name, constraint, finder, result)


def _poetry_dependency(
    rel: str, name: str, constraint: Any, finder: _LineFinder, result: _Result
) -> None:
    line = finder.key(name)
    if isinstance(constraint, dict) and {"git", "path", "url"} & constraint.keys():
        result.problem(rel, line, f"{LOCAL_OR_URL}: {name}")
        return
    version = constraint.get("version") if isinstance(constraint, dict) else constraint
    if isinstance(constraint, list) or not isinstance(version, str):
        spec = f"{name} = {constraint!r}"
        result.requirements.append(Requirement(canonicalize_name(name), None, spec, rel, line))
        return
    pinned = _poetry_exact(version)
    spec = f'{name} = "{version}"'
    result.requirements.append(Requirement(canonicalize_name(name), pinned, spec, rel, line))


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


# --- pylock.toml (PEP 751) --------------------------------------------------------------------


def _read_pylock(root: Path, rel: str, result: _Result) -> None:
    found = _toml_array(root, rel, result, "packages", "pylock file")
    if found is None:
        return
    finder, packages = found
    for package in packages:
        _pylock_package(rel, _dict(package), finder, result)


def _pylock_package(
    rel: str, package: Mapping[str, Any], finder: _LineFinder, result: _Result
) -> None:
    name, version = package.get("name"), package.get("version")
    if not isinstance(name, str) or not name:
        result.problem(rel, 0, "a [[packages]] entry has no name")
        return
    line = finder.name_line(name)
    if not isinstance(version, str):
        kind = next((k for k in ("vcs", "directory", "archive") if k in package), None)
        message = f"{LOCAL_OR_URL}: {name} ({kind})" if kind else f"{name} has no version"
        result.problem(rel, line, message)
        return
    marker = package.get("marker")
    spec = f"{name}=={version}" + (f"; {marker}" if isinstance(marker, str) and marker else "")
    result.requirements.append(Requirement(canonicalize_name(name), version, spec, rel, line))


def _toml_array(
    root: Path, rel: str, result: _Result, key: str, what: str
) -> tuple[_LineFinder, list[Any]] | None:
    """The `[[KEY]]` tables of a TOML lock file, with a line finder over its text."""
    loaded = _load_toml(root, rel, result)
    if loaded is None:
        return None
    text, data = loaded
    tables = data.get(key)
    if not isinstance(tables, list):
        result.problem(rel, 0, f"{what} has no [[{key}]] array")
        return None
    return _LineFinder(text), tables


class _LineFinder:
    """Best-effort line numbers for values tomllib parsed (it does not report them).

    A value looked up again gets its next occurrence, so repeated values get distinct lines.
    """

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.used: dict[tuple[str, str], set[int]] = {}
        self._names: dict[str, list[int]] | None = None

    def quoted(self, value: str) -> int:
        needles = (f'"{value}"', f"'{value}'", value)
        hits = self._scan(lambda line: any(n in line for n in needles))
        return self._pick(("value", value), hits)

    def bare(self, value: str) -> int:
        """The line holding `value` as written (a list entry of YAML, setup.cfg)."""
        hits = self._scan(lambda line: value in line)
        return self._pick(("bare", value), hits)

    def key(self, name: str) -> int:
        pattern = re.compile(rf"""^\s*["']?{re.escape(name)}["']?\s*=""")
        return self._pick(("key", name), self._scan(lambda line: pattern.match(line) is not None))

    def name_line(self, name: str) -> int:
        """The line of `name = "<name>"` (pylock [[packages]]), indexed once for the file."""
        if self._names is None:
            self._names = {}
            for number, line in enumerate(self.lines, start=1):
                if found := _NAME_LINE.match(line):
                    self._names.setdefault(found.group(1), []).append(number)
        return self._pick(("name", name), self._names.get(name, []))

    def _scan(self, test: Callable[[str], bool]) -> list[int]:
        return [number for number, line in enumerate(self.lines, start=1) if test(line)]

    def _pick(self, what: tuple[str, str], hits: list[int]) -> int:
        used = self.used.setdefault(what, set())
        found = next((i for i in hits if i not in used), hits[0] if hits else 1)
        used.add(found)
        return found


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


# --- uv.lock, poetry.lock, pdm.lock -----------------------------------------------------------


def _read_package_lock(root: Path, rel: str, result: _Result) -> None:
    """`[[package]]` tables with `name` and `version` (uv, Poetry and PDM share the shape)."""
    found = _toml_array(root, rel, result, "package", "lock file")
    if found is None:
        return
    finder, packages = found
    for package in packages:
        entry = _dict(package)
        name, version = entry.get("name"), entry.get("version")
        if not isinstance(name, str) or not name:
            continue
        line = finder.name_line(name)
        source = _dict(entry.get("source"))
        if {"editable", "virtual", "path", "directory", "git"} & source.keys():
            continue  # the project itself or a local/VCS package: nothing to audit by version
        if isinstance(version, str):
            spec = f"{name}=={version}"
            result.requirements.append(
                Requirement(canonicalize_name(name), version, spec, rel, line)
            )


# --- setup.cfg ------------------------------------------------------------------------------


def _read_setup_cfg(root: Path, rel: str, result: _Result) -> None:
    text = _read_text(root, rel, result)
    if text is None:
        return
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text, source=rel)
    except configparser.Error as exc:
        result.problem(rel, getattr(exc, "lineno", 0) or 0, f"invalid setup.cfg: {exc}")
        return
    finder = _LineFinder(text)
    values: list[str] = []
    if parser.has_option("options", "install_requires"):
        values.append(parser.get("options", "install_requires"))
    if parser.has_section("options.extras_require"):
        values += [v for _, v in parser.items("options.extras_require")]
    for value in values:
        for spec in (s.strip() for s in value.splitlines()):
            if spec and not spec.startswith("#"):
                _requirement(spec, rel, finder.bare(spec), result)


# --- setup.py (static) ----------------------------------------------------------------------


def _read_setup_py(root: Path, rel: str, result: _Result) -> None:
    """`install_requires`/`extras_require` literals of the `setup(...)` call, read with `ast`
    (names bound to a literal at module level are followed); never executed."""
    text = _read_text(root, rel, result)
    if text is None:
        return
    try:
        tree = ast.parse(text, filename=rel)
    except SyntaxError as exc:
        result.problem(rel, exc.lineno or 0, f"setup.py is not valid Python: {exc.msg}")
        return
    constants = _module_literals(tree)
    for call in ast.walk(tree):
        if isinstance(call, ast.Call) and _call_name(call.func) == "setup":
            for keyword in call.keywords:
                if keyword.arg in ("install_requires", "extras_require"):
                    _setup_keyword(rel, keyword.arg, keyword.value, constants, result)


def _module_literals(tree: ast.Module) -> dict[str, ast.expr]:
    found: dict[str, ast.expr] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name):
                found[target.id] = node.value
    return found


def _call_name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    return func.attr if isinstance(func, ast.Attribute) else ""


def _setup_keyword(
    rel: str, key: str, value: ast.expr, constants: Mapping[str, ast.expr], result: _Result
) -> None:
    if isinstance(value, ast.Name) and value.id in constants:
        value = constants[value.id]
    lists = [value] if key == "install_requires" else []
    if key == "extras_require" and isinstance(value, ast.Dict):
        lists = [v for v in value.values if v is not None]
    elif key == "extras_require":
        lists = []
        _computed(rel, key, value, result)
    for listed in lists:
        item = constants.get(listed.id, listed) if isinstance(listed, ast.Name) else listed
        if not isinstance(item, (ast.List, ast.Tuple)):
            _computed(rel, key, item, result)
            continue
        for element in item.elts:
            if isinstance(element, ast.Constant) and isinstance(element.value, str):
                _requirement(element.value.strip(), rel, element.lineno, result)
            else:
                _computed(rel, key, element, result)


def _computed(rel: str, key: str, node: ast.expr, result: _Result) -> None:
    result.problems.append(
        DepFileProblem(
            rel,
            getattr(node, "lineno", 0),
            f"setup.py {key} is computed when setup.py runs, so it is not read (mlgate never "
            "executes it): declare the dependencies in pyproject.toml or setup.cfg",
            "low",
        )
    )


# --- conda environment files ----------------------------------------------------------------


def _read_conda(root: Path, rel: str, result: _Result) -> None:
    """`dependencies:` of a conda environment: `name=1.2.3`/`name==1.2.3` conda entries and
    the `pip:` list (PEP 508). `python` and `pip` themselves are not packages to audit."""
    text = _read_text(root, rel, result)
    if text is None:
        return
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        result.problem(rel, mark.line + 1 if mark else 0, f"invalid YAML: {exc}")
        return
    finder = _LineFinder(text)
    deps = data.get("dependencies") if isinstance(data, dict) else None
    if not isinstance(deps, list):
        result.problem(rel, 0, "conda environment has no `dependencies:` list")
        return
    for entry in deps:
        if isinstance(entry, str):
            _conda_entry(rel, entry.strip(), finder, result)
        elif isinstance(entry, dict) and isinstance(entry.get("pip"), list):
            for spec in entry["pip"]:
                if isinstance(spec, str) and not spec.startswith("-"):
                    _requirement(spec.strip(), rel, finder.bare(spec.strip()), result)


_CONDA_SPEC = re.compile(r"^(?:[\w.-]+::)?([A-Za-z0-9][\w.-]*)\s*(.*)$")


def _conda_entry(rel: str, entry: str, finder: _LineFinder, result: _Result) -> None:
    match = _CONDA_SPEC.match(entry)
    if match is None:
        result.problem(rel, finder.bare(entry), f"unrecognised conda dependency: {entry!r}")
        return
    name, rest = match.group(1), match.group(2).strip()
    if canonicalize_name(name) in _CONDA_SKIP:
        return
    version = rest.lstrip("=").split("=", 1)[0].strip() if rest.startswith("=") else None
    exact = version if version and _conda_exact(rest, version) else None
    spec = f"{name}{rest}"
    result.requirements.append(
        Requirement(canonicalize_name(name), exact, spec, rel, finder.bare(entry))
    )


def _conda_exact(rest: str, version: str) -> bool:
    """`==1.2.3`, `=1.2.3=build`, or `=1.2.3` with a full three-part version pin one version."""
    if any(c in version for c in "*<>!,|"):
        return False
    if rest.startswith("=="):
        return True
    return rest.count("=") >= 2 or version.count(".") >= 2
