"""Signed receipts: Ed25519 keys end to end, and offline Sigstore bundle verification."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mlgate.receipt import content_digest
from mlgate.signing import check_bundle, load_private_key, sign_receipt

from .conftest import EXAMPLES, REPO_ROOT, TEST_DATA, fixture_path, keygen, run_cli

CHURN = EXAMPLES / "churn-model"  # verify reads the policy in force where it runs
SIGSTORE = TEST_DATA / "sigstore"
STAGING_ISSUER = "https://github.com/login/oauth"


def _head() -> str:
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()


def _verify(receipt: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    args = ["verify", str(receipt), "--commit", _head(), "--env", "production", *extra]
    return run_cli(args, cwd=CHURN)


@pytest.fixture(scope="session")
def signed(churn_production: Path) -> Path:
    return churn_production / "receipt.json"


@pytest.fixture(scope="session")
def other_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return keygen(tmp_path_factory.mktemp("other-keys"))


def test_run_signs_the_receipt_and_verify_accepts_it(
    signed: Path, receipt_keys: tuple[Path, Path]
) -> None:
    data = json.loads(signed.read_text())
    assert data["signature"]["alg"] == "ed25519"
    assert data["signature"]["key_id"].startswith("sha256:")
    bom = signed.parent / "mlgate.cdx.json"
    done = _verify(signed, "--public-key", str(receipt_keys[1]), "--bom", str(bom))
    assert done.returncode == 0, done.stderr
    assert "signature verified" in done.stdout


def test_keygen_private_key_is_owner_only(receipt_keys: tuple[Path, Path]) -> None:
    assert receipt_keys[0].stat().st_mode & 0o077 == 0
    assert "BEGIN PUBLIC KEY" in receipt_keys[1].read_text()
    done = run_cli(["keygen", str(receipt_keys[0]), str(receipt_keys[1])])
    assert done.returncode == 2 and "not overwritten" in done.stderr


def test_rotation_any_listed_key_may_have_signed(
    signed: Path, receipt_keys: tuple[Path, Path], other_key: tuple[Path, Path]
) -> None:
    done = _verify(signed, "--public-key", str(other_key[1]), "--public-key", str(receipt_keys[1]))
    assert done.returncode == 0, done.stderr


def test_another_key_is_refused(signed: Path, other_key: tuple[Path, Path]) -> None:
    done = _verify(signed, "--public-key", str(other_key[1]))
    assert done.returncode == 1
    assert "which is none of the 1 given" in done.stderr


def test_a_tampered_byte_is_refused(
    signed: Path, receipt_keys: tuple[Path, Path], tmp_path: Path
) -> None:
    data = json.loads(signed.read_text())
    data["policy_source"] = data["policy_source"] + "x"  # one byte of a signed field
    data["digest"] = content_digest(data)  # even with the digest recomputed
    forged = tmp_path / "receipt.json"
    forged.write_text(json.dumps(data))
    done = _verify(forged, "--public-key", str(receipt_keys[1]))
    assert done.returncode == 1
    assert "does not match the receipt's content" in done.stderr and "tampered" in done.stderr


def test_an_unsigned_receipt_is_refused_when_a_key_is_required(
    signed: Path, receipt_keys: tuple[Path, Path], tmp_path: Path
) -> None:
    data = json.loads(signed.read_text())
    del data["signature"]
    bare = tmp_path / "receipt.json"
    bare.write_text(json.dumps(data))
    assert _verify(bare).returncode == 0  # the digest alone still holds
    done = _verify(bare, "--public-key", str(receipt_keys[1]))
    assert done.returncode == 1 and "not signed" in done.stderr


def _resigned(signed: Path, key: Path, dest: Path, **changes: Any) -> Path:
    data = {k: v for k, v in json.loads(signed.read_text()).items() if k != "signature"}
    data.update(changes)
    data["digest"] = content_digest(data)
    dest.write_text(json.dumps(sign_receipt(data, load_private_key(str(key)))))
    return dest


def test_an_expired_receipt_is_refused(
    signed: Path, receipt_keys: tuple[Path, Path], tmp_path: Path
) -> None:
    old = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=10)).isoformat(timespec="seconds")
    stale = _resigned(signed, receipt_keys[0], tmp_path / "old.json", created_at=old)
    key = ("--public-key", str(receipt_keys[1]))
    assert _verify(stale, *key).returncode == 0  # properly signed
    done = _verify(stale, *key, "--max-age", "7d")
    assert done.returncode == 1 and "the receipt expired" in done.stderr
    assert _verify(signed, *key, "--max-age", "7d").returncode == 0
    assert _verify(signed, *key, "--max-age", "7 days").returncode == 2


def test_a_signed_receipt_for_another_commit_is_refused(
    signed: Path, receipt_keys: tuple[Path, Path], tmp_path: Path
) -> None:
    other = _resigned(signed, receipt_keys[0], tmp_path / "other.json", commit="f" * 40)
    done = _verify(other, "--public-key", str(receipt_keys[1]))
    assert done.returncode == 1 and f"is for commit {'f' * 40}" in done.stderr


def test_another_bom_is_refused(signed: Path, tmp_path: Path) -> None:
    bom = tmp_path / "mlgate.cdx.json"
    bom.write_text((signed.parent / "mlgate.cdx.json").read_text().replace("pass", "PASS", 1))
    done = _verify(signed, "--bom", str(bom))
    assert done.returncode == 1 and "is not the ML-BOM the receipt names" in done.stderr


def test_bad_keys_exit_2(signed: Path, tmp_path: Path, receipt_keys: tuple[Path, Path]) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("not a key")
    assert _verify(signed, "--public-key", str(junk)).returncode == 2
    done = run_cli(["run", str(CHURN), "sast", "--sign-key", str(receipt_keys[0])])
    assert done.returncode == 2 and "give --output" in done.stderr
    done = run_cli(
        ["run", str(CHURN), "sast", "--output", str(tmp_path / "o"), "--sign-key", "env:NOPE_X"]
    )
    assert done.returncode == 2 and "NOPE_X is not set" in done.stderr
    assert not (tmp_path / "o" / "mlgate.cdx.json").exists()  # refused before any gate ran


def test_merge_signs_its_receipt(
    churn_production: Path, receipt_keys: tuple[Path, Path], tmp_path: Path
) -> None:
    out = tmp_path / "merged"
    done = run_cli(
        [
            *("merge", str(churn_production / "mlgate.json"), "--env", "production"),
            *("--output", str(out), "--sign-key", str(receipt_keys[0])),
        ],
        cwd=CHURN,
    )
    assert done.returncode == 0, done.stderr
    assert (out / "mlgate.cdx.json").is_file()
    done = _verify(out / "receipt.json", "--public-key", str(receipt_keys[1]))
    assert done.returncode == 0, done.stderr


# --- Sigstore (offline, published test vectors) -------------------------------------------


def _vector(name: str) -> Path:
    return fixture_path(SIGSTORE / name)


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any connection attempt fails the test: the check must be offline."""
    import socket

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("network access during an offline Sigstore check")

    monkeypatch.setattr(socket.socket, "connect", refuse)


def _check(artifact: bytes, identity: str, issuer: str = STAGING_ISSUER) -> list[str]:
    return check_bundle(
        artifact,
        _vector("bundle_v3.txt.sigstore"),
        identity,
        issuer,
        trusted_root=_vector("trusted_root.json"),
    )


@pytest.mark.usefixtures("no_network")
def test_sigstore_bundle_verifies_offline() -> None:
    artifact = _vector("bundle_v3.txt").read_bytes()
    assert _check(artifact, "william@yossarian.net") == []


@pytest.mark.usefixtures("no_network")
def test_sigstore_bundle_refusals() -> None:
    artifact = _vector("bundle_v3.txt").read_bytes()
    (changed,) = _check(artifact + b"x", "william@yossarian.net")
    assert "digest mismatch" in changed
    (who,) = _check(artifact, "someone@example.com")
    assert "SANs do not match someone@example.com" in who
    (issuer,) = _check(
        artifact, "william@yossarian.net", "https://token.actions.githubusercontent.com"
    )
    assert "does not verify" in issuer


def test_verify_with_a_bundle_over_another_file_is_refused(signed: Path) -> None:
    args = ["--bundle", str(_vector("bundle_v3.txt.sigstore"))]
    done = _verify(signed, *args, "--identity", "william@yossarian.net")
    assert done.returncode == 2 and "--identity and --issuer" in done.stderr
    done = _verify(
        signed,
        *args,
        *("--identity", "william@yossarian.net", "--issuer", STAGING_ISSUER),
        *("--trusted-root", str(_vector("trusted_root.json"))),
    )
    assert done.returncode == 1
    assert "does not verify" in done.stderr and "digest mismatch" in done.stderr
    assert os.environ.get("MLGATE_TEST_SIGN_KEY") is None  # the key stayed in its child


def test_a_malformed_signature_field_exits_2(signed: Path, tmp_path: Path) -> None:
    data = json.loads(signed.read_text())
    data["signature"] = "not an object"  # outside the digest, so only the schema catches it
    bad = tmp_path / "receipt.json"
    bad.write_text(json.dumps(data))
    done = _verify(bad)
    assert done.returncode == 2 and "signature" in done.stderr


@pytest.mark.parametrize("call", ["generate_keypair", "load_private_key", "load_public_key"])
def test_missing_cryptography_is_a_usage_error_naming_the_extra(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, call: str
) -> None:
    import mlgate.signing as signing
    from mlgate.errors import UsageError

    for name in [m for m in sys.modules if m == "cryptography" or m.startswith("cryptography.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "cryptography", None)  # makes `import cryptography` fail
    args = {"generate_keypair": (), "load_private_key": ("env:NOPE",)}.get(call, (tmp_path,))
    with pytest.raises(UsageError, match="cryptography") as caught:
        getattr(signing, call)(*args)
    assert "mlgate[provenance]" in str(caught.value.hint)
