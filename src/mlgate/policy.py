"""The policy: which gates run, what blocks, for which environment; and the decision.

A policy file may `extends:` a built-in pack (`default`, `strict`) or another file. Its
`defaults:` apply to every gate, `gates:` override per gate, and `environments:` override
both for one target (`--env production`). Waivers and a baseline keep known findings
from blocking; an expired waiver stops applying and is reported.
"""

from __future__ import annotations

import datetime as dt
import enum
import fnmatch
import functools
import hashlib
import json
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path, PurePosixPath
from typing import Any

from mlgate.bulk import without_cycle_collection
from mlgate.confine import check_policy, is_inside
from mlgate.errors import EXIT_BLOCKED, EXIT_GATE_ERROR, EXIT_PASS, ConfigError
from mlgate.findings import SEVERITY_RANK, Finding, Severity, severity_counts, sort_key
from mlgate.gates import GATES, GateResult, GateStatus, gitref
from mlgate.git import GitError
from mlgate.resources import policies_dir
from mlgate.yamlfile import YamlDoc, load_yaml, parse_yaml, validate

BUILTIN_PACKS = ("default", "strict")
SEVERITY_NAMES = [s.value for s in Severity]
REPO_POLICY = Path(".mlgate") / "policy.yml"
# mlgate's own check of the configuration (`--trusted-config`): not a gate the policy
# enables, but decided like one, under the environment's `defaults`.
POLICY_CHECK = "policy"
_MAX_EXTENDS = 10

# Path contexts: where a finding is. The policy's `contexts:` replaces a context's globs;
# `context_severity:` sets a rule's severity in a context (test code, examples, docs and
# notebooks are not production code). A finding's context is recorded in the report.
DEFAULT_CONTEXTS: Mapping[str, tuple[str, ...]] = {
    "tests": (
        "tests/**", "test/**", "**/tests/**", "**/test/**", "**/test_*.py", "**/*_test.py",
        "**/conftest.py",
    ),
    "examples": ("examples/**", "**/examples/**", "example/**", "**/example/**"),
    "docs": ("docs/**", "**/docs/**", "doc/**", "**/doc/**"),
    "notebooks": ("**/*.ipynb",),
    "build": ("setup.py", "**/setup.py", "noxfile.py", "docs/conf.py", "**/docs/conf.py"),
}  # fmt: skip
_TEST_LOW = (
    "ml-pickle-load", "ml-torch-load-unsafe", "ml-eval-exec-dynamic", "ml-hf-download-unpinned",
    "ml-hardcoded-tmp-path", "ml-urlopen-unchecked-scheme", "ml-numpy-load-allow-pickle",
    "ml-pandas-read-pickle", "ml-yaml-unsafe-load", "ml-subprocess-shell-true",
    "ml-os-system-dynamic", "ml-tarfile-extractall-no-filter", "B108", "B310", "B324",
    "ml-hf-download-caller-chosen", "ml-weak-hash",
)  # fmt: skip
_SHOWCASE_LOW = (
    "ml-hf-download-unpinned", "ml-torch-hub-load-unpinned", "notebook-unpinned-pip-install",
    "ml-hardcoded-tmp-path", "ml-hf-download-caller-chosen",
)  # fmt: skip
DEFAULT_CONTEXT_SEVERITY: Mapping[str, Mapping[str, str]] = {
    "tests": dict.fromkeys(_TEST_LOW, "low"),
    "examples": dict.fromkeys(_SHOWCASE_LOW, "low"),
    "docs": dict.fromkeys(_SHOWCASE_LOW, "low"),
    "notebooks": dict.fromkeys(_SHOWCASE_LOW, "low"),
    # build scripts exec the project's own files (`exec(open("pkg/version.py").read())`)
    "build": dict.fromkeys(("ml-eval-exec-dynamic", "B102", "B307"), "low"),
}


# --- model --------------------------------------------------------------------------------


@dataclass(frozen=True)
class GateSettings:
    enabled: bool = True
    required: bool = True
    fail_on: Severity | None = Severity.HIGH
    warn_on: Severity | None = Severity.MEDIUM
    max_findings: int | None = None
    on_error: str = "fail"
    timeout: float = 600.0
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Waiver:
    reason: str
    expires: dt.date
    owner: str
    source: str
    fingerprint: str | None = None
    rule: str | None = None
    path: str = "*"

    def matches(self, finding: Finding) -> bool:
        if self.fingerprint is not None:
            return finding.fingerprint == self.fingerprint
        return finding.rule_id == self.rule and fnmatch.fnmatchcase(finding.path or "", self.path)

    def expired(self, today: dt.date) -> bool:
        return today > self.expires

    def label(self) -> str:
        return f"{self.source} ({self.owner}, until {self.expires.isoformat()}): {self.reason}"


@dataclass(frozen=True)
class Policy:
    source: str
    env: str | None
    gates: Mapping[str, GateSettings]
    environments: tuple[str, ...]
    waivers: tuple[Waiver, ...]
    baseline: frozenset[str]
    baseline_source: str | None
    digest: str
    data: Mapping[str, Any]
    defaults: GateSettings = field(default_factory=GateSettings)
    contexts: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: DEFAULT_CONTEXTS)
    context_severity: Mapping[str, Mapping[str, str]] = field(
        default_factory=lambda: DEFAULT_CONTEXT_SEVERITY
    )

    def settings(self, gate: str) -> GateSettings:
        if gate == POLICY_CHECK and gate not in self.gates:
            return self.defaults
        return self.gates.get(gate, GateSettings(enabled=False))

    def enabled_gates(self) -> list[str]:
        return [name for name, s in self.gates.items() if s.enabled]


# --- schema -------------------------------------------------------------------------------


def _settings_schema(options: Mapping[str, Any] | None) -> dict[str, Any]:
    threshold = {"enum": [*SEVERITY_NAMES, "none"]}
    props: dict[str, Any] = {
        "enabled": {"type": "boolean"},
        "required": {"type": "boolean"},
        "fail_on": threshold,
        "warn_on": threshold,
        "max_findings": {"type": ["integer", "null"], "minimum": 0},
        "on_error": {"enum": ["fail", "warn"]},
        "timeout": {"type": "number", "exclusiveMinimum": 0},
    }
    if options is not None:
        props["options"] = {
            "type": "object",
            "additionalProperties": False,
            "properties": dict(options),
        }
    return {"type": "object", "additionalProperties": False, "properties": props}


def _gates_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {name: _settings_schema(gate.options_schema) for name, gate in GATES.items()},
    }


def policy_schema() -> dict[str, Any]:
    """The JSON Schema of a policy file, built from the gate registry."""
    level = {
        "type": "object",
        "additionalProperties": False,
        "properties": {"defaults": _settings_schema(None), "gates": _gates_schema()},
    }
    waiver = {
        "type": "object",
        "additionalProperties": False,
        "required": ["reason", "expires", "owner"],
        "anyOf": [{"required": ["fingerprint"]}, {"required": ["rule"]}],
        "properties": {
            "fingerprint": {"type": "string", "minLength": 8},
            "rule": {"type": "string", "minLength": 1},
            "path": {"type": "string", "minLength": 1},
            "reason": {"type": "string", "minLength": 3},
            "expires": {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"},
            "owner": {"type": "string", "minLength": 1},
        },
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://mlgate.dev/schemas/policy.schema.json",
        "title": "mlgate policy",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "extends": {"type": "string", "minLength": 1},
            "defaults": _settings_schema(None),
            "gates": _gates_schema(),
            "environments": {"type": "object", "additionalProperties": level},
            "waivers": {"type": "array", "items": waiver},
            "contexts": {
                "type": "object",
                "additionalProperties": {
                    "type": "array",
                    "items": {"type": "string", "minLength": 1},
                },
            },
            "context_severity": {
                "type": "object",
                "additionalProperties": {
                    "type": "object",
                    "additionalProperties": {"enum": SEVERITY_NAMES},
                },
            },
            "baseline": {"type": "string", "minLength": 1},
        },
    }


# --- loading ------------------------------------------------------------------------------


@dataclass
class PolicyFiles:
    """Where policy files are read from.

    The file system (`ref` None): a file inside `root` is repository configuration, so the
    paths it names are confined to the repository; a file elsewhere (an operator's
    `--policy`) is not. A git ref (`--trusted-config`): every file is read at that commit
    with `git cat-file`, paths relative to `root`.
    """

    root: Path | None = None
    ref: str | None = None
    _texts: dict[Path, str] = field(default_factory=dict)

    def doc(self, path: Path) -> YamlDoc:
        if self.ref is None:
            return load_yaml(path)
        return parse_yaml(self.text(path), Path(f"{self.ref}:{path.as_posix()}"))

    def text(self, path: Path) -> str:
        if self.ref is None:
            return path.read_text(encoding="utf-8")
        if path not in self._texts:
            try:
                self._texts[path] = gitref.read_text(
                    self.root or Path.cwd(), gitref.GitRef(self.ref, path.as_posix())
                )
            except GitError as exc:
                raise ConfigError(f"--trusted-config {self.ref}: {exc}") from None
        return self._texts[path]

    def confined(self, path: Path) -> bool:
        """Whether the paths this file names must stay inside the repository."""
        return self.ref is not None or (self.root is not None and is_inside(path, self.root))

    def base_of(self, where: Path) -> PurePosixPath:
        """The directory of a policy file, relative to the repository root."""
        parent = where.parent
        if self.ref is None and self.root is not None:
            parent = parent.resolve().relative_to(self.root)
        return PurePosixPath(parent.as_posix())

    def check_root(self) -> Path | None:
        """The directory to resolve symlinks in (None at a git ref: shape checks only)."""
        return self.root if self.ref is None else None


def find_policy(root: Path, explicit: Path | None, configured: str | None) -> Path | str:
    """--policy, else the repo's .mlgate/policy.yml, else .mlgate.yml's `policy:`, else default."""
    if explicit is not None:
        return explicit
    found = root / REPO_POLICY if (root / REPO_POLICY).is_file() else None
    if found is None and configured:
        found = root / configured
    if found is None:
        return "default"
    if found.exists() and not is_inside(found, root):
        raise ConfigError(f"{found}: a symlink to a file outside the repository")
    return found


def load_policy(
    where: Path | str,
    env: str | None = None,
    today: dt.date | None = None,
    root: Path | None = None,
    files: PolicyFiles | None = None,
) -> Policy:
    """Load, validate, resolve `extends`, apply the environment, and read the baseline.

    `root`: the repository; a policy file inside it may name only paths inside it.
    `files`: read from somewhere else than the file system (a git ref).
    """
    files = files or PolicyFiles(root.resolve() if root is not None else None)
    merged, waivers, origin = _resolve(where, depth=0, files=files)
    environments = tuple(sorted((merged.get("environments") or {}).keys()))
    if env is not None and env not in environments:
        known = ", ".join(environments) or "none defined"
        raise ConfigError(f"{origin}: unknown environment {env!r} (environments: {known})")
    effective = _apply_env(merged, env)
    gates = {name: _gate_settings(effective, name) for name in GATES}
    baseline, baseline_source = _load_baseline(merged.get("baseline"), where, files)
    digest = hashlib.sha256(
        json.dumps(
            {"policy": merged, "waivers": [_waiver_identity(w) for w in waivers]},
            sort_keys=True,
            default=str,
        ).encode()
    ).hexdigest()
    return Policy(
        source=origin,
        env=env,
        gates=gates,
        environments=environments,
        waivers=tuple(waivers),
        baseline=baseline,
        baseline_source=baseline_source,
        digest=digest,
        data=effective,
        defaults=_gate_settings({"defaults": effective.get("defaults")}, POLICY_CHECK),
        contexts={**DEFAULT_CONTEXTS, **_contexts(merged.get("contexts"))},
        context_severity=_context_severity(merged.get("context_severity")),
    )


def _contexts(raw: Any) -> dict[str, tuple[str, ...]]:
    return {str(k): tuple(str(g) for g in v) for k, v in (raw or {}).items()}


def _context_severity(raw: Any) -> dict[str, dict[str, str]]:
    table = {name: dict(rules) for name, rules in DEFAULT_CONTEXT_SEVERITY.items()}
    for name, rules in (raw or {}).items():
        table.setdefault(str(name), {}).update({str(r): str(s) for r, s in rules.items()})
    return table


def finding_context(path: str | None, contexts: Mapping[str, Sequence[str]]) -> str | None:
    """The first context whose globs match a finding's path (`**/x` also matches `x`)."""
    if not path:
        return None
    return _contexts_matcher(contexts)(path)


def _contexts_matcher(contexts: Mapping[str, Sequence[str]]) -> Callable[[str], str | None]:
    return _context_matcher(tuple((name, tuple(globs)) for name, globs in contexts.items()))


@functools.lru_cache(maxsize=32)
def _context_matcher(
    contexts: tuple[tuple[str, tuple[str, ...]], ...],
) -> Callable[[str], str | None]:
    """`finding_context` for these contexts: every context's globs compiled into one regex
    (as `fnmatch.fnmatchcase` would, one by one), a named group per context in their order
    (a regex tries alternatives left to right: the first context that matches is the one
    matched), and each path decided once."""
    used = [(f"c{index}", name, globs) for index, (name, globs) in enumerate(contexts) if globs]
    by_group = {group: name for group, name, _ in used}
    regex = re.compile(
        "|".join(f"(?P<{group}>{_globs_pattern(globs)})" for group, _, globs in used)
    )

    needles = _needles([g for _, _, globs in used for g in _variants(globs)])

    @functools.lru_cache(maxsize=65_536)
    def context_of(path: str) -> str | None:
        if needles is not None and not any(map(operator.contains, repeat(path), needles)):
            return None  # holds no glob's plain part: matches none (most paths)
        found = regex.match(path) if used else None
        return None if found is None else by_group[str(found.lastgroup)]

    return context_of


def _variants(globs: Sequence[str]) -> list[str]:
    """Each glob, and `**/x`'s `x` too (`**/x` also matches `x`)."""
    variants = [g for glob in globs for g in (glob, glob[3:] if glob.startswith("**/") else glob)]
    return list(dict.fromkeys(variants))


def _globs_pattern(globs: Sequence[str]) -> str:
    return "|".join(fnmatch.translate(g) for g in _variants(globs))


def _needles(globs: Sequence[str]) -> tuple[str, ...] | None:
    """Strings one of which is in every path some glob matches (None: no such strings).

    A glob's longest run of plain characters (`fnmatch`: `*` and `?` are wildcards, the
    rest literal, matched case-sensitively) is in every path it matches; a glob with a
    `[` (a character class) or without a plain run gives none. A needle holding another
    is left out: the shorter is in every path the longer is."""
    runs = []
    for glob in globs:
        run = "" if "[" in glob else max(re.split(r"[*?]", glob), key=len)
        if not run:
            return None
        runs.append(run)
    unique = set(runs)
    return tuple(sorted(r for r in unique if not any(o != r and o in r for o in unique)))


def contextualise(
    finding: Finding, policy: Policy, context_of: Callable[[str], str | None] | None = None
) -> Finding:
    """Record the finding's context and apply the context's severity for its rule.

    `context_of` is `policy`'s path -> context function, when the caller has it already
    (deciding on 100,000 findings builds it once, not once per finding)."""
    context_of = context_of or _contexts_matcher(policy.contexts)
    context = context_of(finding.path) if finding.path else None
    if context is None:
        return finding
    props = {**finding.properties, "context": context}
    wanted = policy.context_severity.get(context, {}).get(finding.rule_id)
    if wanted is None or wanted == finding.severity.value:
        return finding.with_changes(properties=props)
    props["severity_outside_context"] = finding.severity.value
    return finding.with_changes(severity=Severity.parse(wanted), properties=props)


def _resolve(
    where: Path | str, depth: int, files: PolicyFiles
) -> tuple[dict[str, Any], list[Waiver], str]:
    if depth > _MAX_EXTENDS:
        raise ConfigError(f"{where}: `extends` chain is longer than {_MAX_EXTENDS} (a cycle?)")
    doc = _read(where, files)
    validate(doc, policy_schema(), "policy")
    if isinstance(where, Path) and files.confined(where):
        check_policy(doc, files.check_root(), files.base_of(where), lambda n: n in BUILTIN_PACKS)
    data: dict[str, Any] = dict(doc.data)
    waivers = [_waiver(doc, i, w) for i, w in enumerate(data.get("waivers") or [])]
    parent_ref = data.pop("extends", None)
    if parent_ref is None:
        return data, waivers, str(doc.path)
    if parent_ref in BUILTIN_PACKS:
        parent, parent_waivers, _ = _resolve(parent_ref, depth + 1, PolicyFiles())
    else:
        base = where.parent if isinstance(where, Path) else doc.path.parent
        parent, parent_waivers, _ = _resolve(base / parent_ref, depth + 1, files)
    return _deep_merge(parent, data), parent_waivers + waivers, str(doc.path)


def _read(where: Path | str, files: PolicyFiles) -> YamlDoc:
    if isinstance(where, str):
        if where not in BUILTIN_PACKS:
            raise ConfigError(
                f"unknown built-in policy pack {where!r} (packs: {', '.join(BUILTIN_PACKS)})"
            )
        doc = load_yaml(policies_dir() / f"{where}.yml")
    else:
        doc = files.doc(where)
    if not isinstance(doc.data, dict):
        raise ConfigError(f"{doc.path}:1: policy: the top level must be a mapping of keys")
    return YamlDoc(doc.path, _stringify_dates(doc.data), doc.lines)


def _stringify_dates(value: Any) -> Any:
    """YAML reads 2026-01-31 as a date; the schema and the digest want ISO strings."""
    if isinstance(value, dict):
        return {str(k): _stringify_dates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_stringify_dates(v) for v in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _waiver(doc: YamlDoc, index: int, raw: Mapping[str, Any]) -> Waiver:
    where = doc.where(("waivers", index))
    try:
        expires = dt.date.fromisoformat(str(raw["expires"]))
    except ValueError:
        raise ConfigError(
            f"{where}: policy: waivers.{index}.expires: not a date: {raw['expires']!r}"
        ) from None
    return Waiver(
        reason=str(raw["reason"]),
        expires=expires,
        owner=str(raw["owner"]),
        source=where,
        fingerprint=raw.get("fingerprint"),
        rule=raw.get("rule"),
        path=str(raw.get("path", "*")),
    )


def _waiver_identity(waiver: Waiver) -> list[str | None]:
    """What a waiver means, without where it was written (paths differ between CI jobs)."""
    return [
        waiver.fingerprint,
        waiver.rule,
        waiver.path,
        waiver.reason,
        waiver.expires.isoformat(),
        waiver.owner,
    ]


def _deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    result = dict(base)
    for key, value in over.items():
        if key == "waivers":
            continue
        if isinstance(value, Mapping) and isinstance(result.get(key), Mapping):
            result[key] = _deep_merge(result[key], value)
        else:
            result[key] = value
    return result


def _apply_env(data: Mapping[str, Any], env: str | None) -> dict[str, Any]:
    base = {"defaults": data.get("defaults") or {}, "gates": data.get("gates") or {}}
    if env is None:
        return base
    return _deep_merge(base, (data.get("environments") or {}).get(env) or {})


def _gate_settings(data: Mapping[str, Any], name: str) -> GateSettings:
    raw = {**(data.get("defaults") or {}), **((data.get("gates") or {}).get(name) or {})}
    options = dict((((data.get("gates") or {}).get(name) or {}).get("options")) or {})
    return GateSettings(
        enabled=bool(raw.get("enabled", True)),
        required=bool(raw.get("required", True)),
        fail_on=_threshold(raw.get("fail_on", "high")),
        warn_on=_threshold(raw.get("warn_on", "medium")),
        max_findings=raw.get("max_findings"),
        on_error=str(raw.get("on_error", "fail")),
        timeout=float(raw.get("timeout", 600)),
        options=options,
    )


def _threshold(value: Any) -> Severity | None:
    return None if value in (None, "none") else Severity.parse(str(value))


def _load_baseline(
    ref: str | None, where: Path | str, files: PolicyFiles
) -> tuple[frozenset[str], str | None]:
    if not ref:
        return frozenset(), None
    base = where.parent if isinstance(where, Path) else Path.cwd()
    path = base / ref
    try:
        data = json.loads(files.text(path))
    except FileNotFoundError:
        raise ConfigError(f"{where}: baseline: file not found: {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: baseline: not a JSON findings file: {exc}") from None
    items = data.get("findings", []) if isinstance(data, dict) else data
    prints = {str(i.get("fingerprint")) if isinstance(i, dict) else str(i) for i in items or []}
    return frozenset(p for p in prints if p), str(path)


# --- decision -----------------------------------------------------------------------------


@dataclass(frozen=True)
class GateVerdict:
    gate: str
    status: GateStatus
    required: bool
    blocking: int
    warnings: int
    reasons: tuple[str, ...]  # why the gate failed or errored
    advice: tuple[str, ...] = ()  # findings to review that do not block


class Outcome(str, enum.Enum):
    """The decision in one word; the CLI maps it to an exit code (`EXIT_CODES`)."""

    PASS = "pass"  # noqa: S105  # nosec B105 (an outcome, not a password)
    BLOCKED = "blocked"
    ERROR = "error"  # a required gate could not run


EXIT_CODES: Mapping[Outcome, int] = {
    Outcome.PASS: EXIT_PASS,
    Outcome.BLOCKED: EXIT_BLOCKED,
    Outcome.ERROR: EXIT_GATE_ERROR,
}


@dataclass(frozen=True)
class Decision:
    """What the policy decided. Each finding in `findings` carries `blocking`: whether its
    gate failed because of it; reports read these marks and `outcome`, never thresholds."""

    outcome: Outcome
    env: str | None
    verdicts: Mapping[str, GateVerdict]
    findings: tuple[Finding, ...]
    violations: tuple[str, ...]
    warnings: tuple[str, ...]
    expired_waivers: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return self.outcome is Outcome.PASS

    @property
    def exit_code(self) -> int:
        """The documented exit code of this outcome (the CLI exits with it; reports record it)."""
        return EXIT_CODES[self.outcome]

    @functools.cached_property
    def by_gate(self) -> Mapping[str, list[Finding]]:
        """Every gate's findings, worst first (`sort_key`, the order every report uses).

        Sorted once per decision: every report format asks, and so does the ML-BOM of
        `merge`, through reports that share this decision (a redacted copy with nothing
        to redact shares it too)."""
        found: dict[str, list[Finding]] = {}
        for finding in self.findings:
            found.setdefault(finding.gate, []).append(finding)
        return {gate: sorted(mine, key=sort_key) for gate, mine in found.items()}


def decide(
    policy: Policy,
    results: Sequence[GateResult],
    scope: Sequence[str] | None = None,
    today: dt.date | None = None,
) -> Decision:
    """Turn gate results into one decision with its reasons. Never runs a tool.

    `scope` is the gates this decision covers (a run of named gates); by default every
    gate the policy enables, so a required gate with no result is an error.
    """
    with without_cycle_collection():
        return _decide(policy, results, scope, today or dt.date.today())


def _decide(
    policy: Policy, results: Sequence[GateResult], scope: Sequence[str] | None, today: dt.date
) -> Decision:
    active = [w for w in policy.waivers if not w.expired(today)]
    expired = [w for w in policy.waivers if w.expired(today)]
    by_gate = {r.gate: r for r in results}
    verdicts: dict[str, GateVerdict] = {}
    findings: list[Finding] = []
    violations: list[str] = []
    warnings = [
        f"waiver {w.label()} expired on {w.expires.isoformat()} and no longer applies"
        for w in expired
    ]
    blocked_by_findings = False
    blocked_by_errors = False
    context_of = _contexts_matcher(policy.contexts)
    for name in scope if scope is not None else policy.enabled_gates():
        settings = policy.settings(name)
        result = by_gate.get(name)
        marked = _marked(result.findings if result else (), policy, active, context_of)
        verdict, blocking = _verdict(name, settings, result, marked)
        findings += _mark_blocking(marked, blocking)
        verdicts[name] = verdict
        if verdict.status is GateStatus.FAIL:
            blocked_by_findings = True
            violations += [f"{name}: {r}" for r in verdict.reasons]
        elif (
            verdict.status is GateStatus.ERROR and settings.on_error == "fail" and settings.required
        ):
            blocked_by_errors = True
            violations += [f"{name}: {r}" for r in verdict.reasons]
        else:
            warnings += [f"{name}: {r}" for r in verdict.reasons]
        warnings += [f"{name}: {a}" for a in verdict.advice]
    outcome = (
        Outcome.BLOCKED
        if blocked_by_findings
        else Outcome.ERROR
        if blocked_by_errors
        else Outcome.PASS
    )
    return Decision(
        outcome=outcome,
        env=policy.env,
        verdicts=verdicts,
        findings=tuple(findings),
        violations=tuple(violations),
        warnings=tuple(warnings),
        expired_waivers=tuple(w.label() for w in expired),
    )


def _marked(
    findings: Sequence[Finding],
    policy: Policy,
    waivers: Sequence[Waiver],
    context_of: Callable[[str], str | None],
) -> list[Finding]:
    """Each finding contextualised and marked (`_mark`). Without waivers or a baseline, a
    finding out of every context and not waived is kept as it is, without a call each."""
    if waivers or policy.baseline:
        return [_mark(contextualise(f, policy, context_of), waivers, policy) for f in findings]
    out = []
    for finding in findings:
        path = finding.path
        if (path and context_of(path) is not None) or finding.waived_by is not None:
            out.append(_mark(contextualise(finding, policy, context_of), waivers, policy))
        else:
            out.append(finding)
    return out


def _mark(finding: Finding, waivers: Sequence[Waiver], policy: Policy) -> Finding:
    for waiver in waivers:
        if waiver.matches(finding):
            return finding.with_changes(waived_by=waiver.label(), blocking=False)
    if finding.fingerprint in policy.baseline:
        return finding.with_changes(waived_by=f"baseline {policy.baseline_source}", blocking=False)
    # A copy costs more than the rest of the decision: only when it changes. `blocking` is
    # left as it is: `_mark_blocking` settles it (a merged report's findings come marked).
    if finding.waived_by is None:
        return finding
    return finding.with_changes(waived_by=None, blocking=False)


def _mark_blocking(findings: list[Finding], blocking: Sequence[Finding]) -> list[Finding]:
    """The gate's findings, those its verdict failed for marked `blocking` (True), the
    others not (any true mark they came with made False; a false one kept)."""
    chosen = {id(f) for f in blocking}
    return [
        (f if f.blocking is True else f.with_changes(blocking=True))
        if id(f) in chosen
        else (f.with_changes(blocking=False) if f.blocking else f)
        for f in findings
    ]


def _verdict(
    name: str, settings: GateSettings, result: GateResult | None, findings: Sequence[Finding]
) -> tuple[GateVerdict, list[Finding]]:
    """The gate's verdict, and the findings it failed for (at or above `fail_on`)."""
    if result is None:
        status = GateStatus.ERROR if settings.required else GateStatus.SKIPPED
        verdict = GateVerdict(name, status, settings.required, 0, 0, ("gate did not run",), ())
        return verdict, []
    live = [f for f in findings if f.waived_by is None]
    blocking, warned = _partition(live, settings)
    reasons: list[str] = []
    if blocking and settings.fail_on:
        reasons.append(_count_reason(blocking, f"at or above {settings.fail_on.value}"))
    if settings.max_findings is not None and len(live) > settings.max_findings:
        reasons.append(f"{len(live)} findings exceed max_findings {settings.max_findings}")
    failed = bool(reasons)
    reasons += [f"could not run: {e}" for e in result.errors]
    if result.skipped is not None and settings.required and not failed:
        reasons.append(f"required gate skipped: {result.skipped}")
    advice = [_count_reason(warned, "to review, below the blocking threshold")] if warned else []
    status = _status(result, failed)
    verdict = GateVerdict(
        name, status, settings.required, len(blocking), len(warned), tuple(reasons), tuple(advice)
    )
    return verdict, blocking


def _partition(
    live: Sequence[Finding], settings: GateSettings
) -> tuple[list[Finding], list[Finding]]:
    """(blocking, warned): one pass, so 10,000 findings cost 10,000 comparisons."""
    blocking: list[Finding] = []
    warned: list[Finding] = []
    never = len(SEVERITY_RANK)  # above every rank: no threshold
    fail_at = SEVERITY_RANK[settings.fail_on] if settings.fail_on else never
    warn_at = SEVERITY_RANK[settings.warn_on] if settings.warn_on else never
    for item in live:  # `Severity.at_least`, without its two property lookups a finding
        rank = SEVERITY_RANK[item.severity]
        if rank >= fail_at:
            blocking.append(item)
        elif rank >= warn_at:
            warned.append(item)
    return blocking, warned


def _status(result: GateResult, failed: bool) -> GateStatus:
    if failed:
        return GateStatus.FAIL
    if result.errors:
        return GateStatus.ERROR
    if result.skipped is not None:
        return GateStatus.SKIPPED
    return GateStatus.PASS


def _count_reason(findings: Sequence[Finding], what: str) -> str:
    return f"{len(findings)} finding(s) {what} ({severity_counts(findings)})"
