"""What the dependency sources share: reading a file inside the repository, parsing a PEP 508
string, loading TOML, and best-effort line numbers for parsed values."""

from __future__ import annotations

import posixpath
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.utils import canonicalize_name

from mlgate.deps.sources.interface import LOCAL_OR_URL, Reading

_TOML_LINE = re.compile(r"at line (\d+)")
_NAME_LINE = re.compile(r"""^\s*name\s*=\s*["']([^"']+)["']""")

if TYPE_CHECKING:
    from packaging.requirements import Requirement as PackagingRequirement


def normalise(relpath: str) -> str:
    return posixpath.normpath(relpath.replace("\\", "/")).lstrip("/")


def read_text(root: Path, rel: str, reading: Reading) -> str | None:
    """The file's text, or None after recording why it cannot be read."""
    if rel == ".." or rel.startswith("../") or not inside(root, rel):
        reading.problem(rel, 0, "file is outside the repository")
        return None
    try:
        raw = (root / rel).read_bytes()
    except FileNotFoundError:
        reading.problem(rel, 0, "file does not exist")
        return None
    except OSError as exc:
        reading.problem(rel, 0, f"unreadable: {exc.strerror or exc}")
        return None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        reading.problem(rel, line, "not valid UTF-8 text")
        return None


def inside(root: Path, rel: str) -> bool:
    try:
        (root / rel).resolve().relative_to(root.resolve())
    except (ValueError, OSError):
        return False
    return True


def pep508(text: str, path: str, line: int, reading: Reading) -> None:
    """Parse one PEP 508 string into a Requirement or a problem."""
    if _looks_local(text):
        reading.problem(path, line, f"{LOCAL_OR_URL}: {text}")
        return
    # packaging's requirement grammar compiles its tokenizer at import (about 20 ms): not
    # on a run whose dependency files are all cached
    from packaging.requirements import InvalidRequirement  # noqa: PLC0415
    from packaging.requirements import Requirement as PackagingRequirement  # noqa: PLC0415

    try:
        parsed = PackagingRequirement(text)
    except InvalidRequirement as exc:
        reading.problem(path, line, f"invalid requirement {text!r}: {exc}")
        return
    if parsed.url:
        reading.problem(path, line, f"{LOCAL_OR_URL}: {text}")
        return
    reading.add(canonicalize_name(parsed.name), _pinned(parsed), text, path, line)


def _pinned(parsed: PackagingRequirement) -> str | None:
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


def parse_toml(text: str) -> dict[str, Any]:
    """`tomllib.loads` (tomli before 3.11), imported on first use: a warm run reads no TOML.
    Raises ValueError (`TOMLDecodeError`) for invalid TOML."""
    if sys.version_info >= (3, 11):
        import tomllib  # noqa: PLC0415
    else:  # pragma: no cover - exercised on 3.10 only
        import tomli as tomllib  # noqa: PLC0415
    return tomllib.loads(text)


def load_toml(root: Path, rel: str, reading: Reading) -> tuple[str, dict[str, Any]] | None:
    text = read_text(root, rel, reading)
    if text is None:
        return None
    try:
        return text, parse_toml(text)
    except ValueError as exc:  # tomllib.TOMLDecodeError
        where = _TOML_LINE.search(str(exc))
        reading.problem(rel, int(where.group(1)) if where else 0, f"invalid TOML: {exc}")
        return None


def toml_array(
    root: Path, rel: str, reading: Reading, key: str, what: str
) -> tuple[LineFinder, list[Any]] | None:
    """The `[[KEY]]` tables of a TOML lock file, with a line finder over its text."""
    loaded = load_toml(root, rel, reading)
    if loaded is None:
        return None
    text, data = loaded
    tables = data.get(key)
    if not isinstance(tables, list):
        reading.problem(rel, 0, f"{what} has no [[{key}]] array")
        return None
    return LineFinder(text), tables


class LineFinder:
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


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
