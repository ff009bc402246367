"""`mlgate merge`: combine the json reports of sharded CI jobs into one set of gate results.

Merging is order-independent and idempotent: findings are keyed by fingerprint, errors and
notes are sets, and everything is sorted before the policy decides again.
"""

from __future__ import annotations

import hashlib
import json
import operator
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlgate import __version__
from mlgate.config import RepoConfig
from mlgate.errors import ReportError
from mlgate.findings import Finding, sort_key
from mlgate.gates import GateResult
from mlgate.inputs import validate_input
from mlgate.policy import POLICY_CHECK, decide
from mlgate.repo import Repo, open_repo
from mlgate.report.base import REPORT_SCHEMA_VERSION, Report
from mlgate.runner import RunResult
from mlgate.toollock import TOOLS
from mlgate.trust import load_settings, with_policy_check

REQUIRED_KEYS = ("schema_version", "mlgate_version", "commit", "gates", "findings", "started_at")
# The folder a generated pipeline downloads a gate job's report into: the job's id, `GATE`
# or `GATE-I-of-N` for shard I/N.
_JOB_FOLDER = re.compile(r"^(?P<gate>[a-z]+)(?:-(?P<index>[0-9]+)-of-(?P<count>[0-9]+))?$")
_SHA256 = re.compile(r"^(?:sha256:)?[0-9a-f]{64}$")


@dataclass(frozen=True)
class Binding:
    """What ties each report to the CI job that made it (`merge --bound/--commit/--digest`).

    `bound`: each report lies in a folder named for its job (`sast`, `sast-2-of-4`) and holds
    that gate (and shard) alone. `commit`: every report is for this commit. `digests`: report
    path -> the sha256 its job printed and passed on; every report needs one when any is given.
    """

    bound: bool = False
    commit: str | None = None
    digests: Mapping[str, str] | None = None


@dataclass(frozen=True)
class LoadedReport:
    path: Path
    data: Mapping[str, Any]


@dataclass(frozen=True)
class MergeOptions:
    """What `mlgate merge` decides over: the loaded reports, and where the policy comes from."""

    reports: tuple[LoadedReport, ...]  # read and bound by `load_reports`
    root: Path  # the checkout whose policy and .mlgate.yml apply
    policy_file: Path | None = None
    env: str | None = None
    trusted_config: str | None = None  # git ref to read the policy and .mlgate.yml from


@dataclass(frozen=True)
class Merged:
    """The merged report, decided again under the policy, and the configuration it used."""

    report: Report
    config: RepoConfig


def merge_reports(options: MergeOptions) -> Merged:
    """One report and decision from the reports of separate jobs (nothing is printed)."""
    settings = load_settings(options.root, options.policy_file, options.env, options.trusted_config)
    policy = settings.policy
    result = with_policy_check(merge_results(options.reports), settings)
    checked = [POLICY_CHECK] if any(r.gate == POLICY_CHECK for r in result.results) else []
    decision = decide(policy, result.results, scope=[*policy.enabled_gates(), *checked])
    inputs = [str(r.path) for r in options.reports]
    report = Report(result, policy, decision, {"kind": "merge", "inputs": inputs})
    return Merged(report, settings.config)


def merge_checkout(root: Path, config: RepoConfig, commit: str | None) -> Repo:
    """The checkout `merge` hashes for the ML-BOM: it must be the reports' commit."""
    checkout = open_repo(root, config.exclude)
    if checkout.commit != commit:
        raise ReportError(
            f"the ML-BOM hashes the files of {root}, which is at commit {checkout.commit}, "
            f"but the reports are for {commit}",
            hint="run `mlgate merge` in a checkout of the reports' commit",
        )
    return checkout


def load_reports(paths: Sequence[Path], binding: Binding | None = None) -> list[LoadedReport]:
    """Read and check json reports; anything unusable is a ReportError (exit 2).

    Every shard of a sharded gate must be there; with a `binding`, each report must be the
    one its job made (see Binding).
    """
    if not paths:
        raise ReportError("merge needs at least one json report")
    if binding is not None and binding.digests is not None:
        _check_digests(paths, binding.digests)
    reports = [_load(path) for path in paths]
    if binding is not None:
        for report in reports:
            _check_binding(report, binding)
    _check_shards(reports)
    _same(reports, "commit", "reports come from different commits")
    _same_tools(reports)
    majors = {str(r.data["mlgate_version"]).split(".")[0] for r in reports}
    if len(majors) > 1 or majors != {__version__.split(".")[0]}:
        raise ReportError(
            f"reports come from different mlgate major versions ({', '.join(sorted(majors))}; "
            f"this is {__version__})"
        )
    return reports


def _load(path: Path) -> LoadedReport:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReportError(f"{path}: no such report") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportError(f"{path}: cannot read: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ReportError(
            f"{path}:{exc.lineno}: not a json report (truncated?): {exc.msg}"
        ) from None
    except RecursionError:
        raise ReportError(f"{path}: not a json report (nested too deeply)") from None
    if not isinstance(data, dict):
        raise ReportError(f"{path}: not an mlgate json report (the top level is not an object)")
    missing = [key for key in REQUIRED_KEYS if key not in data]
    if missing:
        raise ReportError(f"{path}: not an mlgate json report: missing {', '.join(missing)}")
    if data["schema_version"] != REPORT_SCHEMA_VERSION:
        raise ReportError(
            f"{path}: report schema_version {data['schema_version']} is not supported"
        )
    return LoadedReport(path, validate_input(path, data, "report"))


def _check_digests(paths: Sequence[Path], digests: Mapping[str, str]) -> None:
    given = {str(Path(p)): d for p, d in digests.items()}
    unknown = sorted(set(given) - {str(p) for p in paths})
    if unknown:
        raise ReportError(f"--digest for {unknown[0]}, which is not a report being merged")
    for path in paths:
        expected = given.get(str(path), "")
        if not _SHA256.match(expected):
            raise ReportError(
                f"{path}: no sha256 from the job that made it (--digest {path}=<sha256>; got "
                f"{expected!r}): cannot tell it is that job's report"
            )
        try:
            actual = hashlib.sha256(path.read_bytes()).hexdigest()
        except FileNotFoundError:
            raise ReportError(f"{path}: no such report") from None
        except OSError as exc:
            raise ReportError(f"{path}: cannot read: {exc}") from None
        if actual != expected.removeprefix("sha256:"):
            raise ReportError(
                f"{path}: sha256 {actual} is not the {expected.removeprefix('sha256:')} its job "
                "printed: the report was changed or replaced after that job wrote it"
            )


def _check_binding(report: LoadedReport, binding: Binding) -> None:
    data = report.data
    if binding.commit is not None and str(data.get("commit")) != binding.commit:
        raise ReportError(
            f"{report.path}: report is for commit {data.get('commit')}, not {binding.commit}"
        )
    if not binding.bound:
        return
    folder = report.path.parent.name
    match = _JOB_FOLDER.match(folder)
    if match is None:
        raise ReportError(
            f"{report.path}: folder {folder!r} does not name a gate job (GATE or GATE-I-of-N)"
        )
    names = sorted({str(g.get("name")) for g in data["gates"]})
    names += sorted({str(f.get("gate")) for f in data["findings"]} - set(names))
    if names != [match["gate"]]:
        raise ReportError(
            f"{report.path}: holds gate(s) {', '.join(names) or 'none'}, but its folder "
            f"{folder!r} is the {match['gate']} job's"
        )
    shard = (data.get("mode") or {}).get("shard")
    wanted = f"{match['index']}/{match['count']}" if match["index"] else None
    if shard != wanted:
        raise ReportError(
            f"{report.path}: report is for shard {shard or 'none (whole tree)'}, but its folder "
            f"{folder!r} is for {wanted or 'the whole tree'}"
        )


def _check_shards(reports: Sequence[LoadedReport]) -> None:
    """A gate run in shards counts only with every shard I/N, each for the same N."""
    shards: dict[str, set[str]] = {}
    for report in reports:
        shard = (report.data.get("mode") or {}).get("shard")
        if shard is None:
            continue
        for gate in report.data["gates"]:
            shards.setdefault(str(gate.get("name")), set()).add(str(shard))
    for gate, seen in sorted(shards.items()):
        counts = sorted({s.partition("/")[2] for s in seen})
        if len(counts) > 1:
            listing = ", ".join(sorted(seen))
            raise ReportError(f"gate {gate}: shards of different splits ({listing})")
        count = int(counts[0])
        missing = [f"{i}/{count}" for i in range(1, count + 1) if f"{i}/{count}" not in seen]
        if missing:
            raise ReportError(
                f"gate {gate}: shard {', '.join(missing)} missing "
                f"(have {', '.join(sorted(seen))}): a decision on part of the files is no decision"
            )


def _same(reports: Sequence[LoadedReport], key: str, what: str) -> None:
    values = {str(r.data.get(key)) for r in reports}
    if len(values) > 1:
        listing = ", ".join(f"{r.path}: {r.data.get(key)}" for r in reports)
        raise ReportError(f"{what} ({listing})")


def _tool_facts(report: LoadedReport) -> dict[str, str]:
    """`<tool> version` and `<tool> source` of each pinned scanner a report records."""
    found: dict[str, str] = {}
    for gate in report.data.get("gates") or []:
        for tool, version in (gate.get("tools") or {}).items():
            if version is not None and tool in TOOLS:
                found[f"{tool} version"] = str(version)
    for tool, info in (report.data.get("tools") or {}).items():
        if isinstance(info, Mapping):
            found[f"{tool} version"] = str(info.get("version"))
            found[f"{tool} source"] = str(info.get("source"))
    return found


def _same_tools(reports: Sequence[LoadedReport]) -> None:
    """Findings of different scanner versions are not comparable: refuse to merge them."""
    seen: dict[str, tuple[str, Path]] = {}
    for report in reports:
        for fact, value in sorted(_tool_facts(report).items()):
            first = seen.setdefault(fact, (value, report.path))
            if first[0] != value:
                raise ReportError(
                    f"reports ran a different {fact} ({first[1]}: {first[0]}; "
                    f"{report.path}: {value}): merge only reports made with the same pinned tools"
                )


def merged_tools(reports: Sequence[LoadedReport]) -> dict[str, Any]:
    return {k: v for r in reports for k, v in (r.data.get("tools") or {}).items()}


def merge_results(reports: Sequence[LoadedReport]) -> RunResult:
    """One RunResult holding every gate that any input ran."""
    by_gate: dict[str, list[tuple[Mapping[str, Any], list[Finding]]]] = {}
    seen: set[str] = set()
    for report in reports:
        findings: dict[str, list[Finding]] = {}  # by gate, in one pass
        for item in report.data["findings"]:
            finding = _finding(report.path, item)
            findings.setdefault(finding.gate, []).append(finding)
        for gate in report.data["gates"]:
            key = json.dumps(gate, sort_keys=True)
            if key in seen:  # the same job's report given twice
                continue
            seen.add(key)
            name = str(gate.get("name"))
            by_gate.setdefault(name, []).append((gate, findings.get(name, [])))
    results = tuple(
        _merge_gate(name, [GateResult.from_dict(gate, found) for gate, found in parts])
        for name, parts in sorted(by_gate.items())
    )
    first = min(reports, key=lambda r: str(r.data.get("root", "")))
    repo = Repo(
        root=Path(str(first.data.get("root", "."))),
        files=(),
        is_git=bool(first.data.get("git")),
        commit=first.data.get("commit"),
        notes=tuple(sorted({n for r in reports for n in r.data.get("notes", [])})),
        clean=all(r.data.get("clean") is True for r in reports),
    )
    started = min(str(r.data["started_at"]) for r in reports)
    seconds = max(float(r.data.get("seconds", 0.0)) for r in reports)
    return RunResult(repo, results, started, seconds, merged_tools(reports))


def _finding(path: Path, data: Mapping[str, Any]) -> Finding:
    try:
        return Finding.from_dict(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise ReportError(f"{path}: a finding is malformed: {exc}") from None


_FINGERPRINT = operator.attrgetter("fingerprint")


def _merge_gate(name: str, parts: Sequence[GateResult]) -> GateResult:
    """One gate's results from several reports (shards) as one."""
    findings = {f.fingerprint: f for part in parts for f in part.findings}
    tools: dict[str, str | None] = {}
    for part in parts:
        tools.update(part.tools)
    skipped = [part.skipped for part in parts]
    properties: dict[str, Any] = {}
    for part in sorted(parts, key=lambda p: json.dumps(p.properties, sort_keys=True)):
        properties.update(part.properties)
    by_fingerprint = sorted(findings.values(), key=_FINGERPRINT)
    return GateResult(
        gate=name,
        # by `sort_key`, then fingerprint: sorted by the second, then (stably) by the first
        findings=tuple(sorted(by_fingerprint, key=sort_key)),
        errors=tuple(sorted({e for part in parts for e in part.errors})),
        skipped=str(skipped[0]) if all(skipped) else None,
        tools=dict(sorted(tools.items())),
        seconds=max(part.seconds for part in parts),
        files_scanned=sum(part.files_scanned for part in parts),
        notes=tuple(sorted({n for part in parts for n in part.notes})),
        properties=properties,
    )
