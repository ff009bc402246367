"""Paths from repository configuration stay inside the repository.

On a pull request the author controls `.mlgate.yml` and `.mlgate/policy.yml`. Every path
they name (rule files, contracts, metrics files, baselines, the advisory database, ...)
must resolve inside the repository, symlinks included; anything else is a ConfigError
(exit 2) naming the file, the line and the key, raised before any gate runs. Paths given
by the operator (command line, environment, a policy file outside the repository) are the
operator's own and are not confined.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from mlgate.errors import ConfigError
from mlgate.gates import GATES
from mlgate.yamlfile import YamlDoc

GIT_PREFIX = "git:"
_WILDCARDS = "*?["

# Each gate declares the option keys that name files or globs in the repository, by kind
# (`Gate.option_kinds.paths`):
#   path: one file or directory; paths: a list of them; glob(s): patterns;
#   path-or-git: a path, or git:REF[:path]; datasets: the data gate's dataset entries.
_DATASET_KEYS = {"path": "glob", "contract": "path", "reference": "path-or-git"}


def is_inside(path: Path, root: Path) -> bool:
    """Whether `path` resolves (symlinks followed) to `root` or below it."""
    try:
        return path.resolve().is_relative_to(root.resolve())
    except (OSError, RuntimeError, ValueError):  # a symlink loop, a NUL byte
        return False


class Confiner:
    """Checks the paths one configuration file names, relative to the repository root.

    `root` None: the paths come from a git ref (no working tree to resolve symlinks in),
    so only their shape is checked (relative, no `..`).
    """

    def __init__(
        self, doc: YamlDoc, root: Path | None, what: str, base: PurePosixPath | None = None
    ) -> None:
        self.doc = doc
        self.root = root
        self.what = what
        self.base = base or PurePosixPath()  # the file's directory, relative to the root

    def fail(self, key_path: Sequence[str | int], value: str, why: str) -> ConfigError:
        key = ".".join(str(k) for k in key_path)
        return ConfigError(
            f"{self.doc.where(key_path)}: {self.what}: {key}: {value!r} {why}",
            hint="paths in repository configuration must stay inside the repository; "
            "an operator can point elsewhere on the command line or in the environment",
        )

    def check(self, key_path: Sequence[str | int], value: Any, kind: str) -> None:
        """Check one option value of the given kind (see `path_options`)."""
        if kind in ("paths", "globs") and isinstance(value, list):
            for i, item in enumerate(value):
                self.check((*key_path, i), item, kind[:-1])
        elif kind == "datasets" and isinstance(value, list):
            for i, entry in enumerate(value):
                for key, sub in _DATASET_KEYS.items():
                    if isinstance(entry, dict) and key in entry:
                        self.check((*key_path, i, key), entry[key], sub)
        elif isinstance(value, str):
            self._one(key_path, value, kind)

    def _one(self, key_path: Sequence[str | int], value: str, kind: str) -> None:
        if kind == "path-or-git" and value.startswith(GIT_PREFIX):
            _, _, inner = value[len(GIT_PREFIX) :].partition(":")
            if inner:
                self._relative(key_path, inner, value)
            return
        if kind == "glob":
            self._glob(key_path, value)
            return
        self._relative(key_path, value, value)
        if self.root is not None and not is_inside(self.root / self.base / value, self.root):
            raise self.fail(key_path, value, "resolves outside the repository (a symlink?)")

    def _relative(self, key_path: Sequence[str | int], path: str, shown: str) -> None:
        if "\0" in path:
            raise self.fail(key_path, shown, "contains a NUL byte")
        pure = PurePosixPath(path.replace("\\", "/"))
        if pure.is_absolute() or path.startswith("~") or _drive(path):
            raise self.fail(key_path, shown, "is absolute: name a path inside the repository")
        depth = 0
        for part in (*self.base.parts, *pure.parts):
            depth += -1 if part == ".." else 0 if part == "." else 1
            if depth < 0:
                raise self.fail(key_path, shown, "leaves the repository (`..`)")

    def _glob(self, key_path: Sequence[str | int], pattern: str) -> None:
        self._relative(key_path, pattern, pattern)
        parts = PurePosixPath(pattern.replace("\\", "/")).parts
        for part in parts:
            if "**" in part and part != "**":
                raise self.fail(
                    key_path, pattern, "is not a valid glob: `**` must be a whole path component"
                )
        if ".." in parts:
            raise self.fail(key_path, pattern, "leaves the repository (`..` in a glob)")
        fixed = _literal_prefix(parts)
        if self.root is not None and fixed:
            prefix = self.root.joinpath(*self.base.parts, *fixed)
            if not is_inside(prefix, self.root):
                raise self.fail(key_path, pattern, "resolves outside the repository (a symlink?)")


def _literal_prefix(parts: Sequence[str]) -> list[str]:
    out: list[str] = []
    for part in parts:
        if any(ch in part for ch in _WILDCARDS):
            break
        out.append(part)
    return out


def _drive(path: str) -> bool:
    return len(path) >= 2 and path[1] == ":" and path[0].isalpha()


def check_section(confiner: Confiner, prefix: Sequence[str | int], gate: str, section: Any) -> None:
    """Check the path-valued options of one gate's options (keys under `prefix`)."""
    if not isinstance(section, Mapping):
        return
    for key, kind in path_options().get(gate, {}).items():
        if key in section:
            confiner.check((*prefix, key), section[key], kind)


def check_config(doc: YamlDoc, root: Path | None) -> None:
    """`.mlgate.yml`: the policy it names, install files, and every gate's path options."""
    confiner = Confiner(doc, root, "config")
    data: Mapping[str, Any] = doc.data if isinstance(doc.data, Mapping) else {}
    if "policy" in data:
        confiner.check(("policy",), data["policy"], "path")
    install = data.get("install")
    if isinstance(install, Mapping) and "files" in install:
        confiner.check(("install", "files"), install["files"], "paths")
    for gate in path_options():
        check_section(confiner, (gate,), gate, data.get(gate))


def check_policy(
    doc: YamlDoc, root: Path | None, base: PurePosixPath, builtin: Callable[[str], bool]
) -> None:
    """A policy file: `extends` (unless a built-in pack), `baseline`, and gate options at
    the top level and in every environment. `extends` and `baseline` are relative to the
    file's directory `base` (relative to the repository root)."""
    relative = Confiner(doc, root, "policy", base)
    data: Mapping[str, Any] = doc.data if isinstance(doc.data, Mapping) else {}
    extends = data.get("extends")
    if isinstance(extends, str) and not builtin(extends):
        relative.check(("extends",), extends, "path")
    if "baseline" in data:
        relative.check(("baseline",), data["baseline"], "path")
    confiner = Confiner(doc, root, "policy")  # gate options are relative to the root
    _check_gates_of(confiner, (), data)
    environments = data.get("environments")
    if isinstance(environments, Mapping):
        for name, level in environments.items():
            if isinstance(level, Mapping):
                _check_gates_of(confiner, ("environments", str(name)), level)


def _check_gates_of(confiner: Confiner, prefix: tuple[str, ...], level: Mapping[str, Any]) -> None:
    gates = level.get("gates")
    if not isinstance(gates, Mapping):
        return
    for gate, section in gates.items():
        if isinstance(section, Mapping):
            options = section.get("options")
            check_section(confiner, (*prefix, "gates", str(gate), "options"), str(gate), options)


def path_options() -> Mapping[str, Mapping[str, str]]:
    """Gate -> its options that name repository paths, and their kinds."""
    return {name: gate.option_kinds.paths for name, gate in GATES.items()}


__all__ = ["Confiner", "check_config", "check_policy", "check_section", "is_inside", "path_options"]
