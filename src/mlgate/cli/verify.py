"""`mlgate verify` and `mlgate keygen`: receipts checked before a deployment, and their keys."""

from __future__ import annotations

import os
from pathlib import Path

import click

from mlgate.cli.common import exit_with
from mlgate.errors import EXIT_BLOCKED, UsageError

# Each command imports what it needs when it runs: `mlgate --version` and `--help` must not
# pay for the gates, the policy's schema validator or the template engine (issue 16).
# ruff: noqa: PLC0415


VERIFY_EXIT_HELP = """
\b
Exit codes:
  0  the receipt allows the deployment (every check given passed)
  1  refused, with every reason: edited or tampered, a signature by none of the
     --public-key keys (or none at all), expired (--max-age), another commit, env or
     policy, a decision other than pass, a required gate missing, a dirty tree, an
     ML-BOM whose digest differs, a Sigstore bundle that does not verify
  2  usage: unreadable receipt, key, bundle or trust root; a missing field; the
     `cryptography`/`sigstore` package missing (pip install 'mlgate[provenance]')
  3  Sigstore's trust root could not be fetched (no --trusted-root, no network)
"""


@click.command(epilog=VERIFY_EXIT_HELP)
@click.argument("receipt", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--commit",
    metavar="SHA",
    required=True,
    help="The commit being deployed (full or >= 7 hex digits).",
)
@click.option(
    "--env", "env", metavar="NAME", required=True, help="The environment being deployed to."
)
@click.option(
    "--policy",
    "policy_file",
    type=click.Path(path_type=Path),
    help="The policy in force (default: the repo's, else the built-in default): "
    "its digest must match the receipt's.",
)
@click.option(
    "--allow-dirty",
    is_flag=True,
    help="Accept a receipt of a scan that covered uncommitted or untracked files.",
)
@click.option(
    "--public-key",
    "public_keys",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Require a signature by this Ed25519 public key (PEM); repeat for key rotation.",
)
@click.option(
    "--max-age",
    metavar="DURATION",
    help="Refuse a receipt written longer ago than this (e.g. 24h, 7d).",
)
@click.option(
    "--bom",
    "bom_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Require that this ML-BOM file is the one the receipt names (its SHA-256).",
)
@click.option(
    "--bundle",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Require a Sigstore bundle over the receipt file, signed by --identity/--issuer.",
)
@click.option("--identity", metavar="URI|EMAIL", help="The signer's identity in the bundle.")
@click.option("--issuer", metavar="URL", help="The OIDC issuer of that identity.")
@click.option(
    "--trusted-root",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Verify the bundle offline against this Sigstore trusted root (JSON); "
    "default: Sigstore's public-good root, fetched through TUF.",
)
def verify(
    receipt: Path,
    commit: str,
    env: str,
    policy_file: Path | None,
    allow_dirty: bool,
    public_keys: tuple[Path, ...],
    max_age: str | None,
    bom_file: Path | None,
    bundle: Path | None,
    identity: str | None,
    issuer: str | None,
    trusted_root: Path | None,
) -> None:
    """Allow a deployment only with a passing receipt for this commit, env and policy.

    Always checked: the receipt is intact (its content digest matches), its decision is a
    pass, it is for --commit, --env and the current policy, it holds every gate that
    policy requires for --env, and the scan covered the commit alone (a clean tree;
    --allow-dirty accepts a dirty one). With --public-key: an Ed25519 signature by one of
    the keys; with --bundle: a Sigstore bundle over the receipt file by --identity from
    --issuer; with --max-age: its age; with --bom: the ML-BOM it names. Without a
    signature check the digest only detects edits (see README, "Provenance").
    """
    from mlgate.receipt import VerifyOptions
    from mlgate.receipt import verify as verify_receipt

    options = VerifyOptions(
        receipt,
        commit,
        env,
        Path.cwd(),
        policy_file,
        allow_dirty,
        public_keys,
        max_age,
        bom_file,
        bundle,
        identity,
        issuer,
        trusted_root,
    )
    result = verify_receipt(options)
    if not result.allowed:
        for problem in result.problems:
            click.echo(f"mlgate: verify: {problem}", err=True)
        exit_with(EXIT_BLOCKED)
    data = result.receipt
    signed = " (signature verified)" if result.signed else ""
    click.echo(
        f"receipt verified: commit {data['commit']}, env {data['env']}, decision pass{signed}"
    )


@click.command()
@click.argument("private", type=click.Path(path_type=Path, dir_okay=False))
@click.argument("public", type=click.Path(path_type=Path, dir_okay=False))
def keygen(private: Path, public: Path) -> None:
    """Write a new Ed25519 key pair for signing receipts: PRIVATE (PEM, mode 0600) and PUBLIC.

    Keep PRIVATE in the CI's secret store (`mlgate run --sign-key env:VAR`); give PUBLIC
    to whoever deploys (`mlgate verify --public-key PUBLIC`). Existing files are never
    overwritten (exit 2). The same keys with openssl:
    `openssl genpkey -algorithm ed25519 -out PRIVATE` and
    `openssl pkey -in PRIVATE -pubout -out PUBLIC`.
    """
    from mlgate.signing import generate_keypair

    for path in (private, public):
        if path.exists():
            raise UsageError(f"{path} exists: not overwritten")
    private_pem, public_pem = generate_keypair()
    try:
        fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(private_pem)
        public.write_bytes(public_pem)
    except OSError as exc:
        raise UsageError(f"cannot write the key pair: {exc.strerror or exc}") from None
    click.echo(f"wrote {private} (private: keep it secret) and {public} (public)")
