"""Runs the selected gates in parallel and collects their results. Never decides."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlgate.config import RepoConfig
from mlgate.gates import GATES, GateContext, GateResult
from mlgate.policy import Policy
from mlgate.repo import Repo


@dataclass(frozen=True)
class RunRequest:
    gates: tuple[str, ...]
    jobs: int
    overrides: Mapping[str, Mapping[str, Any]]  # per-gate options from the command line


@dataclass(frozen=True)
class RunResult:
    repo: Repo
    results: tuple[GateResult, ...]
    started_at: str
    seconds: float


def run_gates(repo: Repo, policy: Policy, config: RepoConfig, request: RunRequest) -> RunResult:
    started_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    started = time.monotonic()
    contexts = [_context(repo, policy, config, request, name) for name in request.gates]
    with ThreadPoolExecutor(max_workers=max(1, request.jobs)) as pool:
        results = list(pool.map(_run_one, contexts))
    return RunResult(repo, tuple(results), started_at, time.monotonic() - started)


def _context(
    repo: Repo, policy: Policy, config: RepoConfig, request: RunRequest, name: str
) -> tuple[str, GateContext]:
    settings = policy.settings(name)
    options = {
        **settings.options,
        **config.options_for(name),
        **request.overrides.get(name, {}),
    }
    gate = GATES[name]
    return name, GateContext(repo, gate.inputs(repo, options), settings.timeout)


def _run_one(item: tuple[str, GateContext]) -> GateResult:
    name, ctx = item
    started = time.monotonic()
    try:
        result = GATES[name].run(ctx)
    except Exception as exc:  # a bug in a gate must not pass silently, nor kill the run
        return GateResult(
            name, errors=(f"internal error in gate {name}: {type(exc).__name__}: {exc}",)
        )
    if result.seconds == 0.0:
        return GateResult(**{**result.__dict__, "seconds": time.monotonic() - started})
    return result


def select_gates(policy: Policy, requested: Sequence[str]) -> tuple[str, ...]:
    """The gates to run: those named on the command line, else every enabled one."""
    if requested:
        return tuple(dict.fromkeys(requested))
    return tuple(policy.enabled_gates())


def resolve_root(path: Path) -> Path:
    return path.resolve()
