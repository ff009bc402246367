"""Whose configuration a run obeys: `--trusted-config REF` and the `policy-weakened` check.

On a pull request the author controls the working tree's `.mlgate.yml` and
`.mlgate/policy.yml`. With `--trusted-config REF` (the target branch), both are read from
REF with `git cat-file` instead, so the run obeys the configuration that already landed;
and every way the working tree's versions weaken it (a lower threshold, a new or extended
waiver, a disabled or no longer required gate, a changed advisory source, ...) becomes
one `policy-weakened` finding of the `policy` check. Its severity is medium: the
production environment of the built-in packs blocks on it, other environments list it as
a warning, until the change lands on the trusted branch.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgate import __version__
from mlgate.config import CONFIG_FILE, RepoConfig, config_from_doc, load_config
from mlgate.errors import ConfigError
from mlgate.findings import Finding, Severity, assign_fingerprints
from mlgate.gates import GATES, GateResult, OptionKinds, gitref
from mlgate.gates.base import default_options
from mlgate.git import GitError
from mlgate.policy import (
    POLICY_CHECK,
    REPO_POLICY,
    Policy,
    PolicyFiles,
    Waiver,
    find_policy,
    load_policy,
)
from mlgate.yamlfile import parse_yaml

if TYPE_CHECKING:
    from mlgate.runner import RunResult

RULE = "policy-weakened"
# What a change of each gate option means (weaker or not) is declared by the gate itself
# (`Gate.option_kinds`: growing lists, switches, severities, sources).


@dataclass(frozen=True)
class Settings:
    """The configuration a run obeys, and the `policy` check's result when it was trusted."""

    config: RepoConfig
    policy: Policy
    check: GateResult | None = None


def load_settings(
    root: Path, explicit_policy: Path | None, env: str | None, trusted_ref: str | None
) -> Settings:
    """The working tree's configuration, or (with a trusted ref) the ref's plus the check."""
    root = root.resolve()
    working_config = load_config(root)
    working_where = find_policy(root, explicit_policy, working_config.policy)
    working = load_policy(working_where, env, root=root)
    if trusted_ref is None:
        return Settings(working_config, working)
    commit = _resolve_ref(root, trusted_ref)
    files = PolicyFiles(root, commit)
    trusted_config = _config_at(root, commit, trusted_ref)
    trusted_where = (
        explicit_policy
        if explicit_policy is not None
        else _policy_at(root, commit, trusted_config.policy)
    )
    trusted_files = None if explicit_policy is not None else files
    trusted = load_policy(trusted_where, env, root=root, files=trusted_files)
    changes = weakenings(
        (trusted_config, trusted_where, trusted_files),
        (working_config, working_where, None),
        root,
    )
    check = _check_result(changes, trusted_ref, commit)
    return Settings(trusted_config, trusted, check)


def with_policy_check(result: RunResult, settings: Settings) -> RunResult:
    """The run's results plus the `policy` check of --trusted-config, when it ran."""
    if settings.check is None:
        return result
    kept = tuple(r for r in result.results if r.gate != POLICY_CHECK)
    return dataclasses.replace(result, results=(*kept, settings.check))


def _resolve_ref(root: Path, ref: str) -> str:
    try:
        return gitref.resolve(root, ref)
    except GitError as exc:
        raise ConfigError(f"--trusted-config {ref}: {exc}") from None


def _exists_at(root: Path, commit: str, rel: str) -> bool:
    try:
        gitref.read_text(root, gitref.GitRef(commit, rel), commit)
    except GitError:
        return False
    return True


def _config_at(root: Path, commit: str, ref: str) -> RepoConfig:
    if not _exists_at(root, commit, CONFIG_FILE):
        return RepoConfig()
    text = gitref.read_text(root, gitref.GitRef(commit, CONFIG_FILE), commit)
    return config_from_doc(parse_yaml(text, Path(f"{ref}:{CONFIG_FILE}")))


def _policy_at(root: Path, commit: str, configured: str | None) -> Path | str:
    if _exists_at(root, commit, REPO_POLICY.as_posix()):
        return REPO_POLICY
    if configured:
        return Path(configured)
    return "default"


# --- what weakened ------------------------------------------------------------------------

Side = tuple[RepoConfig, "Path | str", "PolicyFiles | None"]


def weakenings(trusted: Side, working: Side, root: Path) -> list[str]:
    """Every way the working configuration is weaker than the trusted one, one line each."""
    t_config, t_where, t_files = trusted
    w_config, w_where, w_files = working
    base_t = load_policy(t_where, None, root=root, files=t_files)
    base_w = load_policy(w_where, None, root=root, files=w_files)
    changes = list(_waiver_changes(base_t.waivers, base_w.waivers))
    added = sorted(base_w.baseline - base_t.baseline)
    if added:
        changes.append(f"baseline: {len(added)} fingerprint(s) added (they no longer block)")
    new_excludes = sorted(set(w_config.exclude) - set(t_config.exclude))
    if new_excludes:
        changes.append(f".mlgate.yml exclude: added {', '.join(new_excludes)}")
    everywhere: set[str] = set()  # found without an environment: not repeated per env
    for env in (None, *base_t.environments):
        label = f"environment {env}" if env else "defaults"
        if env is not None and env not in base_w.environments:
            changes.append(f"{label}: removed")
            continue
        t_policy = base_t if env is None else load_policy(t_where, env, root=root, files=t_files)
        w_policy = base_w if env is None else load_policy(w_where, env, root=root, files=w_files)
        for gate in GATES:
            t_opts = _options(t_policy, t_config, gate)
            w_opts = _options(w_policy, w_config, gate)
            for change in _gate_changes(gate, t_policy, w_policy, t_opts, w_opts):
                what = f"{gate}: {change}"
                if env is None:
                    everywhere.add(what)
                if env is None or what not in everywhere:
                    changes.append(f"{label}: {what}")
    return list(dict.fromkeys(changes))


def _options(policy: Policy, config: RepoConfig, gate: str) -> dict[str, Any]:
    """A gate's effective options: its declared defaults, the policy's, then `.mlgate.yml`'s
    (an option unset on one side is compared at its default, never as missing)."""
    defaults = default_options(GATES[gate]) if gate in GATES else {}
    return {**defaults, **policy.settings(gate).options, **config.options_for(gate)}


def _gate_changes(
    gate: str,
    trusted: Policy,
    working: Policy,
    t_opts: Mapping[str, Any],
    w_opts: Mapping[str, Any],
) -> Iterator[str]:
    t, w = trusted.settings(gate), working.settings(gate)
    if t.enabled and not w.enabled:
        yield "disabled"
    if t.required and not w.required:
        yield "no longer required"
    if t.fail_on is not None and (w.fail_on is None or w.fail_on.rank > t.fail_on.rank):
        after = w.fail_on.value if w.fail_on else "none"
        yield f"fail_on raised from {t.fail_on.value} to {after}"
    if t.max_findings is not None and (w.max_findings is None or w.max_findings > t.max_findings):
        yield f"max_findings raised from {t.max_findings} to {w.max_findings}"
    if t.on_error == "fail" and w.on_error != "fail":
        yield f"on_error changed from fail to {w.on_error}"
    yield from _option_changes(gate, t_opts, w_opts)


def _option_changes(gate: str, t: Mapping[str, Any], w: Mapping[str, Any]) -> Iterator[str]:
    kinds = GATES[gate].option_kinds if gate in GATES else OptionKinds()
    for key in sorted(set(t) | set(w)):
        before, after = t.get(key), w.get(key)
        if before == after:
            continue
        if key in kinds.growing_lists:
            added = sorted(set(map(str, after or [])) - set(map(str, before or [])))
            if added:
                yield f"options.{key}: added {', '.join(added)}"
        elif key in kinds.switches:
            if bool(before) and not bool(after):
                yield f"options.{key}: turned off"
        elif key in kinds.severities:
            if _rank(after) < _rank(before):
                yield f"options.{key}: lowered from {before} to {after}"
        elif key in kinds.sources:
            yield f"options.{key}: advisory source changed from {before!r} to {after!r}"
        else:  # cannot tell the direction: a change must land on the trusted branch first
            yield f"options.{key}: changed from {before!r} to {after!r}"


def _rank(value: Any) -> int:
    try:
        return Severity.parse(str(value)).rank
    except ValueError:
        return -1


def _waiver_changes(trusted: Sequence[Waiver], working: Sequence[Waiver]) -> Iterator[str]:
    known = {_identity(w): w.expires for w in trusted}
    for waiver in working:
        before = known.get(_identity(waiver))
        if before is None:
            yield f"waiver added: {_describe(waiver)}"
        elif waiver.expires > before:
            yield (
                f"waiver extended from {before.isoformat()} to {waiver.expires.isoformat()}: "
                f"{_describe(waiver)}"
            )


def _identity(waiver: Waiver) -> tuple[str | None, str | None, str]:
    return (waiver.fingerprint, waiver.rule, waiver.path)


def _describe(waiver: Waiver) -> str:
    what = f"fingerprint {waiver.fingerprint}" if waiver.fingerprint else f"rule {waiver.rule}"
    return f"{what} on {waiver.path} until {waiver.expires.isoformat()} ({waiver.owner})"


def _check_result(changes: Sequence[str], ref: str, commit: str) -> GateResult:
    findings = [
        Finding(
            gate=POLICY_CHECK,
            tool="mlgate",
            rule_id=RULE,
            severity=Severity.MEDIUM,
            confidence="high",
            message=(
                f"the working tree's configuration is weaker than {ref}'s: {change}; "
                f"it applies only once it has landed on {ref}"
            ),
            path=_path_of(change),
            properties={"change": change, "trusted_ref": ref, "trusted_commit": commit},
        )
        for change in changes
    ]
    fingerprinted = assign_fingerprints(findings, {i: c for i, c in enumerate(changes)})
    return GateResult(
        POLICY_CHECK,
        findings=tuple(fingerprinted),
        tools={"mlgate": __version__},
        files_scanned=2,
        properties={"trusted_ref": ref, "trusted_commit": commit, "changes": len(changes)},
    )


def _path_of(change: str) -> str:
    return CONFIG_FILE if change.startswith(".mlgate.yml") else REPO_POLICY.as_posix()


__all__ = ["POLICY_CHECK", "RULE", "Settings", "load_settings", "weakenings"]
