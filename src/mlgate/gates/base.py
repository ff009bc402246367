"""The gate interface: explicit inputs in, findings and errors out."""

from __future__ import annotations

import abc
import dataclasses
import enum
import functools
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from mlgate.findings import Finding, Severity, assign_fingerprints
from mlgate.repo import Repo


class GateStatus(str, enum.Enum):
    PASS = "pass"  # noqa: S105  # nosec B105 (a status, not a password)
    FAIL = "fail"
    ERROR = "error"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class GateInputs:
    """Everything a gate's result depends on, so a cache or a changed-only run can key on it."""

    files: tuple[str, ...]
    options: Mapping[str, Any] = field(default_factory=dict)


_O = TypeVar("_O")


def option(default: Any, schema: Mapping[str, Any]) -> Any:
    """A field of a gate's frozen options dataclass: its default (the one place it is
    written) and the JSON Schema of its value in the policy and `.mlgate.yml`."""
    return field(default=default, metadata={"schema": schema})


def options_schema_of(cls: type[Any]) -> dict[str, Any]:
    """The `properties` of a gate's options, generated from its options dataclass; a field
    with a default other than None carries it as the schema's `default` (editors show it;
    `default_options` reads it back)."""
    return {f.name: _with_default(f) for f in dataclasses.fields(cls)}


def _with_default(f: dataclasses.Field[Any]) -> dict[str, Any]:
    schema = dict(f.metadata["schema"])
    if f.default is not None and f.default is not dataclasses.MISSING:
        schema["default"] = list(f.default) if isinstance(f.default, tuple) else f.default
    return schema


def default_options(gate: Gate) -> dict[str, Any]:
    """A gate's declared option defaults (from its options schema): what an option the
    policy and `.mlgate.yml` leave unset means."""
    return {
        key: schema["default"] for key, schema in gate.options_schema.items() if "default" in schema
    }


def parse_options(cls: type[_O], options: Mapping[str, Any]) -> _O:
    """The typed options from the merged mapping (policy, `.mlgate.yml`, command line; the
    schema validated it); a key it does not set keeps the dataclass default. Lists become
    tuples, so the result is immutable."""
    given = {
        f.name: tuple(options[f.name]) if isinstance(options[f.name], list) else options[f.name]
        for f in dataclasses.fields(cls)  # type: ignore[arg-type]
        if f.name in options
    }
    return cls(**given)


@dataclass(frozen=True)
class GateContext:
    repo: Repo
    inputs: GateInputs
    timeout: float

    @property
    def root(self) -> Path:
        return self.repo.root

    def option(self, key: str, default: Any = None) -> Any:
        return self.inputs.options.get(key, default)


@dataclass(frozen=True)
class GateResult:
    """What a gate produced. The policy, not the gate, turns this into pass or fail."""

    gate: str
    findings: tuple[Finding, ...] = ()
    errors: tuple[str, ...] = ()
    skipped: str | None = None
    tools: Mapping[str, str | None] = field(default_factory=dict)
    seconds: float = 0.0
    files_scanned: int = 0
    notes: tuple[str, ...] = ()
    properties: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ran(self) -> bool:
        return self.skipped is None and not self.errors

    def to_dict(self, *, listed: bool = True) -> dict[str, Any]:
        """The result as JSON data, the one shape the cache stores, the json report's gate
        entry holds and `merge` reads back. `listed`: the findings themselves, else their
        count (the json report lists them once, at its top level)."""
        return {
            "name": self.gate,
            "tools": dict(self.tools),
            "seconds": round(self.seconds, 3),
            "files_scanned": self.files_scanned,
            "findings": [f.to_dict() for f in self.findings] if listed else len(self.findings),
            "errors": list(self.errors),
            "skipped": self.skipped,
            "notes": list(self.notes),
            "properties": dict(self.properties),
        }

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], findings: Sequence[Finding] | None = None
    ) -> GateResult:
        """A result from `to_dict`'s shape; `findings` given apart when the data only counts
        them (a json report's gate entry). Missing keys take their defaults."""
        listed = data.get("findings")
        if findings is None:
            findings = [Finding.from_dict(f) for f in listed] if isinstance(listed, list) else []
        return cls(
            gate=str(data.get("name", "")),
            findings=tuple(findings),
            errors=tuple(data.get("errors") or ()),
            skipped=data.get("skipped"),
            tools=dict(data.get("tools") or {}),
            seconds=float(data.get("seconds", 0.0)),
            files_scanned=int(data.get("files_scanned", 0)),
            notes=tuple(data.get("notes") or ()),
            properties=dict(data.get("properties") or {}),
        )


@dataclass
class Collector:
    """What a gate has found so far, with each finding's fingerprint anchor."""

    findings: list[Finding] = field(default_factory=list)
    anchors: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    properties: dict[str, Any] = field(default_factory=dict)

    def add(self, finding: Finding, anchor: str) -> None:
        self.findings.append(finding)
        self.anchors.append(anchor)

    def fingerprinted(self) -> tuple[Finding, ...]:
        return tuple(assign_fingerprints(self.findings, dict(enumerate(self.anchors))))

    def result(
        self, gate: str, tools: Mapping[str, str | None], files_scanned: int = 0
    ) -> GateResult:
        """The gate's result: fingerprinted findings, errors, notes and properties."""
        return GateResult(
            gate,
            findings=self.fingerprinted(),
            errors=tuple(self.errors),
            tools=tools,
            files_scanned=files_scanned,
            notes=tuple(self.notes),
            properties=self.properties,
        )


UNREADABLE_RULE = "unreadable-path"


def split_readable(root: Path, files: Sequence[str]) -> tuple[list[str], list[str]]:
    """(files mlgate may read, files it may not): permissions, not content."""
    readable: list[str] = []
    unreadable: list[str] = []
    for rel in files:
        (readable if os.access(root / rel, os.R_OK) else unreadable).append(rel)
    return readable, unreadable


def unreadable_findings(gate: str, paths: Sequence[str]) -> list[Finding]:
    """One `unreadable-path` finding per file or directory (`dir/`) that could not be read:
    what was not scanned is reported, never silently skipped."""
    return [
        Finding(
            gate=gate,
            tool="mlgate",
            rule_id=UNREADABLE_RULE,
            severity=Severity.HIGH,
            confidence="high",
            message=(
                f"{'directory' if rel.endswith('/') else 'file'} could not be read "
                "(permission denied), so it was not scanned: make it readable to the user "
                "running mlgate, or exclude it"
            ),
            path=rel,
        )
        for rel in paths
    ]


@dataclass(frozen=True)
class ToolInfo:
    """An external tool a gate runs: what it is called, where it comes from, where to read."""

    name: str
    distribution: str  # the PyPI distribution mlgate installs it from ("" for mlgate's own)
    homepage: str
    gitlab_id_type: str | None = None  # GitLab's identifier type for its rule ids


@dataclass(frozen=True)
class RuleInfo:
    """One rule in a gate's catalogue: SARIF `rules[]` and GitLab identifiers come from it."""

    id: str
    title: str
    severity: Severity  # the default; the policy may raise or lower a finding's
    cwe: str | None = None
    help_uri: str | None = None
    tool: str = "mlgate"


@dataclass(frozen=True)
class PipelineTraits:
    """What the generated pipeline needs to know about a gate's job."""

    needs_project: bool = False  # runs the repository's own tests: the job installs it
    extras: str = "tools"  # the mlgate extras its job installs
    shardable: bool = False  # `.mlgate.yml` may split it over `shards: N` jobs
    in_training: bool = False  # continuous training checks it again after it trained
    scheduled: bool = True  # part of the daily scheduled run (needs no project)
    test_marker: str | None = None  # the pytest marker of the repository tests it runs


@dataclass(frozen=True)
class OptionKinds:
    """What the gate's options mean to configuration checks and `--trusted-config`.

    paths: option -> kind of repository path it names (see confine.py); growing_lists:
    lists that weaken the gate when they grow; switches: booleans that turn a check off
    when they go false; severities: severities that weaken it when lowered; sources:
    where its data comes from (any change is reported as such).
    """

    paths: Mapping[str, str] = field(default_factory=dict)
    growing_lists: tuple[str, ...] = ()
    switches: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()


MLGATE_TOOL = ToolInfo("mlgate", "mlgate", "https://pypi.org/project/mlgate/")
UNREADABLE_RULE_INFO = RuleInfo(
    UNREADABLE_RULE,
    "A file or directory could not be read, so it was not scanned",
    Severity.HIGH,
)


class Gate(abc.ABC):
    """One module per gate subclasses this; `gates.GATES` is the registry.

    Everything the rest of mlgate needs to know about a gate is declared here, with a
    default: reports, the pipeline generator, configuration and the runner read these
    members and never name a gate.
    """

    name: ClassVar[str]
    summary: ClassVar[str]
    # JSON Schema (a `properties` mapping) of the gate's own tool options in the policy.
    options_schema: ClassVar[Mapping[str, Any]] = {}
    option_kinds: ClassVar[OptionKinds] = OptionKinds()
    # The external tools it runs (mlgate's own checks report as tool `mlgate`).
    tools: ClassVar[tuple[ToolInfo, ...]] = ()
    # Its own rules; `rule()` may know more (a tool's rules read from its rule files).
    rules: ClassVar[tuple[RuleInfo, ...]] = (UNREADABLE_RULE_INFO,)
    pipeline: ClassVar[PipelineTraits] = PipelineTraits()
    # The GitLab security report its findings go into (`sast`, `dependency_scanning`), if any.
    gitlab_report: ClassVar[str | None] = None
    # Whether, before its first tool starts, it parses or converts its inputs (more than a
    # look at each file): gates that do not start their tools first (`runner.StartingLine`).
    heavy_preparation: ClassVar[bool] = False
    # How its results may be cached: `file` (a finding belongs to its file), `gate` (the
    # whole result is keyed on all inputs) or `none` (never reused).
    cache_scope: ClassVar[str] = "none"

    def cache_salt(self, ctx: GateContext) -> str | None:
        """What else its result depends on (rule files, tables); None: never reuse it."""
        return ""

    def starts_tools(self, ctx: GateContext) -> bool:
        """Whether this run of the gate starts a tool process once its inputs are ready.
        Such gates prepare one at a time, each until its tool has started (light ones
        first); the others begin once they all have (see `runner.StartingLine`)."""
        return False

    def check_config(self, ctx: GateContext) -> None:
        """Before any gate runs: refuse configuration it cannot use (ConfigError)."""
        return None

    def rule(self, tool: str, rule_id: str) -> RuleInfo | None:
        """The catalogue entry of a rule, or None when the tool's rule is not catalogued."""
        return self._rule_index.get((tool, rule_id))

    @functools.cached_property
    def _rule_index(self) -> Mapping[tuple[str, str], RuleInfo]:
        """(tool, rule id) -> entry: reports look a rule up once per finding."""
        return {(r.tool, r.id): r for r in self.rules}

    @abc.abstractmethod
    def inputs(self, repo: Repo, options: Mapping[str, Any]) -> GateInputs:
        """Select the files this gate reads and the options its result depends on."""

    @abc.abstractmethod
    def run(self, ctx: GateContext) -> GateResult:
        """Run the gate's tools over ctx.inputs; never raise for a tool's failure."""

    @abc.abstractmethod
    def tool_versions(self) -> Mapping[str, str | None]:
        """Name -> version of each external tool this gate calls (None: not installed)."""
