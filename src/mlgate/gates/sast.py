"""sast gate: bandit and semgrep (with mlgate's ML rule pack) over the repo's Python code.

Notebooks are included: each `.ipynb` is read as JSON (never executed), its code cells are
joined into a temporary `.py` (IPython syntax neutralised, see `mlgate.notebooks`) that the
same bandit and semgrep runs scan, and every finding is led back to the notebook, its cell
and the line inside the cell. `pip install` magics without a pinned version are reported.

The two tools overlap. Where a rule-pack rule declares that it supersedes a bandit test
(`metadata.mlgate.supersedes_bandit`), the rule's precise semantics win: a bandit finding
of that test is kept only when the rule flags the same line, and then the two are shown
as one finding naming both tools.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import sys
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from mlgate import toolenv
from mlgate.cache import content_hash
from mlgate.deps.project import project_kind
from mlgate.deps.sources import is_dependency_file
from mlgate.errors import ConfigError
from mlgate.findings import Finding, Severity, assign_fingerprints, headline
from mlgate.gates.base import (
    UNREADABLE_RULE_INFO,
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
    split_readable,
    unreadable_findings,
)
from mlgate.lifecycle import temp_dir
from mlgate.repo import Repo, read_text
from mlgate.resources import rule_pack_dir
from mlgate.secretpatterns import redact
from mlgate.tools import (
    ToolRun,
    argument_batches,
    argument_budget,
    coverage_problem,
    json_output,
    merge_json,
    run_json_tool,
    run_tool,
    submit,
    tool_version,
)
from mlgate.yamlimport import yaml

if TYPE_CHECKING:
    from mlgate.notebooks import CellSyntaxError, CodeText, Notebook, NotebookProblem, PipInstall

# The scanning's own modules (notebooks, the rule-pack prefilter, the rule-file validator)
# are imported when the gate runs: a warm run that reuses every cached result never loads
# them (issue 16).
# ruff: noqa: PLC0415

NAME = "sast"
RULE_TITLE_WIDTH = 200
PYTHON_GLOBS = ("*.py",)
NOTEBOOK_GLOBS = ("*.ipynb",)
UNPINNED_PIP_RULE = "notebook-unpinned-pip-install"
NOTEBOOK_PARSE_RULE = "notebook-parse-error"
# bandit's hard-coded password tests quote the value in their message: it is redacted.
PASSWORD_TESTS = frozenset({"B105", "B106", "B107"})
_QUOTED_VALUE = re.compile(r"'(.*)'\Z", re.DOTALL)
# Seconds per rule and file. semgrep's default (5 s) drops a rule's results on a 30,000-line
# file (a big notebook) with only a warning; what still times out is reported as an error.
SEMGREP_RULE_TIMEOUT = 60
INCOMPLETE_ERRORS = frozenset({"Timeout", "OutOfMemory", "Out of memory", "StackOverflow"})
BANDIT_DEFAULT_SKIP = ("B101",)  # assert_used: noise in ML repos' tests and notebooks
# bandit silently leaves out files under `.eggs`, `.tox`, `*.egg`... even when named on the
# command line; an exclusion that matches nothing replaces its default list.
BANDIT_NO_EXCLUDE = "/dev/null/mlgate-excludes-nothing"
# What every real report of each tool has (checked before a word of it is believed).
BANDIT_SHAPE: Mapping[str, type] = {"results": list, "errors": list, "metrics": dict}
SEMGREP_SHAPE: Mapping[str, type] = {
    "results": list,
    "errors": list,
    "paths": dict,
    "paths.scanned": list,
}
# Set by inputs(): `library`, `locked` or `app` (see deps.project_kind). A rule-pack rule's
# `metadata.mlgate.severity_in_library` applies in a library (the caller decides there).
PROJECT_OPTION = "project_kind"
SEMGREP_NATIVE = "native"
SEMGREP_CLASSIC = "classic"
_SEMGREP_ENV = {"SEMGREP_ENABLE_VERSION_CHECK": "0", "SEMGREP_SEND_METRICS": "off"}


@dataclass(frozen=True)
class SastOptions:
    """The sast gate's options, typed, with their defaults and schema in one place."""

    bandit_skip: tuple[str, ...] = option(
        BANDIT_DEFAULT_SKIP,
        {"type": "array", "items": {"type": "string", "pattern": "^B[0-9]{3}$"}},
    )
    semgrep_rules: tuple[str, ...] = option((), {"type": "array", "items": {"type": "string"}})
    rule_pack: bool = option(True, {"type": "boolean"})
    prefer_rule_pack: bool = option(True, {"type": "boolean"})

    @classmethod
    def of(cls, ctx: GateContext) -> SastOptions:
        return parse_options(cls, ctx.inputs.options)


class SastGate(Gate):
    name = NAME
    summary = "bandit and semgrep (with mlgate's ML rule pack) over Python code and notebooks"
    tools = (
        ToolInfo("bandit", "bandit", "https://bandit.readthedocs.io/", "bandit_test_id"),
        ToolInfo("semgrep", "semgrep", "https://semgrep.dev/", "semgrep_id"),
    )
    rules = (
        UNREADABLE_RULE_INFO,
        RuleInfo(
            UNPINNED_PIP_RULE,
            "A notebook installs a package without pinning its version",
            Severity.MEDIUM,
            "CWE-829",
        ),
        RuleInfo(
            NOTEBOOK_PARSE_RULE, "A notebook or one of its cells could not be parsed", Severity.LOW
        ),
        RuleInfo("parse-error", "bandit could not analyse a file", Severity.LOW, tool="bandit"),
    )
    pipeline = PipelineTraits(shardable=True)
    gitlab_report = "sast"
    option_kinds = OptionKinds(
        paths={"semgrep_rules": "paths"}, growing_lists=("bandit_skip",), switches=("rule_pack",)
    )
    options_schema: ClassVar[Mapping[str, Any]] = options_schema_of(SastOptions)
    cache_scope = "file"  # a finding belongs to the file it is in
    heavy_preparation = True  # notebooks parsed and converted, rule files read

    def cache_salt(self, ctx: GateContext) -> str:
        """The rules in force: a rule edit invalidates cached results."""
        return content_hash(_semgrep_configs(ctx))

    def rule(self, tool: str, rule_id: str) -> RuleInfo | None:
        """mlgate's own rules, and those of its semgrep rule pack (read from the rule files)."""
        if tool == "semgrep":
            return rule_pack_catalogue().get(rule_id)
        return super().rule(tool, rule_id)

    def check_config(self, ctx: GateContext) -> None:
        """Before any gate runs: the repository's own semgrep rule files must parse and
        have the shape of semgrep rules (ConfigError, exit 2, naming file and line).
        Errors only semgrep itself finds (a pattern that does not parse) make the gate
        `error` when it runs, and then no bandit finding is dropped as superseded."""
        for config in SastOptions.of(ctx).semgrep_rules:
            check_rule_files(ctx.root / config)

    def inputs(self, repo: Repo, options: Mapping[str, Any]) -> GateInputs:
        files = tuple(repo.matching(PYTHON_GLOBS + NOTEBOOK_GLOBS))
        kind = project_kind(repo.root, [f for f in repo.files if is_dependency_file(f)])
        return GateInputs(files=files, options={**options, PROJECT_OPTION: kind})

    def starts_tools(self, ctx: GateContext) -> bool:
        return bool(ctx.inputs.files)

    def tool_versions(self) -> Mapping[str, str | None]:
        return {
            "bandit": tool_version("bandit", "bandit"),
            "semgrep": tool_version("semgrep", "semgrep"),
        }

    def run(self, ctx: GateContext) -> GateResult:
        started = time.monotonic()
        files = ctx.inputs.files
        if not files:
            return GateResult(
                NAME, skipped="no Python files or notebooks to scan", tools=self.tool_versions()
            )
        readable, unreadable = split_readable(ctx.root, files)
        python = [f for f in readable if not _is_notebook(f)]
        with temp_dir("mlgate-sast-") as tmp:
            notebooks = convert_notebooks(
                ctx.root, [f for f in readable if _is_notebook(f)], Path(tmp)
            )
            python = [notebooks.alias(ctx.root, f) for f in python]
            scan = _scan(ctx, [*python, *notebooks.targets])
        library = ctx.option(PROJECT_OPTION) == "library"
        merged = [_in_project(notebooks.map_back(f), library) for f in scan.findings]
        own = [*notebooks.findings, *unreadable_findings(NAME, [*unreadable, *ctx.repo.unreadable])]
        findings = _fingerprinted(ctx.root, [*merged, *own], notebooks.notebooks)
        notes = [*notebooks.notes, *(notebooks.rename(n) for n in scan.notes)]
        if scan.prefiltered:
            notes.append(
                f"semgrep skipped for {scan.prefiltered} file(s) by the literal prefilter: "
                "none has the names or strings any rule of the rule pack requires"
            )
        if scan.dropped:
            notes.append(
                f"{scan.dropped} bandit finding(s) not reported: a rule-pack rule with precise "
                "semantics covers that hazard and found the code safe"
            )
        return GateResult(
            NAME,
            findings=tuple(findings),
            errors=tuple(notebooks.rename(e) for e in scan.errors),
            tools=self.tool_versions(),
            seconds=time.monotonic() - started,
            files_scanned=len(files),
            notes=tuple(notes),
            properties={
                "suppressed_by_rule_pack": scan.dropped,
                "bandit_tests_left_to_rule_pack": scan.deferred,
                "bandit_rechecked_files": scan.rechecked,
                "notebooks": len(files) - len(python),
                "project": ctx.option(PROJECT_OPTION),
                "semgrep_prefiltered_files": scan.prefiltered,
                **({"semgrep_cli": scan.semgrep_cli} if scan.semgrep_cli else {}),
            },
        )


@dataclass
class _Scan:
    findings: list[Finding] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    dropped: int = 0
    semgrep_cli: str | None = None
    deferred: list[str] = field(default_factory=list)  # bandit tests left to the rule pack
    rechecked: int = 0  # files where bandit ran them after all (semgrep could not vouch)
    prefiltered: int = 0  # files semgrep was not started for: no rule can match them


def _scan(ctx: GateContext, targets: Sequence[str]) -> _Scan:
    """One bandit and one semgrep run over every target, merged into one finding per issue.

    bandit does not run the tests that a rule-pack rule supersedes (`-s`): the rule decides.
    Where semgrep cannot vouch for that (a file it did not scan completely, a rule it
    skipped, or no report at all), bandit runs those tests (`-t`) over the files concerned
    afterwards, and their findings are kept.
    """
    if not targets:
        return _Scan()
    configs = _semgrep_configs(ctx)
    options = SastOptions.of(ctx)
    superseded = _superseded_tests(configs) if options.prefer_rule_pack else {}
    skip = list(options.bandit_skip)
    deferred = sorted(set(superseded) - set(skip))
    with ThreadPoolExecutor(max_workers=2) as pool:
        # bandit first: the prefilter reads every target until one may match (issue 16)
        bandit_job = submit(pool, _run_bandit, ctx, targets, [*skip, *deferred])
        skipped = _prefiltered(ctx.root, targets, configs)
        semgrep_job = None if skipped else submit(pool, _run_semgrep, ctx, targets, configs)
        bandit_findings, bandit_errors, bandit_notes = bandit_job.result()
        semgrep = semgrep_job.result() if semgrep_job else _skipped_semgrep(targets)
    superseded = _ran(superseded, semgrep.skipped_rules)
    recheck = _unvouched(targets, deferred, superseded, semgrep.verified)
    if recheck:
        found, errors, _ = _run_bandit(ctx, recheck, [], only=deferred)
        bandit_findings, bandit_errors = bandit_findings + found, bandit_errors + errors
    merged, dropped = merge_tool_findings(
        bandit_findings, semgrep.findings, superseded, verified=semgrep.verified
    )
    errors = bandit_errors + semgrep.errors
    scan = _Scan(merged, errors, bandit_notes + semgrep.notes, dropped, semgrep.cli)
    scan.deferred, scan.rechecked = deferred, len(recheck)
    scan.prefiltered = len(targets) if skipped else 0
    return scan


def _prefiltered(root: Path, targets: Sequence[str], configs: Sequence[Path]) -> bool:
    """Whether semgrep need not run: only the rule pack is configured and no file has the
    literals any of its rules requires (`mlgate.rulepack_prefilter`). The files are read
    until the first one that may match; one that cannot be read may match."""
    if [c.resolve() for c in configs] != [rule_pack_dir().resolve()]:
        return False
    from mlgate.rulepack_prefilter import may_match, pack_filters

    filters = pack_filters(rule_pack_dir())
    if not filters:
        return False
    for target in targets:
        try:
            data = (root / target).read_bytes()
        except OSError:
            return False
        if may_match(filters, data):
            return False
    return True


def _skipped_semgrep(targets: Sequence[str]) -> _SemgrepScan:
    """semgrep's answer for files no rule can match: no finding, every file vouched for
    (no rule-pack rule matches there, so a bandit test it supersedes has nothing to add)."""
    return _SemgrepScan(verified=frozenset(_clean_path(t) for t in targets))


def _unvouched(
    targets: Sequence[str],
    deferred: Sequence[str],
    superseded: Mapping[str, frozenset[str]],
    verified: frozenset[str],
) -> list[str]:
    """The files where bandit must run the deferred tests after all: every file when a
    deferred test lost its rules (semgrep skipped them), else those semgrep did not scan
    completely (all of them when semgrep produced no report)."""
    if not deferred:
        return []
    if any(test not in superseded for test in deferred):
        return list(targets)
    return [t for t in targets if _clean_path(t) not in verified]


def _ran(
    superseded: Mapping[str, frozenset[str]], skipped: frozenset[str]
) -> dict[str, frozenset[str]]:
    """The supersession table without the rules semgrep skipped (they vouch for nothing)."""
    table = {test: rules - skipped for test, rules in superseded.items()}
    return {test: rules for test, rules in table.items() if rules}


def _is_notebook(path: str) -> bool:
    return path.endswith(".ipynb")


# --- bandit -------------------------------------------------------------------------------


def _run_bandit(
    ctx: GateContext, files: Sequence[str], skip: Sequence[str], only: Sequence[str] = ()
) -> tuple[list[Finding], list[str], list[str]]:
    """bandit over `files`, without the tests in `skip`, or (`only`) with just those tests."""
    argv = ["bandit", "-f", "json", "-q", "-x", BANDIT_NO_EXCLUDE]
    if only:
        argv += ["-t", ",".join(only)]
    elif skip:
        argv += ["-s", ",".join(skip)]
    report = run_json_tool(argv, files, ctx.timeout, BANDIT_SHAPE, cwd=ctx.root, ok_codes=(0, 1))
    if not report.ok:
        return [], [f"bandit: {report.problem}"], []
    data = report.data
    said = [*data["metrics"], *(str(e.get("filename", "")) for e in _objects(data["errors"]))]
    problem = coverage_problem("bandit", files, said)
    if problem is not None:
        return [], [problem], []
    findings = [_bandit_finding(item) for item in _objects(data["results"])]
    notes = [_bandit_error_note(item) for item in _objects(data["errors"])]
    parse_findings = [_parse_error_finding(item) for item in _objects(data["errors"])]
    return findings + parse_findings, [], notes


def _bandit_finding(item: Mapping[str, Any]) -> Finding:
    cwe = item.get("issue_cwe") or {}
    return Finding(
        gate=NAME,
        tool="bandit",
        rule_id=str(item.get("test_id", "bandit")),
        severity=Severity.parse(str(item.get("issue_severity", "low")), Severity.LOW),
        confidence=str(item.get("issue_confidence", "")).lower() or None,
        message=_bandit_message(str(item.get("test_id", "")), str(item.get("issue_text", ""))),
        path=_clean_path(str(item.get("filename", ""))),
        line=_int(item.get("line_number")),
        column=_column(item.get("col_offset")),
        end_line=_last(item.get("line_range")),
        cwe=f"CWE-{cwe['id']}" if cwe.get("id") else None,
        help_uri=item.get("more_info"),
    )


def _bandit_message(test_id: str, text: str) -> str:
    """bandit's message; a hard-coded password it quotes is redacted like the secrets gate does."""
    if test_id not in PASSWORD_TESTS:
        return text
    return _QUOTED_VALUE.sub(lambda m: f"'{redact(m.group(1))}'", text)


def _parse_error_finding(item: Mapping[str, Any]) -> Finding:
    return Finding(
        gate=NAME,
        tool="bandit",
        rule_id="parse-error",
        severity=Severity.LOW,
        confidence="high",
        message=f"could not be analysed: {item.get('reason', 'unknown error')} "
        "(the file is not valid Python 3 or not UTF-8)",
        path=_clean_path(str(item.get("filename", ""))),
    )


def _bandit_error_note(item: Mapping[str, Any]) -> str:
    return f"{_clean_path(str(item.get('filename', '')))}: bandit: {item.get('reason', '')}"


# --- semgrep ------------------------------------------------------------------------------


def _semgrep_configs(ctx: GateContext) -> list[Path]:
    options = SastOptions.of(ctx)
    configs = [rule_pack_dir()] if options.rule_pack else []
    configs += [ctx.root / p for p in options.semgrep_rules]
    return configs


_PATTERN_KEYS = ("pattern", "patterns", "pattern-either", "pattern-regex", "match", "taint")
RULES_SCHEMA: Mapping[str, Any] = {
    "type": "object",
    "required": ["rules"],
    "properties": {
        "rules": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "message", "languages", "severity"],
                "properties": {
                    "id": {"type": "string", "minLength": 1},
                    "message": {"type": "string"},
                    "languages": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                    "severity": {"type": "string"},
                },
                "anyOf": [
                    *({"required": [key]} for key in _PATTERN_KEYS),
                    {"required": ["pattern-sources", "pattern-sinks"]},
                ],
            },
        }
    },
}


def check_rule_files(config: Path) -> None:
    """A rule file, or every `*.yml`/`*.yaml` of a rule directory, as semgrep reads them."""
    from mlgate.yamlfile import load_yaml, validate

    if not config.exists():
        raise ConfigError(f"{config}: semgrep rules: no such file or directory")
    paths = sorted(config.rglob("*.y*ml")) if config.is_dir() else [config]
    for path in paths:
        if path.suffix in (".yml", ".yaml") and not path.name.endswith(".test.yaml"):
            validate(load_yaml(path), RULES_SCHEMA, "semgrep rules")


def _run_semgrep(ctx: GateContext, files: Sequence[str], configs: Sequence[Path]) -> _SemgrepScan:
    """Findings, errors, the files semgrep demonstrably scanned completely, and which of
    semgrep's command lines ran."""
    if not configs:
        return _SemgrepScan()
    missing = [str(c) for c in configs if not c.exists()]
    if missing:
        return _SemgrepScan(errors=[f"semgrep: rule file not found: {', '.join(missing)}"])
    run = _semgrep_batches(ctx, files, configs)
    if isinstance(run.data, str):
        return _SemgrepScan(errors=[f"semgrep: {run.data}"], cli=run.cli, notes=list(run.notes))
    data = run.data
    scanned = [str(p) for p in data["paths"]["scanned"]]
    problem = coverage_problem("semgrep", files, scanned)
    if problem is not None:
        return _SemgrepScan(errors=[problem], cli=run.cli, notes=list(run.notes))
    reported = _objects(data["errors"])
    errors = [
        f"semgrep: {err.get('message', err)}"
        for err in reported
        if str(err.get("level", "error")).lower() == "error" and not _is_target_error(err)
    ]
    partial = [e for e in reported if str(e.get("type", "")) in INCOMPLETE_ERRORS]
    errors += [_incomplete_error(e) for e in partial if _incomplete_error(e) not in errors]
    troubled = {_clean_path(str(e.get("path"))) for e in reported if e.get("path")}
    return _SemgrepScan(
        findings=[_semgrep_finding(item) for item in _objects(data["results"])],
        errors=errors,
        verified=frozenset(_clean_path(p) for p in scanned) - troubled,
        skipped_rules=frozenset(_skipped_rules(data)),
        cli=run.cli,
        notes=list(run.notes),
    )


def _semgrep_batches(
    ctx: GateContext, files: Sequence[str], configs: Sequence[Path]
) -> SemgrepJson:
    """semgrep over every file, in as many runs as the OS limit on a command line needs."""
    deadline = time.monotonic() + ctx.timeout
    fixed = _semgrep_arguments(configs, [])
    merged: dict[str, Any] = {}
    run = SemgrepJson({}, None)
    for batch in argument_batches(files, argument_budget(["semgrep", "scan", *fixed])):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return SemgrepJson(f"timed out after {ctx.timeout:g}s", run.cli, run.notes)
        run = semgrep_json([*fixed, *batch], ctx.root, remaining)
        if isinstance(run.data, str):
            return run
        merged = merge_json(merged, run.data)
    return SemgrepJson(merged, run.cli, run.notes)


def _skipped_rules(data: Mapping[str, Any]) -> list[str]:
    skipped = data.get("skipped_rules")
    items = skipped if isinstance(skipped, list) else []
    return [str(r.get("rule_id", "")).rsplit(".", 1)[-1] for r in _objects(items)]


@dataclass
class _SemgrepScan:
    findings: list[Finding] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # Files semgrep says it scanned, with no error for them: only there may a rule-pack
    # rule's silence drop a bandit finding it supersedes.
    verified: frozenset[str] = frozenset()
    skipped_rules: frozenset[str] = frozenset()  # rules semgrep did not run
    cli: str | None = None  # SEMGREP_NATIVE or SEMGREP_CLASSIC: the command line that ran
    notes: list[str] = field(default_factory=list)


def _semgrep_arguments(configs: Sequence[Path], files: Sequence[str]) -> list[str]:
    """`semgrep scan`'s options (after `scan`, without the command line choice)."""
    argv = ["--json", "--metrics=off", "--disable-version-check", "--quiet"]
    # bandit and the other gates share the cores: semgrep's default of one worker per core
    # oversubscribes them and burns more CPU for the same work (bench/README.md, item 2).
    argv += ["--jobs", str(max(1, (os.cpu_count() or 1) // 2))]
    argv += ["--timeout", str(SEMGREP_RULE_TIMEOUT)]
    for config in configs:
        argv += ["--config", str(config)]
    return [*argv, "--", *files]


@dataclass(frozen=True)
class SemgrepJson:
    data: dict[str, Any] | str  # the report, or why there is none
    cli: str | None  # which command line produced it
    notes: tuple[str, ...] = ()


def semgrep_cli_choice() -> str:
    """`native`, `classic` or `auto` (native, classic when native cannot start): the
    operator's choice (`toolenv.Settings.semgrep_cli`, from MLGATE_SEMGREP_CLI), else auto.
    Native semgrep is not built for Windows."""
    choice = toolenv.settings().semgrep_cli.strip().lower() or "auto"
    if choice not in ("auto", SEMGREP_NATIVE, SEMGREP_CLASSIC):
        choice = "auto"
    if choice == "auto" and sys.platform == "win32":
        return SEMGREP_CLASSIC
    return choice


def semgrep_json(options: Sequence[str], cwd: Path, timeout: float) -> SemgrepJson:
    """Run `semgrep scan OPTIONS` with the chosen command line and read its JSON report.

    semgrep's native command line (`scan --experimental`, the same release's OCaml
    front end) reads the rules and starts scanning in a fraction of a second, where the
    classic Python one spends seconds of CPU first; both emit the same report. When the
    native one does not start, or its output is not a report of that shape, the classic
    one runs instead and a note says why. A timeout is not retried.
    """
    choice = semgrep_cli_choice()
    notes: list[str] = []
    if choice in ("auto", SEMGREP_NATIVE):
        argv = ["semgrep", "scan", "--experimental", *options]
        run = run_tool(argv, timeout, cwd=cwd, env=_SEMGREP_ENV)
        data = _semgrep_report(run)
        if not isinstance(data, str) or choice == SEMGREP_NATIVE or _timed_out(run):
            return SemgrepJson(data, SEMGREP_NATIVE)
        notes.append(f"semgrep's native command line failed ({data}): the classic one ran")
    run = run_tool(["semgrep", "scan", *options], timeout, cwd=cwd, env=_SEMGREP_ENV)
    return SemgrepJson(_semgrep_report(run), SEMGREP_CLASSIC, tuple(notes))


def _timed_out(run: ToolRun) -> bool:
    return run.returncode is None and (run.problem or "").startswith("timed out")


def _semgrep_report(run: ToolRun) -> dict[str, Any] | str:
    """semgrep's JSON report, with the keys semgrep always emits, or why there is none."""
    return json_output(run, (0, 1), SEMGREP_SHAPE)


def _incomplete_error(err: Mapping[str, Any]) -> str:
    rule = str(err.get("rule_id", "a rule")).rsplit(".", 1)[-1]
    path = _clean_path(str(err.get("path", "?")))
    kind = err.get("type")
    return f"semgrep: {kind} running {rule} on {path}: its results for that file are incomplete"


def _is_target_error(err: Mapping[str, Any]) -> bool:
    """A file semgrep could not parse is reported by bandit's parse-error; not a gate error."""
    kind = str(err.get("type", ""))
    return "Syntax" in kind or "Lexical" in kind or "Partial" in kind


def _semgrep_finding(item: Mapping[str, Any]) -> Finding:
    extra = item.get("extra", {})
    meta = extra.get("metadata", {}) or {}
    ours = meta.get("mlgate", {}) or {}
    fallback = Severity.parse(str(extra.get("severity", "warning")), Severity.MEDIUM)
    cwes = meta.get("cwe") or []
    cwe_text = str(cwes[0] if isinstance(cwes, list) and cwes else cwes or "")
    refs = meta.get("references") or []
    return Finding(
        gate=NAME,
        tool="semgrep",
        rule_id=str(item.get("check_id", "semgrep")).rsplit(".", 1)[-1],
        severity=Severity.parse(str(ours.get("severity", "")), fallback),
        confidence=str(meta.get("confidence", "")).lower() or None,
        message=str(extra.get("message", "")).strip(),
        path=_clean_path(str(item.get("path", ""))),
        line=_int(item.get("start", {}).get("line")),
        column=_int(item.get("start", {}).get("col")),
        end_line=_int(item.get("end", {}).get("line")),
        cwe=cwe_text.split(":", 1)[0] or None,
        help_uri=str(refs[0]) if refs else None,
        properties=_rule_properties(ours),
    )


def _rule_properties(ours: Mapping[str, Any]) -> dict[str, Any]:
    props: dict[str, Any] = {"supersedes_bandit": list(ours.get("supersedes_bandit") or [])}
    if ours.get("severity_in_library"):
        props["severity_in_library"] = str(ours["severity_in_library"])
    return props


def _in_project(item: Finding, library: bool) -> Finding:
    """A rule's `severity_in_library` applied in a library (a build system and no lock
    file): e.g. a download of the model the caller names is the caller's to pin there."""
    wanted = item.properties.get("severity_in_library")
    if not library or not wanted or wanted == item.severity.value:
        return item
    props = {**item.properties, "severity_outside_library": item.severity.value}
    return item.with_changes(severity=Severity.parse(str(wanted), item.severity), properties=props)


def _superseded_tests(configs: Sequence[Path]) -> dict[str, frozenset[str]]:
    """bandit test id -> the rule ids that supersede it, read from the rule files."""
    table: dict[str, set[str]] = {}
    for config in configs:
        paths = sorted(config.rglob("*.y*ml")) if config.is_dir() else [config]
        for path in paths:
            for rule in _load_rules(path):
                meta = (rule.get("metadata") or {}).get("mlgate") or {}
                for test in meta.get("supersedes_bandit") or []:
                    table.setdefault(str(test), set()).add(str(rule.get("id")))
    return {test: frozenset(rules) for test, rules in table.items()}


@functools.cache
def rule_pack_catalogue() -> Mapping[str, RuleInfo]:
    """The rules of mlgate's semgrep rule pack, by id, as the findings name them."""
    catalogue: dict[str, RuleInfo] = {}
    for path in sorted(rule_pack_dir().rglob("*.y*ml")):
        for rule in _load_rules(path):
            meta = rule.get("metadata") or {}
            fallback = Severity.parse(str(rule.get("severity", "warning")), Severity.MEDIUM)
            cwes = meta.get("cwe") or []
            cwe_text = str(cwes[0] if isinstance(cwes, list) and cwes else cwes or "")
            refs = meta.get("references") or []
            rule_id = str(rule.get("id", "")).rsplit(".", 1)[-1]
            catalogue[rule_id] = RuleInfo(
                rule_id,
                headline(str(rule.get("message", "")), RULE_TITLE_WIDTH) or rule_id,
                Severity.parse(str((meta.get("mlgate") or {}).get("severity", "")), fallback),
                cwe_text.split(":", 1)[0] or None,
                str(refs[0]) if isinstance(refs, list) and refs else None,
                tool="semgrep",
            )
    return catalogue


def _load_rules(path: Path) -> list[dict[str, Any]]:
    from mlgate.rulepack_prefilter import pack_documents, rule_documents

    try:
        if path.is_relative_to(rule_pack_dir()):  # package data: read once per process
            return pack_documents(path)
        return rule_documents(path)
    except (OSError, yaml.YAMLError):
        return []


# --- notebooks ----------------------------------------------------------------------------


@dataclass
class ConvertedNotebooks:
    """The repo's notebooks as temporary `.py` files (`<tmp>/nb/<path>.py`), and the way back."""

    tmp: Path
    by_target: dict[str, CodeText] = field(default_factory=dict)  # temp path -> code text
    paths: dict[str, str] = field(default_factory=dict)  # temp path -> notebook path
    notebooks: dict[str, Notebook] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)  # mlgate's own
    notes: list[str] = field(default_factory=list)
    aliases: dict[str, str] = field(default_factory=dict)  # temp copy -> file (name not UTF-8)

    @property
    def targets(self) -> list[str]:
        return list(self.by_target)

    def alias(self, root: Path, rel: str) -> str:
        """`rel`, or a temporary copy under a UTF-8 name when `rel` is not valid UTF-8
        (semgrep mangles such names and silently scans nothing; findings map back)."""
        if _utf8(rel):
            return rel
        target = self.tmp / "names" / f"{len(self.aliases)}.py"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / rel, target)
        self.aliases[str(target)] = rel
        self.paths[str(target)] = rel
        return str(target)

    def map_back(self, item: Finding) -> Finding:
        """A finding on a temporary file, moved to its notebook, cell and line in the cell."""
        target = item.path or ""
        if target in self.aliases:
            return item.with_changes(path=self.aliases[target])
        code = self.by_target.get(target)
        if code is None:
            return item
        where = code.locate(item.line)
        if where is None:
            return item.with_changes(path=self.paths[target], line=None, column=None, end_line=None)
        end = code.locate(item.end_line)
        end_line = end[1] if end is not None and end[0] == where[0] else None
        return item.with_changes(
            path=self.paths[target], cell=where[0], line=where[1], end_line=end_line
        )

    def rename(self, text: str) -> str:
        """A tool's message with every temporary path replaced by its notebook's path."""
        if str(self.tmp) not in text:
            return text
        for target, path in self.paths.items():
            text = text.replace(target, path)
        return text


def convert_notebooks(root: Path, paths: Sequence[str], tmp: Path) -> ConvertedNotebooks:
    """Read each notebook (as JSON) and write its code cells to a temporary `.py` file."""
    from mlgate.notebooks import NotebookProblem, read_notebook, write_for_scan

    out = ConvertedNotebooks(tmp.resolve())
    for rel in paths:
        notebook = read_notebook(root, rel)
        if isinstance(notebook, NotebookProblem):
            out.findings.append(_notebook_problem(notebook))
            continue
        if not notebook.is_python:
            out.notes.append(
                f"{rel}: kernel language {notebook.language!r}, not Python: code cells not scanned"
            )
            continue
        code = notebook.code_text()
        out.notebooks[rel] = notebook
        out.findings += [_cell_syntax_error(rel, e) for e in code.syntax_errors]
        out.findings += [_unpinned(rel, pip) for pip in code.pip_installs if pip.unpinned()]
        if code.text.strip():
            name = f"{rel}.py" if _utf8(rel) else f"_{len(out.by_target)}.py"
            target = out.tmp / "nb" / name
            write_for_scan(target, code.text)
            out.by_target[str(target)] = code
            out.paths[str(target)] = rel
    return out


def _utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _mlgate_finding(
    rule_id: str, severity: Severity, message: str, path: str, **extra: Any
) -> Finding:
    """A finding of mlgate's own notebook checks (no external tool reports these)."""
    return Finding(
        gate=NAME,
        tool="mlgate",
        rule_id=rule_id,
        severity=severity,
        confidence="high",
        message=message,
        path=path,
        **extra,
    )


def _notebook_problem(problem: NotebookProblem) -> Finding:
    message = f"notebook could not be analysed: {problem.message}"
    return _mlgate_finding(NOTEBOOK_PARSE_RULE, Severity.LOW, message, problem.path)


def _cell_syntax_error(path: str, error: CellSyntaxError) -> Finding:
    message = (
        f"cell {error.cell} could not be analysed ({error.message}); "
        "the notebook's other cells were scanned"
    )
    return _mlgate_finding(
        NOTEBOOK_PARSE_RULE, Severity.LOW, message, path, cell=error.cell, line=error.line
    )


def _unpinned(path: str, pip: PipInstall) -> Finding:
    """One finding per `pip install` line, naming every package it leaves unpinned."""
    from mlgate.notebooks import package_name

    specs = pip.unpinned()
    names = [package_name(spec) for spec in specs]
    shown = ", ".join(repr(s) for s in specs)
    message = (
        f"the notebook installs {shown} without pinning one version, so every run may "
        f"get different (or compromised) code: pin {'it' if len(specs) == 1 else 'each'} "
        f"({names[0]}==X) or install from a locked requirements file"
    )
    return _mlgate_finding(
        UNPINNED_PIP_RULE,
        Severity.MEDIUM,
        message,
        path,
        cell=pip.cell,
        line=pip.line,
        cwe="CWE-829",
        properties={"package": ", ".join(names), "packages": names},
        fix=f"pin {', '.join(f'{n}==X' for n in names)}",
    )


# --- merging ------------------------------------------------------------------------------


def merge_tool_findings(
    bandit: Sequence[Finding],
    semgrep: Sequence[Finding],
    superseded: Mapping[str, frozenset[str]],
    verified: frozenset[str] = frozenset(),
) -> tuple[list[Finding], int]:
    """One finding per issue and line. Returns the findings and the bandit ones dropped.

    A bandit finding that a rule-pack rule supersedes is dropped only in a `verified` file
    (semgrep says it scanned it and reported no error for it): when semgrep failed, timed
    out or skipped the file, its silence proves nothing and bandit's finding stays.
    """
    by_line: dict[tuple[str | None, int | None], list[int]] = {}
    merged = list(semgrep)
    for index, item in enumerate(merged):
        by_line.setdefault((item.path, item.line), []).append(index)
    kept: list[Finding] = []
    dropped = 0
    for item in bandit:
        rules = superseded.get(item.rule_id)
        match = _same_issue(item, merged, by_line.get((item.path, item.line), []), rules)
        if match is not None:
            current = merged[match]
            merged[match] = current.with_changes(
                also_reported_by=(*current.also_reported_by, f"bandit:{item.rule_id}")
            )
        elif rules and item.path in verified:
            dropped += 1
        else:
            kept.append(item)
    return merged + kept, dropped


def _same_issue(
    item: Finding,
    merged: Sequence[Finding],
    candidates: Sequence[int],
    rules: frozenset[str] | None,
) -> int | None:
    for index in candidates:
        other = merged[index]
        if rules and other.rule_id in rules:
            return index
        if item.cwe and item.cwe == other.cwe:
            return index
    return None


def _fingerprinted(
    root: Path, findings: Sequence[Finding], notebooks: Mapping[str, Notebook]
) -> list[Finding]:
    """Anchor each finding on its code (a notebook's on the cell's code), never on a line number."""
    cache: dict[tuple[str, int | None], list[str]] = {}
    anchors: dict[int, str] = {}
    for index, item in enumerate(findings):
        if item.rule_id == UNPINNED_PIP_RULE and item.tool == "mlgate":
            anchors[index] = str(item.properties.get("package", ""))
        elif item.path is not None and item.line is not None:
            lines = _source_lines(root, item, notebooks, cache)
            anchors[index] = "\n".join(lines[item.line - 1 : item.end_line or item.line])
        elif item.rule_id == NOTEBOOK_PARSE_RULE:
            anchors[index] = NOTEBOOK_PARSE_RULE  # the parser's words change with the file
    return assign_fingerprints(findings, anchors)


def _source_lines(
    root: Path,
    item: Finding,
    notebooks: Mapping[str, Notebook],
    cache: dict[tuple[str, int | None], list[str]],
) -> list[str]:
    path = item.path or ""
    notebook = notebooks.get(path)
    cell = item.cell if notebook is not None else None
    key = (path, cell)
    if key not in cache:
        if notebook is not None and cell is not None and 0 <= cell < len(notebook.cells):
            from mlgate.notebooks import split_lines

            cache[key] = split_lines(notebook.cells[cell].source)
        else:
            cache[key] = read_text(root, path).splitlines()
    return cache[key]


# --- helpers ------------------------------------------------------------------------------


def _objects(items: Sequence[Any]) -> list[Mapping[str, Any]]:
    """The JSON objects of a list from a tool's report (anything else in it is ignored)."""
    return [item for item in items if isinstance(item, dict)]


def _clean_path(path: str) -> str:
    return path[2:] if path.startswith("./") else path


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) else None


def _column(value: Any) -> int | None:
    return value + 1 if isinstance(value, int) else None


def _last(value: Any) -> int | None:
    return value[-1] if isinstance(value, list) and value and isinstance(value[-1], int) else None
