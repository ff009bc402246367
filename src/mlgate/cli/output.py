"""What `run`, `merge` and `bom` write: the report in each format, the ML-BOM and the receipt."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from mlgate.errors import MlgateError, ReportError, UsageError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from mlgate.cache import StatIndex
    from mlgate.config import RepoConfig
    from mlgate.repo import Repo
    from mlgate.report import Report

# Each command imports what it needs when it runs: `mlgate --version` and `--help` must not
# pay for the gates, the policy's schema validator or the template engine (issue 16).
# ruff: noqa: PLC0415


def signing_key(spec: str | None, output: Path | None) -> Ed25519PrivateKey | None:
    """The receipt signing key, loaded before any gate runs (a bad key is exit 2 at once)."""
    if spec is None:
        return None
    if output is None:
        raise UsageError("--sign-key signs the receipt written to --output DIR: give --output")
    from mlgate.signing import load_private_key

    return load_private_key(spec, os.environ)


def write_provenance(
    report: Report,
    repo: Repo,
    config: RepoConfig,
    output: Path | None,
    key: Ed25519PrivateKey | None = None,
    receipt: bool = True,
    use_cache: bool = False,
    stats: StatIndex | None = None,
) -> None:
    """With --output: the ML-BOM always, the receipt (naming the BOM's digest) on a pass
    (`stats`: the run's stat index, see `build_bom`)."""
    from mlgate.bom import build_bom, render_bom
    from mlgate.cache import ResultCache
    from mlgate.receipt import BOM_FILE, RECEIPT_FILE, make_receipt, text_digest
    from mlgate.report import write_atomic

    if output is None:
        return
    cache = ResultCache() if use_cache else None
    bom_text = render_bom(build_bom(report, repo, config, cache, stats))
    write_atomic(output / BOM_FILE, bom_text)
    click.echo(f"ML-BOM written to {output / BOM_FILE}")
    if receipt and report.decision.passed:
        written = make_receipt(report, bom_digest=text_digest(bom_text))
        if key is not None:
            from mlgate.signing import sign_receipt

            written = sign_receipt(written, key)
        write_atomic(output / RECEIPT_FILE, json.dumps(written, indent=2) + "\n")


def prepare_output(output: Path | None) -> None:
    """Fail before any gate runs when the report directory cannot be written."""
    if output is None:
        return
    try:
        output.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=output):
            pass
    except OSError as exc:
        reason = " ".join(str(exc.strerror or exc).split())
        raise ReportError(f"cannot write reports to {output}: {reason}") from None


def check_formats(formats: Sequence[str], output: Path | None) -> None:
    if output is None and len(set(formats)) > 1:
        raise UsageError("several --format values need --output DIR to write them to")


def emit(report: Report, formats: Sequence[str], output: Path | None) -> None:
    """Print the report; with --output also write every format's files (text: stdout only)."""
    from mlgate.bulk import without_cycle_collection
    from mlgate.report import publishable

    with without_cycle_collection():  # 100,000 findings: no cyclic garbage, a third less CPU
        _emit(publishable(report), formats, output)


def _emit(shown: Report, formats: Sequence[str], output: Path | None) -> None:
    from mlgate.redact import already_redacted
    from mlgate.report import FORMATS, start_reports

    if output is None:
        fmt = FORMATS[formats[0]]
        with already_redacted():
            click.echo(fmt.render(shown, color=fmt.name == "text" and _tty()), nl=False)
    else:
        # Many findings: a forked copy writes part of the files while the text is rendered.
        with start_reports(shown, formats, output, redacted=True, meanwhile=1.0) as writing:
            with already_redacted():
                text = FORMATS["text"].render(shown, color=_tty())
            written = writing.finish()
        with already_redacted():
            click.echo(text, nl=False)
        if written:
            click.echo(f"reports written to {output}: " + ", ".join(p.name for p in written))
    _step_summary(shown)


def _step_summary(report: Report) -> None:
    """On GitHub Actions, append the markdown summary to the job's summary on every run."""
    from mlgate.report import append_summary

    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return
    try:
        append_summary(report, Path(target))
    except MlgateError as exc:  # the decision matters more than its summary
        click.echo(f"mlgate: warning: {exc.message}", err=True)


def _tty() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ
