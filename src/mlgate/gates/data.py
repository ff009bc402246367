"""data gate: data contracts (pandera YAML schemas), drift against a reference, and the
repository's own `pytest -m data` tests.

`.mlgate.yml` lists the datasets (a path or glob; CSV, Parquet or JSONL), each with a
contract and optionally a `reference:` (a path, or `git:REF:path` read without a checkout).
The policy holds the thresholds (`psi`, `ks_pvalue`). What the data itself gets wrong is a
finding (a failing check, a drifted column, a file that matches nothing or cannot be
read); what stops a check from running at all is a gate error (a contract that is not
valid pandera YAML, a reference or git ref that does not exist, the data stack missing).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, ClassVar

from mlgate.findings import Finding, Severity
from mlgate.gates import gitref, repotests
from mlgate.gates.base import (
    UNREADABLE_RULE_INFO,
    Collector,
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
)
from mlgate.git import GitError
from mlgate.lifecycle import temp_dir
from mlgate.repo import Repo, read_text
from mlgate.tabular import DataError, missing_data_stack
from mlgate.tools import package_version, submit
from mlgate.yamlimport import yaml

if TYPE_CHECKING:
    from mlgate.tabular.contracts import Contract, ContractReport, Violation
    from mlgate.tabular.drift import ColumnDrift, DriftOptions, Profile
    from mlgate.tabular.readers import ReadOptions

NAME = "data"
SEVERITIES = [s.value for s in Severity]
REDACTED = "<redacted>"
_FORMATS = ["csv", "parquet", "jsonl"]
_STRINGS = {"type": "array", "items": {"type": "string", "minLength": 1}}

_DATASET_SCHEMA: Mapping[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["path"],
    "properties": {
        "path": {"type": "string", "minLength": 1},
        "format": {"enum": _FORMATS},
        "contract": {"type": "string", "minLength": 1},
        "reference": {"type": "string", "minLength": 1},
        "encoding": {"type": "string", "minLength": 1},
        "redact": _STRINGS,
        "drift_columns": _STRINGS,
        "drift_exclude": _STRINGS,
        "psi": {"type": "number", "exclusiveMinimum": 0},
        "ks_pvalue": {"type": "number", "minimum": 0, "maximum": 1},
    },
}


@dataclass(frozen=True)
class DatasetSpec:
    """One `datasets:` entry of the gate's options."""

    path: str
    fmt: str | None
    contract: str | None
    reference: str | None
    encoding: str
    redact: frozenset[str]
    drift_columns: tuple[str, ...] | None
    drift_exclude: tuple[str, ...]
    psi: float | None
    ks_pvalue: float | None

    @classmethod
    def parse(cls, raw: Mapping[str, Any], redact: Sequence[str]) -> DatasetSpec:
        columns = raw.get("drift_columns")
        return cls(
            path=str(raw["path"]),
            fmt=raw.get("format"),
            contract=raw.get("contract"),
            reference=raw.get("reference"),
            encoding=str(raw.get("encoding", "utf-8")),
            redact=frozenset([*redact, *(raw.get("redact") or ())]),
            drift_columns=tuple(columns) if columns is not None else None,
            drift_exclude=tuple(raw.get("drift_exclude") or ()),
            psi=raw.get("psi"),
            ks_pvalue=raw.get("ks_pvalue"),
        )


@dataclass(frozen=True)
class DataOptions:
    """The data gate's options, typed, with their defaults and schema in one place."""

    datasets: tuple[Mapping[str, Any], ...] = option(
        (), {"type": "array", "items": _DATASET_SCHEMA}
    )
    # population stability index above this: the column drifted
    psi: float = option(0.2, {"type": "number", "exclusiveMinimum": 0})
    # Kolmogorov-Smirnov p-value below this: the column drifted (0: off)
    ks_pvalue: float = option(0.01, {"type": "number", "minimum": 0, "maximum": 1})
    psi_bins: int = option(10, {"type": "integer", "minimum": 2, "maximum": 100})
    max_categories: int = option(50, {"type": "integer", "minimum": 1})
    # columns whose failing values are never shown in reports
    redact_columns: tuple[str, ...] = option((), _STRINGS)
    chunk_rows: int = option(200_000, {"type": "integer", "minimum": 1})
    drift_sample_rows: int = option(1_000_000, {"type": "integer", "minimum": 100})
    # a failing contract check, a missing or unreadable dataset
    contract_severity: str = option("high", {"enum": SEVERITIES})
    drift_severity: str = option("high", {"enum": SEVERITIES})
    run_tests: bool = option(True, repotests.RUN_TESTS_SCHEMA)
    # Each dataset the repository tracks (files under data/, `.dvc` pointers' outputs)
    # must be covered by a dataset entry with a contract, else a finding.
    require_contract: bool = option(False, {"type": "boolean"})
    test_marker: str | None = option(None, repotests.TEST_MARKER_SCHEMA)
    test_command: tuple[str, ...] | None = option(None, repotests.TEST_COMMAND_SCHEMA)
    test_python: str | None = option(None, repotests.TEST_PYTHON_SCHEMA)

    @classmethod
    def of(cls, options: Mapping[str, Any]) -> DataOptions:
        return parse_options(cls, options)


class DataGate(Gate):
    name = NAME
    tools = (
        ToolInfo("pandera", "pandera", "https://pandera.readthedocs.io/"),
        ToolInfo("pytest", "pytest", "https://docs.pytest.org/"),
        ToolInfo("mlgate-drift", "mlgate", "https://pypi.org/project/mlgate/"),  # its own check
    )
    rules = (
        UNREADABLE_RULE_INFO,
        RuleInfo(
            "dataset-without-contract", "A tracked dataset has no data contract", Severity.MEDIUM
        ),
        RuleInfo(
            "contract-violation", "A dataset violates its contract", Severity.HIGH, tool="pandera"
        ),
        RuleInfo("dataset-missing", "A configured dataset does not exist", Severity.HIGH),
        RuleInfo("dataset-unreadable", "A dataset could not be read", Severity.HIGH),
        RuleInfo(
            "drift", "A column drifted from its reference", Severity.MEDIUM, tool="mlgate-drift"
        ),
        RuleInfo(
            f"{NAME}-test-failed", f"A test marked `{NAME}` failed", Severity.HIGH, tool="pytest"
        ),
    )
    pipeline = PipelineTraits(
        needs_project=True, extras="data", in_training=True, scheduled=False, test_marker=NAME
    )
    option_kinds = OptionKinds(
        paths={"datasets": "datasets"},
        switches=("run_tests",),
        severities=("contract_severity", "drift_severity"),
    )
    cache_scope = "none"  # runs the repository's tests: a result is never reused
    summary = (
        "data contracts (pandera), drift against a reference, and the repo's `pytest -m data` tests"
    )
    options_schema: ClassVar[Mapping[str, Any]] = options_schema_of(DataOptions)

    def inputs(self, repo: Repo, options: Mapping[str, Any]) -> GateInputs:
        typed = DataOptions.of(options)
        specs = _specs(typed)
        files: set[str] = set()
        for spec in specs:
            files.update(_inputs_of(repo.root, spec))
        if repotests.tests_wanted(repo, typed, NAME):
            files.update(repo.files)  # the tests may read any file of the repository
        if typed.require_contract:
            files.update(tracked_data(repo))
        opts = {**options, "resolved_refs": _resolved_refs(repo.root, specs)}
        return GateInputs(files=tuple(sorted(files)), options=opts)

    def tool_versions(self) -> Mapping[str, str | None]:
        names = ("pandera", "pandas", "pyarrow", "scipy", "pytest")
        return {name: package_version(name) for name in names}

    def run(self, ctx: GateContext) -> GateResult:
        options = _options(ctx)
        specs = _specs(options)
        out = Collector(properties={"datasets": []})
        with ThreadPoolExecutor(max_workers=1) as pool:
            tests = submit(pool, repotests.run_for_gate, ctx, options, NAME)
            if specs:
                _check_datasets(ctx, specs, out)
            marked = tests.result()
        uncovered = _uncontracted(ctx, specs) if options.require_contract else []
        for finding in uncovered:
            out.add(finding, f"{finding.path}|no-contract")
        if not specs and marked is None and not uncovered:
            return GateResult(
                NAME,
                skipped=f"no datasets configured and no tests marked `{_marker(ctx)}`",
                tools=self.tool_versions(),
            )
        repotests.collect(out, NAME, marked)
        scanned = sum(1 for d in out.properties["datasets"] if d.get("rows") is not None)
        return out.result(NAME, self.tool_versions(), files_scanned=scanned)


# --- options ------------------------------------------------------------------------------


def _options(ctx: GateContext) -> DataOptions:
    return DataOptions.of(ctx.inputs.options)


def _specs(options: DataOptions) -> list[DatasetSpec]:
    redact = list(options.redact_columns)
    return [DatasetSpec.parse(raw, redact) for raw in options.datasets]


def _marker(ctx: GateContext) -> str:
    return repotests.marker_of(_options(ctx), NAME)


def _inputs_of(root: Path, spec: DatasetSpec) -> list[str]:
    named = [spec.contract] if spec.contract else []
    if spec.reference and not spec.reference.startswith(gitref.PREFIX):
        named.append(spec.reference)
    try:
        matched = [p.relative_to(root).as_posix() for p in _match(root, spec.path)]
    except DataError:
        matched = []
    return matched + [n for n in named if (root / n).is_file()]


def _resolved_refs(root: Path, specs: Sequence[DatasetSpec]) -> dict[str, str | None]:
    """The commit each `git:` reference names now, so a result cache keys on it."""
    resolved: dict[str, str | None] = {}
    for spec in specs:
        try:
            ref = gitref.parse(spec.reference or "")
            if ref is not None and ref.ref not in resolved:
                resolved[ref.ref] = gitref.resolve(root, ref.ref)
        except GitError:
            continue
    return resolved


def _match(root: Path, pattern: str) -> list[Path]:
    """Files under root matching a path or glob; DataError for a pattern leaving the repo."""
    relative = Path(pattern)
    if relative.is_absolute() or ".." in relative.parts:
        raise DataError(f"dataset path {pattern!r} must be a path inside the repository")
    top = root.resolve()
    found = root.glob(pattern) if any(ch in pattern for ch in "*?[") else [root / pattern]
    return sorted(p for p in found if p.is_file() and p.resolve().is_relative_to(top))


# --- datasets without a contract ---------------------------------------------------------

DATA_DIR = "data/"
_NOT_DATA = frozenset({".gitignore", ".gitkeep", "README.md", ".dvcignore"})


def tracked_data(repo: Repo) -> dict[str, str]:
    """Datasets the repository tracks -> how: files under data/, and `.dvc` pointers'
    outputs (read from the pointer; the data itself need not be present)."""
    found: dict[str, str] = {}
    for rel in repo.files:
        name = PurePosixPath(rel).name
        if rel.endswith(".dvc"):
            folder = PurePosixPath(rel).parent
            for out in dvc_outputs(repo.root, rel):
                target = str(folder / str(out["path"])).removeprefix("./")
                found[target] = f"tracked by {rel}"
        elif rel.startswith(DATA_DIR) and name not in _NOT_DATA:
            found.setdefault(rel, "under data/")
    return found


def dvc_outputs(root: Path, pointer: str) -> list[dict[str, Any]]:
    """The `outs:` of a `.dvc` pointer file (what DVC tracks), read as YAML; [] if unreadable."""
    try:
        data = yaml.safe_load(read_text(root, pointer))
    except yaml.YAMLError:
        return []
    outs = data.get("outs") if isinstance(data, dict) else None
    return [o for o in outs or [] if isinstance(o, dict) and isinstance(o.get("path"), str)]


def _uncontracted(ctx: GateContext, specs: Sequence[DatasetSpec]) -> list[Finding]:
    """A finding per tracked dataset that no dataset entry with a contract covers (a drift
    reference of a contracted dataset counts as covered)."""
    covered: list[str] = []
    for spec in specs:
        if spec.contract:
            covered.append(spec.path)
            if spec.reference and not spec.reference.startswith(gitref.PREFIX):
                covered.append(spec.reference)
    severity = Severity.parse(_options(ctx).contract_severity)
    return [
        Finding(
            gate=NAME,
            tool="mlgate",
            rule_id="dataset-without-contract",
            severity=severity,
            confidence="high",
            message=f"{rel} ({how}) has no data contract: the policy requires one for each "
            "dataset the repository tracks",
            path=rel,
            fix=f"`mlgate data infer {rel} -o contracts/NAME.schema.yml`, then list it in "
            ".mlgate.yml data.datasets with `contract:`",
            properties={"dataset": rel},
        )
        for rel, how in sorted(tracked_data(ctx.repo).items())
        if not any(fnmatch.fnmatchcase(rel, pattern) for pattern in covered)
    ]


# --- datasets -----------------------------------------------------------------------------


def _check_datasets(ctx: GateContext, specs: Sequence[DatasetSpec], out: Collector) -> None:
    problem = missing_data_stack()
    if problem is not None:
        out.errors.append(problem)
        return
    with temp_dir("mlgate-data-") as tmp:
        for spec in specs:
            _check_spec(ctx, spec, Path(tmp), out)


def _check_spec(ctx: GateContext, spec: DatasetSpec, tmp: Path, out: Collector) -> None:
    from mlgate.tabular.contracts import ContractError, load_contract  # noqa: PLC0415 (optional extra)

    try:
        files = _match(ctx.root, spec.path)
    except DataError as exc:
        out.errors.append(exc.message)
        return
    if not files:
        out.add(_missing_finding(spec), spec.path)
        return
    if not spec.contract and not spec.reference:
        out.errors.append(f"dataset {spec.path!r}: neither `contract:` nor `reference:` is set")
    contract = None
    if spec.contract:
        try:
            contract = load_contract(ctx.root / spec.contract)
        except ContractError as exc:
            out.errors.append(f"dataset {spec.path!r}: contract {spec.contract}: {exc.message}")
    references = _ReferenceCache(ctx, spec, tmp)
    for path in files:
        _check_file(ctx, spec, path, contract, references, out)


def _check_file(
    ctx: GateContext,
    spec: DatasetSpec,
    path: Path,
    contract: Contract | None,
    references: _ReferenceCache,
    out: Collector,
) -> None:
    from mlgate.tabular.readers import ReadError, detect_format  # noqa: PLC0415 (optional extra)

    rel = path.relative_to(ctx.root).as_posix()
    record: dict[str, Any] = {"path": rel, "contract": spec.contract, "reference": spec.reference}
    out.properties["datasets"].append(record)
    try:
        fmt = detect_format(rel, spec.fmt)
        record["format"] = fmt
        if contract is not None:
            report = _validate(ctx, spec, path, fmt, contract)
            record.update(rows=report.rows, violations=len(report.violations))
            _contract_findings(ctx, spec, rel, fmt, report, out)
        if spec.reference:
            _drift(ctx, spec, path, fmt, references, record, out)
    except ReadError as exc:
        record["unreadable"] = exc.message
        out.add(_unreadable_finding(ctx, rel, exc.message), f"{rel}|unreadable")
    except DataError as exc:
        out.errors.append(f"{rel}: {exc.message}")


def _read_options(ctx: GateContext, spec: DatasetSpec) -> ReadOptions:
    from mlgate.tabular.readers import ReadOptions  # noqa: PLC0415 (optional extra)

    return ReadOptions(chunk_rows=_options(ctx).chunk_rows, encoding=spec.encoding)


def _validate(
    ctx: GateContext, spec: DatasetSpec, path: Path, fmt: str, contract: Contract
) -> ContractReport:
    from mlgate.tabular.contracts import validate_file  # noqa: PLC0415 (optional extra)

    return validate_file(path, fmt, contract, _read_options(ctx, spec))


# --- contract findings --------------------------------------------------------------------


def _contract_findings(
    ctx: GateContext, spec: DatasetSpec, rel: str, fmt: str, report: ContractReport, out: Collector
) -> None:
    severity = Severity.parse(_options(ctx).contract_severity)
    for violation in report.violations:
        redacted = _redacted(violation.column, spec.redact)
        samples = [REDACTED] * len(violation.samples) if redacted else list(violation.samples)
        finding = Finding(
            gate=NAME,
            tool="pandera",
            rule_id="contract-violation",
            severity=severity,
            confidence="high",
            message=f"{rel}: {_describe(violation, samples)}",
            path=rel,
            line=_line(fmt, violation.first_row),
            properties={
                "dataset": rel,
                "contract": spec.contract,
                "column": violation.column,
                "check": violation.check,
                "failing_rows": violation.count if violation.rows else None,
                "first_row": None if violation.first_row is None else violation.first_row + 1,
                "samples": samples,
                "redacted": redacted,
            },
        )
        out.add(finding, f"{rel}|{violation.column}|{violation.check}")


def _redacted(column: str | None, redact: frozenset[str]) -> bool:
    return column is not None and any(part in redact for part in column.split(","))


def _describe(violation: Violation, samples: Sequence[str]) -> str:
    where = (
        f"column {violation.column} fails {violation.check}"
        if violation.column
        else violation.check
    )
    shown = ", ".join(samples)
    if not violation.rows:
        return f"{where}" + (f": found {shown}" if shown else "")
    first = "" if violation.first_row is None else f" (first at row {violation.first_row + 1})"
    return f"{where}: {violation.count} row(s), e.g. {shown}{first}"


def _line(fmt: str, first_row: int | None) -> int | None:
    """The file line of a 0-based data row: CSV has a header line; Parquet has no lines."""
    if first_row is None or fmt == "parquet":
        return None
    return first_row + (2 if fmt == "csv" else 1)


def _missing_finding(spec: DatasetSpec) -> Finding:
    return Finding(
        gate=NAME,
        tool="mlgate",
        rule_id="dataset-missing",
        severity=Severity.HIGH,
        confidence="high",
        message=f"dataset {spec.path!r} matches no file (is the data pulled, e.g. `dvc pull`?)",
        path=spec.path,
        properties={"dataset": spec.path},
    )


def _unreadable_finding(ctx: GateContext, rel: str, reason: str) -> Finding:
    return Finding(
        gate=NAME,
        tool="mlgate",
        rule_id="dataset-unreadable",
        severity=Severity.parse(_options(ctx).contract_severity),
        confidence="high",
        message=f"{rel}: {reason}",
        path=rel,
        properties={"dataset": rel},
    )


# --- drift --------------------------------------------------------------------------------


class _ReferenceCache:
    """The reference profile for a dataset file: read once per reference file, not per file."""

    def __init__(self, ctx: GateContext, spec: DatasetSpec, tmp: Path) -> None:
        self.ctx, self.spec, self.tmp = ctx, spec, tmp
        self.cache: dict[str, Profile] = {}

    def profile(self, rel: str, fmt: str, options: DriftOptions) -> tuple[str, Profile]:
        """(label, profile) of the reference for the dataset file `rel`; DataError if unusable."""
        label, path = self._locate(rel)
        if label not in self.cache:
            self.cache[label] = _profile(self.ctx, self.spec, path, fmt, options, label)
        return label, self.cache[label]

    def _locate(self, rel: str) -> tuple[str, Path]:
        text = self.spec.reference or ""
        try:
            ref = gitref.parse(text)
            if ref is None:
                return text, _reference_path(self.ctx.root, text)
            ref = ref.at(rel)
            dest = self.tmp / str(len(self.cache)) / Path(ref.path or rel).name
            commit = (self.ctx.option("resolved_refs") or {}).get(ref.ref)
            return ref.label(), gitref.copy_to(self.ctx.root, ref, dest, commit)
        except GitError as exc:
            raise DataError(f"reference {text}: {exc}") from None


def _reference_path(root: Path, text: str) -> Path:
    matched = _match(root, text)
    if len(matched) != 1:
        raise DataError(f"reference {text!r} must name one existing file in the repository")
    return matched[0]


def _profile(
    ctx: GateContext, spec: DatasetSpec, path: Path, fmt: str, options: DriftOptions, label: str
) -> Profile:
    from mlgate.tabular.drift import profile_file  # noqa: PLC0415 (optional extra)
    from mlgate.tabular.readers import ReadError, detect_format  # noqa: PLC0415 (optional extra)

    try:
        own = detect_format(path.name)  # a reference may be stored in another format
    except DataError:
        own = fmt
    try:
        return profile_file(path, own, _read_options(ctx, spec), options)
    except ReadError as exc:
        raise DataError(f"reference {label}: {exc.message}") from None


def _drift_options(ctx: GateContext, spec: DatasetSpec) -> DriftOptions:
    from mlgate.tabular.drift import DriftOptions  # noqa: PLC0415 (optional extra)

    options = _options(ctx)
    return DriftOptions(
        psi=float(spec.psi if spec.psi is not None else options.psi),
        ks_pvalue=float(spec.ks_pvalue if spec.ks_pvalue is not None else options.ks_pvalue),
        bins=options.psi_bins,
        max_categories=options.max_categories,
        sample_rows=options.drift_sample_rows,
        columns=spec.drift_columns,
        exclude=spec.drift_exclude,
    )


def _drift(
    ctx: GateContext,
    spec: DatasetSpec,
    path: Path,
    fmt: str,
    references: _ReferenceCache,
    record: dict[str, Any],
    out: Collector,
) -> None:
    from mlgate.tabular.drift import compare, profile_file  # noqa: PLC0415 (optional extra)

    options = _drift_options(ctx, spec)
    rel = record["path"]
    label, reference = references.profile(rel, fmt, options)
    current = profile_file(path, fmt, _read_options(ctx, spec), options)
    columns = compare(reference, current, options)
    record["drift"] = {
        "reference": label,
        "reference_rows": reference.rows,
        "rows": current.rows,
        "thresholds": {"psi": options.psi, "ks_pvalue": options.ks_pvalue},
        "columns": [c.to_dict() for c in columns],
    }
    out.notes.append(_drift_note(rel, label, columns))
    severity = Severity.parse(_options(ctx).drift_severity)
    for column in columns:
        if column.drifted:
            out.add(
                _drift_finding(rel, label, column, options, severity),
                f"{rel}|drift|{column.column}",
            )


def _drift_finding(
    rel: str, label: str, column: ColumnDrift, options: DriftOptions, severity: Severity
) -> Finding:
    return Finding(
        gate=NAME,
        tool="mlgate-drift",
        rule_id="drift",
        severity=severity,
        confidence="medium",
        message=f"{rel}: column {column.column} drifted from {label}: {_why(column, options)}",
        path=rel,
        properties={"dataset": rel, "reference": label, **column.to_dict()},
    )


def _why(column: ColumnDrift, options: DriftOptions) -> str:
    parts = [
        f"PSI {column.psi:.3g}" + (f" > {options.psi:g}" if (column.psi or 0) > options.psi else "")
    ]
    if column.ks_pvalue is not None:
        below = column.ks_pvalue < options.ks_pvalue
        parts.append(
            f"KS p-value {column.ks_pvalue:.3g}" + (f" < {options.ks_pvalue:g}" if below else "")
        )
    return "; ".join(parts)


def _drift_note(rel: str, label: str, columns: Sequence[ColumnDrift]) -> str:
    compared = [c for c in columns if c.psi is not None]
    shown = ", ".join(
        f"{c.column} PSI {c.psi:.3g}"
        + (f" KS p {c.ks_pvalue:.3g}" if c.ks_pvalue is not None else "")
        for c in compared
    )
    skipped = [c.column for c in columns if c.psi is None]
    tail = f"; not compared: {', '.join(skipped)}" if skipped else ""
    return f"drift {rel} vs {label}: {shown or 'no comparable columns'}{tail}"


# --- the repository's own tests -----------------------------------------------------------
