"""secrets gate: detect-secrets plus mlgate's ML-platform token patterns, notebooks included.

What is scanned: every file of the repo (git-ignored files are already left out of
`repo.files`; `.mlgate.yml` `exclude` and this gate's `exclude` option leave out more),
except binary files and files over `max_file_bytes`. A notebook is read as JSON and its
cell sources and cell *outputs* (which detect-secrets does not read by itself) are written
to temporary text files, so a finding names the notebook, the cell and the line in it.

detect-secrets only reads files under its working directory (it drops any other path, even
with `--all-files`), so it runs twice at the same time: over the repo files with cwd = the
repo root, and over the notebook texts with cwd = the temporary directory.

A secret's value appears in no finding, note or error: detect-secrets reports a SHA-1 of
it, mlgate's own patterns run in-process, and findings carry only a redacted preview (the
first 4 characters then `…`). Fingerprints anchor on that SHA-1 and the path, never on a line.
"""

from __future__ import annotations

import bisect
import hashlib
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlgate.cache import make_key
from mlgate.findings import Finding, Severity, assign_fingerprints
from mlgate.gates.base import GateContext, GateInputs, GateResult
from mlgate.lifecycle import temp_dir
from mlgate.notebooks import Notebook, NotebookProblem, read_notebook, split_lines
from mlgate.repo import Repo, matches_any
from mlgate.tools import run_json_tool, tool_version, unscanned

NAME = "secrets"
TOOL = "detect-secrets"
OWN = "mlgate"
DEFAULT_MAX_FILE_BYTES = 5_000_000
SNIFF_BYTES = 8192
PREVIEW_CHARS = 4
WANDB_WINDOW = 200  # a 40-hex key counts as a W&B key when `wandb` is this close
TOOL_HOME = "https://github.com/Yelp/detect-secrets"
TOOL_SHAPE: Mapping[str, type] = {"version": str, "results": dict}  # what it always reports
# detect-secrets' inline suppressions, honoured by mlgate's own patterns as well.
ALLOW = "pragma: allowlist secret"
ALLOW_NEXT = "pragma: allowlist nextline secret"

CRITICAL_TYPES = frozenset(
    {
        "AWS Access Key",
        "Azure Storage Account access key",
        "IBM Cloud IAM Key",
        "IBM COS HMAC Credentials",
        "SoftLayer Credentials",
        "Private Key",
    }
)
# detect-secrets' heuristic detectors: frequent false positives (hashes, ids in outputs).
HEURISTIC_TYPES: Mapping[str, Severity] = {
    "Base64 High Entropy String": Severity.MEDIUM,
    "Hex High Entropy String": Severity.MEDIUM,
    "Public IP (ipv4)": Severity.LOW,
}
KEYWORD_TYPE = "Secret Keyword"
GENERIC_TYPES = frozenset({KEYWORD_TYPE, *HEURISTIC_TYPES})


def redact(value: str) -> str:
    """A preview that cannot be used: the first 4 characters (fewer for short values), then …"""
    shown = PREVIEW_CHARS if len(value) >= 4 * PREVIEW_CHARS else len(value) // 4
    return value[:shown] + "…"


def secret_hash(value: str) -> str:
    """The hash detect-secrets reports for a value (`hashed_secret`)."""
    return hashlib.sha1(value.encode("utf-8"), usedforsecurity=False).hexdigest()


# --- mlgate's own patterns ----------------------------------------------------------------
# Each regex is linear: a literal prefix, one bounded character class, and no nesting, so a
# 100 KB minified line costs one pass. Acceptance checks run only on matches.


@dataclass(frozen=True)
class TokenPattern:
    secret_type: str
    regex: re.Pattern[str]
    accept: Callable[[str, int, int], str | None]  # (text, start, end) -> type, or None


def _fixed(secret_type: str, length: int) -> Callable[[str, int, int], str | None]:
    def accept(text: str, start: int, end: int) -> str | None:
        return secret_type if end - start == length else None

    return accept


def _any(secret_type: str) -> Callable[[str, int, int], str | None]:
    def accept(text: str, start: int, end: int) -> str | None:
        return secret_type

    return accept


def _openai(text: str, start: int, end: int) -> str | None:
    value = text[start:end]
    body = value[3:]
    if not (any(c.isdigit() for c in body) and any(c.isupper() for c in body)):
        return None  # `sk-some-long-css-class-name`, not a key
    if not any(c.islower() for c in body):
        return None
    if value.startswith("sk-ant-"):
        return "Anthropic API Key"
    return "OpenAI Project API Key" if value.startswith("sk-proj-") else "OpenAI API Key"


def _wandb(text: str, start: int, end: int) -> str | None:
    if end - start != 40:
        return None
    window = text[max(0, start - WANDB_WINDOW) : end + WANDB_WINDOW].lower()
    return "Weights & Biases API Key" if "wandb" in window else None


PATTERNS: tuple[TokenPattern, ...] = (
    TokenPattern(
        "Hugging Face Token",
        re.compile(r"(?<![A-Za-z0-9_])hf_[A-Za-z0-9]{30,}"),
        _any("Hugging Face Token"),
    ),
    TokenPattern(
        "Databricks Token",
        re.compile(r"(?<![A-Za-z0-9])dapi[0-9a-f]{32,}"),
        _fixed("Databricks Token", 36),
    ),
    TokenPattern("OpenAI API Key", re.compile(r"(?<![A-Za-z0-9_-])sk-[A-Za-z0-9_-]{20,}"), _openai),
    TokenPattern("Weights & Biases API Key", re.compile(r"(?<![0-9a-f])[0-9a-f]{40,}"), _wandb),
)


# --- what is scanned ----------------------------------------------------------------------


@dataclass(frozen=True)
class Origin:
    """Where a line of a scanned text comes from."""

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


@dataclass
class Plan:
    """The files detect-secrets and the patterns read, and what was left out."""

    tmp: Path
    plain: list[str] = field(default_factory=list)  # repo files, relative to the root
    texts: dict[str, NotebookText] = field(default_factory=dict)  # temp file (relative) -> text
    too_large: list[str] = field(default_factory=list)
    binary: int = 0
    notes: list[str] = field(default_factory=list)


def notebook_texts(notebook: Notebook) -> tuple[NotebookText, NotebookText]:
    """(code cell sources, everything else: markdown/raw sources and every cell's outputs)."""
    code: list[tuple[str, Origin]] = []
    other: list[tuple[str, Origin]] = []
    for cell in notebook.cells:
        into = code if cell.is_code else other
        into += _origins(cell.index, "source", cell.source)
        other += _origins(cell.index, "output", cell.outputs)
    return _joined(notebook.path, code), _joined(notebook.path, other)


def _origins(cell: int, part: str, text: str) -> list[tuple[str, Origin]]:
    return [(t, Origin(cell, part, n)) for n, t in enumerate(split_lines(text), 1)]


def _joined(path: str, lines: Sequence[tuple[str, Origin]]) -> NotebookText:
    return NotebookText(path, "".join(t + "\n" for t, _ in lines), tuple(o for _, o in lines))


def plan_scan(root: Path, files: Sequence[str], max_bytes: int, tmp: Path) -> Plan:
    plan = Plan(tmp)
    for rel in files:
        if rel.endswith(".ipynb") and _add_notebook(plan, root, rel):
            continue
        kind = _file_kind(root / rel, max_bytes)
        if kind == "large":
            plan.too_large.append(rel)
        elif kind == "binary":
            plan.binary += 1
        elif kind == "text":
            plan.plain.append(rel)
    return plan


def _add_notebook(plan: Plan, root: Path, rel: str) -> bool:
    """Write the notebook's texts to the temp dir; False when it is not a readable notebook."""
    notebook = read_notebook(root, rel)
    if isinstance(notebook, NotebookProblem):
        plan.notes.append(f"{rel}: {notebook.message}; scanned as a plain file")
        return False
    for text, suffix in zip(notebook_texts(notebook), (".code.py", ".text.txt"), strict=True):
        if not text.origins:
            continue
        target = f"nb/{rel}{suffix}"
        full = plan.tmp / target
        full.parent.mkdir(parents=True, exist_ok=True)
        full.write_text(text.text, encoding="utf-8", errors="replace")
        plan.texts[target] = text
    return True


def _file_kind(path: Path, max_bytes: int) -> str:
    try:
        if path.stat().st_size > max_bytes:
            return "large"
        with path.open("rb") as handle:
            head = handle.read(SNIFF_BYTES)
    except OSError:
        return "unreadable"
    return "binary" if b"\0" in head else "text"


# --- hits: one detector's report of one secret at one place --------------------------------


@dataclass(frozen=True)
class Hit:
    path: str
    origin: Origin
    secret_type: str
    hashed: str
    preview: str | None
    tool: str

    @property
    def key(self) -> tuple[str, int | None, str | None, int | None, str]:
        """One finding per secret and line; per secret and cell in a notebook's outputs."""
        o = self.origin
        return (self.path, o.cell, o.part, None if o.part == "output" else o.line, self.hashed)


class Texts:
    """Reads scanned texts (repo files once each, notebook texts from memory) by line."""

    def __init__(self, root: Path, plan: Plan) -> None:
        self.root = root
        self.plan = plan
        self._lines: dict[str, list[str]] = {}

    def line(self, target: str, number: int) -> str:
        if target not in self._lines:
            self._lines[target] = split_lines(self.text(target))
        lines = self._lines[target]
        return lines[number - 1] if 1 <= number <= len(lines) else ""

    def text(self, target: str) -> str:
        known = self.plan.texts.get(target)
        if known is not None:
            return known.text
        try:
            with (self.root / target).open(encoding="utf-8", errors="replace") as handle:
                return handle.read()
        except OSError:
            return ""


def own_hits(plan: Plan, texts: Texts) -> list[Hit]:
    """mlgate's token patterns over every repo text file and every notebook text."""
    hits: list[Hit] = []
    for rel in plan.plain:
        hits += pattern_hits(rel, texts.text(rel), None)
    for text in plan.texts.values():
        hits += pattern_hits(text.path, text.text, text)
    return hits


def pattern_hits(path: str, text: str, notebook: NotebookText | None = None) -> Iterator[Hit]:
    """mlgate's token patterns over one text; a notebook text maps lines to cells."""
    starts: list[int] | None = None
    for pattern in PATTERNS:
        for match in pattern.regex.finditer(text):
            secret_type = pattern.accept(text, match.start(), match.end())
            if secret_type is None:
                continue
            if starts is None:
                starts = _line_starts(text)
            line = bisect.bisect_right(starts, match.start())
            if _allowlisted(text, starts, line):
                continue
            origin = notebook.locate(line) if notebook else Origin(None, None, line)
            if origin is not None:
                value = match.group(0)
                yield Hit(path, origin, secret_type, secret_hash(value), redact(value), OWN)


def _allowlisted(text: str, starts: Sequence[int], line: int) -> bool:
    """The line says `pragma: allowlist secret`, or the line before `... nextline secret`."""
    if ALLOW in _line_text(text, starts, line):
        return True
    return line > 1 and ALLOW_NEXT in _line_text(text, starts, line - 1)


def _line_text(text: str, starts: Sequence[int], line: int) -> str:
    end = starts[line] if line < len(starts) else len(text)
    return text[starts[line - 1] : end]


def _line_starts(text: str) -> list[int]:
    return [0, *(m.end() for m in re.finditer("\n", text))]


# --- detect-secrets -----------------------------------------------------------------------


def _run_detect_secrets(
    ctx: GateContext, targets: Sequence[str], cwd: Path
) -> tuple[list[tuple[str, int, str, str]], list[str]]:
    """(file, line, type, hashed secret) of each secret detect-secrets found, and errors."""
    if not targets:
        return [], []
    argv = [TOOL, "scan", "--all-files"]
    for plugin in ctx.option("disable_plugins", []):
        argv += ["--disable-plugin", str(plugin)]
    report = run_json_tool(argv, targets, ctx.timeout, TOOL_SHAPE, cwd=cwd)
    if not report.ok:
        return [], [f"{TOOL}: {report.problem}"]
    results = report.data["results"]
    strangers = unscanned(results, targets)
    if strangers:
        return [], [f"{TOOL}: its report names files it was not given: {', '.join(strangers[:5])}"]
    return list(_reported(results)), []


def _reported(results: Mapping[str, Any]) -> Iterator[tuple[str, int, str, str]]:
    for filename, items in results.items():
        for item in items if isinstance(items, list) else []:
            line = item.get("line_number") if isinstance(item, dict) else None
            if isinstance(line, int):
                path = str(filename).replace("\\", "/")
                yield (
                    path,
                    line,
                    str(item.get("type", "secret")),
                    str(item.get("hashed_secret", "")),
                )


def tool_hits(reported: Iterable[tuple[str, int, str, str]], plan: Plan, texts: Texts) -> list[Hit]:
    hits: list[Hit] = []
    for target, line, secret_type, hashed in reported:
        notebook = plan.texts.get(target)
        origin = notebook.locate(line) if notebook else Origin(None, None, line)
        if origin is None:
            continue
        path = notebook.path if notebook else target
        preview = preview_for(texts.line(target, line), hashed)
        hits.append(Hit(path, origin, secret_type, hashed, preview, TOOL))
    return hits


_QUOTED = re.compile(r"\"([^\"\n]*)\"|'([^'\n]*)'|`([^`\n]*)`")
_TOKENISERS = (
    re.compile(r"[^\s\"'`]+"),
    re.compile(r"[^\s\"'`=:,;()\[\]{}<>]+"),
    re.compile(r"[^\s\"'`=:,;()\[\]{}<>@/]+"),
    re.compile(r"BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?|PuTTY-User-Key-File-[23]"),
    re.compile(r"(?:A3T[A-Z0-9]|ABIA|ACCA|AKIA|ASIA)[0-9A-Z]{16}"),
)


def preview_for(line: str, hashed: str) -> str | None:
    """The redacted preview of the value on `line` whose SHA-1 detect-secrets reported."""
    for candidate in _candidates(line):
        if secret_hash(candidate) == hashed:
            return redact(candidate)
    return None


def _candidates(line: str) -> Iterator[str]:
    for match in _QUOTED.finditer(line):
        yield next(g for g in match.groups() if g is not None)
    for tokeniser in _TOKENISERS:
        yield from tokeniser.findall(line)


# --- findings -----------------------------------------------------------------------------


def merge_hits(hits: Sequence[Hit]) -> list[Finding]:
    """One finding per secret and place; the most specific detector names it."""
    groups: dict[tuple[str, int | None, str | None, int | None, str], list[Hit]] = {}
    for hit in sorted(hits, key=_order):
        groups.setdefault(hit.key, []).append(hit)
    findings = [_finding(group) for group in groups.values()]
    anchors = {i: str(f.properties["hashed"]) for i, f in enumerate(findings)}
    fingerprinted = assign_fingerprints(findings, anchors)
    return [f.with_changes(properties=_public(f.properties)) for f in fingerprinted]


def _order(hit: Hit) -> tuple[str, int, str, int]:
    cell = hit.origin.cell
    return (hit.path, -1 if cell is None else cell, hit.origin.part or "", hit.origin.line)


def _public(properties: Mapping[str, Any]) -> dict[str, Any]:
    """Drop the hash from the report: a SHA-1 of a short password can be brute-forced."""
    return {k: v for k, v in properties.items() if k != "hashed"}


def _rank(hit: Hit) -> tuple[int, bool, bool]:
    return (_severity(hit.secret_type).rank, hit.secret_type not in GENERIC_TYPES, hit.tool == OWN)


def _finding(group: Sequence[Hit]) -> Finding:
    primary = max(group, key=_rank)
    mine = _label(primary)
    others = dict.fromkeys(_label(h) for h in group if _label(h) != mine)
    preview = next((h.preview for h in group if h.preview), None)
    origin = primary.origin
    return Finding(
        gate=NAME,
        tool=primary.tool,
        rule_id=primary.secret_type,
        severity=_severity(primary.secret_type),
        confidence=_confidence(primary),
        message=_message(primary.secret_type, preview, origin),
        path=primary.path,
        line=origin.line,
        cell=origin.cell,
        cwe="CWE-200" if origin.part == "output" else "CWE-798",
        help_uri=TOOL_HOME if primary.tool == TOOL else None,
        also_reported_by=tuple(others),
        properties=_properties(primary, preview),
    )


def _label(hit: Hit) -> str:
    return f"{hit.tool}:{hit.secret_type}"


def _properties(hit: Hit, preview: str | None) -> dict[str, Any]:
    props: dict[str, Any] = {"preview": preview, "hashed": hit.hashed}
    if hit.origin.part is not None:
        props["notebook_part"] = hit.origin.part
    return props


def _severity(secret_type: str) -> Severity:
    if secret_type in CRITICAL_TYPES:
        return Severity.CRITICAL
    return HEURISTIC_TYPES.get(secret_type, Severity.HIGH)


def _confidence(hit: Hit) -> str:
    if hit.secret_type in HEURISTIC_TYPES:
        return "low"
    return "medium" if hit.secret_type == KEYWORD_TYPE else "high"


def _message(secret_type: str, preview: str | None, origin: Origin) -> str:
    shown = f" ({preview})" if preview else " (value redacted)"
    if origin.part == "output":
        return (
            f"{secret_type}{shown} in the output of cell {origin.cell}, line {origin.line}: revoke "
            "and rotate it, clear the notebook's outputs and remove it from the git history"
        )
    where = f" in cell {origin.cell}" if origin.cell is not None else ""
    return (
        f"{secret_type}{shown}{where}: revoke and rotate it, load it from the environment or "
        "a secret store, and remove it from the git history"
    )


# --- the gate -----------------------------------------------------------------------------


class SecretsGate:
    name = NAME
    summary = "detect-secrets and ML-platform token patterns over files and notebook outputs"
    options_schema: Mapping[str, Any] = {
        "exclude": {"type": "array", "items": {"type": "string", "minLength": 1}},
        "max_file_bytes": {"type": "integer", "minimum": 1},
        "disable_plugins": {
            "type": "array",
            "items": {"type": "string", "pattern": "^[A-Za-z0-9]+$"},
        },
    }

    cache_scope = "file"  # a finding belongs to the file it is in

    def cache_salt(self, ctx: GateContext) -> str:
        """mlgate's own patterns and severities: editing them invalidates cached results."""
        patterns = [p.regex.pattern for p in PATTERNS]
        return make_key(patterns, sorted(CRITICAL_TYPES), dict(HEURISTIC_TYPES), WANDB_WINDOW)

    def inputs(self, repo: Repo, options: Mapping[str, Any]) -> GateInputs:
        exclude = tuple(str(p) for p in options.get("exclude") or ())
        files = tuple(f for f in repo.files if not matches_any(f, exclude))
        return GateInputs(files=files, options=dict(options))

    def tool_versions(self) -> Mapping[str, str | None]:
        return {TOOL: tool_version(TOOL, TOOL)}

    def run(self, ctx: GateContext) -> GateResult:
        started = time.monotonic()
        if not ctx.inputs.files:
            return GateResult(NAME, skipped="no files to scan", tools=self.tool_versions())
        max_bytes = int(ctx.option("max_file_bytes", DEFAULT_MAX_FILE_BYTES))
        with temp_dir("mlgate-secrets-") as tmp:
            plan = plan_scan(ctx.root, ctx.inputs.files, max_bytes, Path(tmp).resolve())
            hits, errors = _scan(ctx, plan)
        return GateResult(
            NAME,
            findings=tuple(merge_hits(hits)),
            errors=tuple(errors),
            tools=self.tool_versions(),
            seconds=time.monotonic() - started,
            files_scanned=len(plan.plain) + len({t.path for t in plan.texts.values()}),
            notes=tuple(_notes(plan, max_bytes)),
            properties={"notebook_texts": len(plan.texts)},
        )


def _scan(ctx: GateContext, plan: Plan) -> tuple[list[Hit], list[str]]:
    """detect-secrets (two runs at once, see the module doc) and mlgate's patterns."""
    texts = Texts(ctx.root, plan)
    with ThreadPoolExecutor(max_workers=2) as pool:
        in_repo = pool.submit(_run_detect_secrets, ctx, plan.plain, ctx.root)
        in_notebooks = pool.submit(_run_detect_secrets, ctx, list(plan.texts), plan.tmp)
        hits = own_hits(plan, texts)
        repo_found, repo_errors = in_repo.result()
        nb_found, nb_errors = in_notebooks.result()
    hits += tool_hits([*repo_found, *nb_found], plan, texts)
    errors = [_renamed(e, plan) for e in repo_errors + nb_errors]
    return hits, errors


def _renamed(error: str, plan: Plan) -> str:
    """A tool's error with temporary paths named by their notebooks."""
    for target, text in plan.texts.items():
        error = error.replace(str(plan.tmp / target), text.path).replace(target, text.path)
    return error


def _notes(plan: Plan, max_bytes: int) -> list[str]:
    notes = list(plan.notes)
    if plan.too_large:
        shown = ", ".join(plan.too_large[:5]) + (", ..." if len(plan.too_large) > 5 else "")
        notes.append(
            f"{len(plan.too_large)} file(s) larger than {max_bytes} bytes not scanned "
            f"(option max_file_bytes): {shown}"
        )
    if plan.binary:
        notes.append(f"{plan.binary} binary file(s) not scanned")
    return notes
