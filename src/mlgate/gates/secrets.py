"""secrets gate: detect-secrets plus mlgate's ML-platform token patterns, notebooks included.

What is scanned: every file of the repo (git-ignored files are already left out of
`repo.files`; `.mlgate.yml` `exclude` and this gate's `exclude` option leave out more),
except binary files and files over `max_file_bytes`. A notebook is read as JSON and its
cell sources and cell *outputs* (which detect-secrets does not read by itself) are written
to temporary text files, so a finding names the notebook, the cell and the line in it.

detect-secrets only reads files under its working directory (it drops any other path, even
with `--all-files`), so it runs twice at the same time: over the repo files with cwd = the
repo root (started before the notebooks are read), and over the notebook texts with cwd =
the temporary directory.

A secret's value appears in no finding, note or error: detect-secrets reports a SHA-1 of
it, mlgate's own patterns run in-process, and findings carry only a redacted preview (the
first 4 characters then `…`). Fingerprints anchor on that SHA-1 and the path, never on a line.
"""

from __future__ import annotations

import base64
import bisect
import os
import re
import stat
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from mlgate.cache import make_key
from mlgate.findings import Finding, Severity, assign_fingerprints
from mlgate.gates.base import (
    Gate,
    GateContext,
    GateInputs,
    GateResult,
    OptionKinds,
    PipelineTraits,
    RuleInfo,
    ToolInfo,
    option,
    options_schema_of,
    parse_options,
    unreadable_findings,
)
from mlgate.lifecycle import temp_dir
from mlgate.repo import Repo, matches_any
from mlgate.secretpatterns import (
    ANTHROPIC_TYPE,
    AWS_KEY_ID,
    AWS_TYPE,
    DATA_URI,
    ENTROPY_TYPES,
    GENERIC_TYPES,
    GITHUB_PREFIXES,
    GITHUB_TYPE,
    HASH_CONTEXT,
    HASH_FILE_GLOBS,
    HEURISTIC_TYPES,
    HF_TYPE,
    KEYWORD_TYPE,
    PATTERNS,
    PLACEHOLDER_WORDS,
    PRIVATE_KEY_HEADER,
    WANDB_TYPE,
    WANDB_WINDOW,
    aws_key_id_ok,
    github_checksum_ok,
    hash_context,
    is_placeholder,
    openai_type,
    redact,
    secret_hash,
)
from mlgate.tools import run_json_tool, submit, tool_version, unscanned

if TYPE_CHECKING:  # at run time, imported by the requests that verify (http, ssl: 20 ms)
    import urllib.request

    from mlgate.notebooks import NotebookText, Origin

# The notebook reader is imported when the gate runs: a warm run that reuses every cached
# result never loads it (issue 16).
# ruff: noqa: PLC0415

NAME = "secrets"
TOOL = "detect-secrets"
OWN = "mlgate"
DEFAULT_MAX_FILE_BYTES = 5_000_000
SNIFF_BYTES = 8192
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


# --- what is scanned ----------------------------------------------------------------------


@dataclass
class Plan:
    """The files detect-secrets and the patterns read, and what was left out."""

    tmp: Path
    plain: list[str] = field(default_factory=list)  # repo files, relative to the root
    texts: dict[str, NotebookText] = field(default_factory=dict)  # temp file (relative) -> text
    too_large: list[str] = field(default_factory=list)
    binary: int = 0
    unreadable: list[str] = field(default_factory=list)  # permission denied: reported
    notes: list[str] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)  # type -> placeholder/digest hits


def sort_files(plan: Plan, root: Path, files: Iterable[str], max_bytes: int) -> None:
    """Each file into the plan as a text to scan, too large, binary or unreadable."""
    top = str(root)
    for rel in files:
        kind = _file_kind(os.path.join(top, rel), max_bytes)
        if kind == "large":
            plan.too_large.append(rel)
        elif kind == "binary":
            plan.binary += 1
        elif kind == "text":
            plan.plain.append(rel)
        else:
            plan.unreadable.append(rel)


def _add_notebook(plan: Plan, root: Path, rel: str) -> bool:
    """Write the notebook's texts to the temp dir; False when it is not a readable notebook."""
    from mlgate.notebooks import NotebookProblem, notebook_texts, read_notebook, write_for_scan

    notebook = read_notebook(root, rel)
    if isinstance(notebook, NotebookProblem):
        plan.notes.append(f"{rel}: {notebook.message}; scanned as a plain file")
        return False
    for text, suffix in zip(notebook_texts(notebook), (".code.py", ".text.txt"), strict=True):
        if not text.origins:
            continue
        target = f"nb/{rel}{suffix}"
        write_for_scan(plan.tmp / target, text.text)
        plan.texts[target] = text
    return True


def _file_kind(path: str, max_bytes: int) -> str:
    """One open, fstat and read (a run sorts every file before detect-secrets starts)."""
    try:
        fd = os.open(path, _SNIFF_FLAGS)
    except OSError:  # unreadable; too large first, as its size alone says
        return "large" if _size(path) > max_bytes else "unreadable"
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):  # a fifo or device: never handed to a scanner
            return "unreadable"
        if info.st_size > max_bytes:
            return "large"
        head = os.read(fd, SNIFF_BYTES)
    except OSError:
        return "unreadable"
    finally:
        os.close(fd)
    return "binary" if b"\0" in head else "text"


_SNIFF_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return -1


# --- hits: one detector's report of one secret at one place --------------------------------


@dataclass(frozen=True)
class Hit:
    path: str
    origin: Origin
    secret_type: str
    hashed: str
    preview: str | None
    tool: str
    value: str | None = field(default=None, repr=False, compare=False)  # never reported

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
            from mlgate.notebooks import split_lines

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
    from mlgate.notebooks import Origin

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
                yield Hit(path, origin, secret_type, secret_hash(value), redact(value), OWN, value)


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
    for plugin in SecretsOptions.of(ctx.inputs.options).disable_plugins:
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
    from mlgate.notebooks import Origin

    hits: list[Hit] = []
    for target, line, secret_type, hashed in reported:
        notebook = plan.texts.get(target)
        origin = notebook.locate(line) if notebook else Origin(None, None, line)
        if origin is None:
            continue
        path = notebook.path if notebook else target
        text = texts.line(target, line)
        value = value_for(text, hashed)
        if value is not None and not plausible(secret_type, value, path, text):
            plan.dropped[secret_type] = plan.dropped.get(secret_type, 0) + 1
            continue
        preview = redact(value) if value is not None else None
        hits.append(Hit(path, origin, secret_type, hashed, preview, TOOL, value))
    return hits


def plausible(secret_type: str, value: str, path: str, line: str) -> bool:
    """Whether a detect-secrets report survives mlgate's precise checks: provider formats
    (AWS key ids are base32 and not DNA; `sk-` keys have OpenAI's shapes), placeholders
    (`YOUR_API_KEY`, `<token>`, `changeme`), and digests (`sha256:`, `.dvc`, lock files)."""
    if is_placeholder(value):
        return False
    if secret_type == AWS_TYPE:
        return aws_key_id_ok(value)
    if "OpenAI" in secret_type:
        return openai_type(value) is not None
    if secret_type == GITHUB_TYPE and value[:4] in GITHUB_PREFIXES:
        return github_checksum_ok(value)
    if secret_type == KEYWORD_TYPE and _PLAIN_WORD.fullmatch(value.strip("`'\" ")):
        return False
    if secret_type in GENERIC_TYPES:
        return not hash_context(path, line)
    if secret_type == BASIC_AUTH_TYPE:
        return not _LOOPBACK_AUTH.search(line)
    return True


BASIC_AUTH_TYPE = "Basic Auth Credentials"
# `"secrets": "tools"`, `token: version`: a short lower-case word is a name, not a credential.
_PLAIN_WORD = re.compile(r"[a-z][a-z._-]{0,31}")
# `scheme://user:pass@localhost` or a loopback address: a local test service's login.
_LOOPBACK_AUTH = re.compile(
    r"://[^/\s:@]+:[^/\s@]+@(?:localhost|127(?:\.\d{1,3}){3}|\[::1\]|0\.0\.0\.0)(?![\w.-])"
)


_QUOTED = re.compile(r"\"([^\"\n]*)\"|'([^'\n]*)'|`([^`\n]*)`")
_TOKENISERS = (
    re.compile(r"[^\s\"'`]+"),
    re.compile(r"[^\s\"'`=:,;()\[\]{}<>]+"),
    re.compile(r"[^\s\"'`=:,;()\[\]{}<>@/]+"),
    PRIVATE_KEY_HEADER,
    AWS_KEY_ID,
)


def preview_for(line: str, hashed: str) -> str | None:
    """The redacted preview of the value on `line` whose SHA-1 detect-secrets reported."""
    value = value_for(line, hashed)
    return redact(value) if value is not None else None


def value_for(line: str, hashed: str) -> str | None:
    """The value on `line` whose SHA-1 detect-secrets reported (kept in memory only)."""
    for candidate in _candidates(line):
        if secret_hash(candidate) == hashed:
            return candidate
    return None


def _candidates(line: str) -> Iterator[str]:
    for match in _QUOTED.finditer(line):
        yield next(g for g in match.groups() if g is not None)
    for tokeniser in _TOKENISERS:
        yield from tokeniser.findall(line)


# --- findings -----------------------------------------------------------------------------


def merge_hits(hits: Sequence[Hit], verified: Mapping[str, str] | None = None) -> list[Finding]:
    """One finding per secret and place; the most specific detector names it.

    `verified` maps a secret's hash to what its provider said (`verify: true` only)."""
    groups: dict[tuple[str, int | None, str | None, int | None, str], list[Hit]] = {}
    for hit in sorted(hits, key=_order):
        groups.setdefault(hit.key, []).append(hit)
    findings = [_verified(_finding(group), verified or {}) for group in groups.values()]
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


def _verified(finding: Finding, verified: Mapping[str, str]) -> Finding:
    status = verified.get(str(finding.properties.get("hashed")))
    if status is None:
        return finding
    props = {**finding.properties, "verified": status}
    if status == ACTIVE:
        return finding.with_changes(
            severity=Severity.CRITICAL,
            message=finding.message + " (verified: the provider accepted it)",
            properties=props,
        )
    if status == INACTIVE:
        return finding.with_changes(
            severity=Severity.LOW,
            message=finding.message
            + " (verified: the provider rejected it, revoked or never valid)",
            properties=props,
        )
    return finding.with_changes(properties=props)


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
    if secret_type in HEURISTIC_TYPES:
        where = f" in cell {origin.cell} ({origin.part})" if origin.cell is not None else ""
        return (
            f"{secret_type}{shown}{where}: a heuristic match, often an id or a digest; if it is "
            "a credential, load it from the environment or a secret store (otherwise mark the "
            "line `# pragma: allowlist secret`)"
        )
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


# --- verification (opt-in: `verify: true`) ------------------------------------------------
# A candidate is sent to its provider only when the policy says `secrets: {options: {verify:
# true}}`: never by default, never in tests (they pass a fake opener). One read-only request
# per distinct secret; the value travels only in the request's auth header, over HTTPS.

ACTIVE, INACTIVE, UNKNOWN = "active", "inactive", "unknown"
VERIFY_TIMEOUT = 10.0
Opener = Callable[["urllib.request.Request", float], int]  # -> HTTP status


def verification_request(secret_type: str, value: str) -> urllib.request.Request | None:
    """The provider's read-only "who am I" request for a candidate, or None (no endpoint)."""
    import urllib.request

    if secret_type == HF_TYPE:
        return _get("https://huggingface.co/api/whoami-v2", {"Authorization": f"Bearer {value}"})
    if secret_type.startswith("GitHub"):
        return _get("https://api.github.com/rate_limit", {"Authorization": f"token {value}"})
    if secret_type.startswith("OpenAI"):
        return _get("https://api.openai.com/v1/models", {"Authorization": f"Bearer {value}"})
    if secret_type == ANTHROPIC_TYPE:
        headers = {"x-api-key": value, "anthropic-version": "2023-06-01"}
        return _get("https://api.anthropic.com/v1/models", headers)
    if secret_type == WANDB_TYPE:
        auth = base64.b64encode(f"api:{value}".encode()).decode("ascii")
        return urllib.request.Request(
            "https://api.wandb.ai/graphql",
            data=b'{"query": "{ viewer { id } }"}',
            headers={"Authorization": f"Basic {auth}", "Content-Type": "application/json"},
            method="POST",
        )
    return None


def _get(url: str, headers: Mapping[str, str]) -> urllib.request.Request:
    # Every URL is a constant https:// endpoint of a provider (`verification_request`).
    import urllib.request

    return urllib.request.Request(url, headers=dict(headers), method="GET")  # noqa: S310 # nosemgrep


def urlopen_status(request: urllib.request.Request, timeout: float) -> int:
    """The HTTP status of a verification request (the body is never read into a report)."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 # nosemgrep
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def verify_hits(hits: Sequence[Hit], opener: Opener = urlopen_status) -> dict[str, str]:
    """hash -> active/inactive/unknown for every distinct candidate that has an endpoint."""
    statuses: dict[str, str] = {}
    for hit in hits:
        if hit.value is None or hit.hashed in statuses:
            continue
        request = verification_request(hit.secret_type, hit.value)
        if request is None:
            continue
        try:
            code = opener(request, VERIFY_TIMEOUT)
        except (OSError, ValueError):
            statuses[hit.hashed] = UNKNOWN
            continue
        statuses[hit.hashed] = (
            ACTIVE if 200 <= code < 300 else INACTIVE if code in (401, 403) else UNKNOWN
        )
    return statuses


# --- the gate -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SecretsOptions:
    """The secrets gate's options, typed, with their defaults and schema in one place."""

    exclude: tuple[str, ...] = option(
        (), {"type": "array", "items": {"type": "string", "minLength": 1}}
    )
    max_file_bytes: int = option(DEFAULT_MAX_FILE_BYTES, {"type": "integer", "minimum": 1})
    disable_plugins: tuple[str, ...] = option(
        (), {"type": "array", "items": {"type": "string", "pattern": "^[A-Za-z0-9]+$"}}
    )
    verify: bool = option(False, {"type": "boolean"})
    # None: bare entropy hits stay `low` (reported, not blocking).
    entropy_severity: str | None = option(
        None, {"enum": ["critical", "high", "medium", "low", "info"]}
    )

    @classmethod
    def of(cls, options: Mapping[str, Any]) -> SecretsOptions:
        return parse_options(cls, options)


class SecretsGate(Gate):
    name = NAME
    summary = "detect-secrets and ML-platform token patterns over files and notebook outputs"
    tools = (ToolInfo(TOOL, TOOL, TOOL_HOME),)
    pipeline = PipelineTraits(shardable=True)
    gitlab_report = "sast"
    option_kinds = OptionKinds(growing_lists=("exclude", "disable_plugins"))
    options_schema: ClassVar[Mapping[str, Any]] = options_schema_of(SecretsOptions)

    cache_scope = "file"  # a finding belongs to the file it is in

    def cache_salt(self, ctx: GateContext) -> str:
        """mlgate's own patterns and severities: editing them invalidates cached results."""
        patterns = [p.regex.pattern for p in PATTERNS]
        filters = [PLACEHOLDER_WORDS, HASH_CONTEXT.pattern, HASH_FILE_GLOBS, DATA_URI.pattern]
        return make_key(
            patterns, sorted(CRITICAL_TYPES), dict(HEURISTIC_TYPES), WANDB_WINDOW, filters, 2
        )

    def rule(self, tool: str, rule_id: str) -> RuleInfo | None:
        """A secret type is a rule: a credential committed to the repository (CWE-798)."""
        known = super().rule(tool, rule_id)
        if known is not None or tool not in (TOOL, "mlgate"):
            return known
        severity = Severity.CRITICAL if rule_id in CRITICAL_TYPES else Severity.HIGH
        return RuleInfo(
            rule_id, f"{rule_id} committed to the repository", severity, "CWE-798", tool=tool
        )

    def inputs(self, repo: Repo, options: Mapping[str, Any]) -> GateInputs:
        exclude = SecretsOptions.of(options).exclude
        files = tuple(f for f in repo.files if not matches_any(f, exclude))
        return GateInputs(files=files, options=dict(options))

    def starts_tools(self, ctx: GateContext) -> bool:
        return bool(ctx.inputs.files)

    def tool_versions(self) -> Mapping[str, str | None]:
        return {TOOL: tool_version(TOOL, TOOL)}

    def run(self, ctx: GateContext) -> GateResult:
        started = time.monotonic()
        if not ctx.inputs.files:
            return GateResult(NAME, skipped="no files to scan", tools=self.tool_versions())
        options = SecretsOptions.of(ctx.inputs.options)
        max_bytes = options.max_file_bytes
        with temp_dir("mlgate-secrets-") as tmp:
            plan = Plan(Path(tmp).resolve())
            hits, errors = _scan(ctx, plan, max_bytes)
        verified = verify_hits(hits) if options.verify else None
        findings = [_entropy(f, options) for f in merge_hits(hits, verified)]
        unreadable = unreadable_findings(NAME, [*plan.unreadable, *ctx.repo.unreadable])
        findings += assign_fingerprints(unreadable, {})
        return GateResult(
            NAME,
            findings=tuple(findings),
            errors=tuple(errors),
            tools=self.tool_versions(),
            seconds=time.monotonic() - started,
            files_scanned=len(plan.plain) + len({t.path for t in plan.texts.values()}),
            notes=tuple(_notes(plan, max_bytes)),
            properties={"notebook_texts": len(plan.texts)},
        )


def _entropy(finding: Finding, options: SecretsOptions) -> Finding:
    """Bare entropy hits are `low` (reported, not blocking) unless `entropy_severity` says."""
    wanted = options.entropy_severity
    if wanted is None or finding.rule_id not in ENTROPY_TYPES:
        return finding
    return finding.with_changes(severity=Severity.parse(str(wanted)))


def _scan(ctx: GateContext, plan: Plan, max_bytes: int) -> tuple[list[Hit], list[str]]:
    """detect-secrets (two runs at once, see the module doc) and mlgate's patterns.

    The run over the repository's files starts as soon as they are sorted out; the notebooks
    are read, and their texts written, while it runs. A notebook that cannot be read as one
    is scanned as a plain file, by a third run (rare: a broken notebook)."""
    files = ctx.inputs.files
    notebooks = [rel for rel in files if rel.endswith(".ipynb")]
    sort_files(plan, ctx.root, (rel for rel in files if not rel.endswith(".ipynb")), max_bytes)
    with ThreadPoolExecutor(max_workers=3) as pool:
        in_repo = submit(pool, _run_detect_secrets, ctx, list(plan.plain), ctx.root)
        first_late = len(plan.plain)
        broken = [rel for rel in notebooks if not _add_notebook(plan, ctx.root, rel)]
        sort_files(plan, ctx.root, broken, max_bytes)
        late = plan.plain[first_late:]
        in_late = submit(pool, _run_detect_secrets, ctx, late, ctx.root)
        in_notebooks = submit(pool, _run_detect_secrets, ctx, list(plan.texts), plan.tmp)
        order = {rel: i for i, rel in enumerate(files)}
        plan.plain.sort(key=order.__getitem__)  # the repository's order, as before the split
        texts = Texts(ctx.root, plan)
        hits = own_hits(plan, texts)
        found: list[tuple[str, int, str, str]] = []
        errors: list[str] = []
        for job in (in_repo, in_late, in_notebooks):
            reported, problems = job.result()
            found += reported
            errors += problems
    hits += tool_hits(found, plan, texts)
    return hits, [_renamed(e, plan) for e in errors]


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
    if plan.dropped:
        counts = ", ".join(f"{n} {t}" for t, n in sorted(plan.dropped.items()))
        notes.append(f"not reported (placeholders, digests, impossible formats): {counts}")
    return notes
