"""The deployment receipt: proof that a commit passed the gates under a policy.

The receipt carries a SHA-256 digest of its own content and the digest of the ML-BOM. The
digest catches accidental or naive edits (a flipped decision, a changed commit); it is NOT a
signature: anyone who can write the file can recompute it. `mlgate.signing` signs the same
canonical bytes with an Ed25519 key (`--sign-key`) or checks a Sigstore bundle over the file.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlgate import __version__
from mlgate.config import load_config
from mlgate.errors import ReportError, UsageError
from mlgate.gates import GateStatus
from mlgate.inputs import validate_input
from mlgate.policy import find_policy, load_policy
from mlgate.redact import redact_value
from mlgate.report.base import Report

RECEIPT_FILE = "receipt.json"
UNSIGNED_KEYS = frozenset({"digest", "signature"})
BOM_FILE = "mlgate.cdx.json"
RECEIPT_KEYS = ("commit", "policy_digest", "env", "gates", "decision", "created_at", "digest")

# `mlgate.signing` reads receipts' canonical bytes from here: it is imported when a check
# needs it (and the `cryptography` package only then).
# ruff: noqa: PLC0415


@dataclass(frozen=True)
class VerifyOptions:
    """What `mlgate verify` checks a receipt against (see its --help)."""

    receipt: Path
    commit: str
    env: str
    root: Path  # the checkout whose policy (and .mlgate.yml) is in force
    policy_file: Path | None = None
    allow_dirty: bool = False
    public_keys: tuple[Path, ...] = ()
    max_age: str | None = None  # a duration, e.g. 24h
    bom: Path | None = None
    bundle: Path | None = None  # a Sigstore bundle over the receipt file
    identity: str | None = None
    issuer: str | None = None
    trusted_root: Path | None = None


@dataclass(frozen=True)
class VerifyResult:
    """The receipt read, and every reason it does not allow the deployment."""

    receipt: Mapping[str, Any]
    problems: tuple[str, ...]
    signed: bool  # a signature (key or Sigstore bundle) was required and checked

    @property
    def allowed(self) -> bool:
        return not self.problems


def verify(options: VerifyOptions) -> VerifyResult:
    """Check a receipt against the deployment; a problem is data, an unusable input an error."""
    if options.bundle is not None and not (options.identity and options.issuer):
        raise UsageError("--bundle needs --identity and --issuer (who must have signed it)")
    data = load_receipt(options.receipt)
    root = options.root
    config = load_config(root)
    policy = load_policy(
        find_policy(root, options.policy_file, config.policy), options.env, root=root
    )
    required = [n for n, s in policy.gates.items() if s.enabled and s.required]
    problems = verify_receipt(data, options.commit, options.env, policy.digest)
    problems += coverage_problems(data, required, options.allow_dirty)
    problems += _provenance_problems(data, options)
    if options.bundle is not None and options.identity and options.issuer:
        from mlgate.signing import check_bundle

        problems += check_bundle(
            options.receipt.read_bytes(),
            options.bundle,
            options.identity,
            options.issuer,
            options.trusted_root,
        )
    signed = bool(options.public_keys) or options.bundle is not None
    return VerifyResult(data, tuple(problems), signed)


def _provenance_problems(data: Mapping[str, Any], options: VerifyOptions) -> list[str]:
    from mlgate.signing import check_age, check_signature, load_public_key, parse_duration

    problems: list[str] = []
    if options.public_keys:
        problems += check_signature(data, [load_public_key(p) for p in options.public_keys])
    if options.max_age is not None:
        problems += check_age(data, parse_duration(options.max_age))
    if options.bom is not None:
        problems += _bom_problems(data, options.bom)
    return problems


def _bom_problems(data: Mapping[str, Any], bom: Path) -> list[str]:
    try:
        text = bom.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{bom}: cannot read the ML-BOM: {exc}") from None
    named = (data.get("bom") or {}).get("digest")
    if named != text_digest(text):
        return [f"{bom} is not the ML-BOM the receipt names ({named or 'none'})"]
    return []


def make_receipt(
    report: Report, now: dt.datetime | None = None, bom_digest: str | None = None
) -> dict[str, Any]:
    created = (now or dt.datetime.now(dt.timezone.utc)).isoformat(timespec="seconds")
    body: dict[str, Any] = {
        "kind": "mlgate-receipt",
        "mlgate_version": __version__,
        "commit": report.run.repo.commit,
        # the scan covered exactly `commit` (no uncommitted or untracked file): see verify
        "clean": report.run.repo.clean is True,
        "policy_digest": report.policy.digest,
        "policy_source": report.policy.source,
        "env": report.decision.env,
        "gates": {
            name: {"status": v.status.value, "tools": dict(_tools(report, name))}
            for name, v in sorted(report.decision.verdicts.items())
        },
        "tools": {name: dict(info) for name, info in sorted(report.run.tools.items())},
        "decision": "pass" if report.decision.passed else "blocked",
        "created_at": created,
    }
    if bom_digest is not None:
        body["bom"] = {"file": BOM_FILE, "digest": bom_digest}
    body = redact_value(body)  # before the digest: the receipt is written as digested
    return {**body, "digest": content_digest(body)}


def _tools(report: Report, gate: str) -> Mapping[str, str | None]:
    result = report.result(gate)
    return result.tools if result else {}


def canonical_bytes(body: Mapping[str, Any]) -> bytes:
    """What the digest and the signature cover: every field but those two, canonical JSON."""
    fields = {k: v for k, v in body.items() if k not in UNSIGNED_KEYS}
    return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode("utf-8")


def content_digest(body: Mapping[str, Any]) -> str:
    return "sha256:" + hashlib.sha256(canonical_bytes(body)).hexdigest()


def text_digest(text: str) -> str:
    """The digest a receipt records for a file mlgate wrote (the ML-BOM)."""
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def load_receipt(path: Path) -> dict[str, Any]:
    """A receipt file, checked for shape (ReportError, exit 2, when unusable)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReportError(f"{path}: no such receipt") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReportError(f"{path}: not a readable receipt: {exc}") from None
    except RecursionError:
        raise ReportError(f"{path}: not a readable receipt (nested too deeply)") from None
    if not isinstance(data, dict):
        raise ReportError(f"{path}: not a receipt (the top level is not an object)")
    missing = [k for k in RECEIPT_KEYS if k not in data]
    if missing:
        raise ReportError(f"{path}: receipt is missing {', '.join(missing)}")
    return dict(validate_input(path, data, "receipt"))


def verify_receipt(
    receipt: Mapping[str, Any], commit: str | None, env: str | None, policy_digest: str | None
) -> list[str]:
    """Every reason the receipt does not allow a deployment; empty means it does."""
    problems: list[str] = []
    if receipt.get("digest") != content_digest(receipt):
        problems.append(
            "the receipt's digest does not match its content (edited after it was written)"
        )
    if receipt.get("decision") != "pass":
        problems.append(f"the decision was {receipt.get('decision')!r}, not 'pass'")
    failed = [
        n
        for n, g in (receipt.get("gates") or {}).items()
        if g.get("status") not in (GateStatus.PASS.value, GateStatus.SKIPPED.value)
    ]
    if failed:
        problems.append(f"gates not passing: {', '.join(sorted(failed))}")
    if commit is not None and not _same_commit(str(receipt.get("commit")), commit):
        problems.append(f"the receipt is for commit {receipt.get('commit')}, not {commit}")
    if env is not None and receipt.get("env") != env:
        problems.append(f"the receipt is for environment {receipt.get('env')!r}, not {env!r}")
    if policy_digest is not None and receipt.get("policy_digest") != policy_digest:
        problems.append("the policy changed since the receipt was written (policy digest differs)")
    return problems


def coverage_problems(
    receipt: Mapping[str, Any], required: Sequence[str], allow_dirty: bool = False
) -> list[str]:
    """What the receipt does not vouch for: a gate the policy requires for the environment
    that it does not hold, or (unless `allow_dirty`) a scan of a tree that was not the
    commit (uncommitted or untracked files, or a receipt that does not say)."""
    problems: list[str] = []
    held = receipt.get("gates") or {}
    missing = [name for name in required if name not in held]
    if missing:
        problems.append(
            "gates the policy requires for this environment are not in the receipt: "
            + ", ".join(missing)
        )
    if not allow_dirty and receipt.get("clean") is not True:
        problems.append(
            "the scan covered a working tree with uncommitted or untracked files, not the "
            "commit alone (run on a clean checkout, or pass --allow-dirty)"
        )
    return problems


def _same_commit(recorded: str, wanted: str) -> bool:
    """A full SHA must match exactly; an abbreviated one (>= 7 hex digits) as a prefix."""
    return len(wanted) >= 7 and recorded.startswith(wanted.lower())
