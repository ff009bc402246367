"""Jupyter notebooks read as JSON: cells, sources and outputs. Never executed, never imported.

`read_notebook` returns a `Notebook` or a `NotebookProblem` (callers turn a problem into a
finding). `Notebook.code_text()` joins the code cells into one Python text that static
analysers can parse: IPython syntax (magics, `!shell` lines, `obj?` help) is replaced by
no-ops that keep indentation and line numbers, and a line map leads every joined line back
to its cell and its line inside the cell. `pip install` lines are collected on the way.
"""

from __future__ import annotations

import ast
import json
import re
import shlex
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlgate.secretpatterns import DATA_URI

MAX_NOTEBOOK_BYTES = 128 * 1024 * 1024
NOOP = "pass"
# Cell magics whose body is Python: the `%%` line is neutralised, the body analysed.
PYTHON_LANGUAGES = frozenset({"python", "python3", "python2", "ipython", "ipython3", "pyspark"})
PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun", "debug", "python", "python3"})
# Cell magics whose body is shell: blanked, but their `pip install` lines are collected.
SHELL_CELL_MAGICS = frozenset({"bash", "sh", "script", "system"})
# Line magics whose argument is a Python statement (`%time model = torch.load(p)`).
CODE_LINE_MAGICS = frozenset({"time", "timeit", "prun"})
VALUE_OPTIONS = frozenset(
    {
        "-r", "--requirement", "-c", "--constraint", "-e", "--editable", "-i", "--index-url",
        "--extra-index-url", "-f", "--find-links", "-t", "--target", "--prefix", "--root",
        "--src", "--platform", "--python-version", "--implementation", "--abi", "--log",
        "--upgrade-strategy", "--cache-dir", "--trusted-host", "--proxy", "--timeout",
        "--retries", "--no-binary", "--only-binary", "-C", "--config-settings", "--report",
        "--progress-bar", "--python",
    }
)  # fmt: skip

_HELP = re.compile(r"\?{1,2}[A-Za-z_*][\w.*]*|[A-Za-z_*][\w.*]*(?:\(\))?\?{1,2}")
_ESCAPE_ASSIGN = re.compile(r"[A-Za-z_][\w.]*(?:\s*,\s*[A-Za-z_][\w.]*)*\s*=\s*(?=[!%])")
_PIP = re.compile(r"(?<![\w-])pip[\d.]*\s+install(?![\w-])")
_SHELL_END = re.compile(r"&&|\|\||[;|]|\s#")
_REDIRECT = re.compile(r"^\d*>|^<|&")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_GIT_PINNED = re.compile(r"@[0-9a-f]{40}(?:#|$)")


@dataclass(frozen=True)
class NotebookProblem:
    """A file named `.ipynb` that is not a notebook mlgate can read (invalid JSON, not v4)."""

    path: str
    message: str


@dataclass(frozen=True)
class Cell:
    index: int  # counts every cell (code, markdown, raw), from 0
    cell_type: str
    source: str
    outputs: str  # the text of the cell's outputs: streams, text/*, error tracebacks

    @property
    def is_code(self) -> bool:
        return self.cell_type == "code"


@dataclass(frozen=True)
class PipInstall:
    """A `!pip install` / `%pip install` (or a `pip install` in a `%%bash` cell)."""

    cell: int
    line: int  # 1-based, inside the cell
    text: str  # the line as written (continuation lines joined)
    packages: tuple[str, ...]  # the requirement specifiers it names, quotes removed

    def unpinned(self) -> tuple[str, ...]:
        """The specifiers that do not pin one exact version (`pkg==X`)."""
        return tuple(p for p in self.packages if not is_pinned(p))


@dataclass(frozen=True)
class CellSyntaxError:
    """A code cell that is not Python even after IPython syntax is neutralised (blanked)."""

    cell: int
    line: int | None  # 1-based, inside the cell
    message: str


@dataclass(frozen=True)
class CodeText:
    """The code cells as one Python text, and where each of its lines comes from."""

    text: str
    lines: tuple[tuple[int, int], ...]  # joined line n (1-based) -> lines[n - 1] = (cell, line)
    pip_installs: tuple[PipInstall, ...]
    syntax_errors: tuple[CellSyntaxError, ...]

    def locate(self, line: int | None) -> tuple[int, int] | None:
        """(cell index, line inside the cell) of a joined line, or None when out of range."""
        if line is None or line < 1 or line > len(self.lines):
            return None
        return self.lines[line - 1]


@dataclass(frozen=True)
class Notebook:
    path: str  # repo-relative, POSIX
    cells: tuple[Cell, ...]
    language: str = "python"  # the kernel's language, lower case

    @property
    def is_python(self) -> bool:
        return self.language in PYTHON_LANGUAGES

    def code_text(self) -> CodeText:
        """The code cells as one Python text (empty for a notebook in another language)."""
        parts: list[str] = []
        line_map: list[tuple[int, int]] = []
        pips: list[PipInstall] = []
        errors: list[CellSyntaxError] = []
        for cell in self.cells:
            if not cell.is_code or not self.is_python:
                continue
            converted = python_lines(cell)
            pips += converted.pip_installs
            errors += converted.syntax_errors
            parts += [line + "\n" for line in converted.lines]
            line_map += [(cell.index, n) for n in range(1, len(converted.lines) + 1)]
        return CodeText("".join(parts), tuple(line_map), tuple(pips), tuple(errors))


# --- what a scanner reads in place of a notebook ------------------------------------------
# sast reads the code cells as one Python text (`Notebook.code_text`, IPython syntax
# neutralised); secrets reads the sources and the outputs (`notebook_texts`). Both write the
# text to a temporary file (`write_for_scan`) and lead each finding back to its cell.


@dataclass(frozen=True)
class Origin:
    """Where a line of a scanned text comes from (a plain file's line: no cell, no part)."""

    cell: int | None
    part: str | None  # "source" or "output" in a notebook
    line: int


@dataclass(frozen=True)
class NotebookText:
    """A notebook's sources or outputs as one text, with each line's origin."""

    path: str
    text: str
    origins: tuple[Origin, ...]

    def locate(self, line: int) -> Origin | None:
        return self.origins[line - 1] if 1 <= line <= len(self.origins) else None


def notebook_texts(notebook: Notebook) -> tuple[NotebookText, NotebookText]:
    """(code cell sources, everything else: markdown/raw sources and every cell's outputs)."""
    code: list[tuple[str, Origin]] = []
    other: list[tuple[str, Origin]] = []
    for cell in notebook.cells:
        into = code if cell.is_code else other
        into += _origins(cell.index, "source", cell.source)
        other += _origins(cell.index, "output", DATA_URI.sub("data:…", cell.outputs))
    return _joined(notebook.path, code), _joined(notebook.path, other)


def _origins(cell: int, part: str, text: str) -> list[tuple[str, Origin]]:
    return [(t, Origin(cell, part, n)) for n, t in enumerate(split_lines(text), 1)]


def _joined(path: str, lines: Sequence[tuple[str, Origin]]) -> NotebookText:
    return NotebookText(path, "".join(t + "\n" for t, _ in lines), tuple(o for _, o in lines))


def write_for_scan(target: Path, text: str) -> None:
    """Write a notebook's text where a scanner will read it (unencodable characters, such as
    lone surrogates from JSON escapes, replaced)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8", errors="replace")


def split_lines(text: str) -> list[str]:
    """Lines as Python's tokenizer and file reading count them (only \\n, \\r\\n, \\r end one)."""
    if "\r" in text:  # str.split, not a regex: notebooks hold megabytes of outputs
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines


# --- reading ------------------------------------------------------------------------------


def read_notebook(root: Path, relpath: str) -> Notebook | NotebookProblem:
    """Parse `root/relpath` as an nbformat 4 notebook; never raises for a bad file."""
    try:
        raw = _read_bytes(root / relpath)
        data = json.loads(raw.decode("utf-8"))
    except _ReadError as exc:
        return NotebookProblem(relpath, str(exc))
    except OSError as exc:
        return NotebookProblem(relpath, f"cannot be read: {exc.strerror or exc}")
    except UnicodeDecodeError as exc:
        return NotebookProblem(relpath, f"not UTF-8 (byte {exc.start})")
    except json.JSONDecodeError as exc:
        return NotebookProblem(
            relpath, f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        )
    except RecursionError:
        return NotebookProblem(relpath, "not valid JSON: nested too deeply")
    try:
        return Notebook(relpath, tuple(_cells(data)), _language(data))
    except _ReadError as exc:
        return NotebookProblem(relpath, str(exc))


class _ReadError(Exception):
    """Why a file is not a readable notebook; the message never quotes the file's content."""


def _read_bytes(path: Path) -> bytes:
    if path.stat().st_size > MAX_NOTEBOOK_BYTES:
        raise _ReadError(f"larger than {MAX_NOTEBOOK_BYTES // (1024 * 1024)} MiB; not read")
    return path.read_bytes()


def _cells(data: Any) -> Iterator[Cell]:
    if not isinstance(data, dict):
        raise _ReadError("not a notebook: the JSON document is not an object")
    version = data.get("nbformat")
    if version != 4:
        shown = version if isinstance(version, int) else "missing"
        raise _ReadError(
            f"nbformat {shown} is not supported (only nbformat 4); "
            "convert it with `jupyter nbconvert --to notebook`"
        )
    cells = data.get("cells")
    if not isinstance(cells, list):
        raise _ReadError("not a notebook: `cells` is not a list")
    for index, cell in enumerate(cells):
        yield _cell(index, cell)


def _language(data: Mapping[str, Any]) -> str:
    """`metadata.language_info.name`, else `metadata.kernelspec.language`, else python."""
    meta = data.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    for section, key in (("language_info", "name"), ("kernelspec", "language")):
        value = meta.get(section)
        if isinstance(value, dict) and isinstance(value.get(key), str) and value[key].strip():
            return str(value[key]).strip().lower()
    return "python"


def _cell(index: int, cell: Any) -> Cell:
    if not isinstance(cell, dict):
        raise _ReadError(f"cell {index} is not an object")
    source = _multiline(cell.get("source", ""))
    if source is None:
        raise _ReadError(f"cell {index}: `source` is not a string or a list of strings")
    outputs = cell.get("outputs")
    text = _outputs_text(outputs) if isinstance(outputs, list) else ""
    return Cell(index, str(cell.get("cell_type", "")), source, text)


def _multiline(value: Any) -> str | None:
    """nbformat's multiline string: a string, or a list of strings to concatenate."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "".join(value)
    return None


def _outputs_text(outputs: Sequence[Any]) -> str:
    texts = [_output_text(o) for o in outputs if isinstance(o, dict)]
    return "".join(t if t.endswith("\n") else t + "\n" for t in texts if t)


def _output_text(output: Mapping[str, Any]) -> str:
    kind = output.get("output_type")
    if kind == "stream":
        return _multiline(output.get("text", "")) or ""
    if kind == "error":
        lines = output.get("traceback")
        if isinstance(lines, list) and lines:
            return _ANSI.sub("", "\n".join(str(x) for x in lines))
        return f"{output.get('ename', '')}: {output.get('evalue', '')}"
    data = output.get("data")
    if not isinstance(data, dict):
        return ""
    texts = [_multiline(v) for k, v in sorted(data.items()) if str(k).startswith("text/")]
    return "\n".join(t for t in texts if t)


# --- code cells as Python -----------------------------------------------------------------


@dataclass(frozen=True)
class CellCode:
    """One code cell as Python: as many lines as the cell has."""

    lines: list[str]
    pip_installs: list[PipInstall]
    syntax_errors: list[CellSyntaxError]


def python_lines(cell: Cell) -> CellCode:
    """A code cell as Python lines (same count as the cell's lines), IPython syntax neutralised.

    A cell that parses as Python is used as it is. Otherwise its IPython syntax is replaced;
    a cell that still does not parse is blanked and reported as a syntax error.
    """
    lines = split_lines(cell.source)
    if _parses(cell.source) is None:
        return CellCode(lines, [], [])
    magic = _cell_magic(lines)
    if magic is not None and magic not in PYTHON_CELL_MAGICS:
        pips = _shell_pips(cell.index, lines) if magic in SHELL_CELL_MAGICS else []
        return CellCode([""] * len(lines), pips, [])
    converted, pips = _neutralise(cell.index, lines)
    problem = _parses("\n".join(converted) + "\n")
    if problem is None:
        return CellCode(converted, pips, [])
    message, line = problem
    return CellCode([""] * len(lines), pips, [CellSyntaxError(cell.index, line, message)])


def _parses(source: str) -> tuple[str, int | None] | None:
    """None when `source` parses as Python (parsed only, never compiled or run)."""
    try:
        ast.parse(source)
    except SyntaxError as exc:
        return f"{type(exc).__name__}: {exc.msg}", exc.lineno
    except (ValueError, RecursionError, MemoryError) as exc:
        return f"{type(exc).__name__}: cannot be parsed", None
    return None


def _cell_magic(lines: Sequence[str]) -> str | None:
    """The name of the cell magic (`%%bash` -> 'bash') on the cell's first non-blank line."""
    for line in lines:
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("%%"):
            return stripped[2:].split(maxsplit=1)[0] if len(stripped) > 2 else ""
        return None
    return None


def _neutralise(cell: int, lines: Sequence[str]) -> tuple[list[str], list[PipInstall]]:
    out: list[str] = []
    pips: list[PipInstall] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        body = line.lstrip()
        indent = line[: len(line) - len(body)]
        command = _escaped_command(body)
        if command is None:
            out.append(line)
            index += 1
            continue
        span = _continued(lines, index)
        logical = " ".join(
            x.rstrip().removesuffix("\\") for x in [command, *lines[index + 1 : span]]
        )
        out.append(indent + _replacement(body, logical))
        out += [""] * (span - index - 1)
        pip = _pip_install(cell, index + 1, line.strip(), logical)
        if pip is not None:
            pips.append(pip)
        index = span
    return out, pips


def _escaped_command(body: str) -> str | None:
    """The IPython command of a line (`%pip install x` -> 'pip install x'), None for Python."""
    if body.startswith(("%", "!")):
        return body.lstrip("%!")
    assigned = _ESCAPE_ASSIGN.match(body)
    if assigned is not None:
        return body[assigned.end() :].lstrip("%!")
    if _HELP.fullmatch(body.rstrip()):
        return ""
    return None


def _continued(lines: Sequence[str], index: int) -> int:
    """The index after the last line of the escaped command that starts at `index`."""
    end = index + 1
    while lines[end - 1].rstrip().endswith("\\") and end < len(lines):
        end += 1
    return end


def _replacement(body: str, command: str) -> str:
    """`pass`, or `pass;` plus the statement of a code-running line magic, same columns."""
    name, _, rest = command.partition(" ")
    if not body.startswith("%") or body.startswith("%%") or name not in CODE_LINE_MAGICS:
        return NOOP
    statement = _strip_options(rest)
    prefix_width = len(body) - len(statement)
    if not statement.strip() or prefix_width <= len(NOOP) + 1:
        return NOOP
    rewritten = f"{NOOP};".ljust(prefix_width) + statement
    return rewritten if _parses(rewritten) is None else NOOP


def _strip_options(text: str) -> str:
    """`-n 10 -r 3 f(x)` -> `f(x)`: drop leading `-x` options of %timeit/%prun and their values."""
    rest = text.lstrip()
    while rest.startswith("-"):
        option, _, rest = rest.partition(" ")
        rest = rest.lstrip()
        if option[1:].isalpha() and rest[:1].isdigit():
            _, _, rest = rest.partition(" ")
            rest = rest.lstrip()
    return rest


# --- pip install --------------------------------------------------------------------------


def _shell_pips(cell: int, lines: Sequence[str]) -> list[PipInstall]:
    found: list[PipInstall] = []
    for number, line in enumerate(lines, 1):
        pip = _pip_install(cell, number, line.strip(), line)
        if pip is not None:
            found.append(pip)
    return found


def _pip_install(cell: int, line: int, text: str, command: str) -> PipInstall | None:
    """A PipInstall when `command` (a magic or shell command) runs `pip install`."""
    match = _PIP.search(command)
    if match is None:
        return None
    rest = command[match.end() :]
    end = _SHELL_END.search(rest)
    args = rest[: end.start()] if end else rest
    return PipInstall(cell, line, text, tuple(_requirements(args)))


def _requirements(args: str) -> Iterator[str]:
    try:
        tokens = shlex.split(args)
    except ValueError:
        tokens = [t.strip("'\"") for t in args.split()]
    skip = False
    for token in tokens:
        if skip:
            skip = False
        elif token in VALUE_OPTIONS:
            skip = True
        elif not token.startswith("-") and _is_requirement(token):
            yield token


def _is_requirement(token: str) -> bool:
    """A requirement specifier or VCS URL, not a local path, file or `{variable}`."""
    if any(c in token for c in "{}$") or _REDIRECT.search(token):
        return False
    if token.startswith("git+"):
        return True
    if "/" in token or "\\" in token or token.startswith((".", "~")):
        return False
    return _NAME.match(token) is not None


def is_pinned(spec: str) -> bool:
    """`pkg==1.2.3` (or a VCS URL at a full commit) pins one version; `pkg`, `pkg>=1` do not."""
    if spec.startswith("git+"):
        return _GIT_PINNED.search(spec) is not None
    _, sep, version = spec.partition("==")
    return bool(sep) and bool(version.strip(" =")) and "*" not in version and "," not in version


def package_name(spec: str) -> str:
    """The distribution name of a specifier (`Transformers[torch]>=4` -> 'transformers')."""
    if spec.startswith("git+"):
        return spec
    match = _NAME.match(spec)
    return match.group(0).lower() if match else spec
