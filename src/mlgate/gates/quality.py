"""The `model` gate (model quality): metric thresholds and regression against a baseline,
inference budgets, the model card, and the repository's own `pytest -m model` tests.

Metrics come from JSON or YAML files (DVC-style `metrics.json`; nested keys are named by
dotted path) and from an MLflow run directory read as files (`mlruns/<exp>/<run>/metrics/
<name>`, no MLflow needed). The baseline is a committed file or the same metrics files at
a git ref (`baseline: git:main`). The predict command is run after a warm-up and measured:
wall-clock p50/p95 and the peak resident memory of its whole process tree.
"""

from __future__ import annotations

import json
import math
import re
import shlex
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

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
from mlgate.repo import Repo, read_text
from mlgate.tools import MeasuredRun, package_version, run_tool_measured, submit
from mlgate.yamlimport import yaml

NAME = "model"
DEFAULT_SECTIONS = ("Intended use", "Training data", "Metrics", "Limitations")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_THRESHOLD = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "properties": {key: {"type": "number"} for key in ("min", "max", "max_drop", "max_rise")},
}
_STRINGS = {"type": "array", "items": {"type": "string", "minLength": 1}}
_PREDICT = {
    "type": "object",
    "additionalProperties": False,
    "required": ["command"],
    "properties": {
        "command": {"oneOf": [{"type": "string", "minLength": 1}, {**_STRINGS, "minItems": 1}]},
        "runs": {"type": "integer", "minimum": 1, "maximum": 1000},
        "warmup": {"type": "integer", "minimum": 0, "maximum": 100},
        "timeout": {"type": "number", "exclusiveMinimum": 0},
        "env": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}


class MetricsError(Exception):
    """A metrics file that cannot be read or parsed; the message says which and why."""


class ModelCollector(Collector):
    def record(self, anchor: str, rule_id: str, message: str, **extra: Any) -> None:
        """Add one of this gate's own findings; `extra` becomes its properties."""
        severity = extra.pop("severity", Severity.HIGH)
        path = extra.pop("path", None)
        finding = Finding(
            gate=NAME,
            tool=extra.pop("tool", "mlgate"),
            rule_id=rule_id,
            severity=severity,
            confidence="high",
            message=message,
            path=path,
            properties=extra,
        )
        self.add(finding, anchor)


@dataclass(frozen=True)
class ModelQualityOptions:
    """The model gate's options, typed, with their defaults and schema in one place."""

    metrics_files: tuple[str, ...] = option((), _STRINGS)
    mlflow_run: str | None = option(None, {"type": "string", "minLength": 1})
    # {metric: {min, max, max_drop, max_rise}}
    metrics: Mapping[str, Mapping[str, float]] | None = option(
        None, {"type": "object", "additionalProperties": _THRESHOLD}
    )
    baseline: str | None = option(None, {"type": "string", "minLength": 1})
    predict: Mapping[str, Any] | None = option(None, _PREDICT)
    latency_p95_ms: float | None = option(None, {"type": "number", "exclusiveMinimum": 0})
    peak_rss_mb: float | None = option(None, {"type": "number", "exclusiveMinimum": 0})
    # a model card naming intended use, training data, metrics and limitations must exist
    model_card: bool = option(False, {"type": "boolean"})
    model_card_path: str | None = option(None, {"type": "string", "minLength": 1})
    model_card_sections: tuple[str, ...] = option(DEFAULT_SECTIONS, {**_STRINGS, "minItems": 1})
    run_tests: bool = option(True, repotests.RUN_TESTS_SCHEMA)
    test_marker: str | None = option(None, repotests.TEST_MARKER_SCHEMA)
    test_command: tuple[str, ...] | None = option(None, repotests.TEST_COMMAND_SCHEMA)
    test_python: str | None = option(None, repotests.TEST_PYTHON_SCHEMA)

    @classmethod
    def of(cls, options: Mapping[str, Any]) -> ModelQualityOptions:
        return parse_options(cls, options)

    def budgets(self) -> dict[str, float]:
        """The inference budgets set (latency_p95_ms, peak_rss_mb)."""
        given = {"latency_p95_ms": self.latency_p95_ms, "peak_rss_mb": self.peak_rss_mb}
        return {k: v for k, v in given.items() if v is not None}


def _options(ctx: GateContext) -> ModelQualityOptions:
    return ModelQualityOptions.of(ctx.inputs.options)


class ModelQualityGate(Gate):
    name = NAME
    tools = (ToolInfo("pytest", "pytest", "https://docs.pytest.org/"),)
    rules = (
        UNREADABLE_RULE_INFO,
        RuleInfo("metrics-unreadable", "A metrics file could not be read", Severity.HIGH),
        RuleInfo("metric-missing", "A metric with a threshold is missing", Severity.HIGH),
        RuleInfo("metric-below-min", "A model metric is below its minimum", Severity.HIGH),
        RuleInfo("metric-above-max", "A model metric is above its maximum", Severity.HIGH),
        RuleInfo(
            "metric-regression", "A model metric regressed against the baseline", Severity.HIGH
        ),
        RuleInfo("baseline-metric-missing", "The baseline lacks a compared metric", Severity.HIGH),
        RuleInfo("predict-failed", "The predict command failed", Severity.HIGH),
        RuleInfo("predict-timeout", "The predict command timed out", Severity.HIGH),
        RuleInfo("latency-budget", "Inference latency exceeds its budget", Severity.HIGH),
        RuleInfo("memory-budget", "Inference memory exceeds its budget", Severity.HIGH),
        RuleInfo("model-card-missing", "The model card is missing", Severity.HIGH),
        RuleInfo("model-card-section-missing", "The model card lacks a section", Severity.HIGH),
        RuleInfo(
            f"{NAME}-test-failed", f"A test marked `{NAME}` failed", Severity.HIGH, tool="pytest"
        ),
    )
    pipeline = PipelineTraits(
        extras="", needs_project=True, in_training=True, scheduled=False, test_marker=NAME
    )
    option_kinds = OptionKinds(
        paths={
            "metrics_files": "paths",
            "mlflow_run": "glob",
            "baseline": "path-or-git",
            "model_card_path": "path",
        },
        switches=("model_card", "run_tests"),
    )
    cache_scope = "none"  # measures time and runs the repository's code: never reused
    summary = (
        "metric thresholds and regression, inference budgets, model card, `pytest -m model` tests"
    )
    options_schema: ClassVar[Mapping[str, Any]] = options_schema_of(ModelQualityOptions)

    def inputs(self, repo: Repo, options: Mapping[str, Any]) -> GateInputs:
        typed = ModelQualityOptions.of(options)
        files = set(typed.metrics_files)
        baseline = typed.baseline
        if baseline and not str(baseline).startswith(gitref.PREFIX):
            files.add(str(baseline))
        files.add(_card_path(repo.root, typed))
        files.update(_mlflow_files(repo.root, typed.mlflow_run))
        if typed.predict or repotests.tests_wanted(repo, typed, NAME):
            files.update(repo.files)  # the command and the tests may read any file
        opts = {**options, "resolved_refs": _resolved_ref(repo.root, baseline)}
        return GateInputs(
            files=tuple(sorted(f for f in files if (repo.root / f).is_file())), options=opts
        )

    def tool_versions(self) -> Mapping[str, str | None]:
        return {name: package_version(name) for name in ("pytest", "psutil")}

    def run(self, ctx: GateContext) -> GateResult:
        if not _configured(ctx):
            return GateResult(NAME, skipped=_nothing_configured(ctx), tools=self.tool_versions())
        out = ModelCollector()
        with ThreadPoolExecutor(max_workers=1) as pool:
            tests = submit(pool, repotests.run_for_gate, ctx, _options(ctx), NAME)
            _check_metrics(ctx, out)
            _check_model_card(ctx, out)
            marked = tests.result()
            _check_budgets(ctx, out)  # alone: a concurrent pytest would skew the timings
        repotests.collect(out, NAME, marked)
        return out.result(NAME, self.tool_versions())


def _configured(ctx: GateContext) -> bool:
    options = _options(ctx)
    wanted = repotests.tests_wanted(ctx.repo, options, NAME)
    given = (options.metrics_files, options.mlflow_run, options.metrics, options.predict)
    return wanted or any(given) or bool(options.budgets()) or options.model_card


def _nothing_configured(ctx: GateContext) -> str:
    marker = repotests.marker_of(_options(ctx), NAME)
    return (
        "no metrics, predict command or model card requirement configured, "
        f"and no tests marked `{marker}`"
    )


def _resolved_ref(root: Path, baseline: Any) -> dict[str, str | None]:
    try:
        ref = gitref.parse(str(baseline or ""))
        return {} if ref is None else {ref.ref: gitref.resolve(root, ref.ref)}
    except GitError:
        return {}


# --- metrics ------------------------------------------------------------------------------


def flatten(data: Any, prefix: str = "") -> dict[str, float]:
    """Numeric leaves of nested mappings, keyed by dotted path (`eval.auc`)."""
    if isinstance(data, Mapping):
        flat: dict[str, float] = {}
        for key, value in data.items():
            flat.update(flatten(value, f"{prefix}{key}."))
        return flat
    if isinstance(data, (int, float)) and not isinstance(data, bool) and math.isfinite(data):
        return {prefix[:-1]: float(data)}
    return {}


def parse_metrics(text: str, name: str) -> dict[str, float]:
    """A JSON (`.json`) or YAML metrics document -> flat metrics; MetricsError if unparseable."""
    try:
        data = json.loads(text) if not name.endswith((".yml", ".yaml")) else yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise MetricsError(f"{name}: not valid JSON: {exc}") from None
    except yaml.YAMLError as exc:
        raise MetricsError(f"{name}: not valid YAML: {' '.join(str(exc).split())}") from None
    if not isinstance(data, Mapping):
        raise MetricsError(f"{name}: expected a mapping of metric names to numbers")
    return flatten(data)


def read_mlflow_run(run_dir: Path) -> dict[str, float]:
    """The latest value of each metric of an MLflow run: `metrics/<name>` lines `ts value step`."""
    metrics_dir = run_dir / "metrics"
    if not metrics_dir.is_dir():
        raise MetricsError(f"{run_dir}: not an MLflow run directory (no metrics/)")
    found: dict[str, float] = {}
    for path in sorted(p for p in metrics_dir.rglob("*") if p.is_file()):
        latest = _latest_value(path)
        if latest is not None:
            found[path.relative_to(metrics_dir).as_posix()] = latest
    return found


def _latest_value(path: Path) -> float | None:
    best: tuple[int, int, float] | None = None
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        parts = line.split()
        try:
            point = (int(parts[2]) if len(parts) > 2 else 0, int(parts[0]), float(parts[1]))
        except (ValueError, IndexError):
            continue
        if best is None or point[:2] >= best[:2]:
            best = point
    return None if best is None else best[2]


def _mlflow_dir(root: Path, pattern: Any) -> Path | None:
    """The run directory (the newest, when a glob matches several runs)."""
    if not pattern:
        return None
    runs = [p for p in root.glob(str(pattern)) if (p / "metrics").is_dir()]
    return max(runs, key=lambda p: p.stat().st_mtime) if runs else root / str(pattern)


def _mlflow_files(root: Path, pattern: Any) -> list[str]:
    run = _mlflow_dir(root, pattern)
    if run is None or not (run / "metrics").is_dir():
        return []
    return [p.relative_to(root).as_posix() for p in (run / "metrics").rglob("*") if p.is_file()]


def _current_metrics(
    ctx: GateContext, out: ModelCollector
) -> tuple[dict[str, float], dict[str, str]]:
    """(metrics, the file each came from); both empty when no source is configured."""
    files = list(_options(ctx).metrics_files)
    run = _mlflow_dir(ctx.root, _options(ctx).mlflow_run)
    metrics: dict[str, float] = {}
    sources: dict[str, str] = {}
    for rel in files:
        try:
            found = parse_metrics(_read_file(ctx.root, rel), rel)
        except MetricsError as exc:
            out.record(f"unreadable|{rel}", "metrics-unreadable", str(exc), path=rel, file=rel)
            continue
        metrics.update(found)
        sources.update(dict.fromkeys(found, rel))
    if run is not None:
        try:
            found = read_mlflow_run(run)
        except (MetricsError, OSError) as exc:
            out.record("unreadable|mlflow", "metrics-unreadable", str(exc), source="mlflow")
            return metrics, sources
        metrics.update(found)
        where = run.relative_to(ctx.root).as_posix() if run.is_relative_to(ctx.root) else str(run)
        sources.update({name: f"{where}/metrics/{name}" for name in found})
    return metrics, sources


def _read_file(root: Path, rel: str) -> str:
    path = root / rel
    if not path.is_file():
        raise MetricsError(f"{rel}: metrics file not found")
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise MetricsError(f"{rel}: cannot read: {exc}") from None


def _baseline_metrics(ctx: GateContext) -> tuple[str, dict[str, float]] | None:
    """(label, metrics) of the baseline; None without one; MetricsError/GitError if unusable."""
    text = _options(ctx).baseline
    if not text:
        return None
    ref = gitref.parse(str(text))
    if ref is None:
        return str(text), parse_metrics(_read_file(ctx.root, str(text)), str(text))
    commit = (ctx.option("resolved_refs") or {}).get(ref.ref)
    paths = [ref.path] if ref.path else list(_options(ctx).metrics_files)
    if not paths:
        raise MetricsError(
            f"baseline {text}: no metrics_files to read at that ref (write git:REF:path)"
        )
    metrics: dict[str, float] = {}
    for rel in paths:
        text = gitref.read_text(ctx.root, gitref.GitRef(ref.ref, rel), commit)
        try:
            metrics.update(parse_metrics(text, rel))
        except MetricsError as exc:
            raise MetricsError(f"{exc} (at git ref {ref.ref})") from None
    return ref.label(), metrics


def _check_metrics(ctx: GateContext, out: ModelCollector) -> None:
    options = _options(ctx)
    thresholds: Mapping[str, Mapping[str, float]] = options.metrics or {}
    if not options.metrics_files and not options.mlflow_run:
        if thresholds:
            out.errors.append(
                "metric thresholds are set but no `metrics_files` or `mlflow_run` is configured"
            )
        return
    current, sources = _current_metrics(ctx, out)
    try:
        baseline = _baseline_metrics(ctx)
    except (MetricsError, GitError) as exc:
        out.errors.append(f"baseline: {exc}")
        baseline = None
    label, base = baseline if baseline is not None else (None, {})
    rows = [
        _metric_row(
            name, current.get(name), base.get(name) if label else None, thresholds.get(name, {})
        )
        for name in sorted(set(current) | set(thresholds))
    ]
    out.properties.update(metrics=rows, baseline=label)
    for row in rows:
        _metric_findings(row, label, sources.get(row["metric"]), out)
        out.notes.append(_metric_note(row))


def _metric_row(
    name: str, current: float | None, baseline: float | None, threshold: Mapping[str, float]
) -> dict[str, Any]:
    delta = None if current is None or baseline is None else current - baseline
    return {
        "metric": name,
        "current": current,
        "baseline": baseline,
        "delta": None if delta is None else float(f"{delta:.6g}"),
        "threshold": dict(threshold),
        "violations": _violations(current, baseline, threshold),
    }


def _violations(
    current: float | None, baseline: float | None, threshold: Mapping[str, float]
) -> list[str]:
    if current is None:
        return ["missing"] if threshold else []
    found = []
    if "min" in threshold and current < threshold["min"]:
        found.append("min")
    if "max" in threshold and current > threshold["max"]:
        found.append("max")
    if baseline is not None:
        if "max_drop" in threshold and baseline - current > threshold["max_drop"]:
            found.append("max_drop")
        if "max_rise" in threshold and current - baseline > threshold["max_rise"]:
            found.append("max_rise")
    return found


_RULES = {
    "missing": ("metric-missing", "is missing from the metrics"),
    "min": ("metric-below-min", "is below its minimum"),
    "max": ("metric-above-max", "is above its maximum"),
    "max_drop": ("metric-regression", "dropped more than max_drop below the baseline"),
    "max_rise": ("metric-regression", "rose more than max_rise above the baseline"),
}


def _metric_findings(
    row: Mapping[str, Any], label: str | None, source: str | None, out: ModelCollector
) -> None:
    name = row["metric"]
    for check in row["violations"]:
        rule, what = _RULES[check]
        detail = _metric_note(row)
        message = f"metric {name} {what}: {detail}"
        out.record(f"{name}|{check}", rule, message, path=source, check=check, **row)
    wanted = {"max_drop", "max_rise"} & set(row["threshold"])
    if wanted and label and row["current"] is not None and row["baseline"] is None:
        message = (
            f"metric {name} has {'/'.join(sorted(wanted))} set but the baseline {label} lacks it"
        )
        out.record(
            f"{name}|baseline",
            "baseline-metric-missing",
            message,
            severity=Severity.MEDIUM,
            path=source,
            **row,
        )


def _metric_note(row: Mapping[str, Any]) -> str:
    text = f"{row['metric']} = {_num(row['current'])}"
    if row["baseline"] is not None:
        text += f" (baseline {_num(row['baseline'])}, delta {row['delta']:+.4g})"
    if row["threshold"]:
        text += "; " + ", ".join(f"{k} {v:g}" for k, v in row["threshold"].items())
    return text


def _num(value: float | None) -> str:
    return "missing" if value is None else f"{value:.6g}"


# --- inference budgets --------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default), q in [0, 100]."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _command(predict: Mapping[str, Any], python: str | None = None) -> list[str]:
    """The predict command; a leading `python`/`python3` is the repository's interpreter."""
    command = predict["command"]
    argv = shlex.split(command) if isinstance(command, str) else [str(a) for a in command]
    if python and argv and argv[0] in ("python", "python3"):
        argv[0] = python
    return argv


def _check_budgets(ctx: GateContext, out: ModelCollector) -> None:
    predict = _options(ctx).predict
    budgets = _options(ctx).budgets()
    if not predict:
        if budgets:
            out.errors.append(f"{' and '.join(budgets)} set but no `predict` command is configured")
        return
    runs = _measure(ctx, predict, out)
    if runs is None:
        return
    summary = _summarise(runs, int(predict.get("warmup", 1)), budgets)
    out.properties["budgets"] = summary
    out.notes.append(_budget_note(summary))
    _budget_findings(summary, budgets, out)


def _measure(
    ctx: GateContext, predict: Mapping[str, Any], out: ModelCollector
) -> list[MeasuredRun] | None:
    """Warm-up plus measured runs; None (and a finding) as soon as one fails or times out."""
    python, origin = repotests.repo_python(ctx.root, _options(ctx).test_python)
    argv = _command(predict, python)
    if argv[0] == python:
        out.properties["predict_python"] = {"python": python, "python_from": origin}
    total = int(predict.get("warmup", 1)) + int(predict.get("runs", 5))
    timeout = min(float(predict.get("timeout", 300)), ctx.timeout)
    env = {str(k): str(v) for k, v in (predict.get("env") or {}).items()}
    runs: list[MeasuredRun] = []
    for _ in range(total):
        measured = run_tool_measured(argv, timeout, cwd=ctx.root, env=env)
        if not measured.run.ok or measured.run.returncode != 0:
            rule = (
                "predict-timeout"
                if "timed out" in (measured.run.problem or "")
                else "predict-failed"
            )
            message = f"predict command failed: {measured.run.describe()}"
            out.record(rule, rule, message, command=argv, runs_completed=len(runs))
            return None
        runs.append(measured)
    return runs


def _summarise(
    runs: Sequence[MeasuredRun], warmup: int, budgets: Mapping[str, float]
) -> dict[str, Any]:
    timed = [r.run.seconds * 1000 for r in runs[warmup:]]
    peaks = [r.peak_rss_mb for r in runs if r.peak_rss_mb is not None]
    return {
        "runs": len(timed),
        "warmup": warmup,
        "latency_ms": [round(t, 1) for t in timed],
        "latency_p50_ms": round(percentile(timed, 50), 1),
        "latency_p95_ms": round(percentile(timed, 95), 1),
        "peak_rss_mb": round(max(peaks), 1) if peaks else None,
        "memory_scope": "process tree"
        if all(r.tree_polled for r in runs)
        else "largest single process",
        "budgets": dict(budgets),
    }


def _budget_findings(
    summary: Mapping[str, Any], budgets: Mapping[str, float], out: ModelCollector
) -> None:
    p95, budget = summary["latency_p95_ms"], budgets.get("latency_p95_ms")
    if budget is not None and p95 > budget:
        message = f"inference latency p95 {p95:g} ms exceeds the budget of {budget:g} ms"
        out.record("latency", "latency-budget", message, **summary)
    peak, limit = summary["peak_rss_mb"], budgets.get("peak_rss_mb")
    if limit is not None and peak is None:
        out.errors.append(
            "peak_rss_mb is set but the memory of the predict command could not be measured"
        )
    elif limit is not None and peak > limit:
        scope = summary["memory_scope"]
        message = f"inference peak memory {peak:g} MB ({scope}) exceeds the budget of {limit:g} MB"
        out.record("memory", "memory-budget", message, **summary)


def _budget_note(summary: Mapping[str, Any]) -> str:
    budgets = summary["budgets"]
    p95 = f"p95 {summary['latency_p95_ms']:g} ms" + (
        f" (budget {budgets['latency_p95_ms']:g})" if "latency_p95_ms" in budgets else ""
    )
    peak = summary["peak_rss_mb"]
    memory = "peak RSS unknown" if peak is None else f"peak RSS {peak:g} MB"
    memory += f" (budget {budgets['peak_rss_mb']:g})" if "peak_rss_mb" in budgets else ""
    return (
        f"predict: {summary['runs']} run(s) after {summary['warmup']} warm-up: "
        f"p50 {summary['latency_p50_ms']:g} ms, {p95}; {memory}"
    )


# --- model card ---------------------------------------------------------------------------


def _card_path(root: Path, options: ModelQualityOptions) -> str:
    explicit = options.model_card_path
    if explicit:
        return str(explicit)
    return "MODEL_CARD.md" if (root / "MODEL_CARD.md").is_file() else "README.md"


def headings(text: str) -> list[tuple[int, str, int]]:
    """(level, title, line index) of each Markdown ATX heading outside code fences."""
    found: list[tuple[int, str, int]] = []
    fenced = False
    for index, line in enumerate(text.splitlines()):
        if _FENCE.match(line):
            fenced = not fenced
            continue
        match = None if fenced else _HEADING.match(line)
        if match:
            found.append((len(match.group(1)), match.group(2).strip(), index))
    return found


def card_sections(text: str, whole_file: bool) -> list[str] | None:
    """Heading titles of the card: the whole file, or the README's "Model card" section.

    None when a README has no "Model card" heading."""
    found = headings(text)
    if whole_file:
        return [title for _, title, _ in found]
    for position, (level, title, _) in enumerate(found):
        if "model card" in title.lower():
            inside = []
            for sub_level, sub_title, _ in found[position + 1 :]:
                if sub_level <= level:
                    break
                inside.append(sub_title)
            return inside
    return None


def _check_model_card(ctx: GateContext, out: ModelCollector) -> None:
    options = _options(ctx)
    if not options.model_card:
        return
    rel = _card_path(ctx.root, options)
    wanted = list(options.model_card_sections)
    path = ctx.root / rel
    is_readme = Path(rel).name.lower().startswith("readme") and not options.model_card_path
    titles = (
        card_sections(read_text(ctx.root, rel), whole_file=not is_readme)
        if path.is_file()
        else None
    )
    if titles is None:
        where = f"{rel} has no 'Model card' section" if path.is_file() else f"{rel} does not exist"
        hint = "write MODEL_CARD.md or set model_card_path"
        message = f"the policy requires a model card: {where} ({hint})"
        out.record("card", "model-card-missing", message, path=rel, sections=wanted)
        out.properties["model_card"] = {"path": rel, "found": False, "missing": wanted}
        return
    missing = [s for s in wanted if not any(s.lower() in t.lower() for t in titles)]
    for section in missing:
        message = f"model card {rel} has no '{section}' section (a heading naming it)"
        out.record(
            f"card|{section.lower()}",
            "model-card-section-missing",
            message,
            path=rel,
            section=section,
        )
    out.properties["model_card"] = {"path": rel, "found": True, "missing": missing}


# --- the repository's own tests -----------------------------------------------------------
