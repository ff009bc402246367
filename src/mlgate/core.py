"""`mlgate run`'s core: run the gates over a repository and decide. Returns data; the CLI
(`cli/run.py`) parses, shows progress, prints the report and maps the outcome to an exit code.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlgate import toolenv
from mlgate.cache import ResultCache, StatIndex
from mlgate.config import RepoConfig
from mlgate.errors import UsageError
from mlgate.gates import GATES, GateResult
from mlgate.gates.deps import NAME as DEPS
from mlgate.policy import POLICY_CHECK, Policy, decide
from mlgate.repo import Repo, changed_files, open_repo
from mlgate.report import Report
from mlgate.runner import RunRequest, RunResult, run_gates, select_gates
from mlgate.trust import load_settings, with_policy_check

# Called with (gate, None) when a gate starts and (gate, result) when it ends.
Progress = Callable[[str, GateResult | None], None]
UPSTREAM = "@{upstream}"  # `since` for --changed-only: the branch's upstream


@dataclass(frozen=True)
class RunOptions:
    """What to run, over what, under which policy (the operator's settings already read)."""

    path: Path
    gates: tuple[str, ...] = ()  # none: every gate the policy enables
    env: str | None = None
    policy: Path | None = None
    jobs: int = 1
    advisory_db: Path | None = None  # the operator's (--advisory-db, MLGATE_ADVISORY_DB)
    since: str | None = None  # changed-only mode: compare with this ref (UPSTREAM: upstream)
    use_cache: bool = True
    shard: tuple[int, int] | None = None  # (index from 1, count)
    trusted_config: str | None = None  # git ref to read the policy and .mlgate.yml from
    tools: toolenv.Settings = field(default_factory=toolenv.Settings)  # the repo's pins added
    # What the caller will need after the gates, done while their scanners run (see
    # mlgate.prefetch): the CLI's load of the ML-BOM's schema validator on a first run.
    prefetch: tuple[Callable[[], object], ...] = ()
    # The caller writes the ML-BOM after the run: its model files and libraries are read
    # while the scanners run (`bom.read_ahead`).
    writes_bom: bool = False
    # ... and will likely validate it (a first run): it is validated while the last gate
    # runs, in the shape the results so far give it (`bom.validate_ahead`).
    validates_bom: bool = False


@dataclass(frozen=True)
class RunOutcome:
    """The decided report, the (scoped) tree it covers, its configuration, and why the
    result cache could not be written (results then are not cached), if it could not."""

    report: Report
    repo: Repo
    config: RepoConfig
    cache_problem: str | None = None
    cache_root: Path | None = None
    stats: StatIndex | None = None  # the stamps and digests of the files the run examined


def run(options: RunOptions, on_progress: Progress | None = None) -> RunOutcome:
    """Run the gates and decide (UsageError/ConfigError for bad options or configuration)."""
    unknown = [g for g in options.gates if g not in GATES]
    if unknown:
        raise UsageError(f"unknown gate {unknown[0]!r} (gates: {', '.join(GATES)})")
    root = Path(options.path)
    if not root.is_dir():
        raise UsageError(f"{root}: no such directory")
    settings = load_settings(root, options.policy, options.env, options.trusted_config)
    config, policy = settings.config, settings.policy
    toolenv.configure_repo(root, config.tools, options.tools)
    repo, mode = _scope(open_repo(root, config.exclude), options.since)
    repo, mode = _shard(repo, mode, options.shard)
    cache = ResultCache() if options.use_cache else None
    stats = StatIndex(cache, repo.root) if cache is not None else None
    gates = select_gates(policy, options.gates)

    def decided(result: RunResult) -> Report:
        result = with_policy_check(result, settings)
        result = dataclasses.replace(result, tools=used_tools(result.results))
        scope = [*gates, *([POLICY_CHECK] if settings.check else [])]
        decision = decide(policy, result.results, scope=scope)
        return Report(result, policy, decision, {**mode, "gates": list(gates)})

    def validate_bom_ahead(ended: tuple[GateResult, ...], running: str) -> None:
        from mlgate.bom import validate_ahead  # noqa: PLC0415 (the BOM writer: only when asked)

        stand_in = GateResult(
            running, errors=("still running",), tools=GATES[running].tool_versions()
        )
        results = sorted([*ended, stand_in], key=lambda r: gates.index(r.gate))
        validate_ahead(
            decided(RunResult(repo, tuple(results), "", 0.0)), repo, config, cache, stats
        )

    request = RunRequest(
        gates,
        options.jobs,
        _operator_overrides(options.advisory_db),
        cache,
        on_progress,
        (_load_redaction, *options.prefetch, *_bom_tasks(options, policy, repo, config, cache)),
        stats,
        validate_bom_ahead if options.writes_bom and options.validates_bom else None,
    )
    report = decided(run_gates(repo, policy, config, request))
    problem = cache.unwritable if cache is not None else None
    return RunOutcome(
        report, repo, config, problem, cache.root if cache is not None else None, stats
    )


def _load_redaction() -> None:
    """Every report and cache entry is redacted: its detectors are loaded once per process
    (importing detect-secrets' plugins when their regexes are not cached yet)."""
    from mlgate.redact import detectors  # noqa: PLC0415 (redact needs the gates)

    detectors()


def _bom_tasks(
    options: RunOptions, policy: Policy, repo: Repo, config: RepoConfig, cache: ResultCache | None
) -> tuple[Callable[[], object], ...]:
    if not options.writes_bom:
        return ()

    def read() -> None:
        from mlgate.bom import read_ahead  # noqa: PLC0415 (the BOM writer: only when asked)

        read_ahead(policy, repo, config, cache)

    return (read,)


def used_tools(results: Sequence[GateResult]) -> dict[str, dict[str, Any]]:
    """Version and source of each pinned scanner the gates report (json report, receipt)."""
    names = sorted({t for r in results for t in r.tools if toolenv.is_managed(t)})
    return {name: toolenv.provenance(name) for name in names}


def _operator_overrides(advisory_db: Path | None) -> dict[str, dict[str, Any]]:
    """Settings the operator gave: they win over the repository's `.mlgate.yml` and policy."""
    if advisory_db is None:
        return {}
    return {DEPS: {"advisory_db": str(advisory_db.expanduser().resolve())}}


def _scope(repo: Repo, since: str | None) -> tuple[Repo, dict[str, Any]]:
    """The whole tree, or (changed-only mode) just the files changed since a ref."""
    if since is None:
        return repo, {"kind": "full"}
    if not repo.is_git:
        raise UsageError(f"{repo.root}: --changed-only/--since need a git repository")
    base, changed = changed_files(repo.root, None if since == UPSTREAM else since)
    wanted = set(changed)
    files = tuple(f for f in repo.files if f in wanted)
    mode = {"kind": "changed-only", "since": since, "base": base, "files": list(files)}
    return dataclasses.replace(repo, files=files), mode


def _shard(
    repo: Repo, mode: dict[str, Any], shard: tuple[int, int] | None
) -> tuple[Repo, dict[str, Any]]:
    if shard is None:
        return repo, mode
    index, count = shard
    files = repo.files[index - 1 :: count]
    return dataclasses.replace(repo, files=files), {**mode, "shard": f"{index}/{count}"}
