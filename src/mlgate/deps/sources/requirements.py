"""requirements files: `requirements*.txt` at any depth, `*-requirements.txt`, anything under a
`requirements/` folder, and any other file named explicitly. `-r` includes are followed (each
file once, cycles reported), `-c` constraints only checked to exist."""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from mlgate.deps.sources.common import inside, normalise, pep508, read_text
from mlgate.deps.sources.interface import LOCAL_OR_URL, DependencySource, Reading

_COMMENT = re.compile(r"(^|\s+)#.*$")
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


class RequirementsSource(DependencySource):
    kind = "requirements"

    endings = (".txt",)

    def recognises(self, path: PurePosixPath) -> bool:
        name = path.name
        if not name.endswith(".txt"):
            return False
        return (
            name.startswith("requirements")
            or name.endswith(("-requirements.txt", "_requirements.txt"))
            or path.parent.name.lower() == "requirements"
        )

    def reads_named(self, path: PurePosixPath) -> bool:
        return True  # the last resort: a named file of no other kind is read as requirements

    def read(self, root: Path, rel: str, reading: Reading) -> None:
        _RequirementsReader(root, reading).read(rel)


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
    reading: Reading
    seen: set[str] = field(default_factory=set)

    def read(self, rel: str, stack: tuple[str, ...] = ()) -> None:
        self.seen.add(rel)
        text = read_text(self.root, rel, self.reading)
        if text is None:
            return
        for number, line in _logical_lines(text):
            if line.startswith("-"):
                self._option(rel, number, line, (*stack, rel))
            else:
                spec, _ = _split_options(line)
                pep508(spec, rel, number, self.reading)

    def _option(self, rel: str, number: int, line: str, stack: tuple[str, ...]) -> None:
        name, value = _option(line)
        if name in _INCLUDE_OPTIONS:
            self._include(rel, number, _INCLUDE_OPTIONS[name], value, stack)
        elif name in _EDITABLE_OPTIONS:
            self.reading.problem(rel, number, f"{LOCAL_OR_URL}: {value or line}")
        elif name not in _IGNORED_OPTIONS:
            self.reading.problem(rel, number, f"unrecognised option line: {line}")

    def _include(
        self, rel: str, number: int, kind: str, value: str, stack: tuple[str, ...]
    ) -> None:
        """Follow `-r FILE`; for `-c FILE` only check it exists (constraints install nothing)."""
        problem = _include_problem(self.root, rel, kind, value)
        target = normalise(posixpath.join(posixpath.dirname(rel), value))
        if problem is None and kind == "-r" and target in stack:
            problem = "include cycle: " + " -> ".join([*stack[stack.index(target) :], target])
        if problem is not None:
            self.reading.problem(rel, number, problem)
        elif kind == "-r" and target not in self.seen:
            self.read(target, stack)


def _include_problem(root: Path, rel: str, kind: str, value: str) -> str | None:
    if not value:
        return f"{kind} without a file name"
    if "://" in value:
        return f"cannot audit a remote include: {value}"
    target = normalise(posixpath.join(posixpath.dirname(rel), value))
    absolute = posixpath.isabs(value.replace("\\", "/")) or re.match(r"^[A-Za-z]:", value)
    if absolute or target == ".." or target.startswith("../") or not inside(root, target):
        return f"include outside the repository: {value}"
    if not (root / target).is_file():
        return f"included file does not exist: {value}"
    return None
