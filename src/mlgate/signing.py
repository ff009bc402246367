"""Receipt signatures: Ed25519 with a key the team manages, or a Sigstore bundle (keyless).

A key signature covers the receipt's canonical bytes (`receipt.canonical_bytes`: every
field but `digest` and `signature`, as sorted compact JSON), so the same content always
has the same signature and any edit of a signed field breaks it. The receipt carries
`signature: {alg, key_id, value}`; `key_id` is the SHA-256 of the raw public key, so a
verifier holding several keys (rotation) knows which one to try and says which signed.

Keys are PEM: a PKCS#8 Ed25519 private key and its SubjectPublicKeyInfo public key, the
forms `mlgate keygen` and `openssl genpkey -algorithm ed25519` write. Needs the
`cryptography` package (`pip install 'mlgate[provenance]'`); a Sigstore check needs
`sigstore`. Their absence is a usage error naming the extra, never a silent pass.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgate.errors import EXIT_GATE_ERROR, MlgateError, UsageError
from mlgate.receipt import canonical_bytes

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

ALG = "ed25519"
ENV_PREFIX = "env:"
EXTRA_HINT = "install it with `pip install 'mlgate[provenance]'`"
CLOCK_SKEW = dt.timedelta(minutes=5)
_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class TrustRootError(MlgateError):
    """Sigstore's trust root could not be fetched (no network?): exit 3."""

    exit_code = EXIT_GATE_ERROR


def _crypto() -> Any:
    try:
        from cryptography.hazmat.primitives import serialization  # noqa: PLC0415
    except ImportError:
        raise UsageError(
            "signing and verifying receipts needs the `cryptography` package", hint=EXTRA_HINT
        ) from None
    return serialization


def load_private_key(spec: str, environ: Mapping[str, str] | None = None) -> Ed25519PrivateKey:
    """The signing key from FILE or env:VAR (PEM text; VAR looked up in `environ`, the
    operator's environment the CLI passes); UsageError (exit 2) when unusable."""
    serialization = _crypto()  # first: a usage error naming the extra when it is missing
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (  # noqa: PLC0415
        Ed25519PrivateKey,
    )

    label, pem = _key_text(spec, environ or {})
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"{label}: not an unencrypted PEM private key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise UsageError(f"{label}: not an Ed25519 key (mlgate signs receipts with Ed25519)")
    return key


def _key_text(spec: str, environ: Mapping[str, str]) -> tuple[str, bytes]:
    if spec.startswith(ENV_PREFIX):
        name = spec[len(ENV_PREFIX) :]
        value = environ.get(name)
        if not value:
            raise UsageError(f"--sign-key {spec}: the environment variable {name} is not set")
        return f"${name}", value.encode("utf-8")
    try:
        return spec, Path(spec).read_bytes()
    except OSError as exc:
        raise UsageError(f"{spec}: cannot read the key: {exc.strerror or exc}") from None


def load_public_key(path: Path) -> Ed25519PublicKey:
    serialization = _crypto()  # first: a usage error naming the extra when it is missing
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (  # noqa: PLC0415
        Ed25519PublicKey,
    )

    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the public key: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise UsageError(f"{path}: not a PEM public key: {exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise UsageError(f"{path}: not an Ed25519 public key")
    return key


def key_id(public: Ed25519PublicKey) -> str:
    serialization = _crypto()
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def sign_receipt(receipt: Mapping[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    """The receipt with a `signature` over its canonical bytes."""
    value = key.sign(canonical_bytes(receipt))
    signature = {
        "alg": ALG,
        "key_id": key_id(key.public_key()),
        "value": base64.b64encode(value).decode("ascii"),
    }
    return {**receipt, "signature": signature}


def check_signature(receipt: Mapping[str, Any], keys: Sequence[Ed25519PublicKey]) -> list[str]:
    """Why the receipt's signature is not good under any of `keys`; empty when it is."""
    from cryptography.exceptions import InvalidSignature  # noqa: PLC0415

    signature = receipt.get("signature")
    if not isinstance(signature, Mapping):
        return ["the receipt is not signed (a public key was given, so a signature is required)"]
    if signature.get("alg") != ALG:
        return [f"the signature's algorithm is {signature.get('alg')!r}, not {ALG!r}"]
    try:
        value = base64.b64decode(str(signature.get("value")), validate=True)
    except (binascii.Error, ValueError):
        return ["the signature value is not base64"]
    wanted = str(signature.get("key_id"))
    ordered = sorted(keys, key=lambda k: key_id(k) != wanted)  # the named key first
    for key in ordered:
        try:
            key.verify(value, canonical_bytes(receipt))
        except InvalidSignature:
            continue
        return []
    known = wanted in {key_id(k) for k in keys}
    if known:
        return [f"the signature does not match the receipt's content (key {wanted}): tampered"]
    return [f"the receipt was signed by key {wanted}, which is none of the {len(keys)} given"]


def check_age(
    receipt: Mapping[str, Any], max_age: dt.timedelta, now: dt.datetime | None = None
) -> list[str]:
    """Refuse a receipt older than `max_age`, or dated in the future."""
    now = now or dt.datetime.now(dt.timezone.utc)
    try:
        created = dt.datetime.fromisoformat(str(receipt.get("created_at")))
    except ValueError:
        return [f"created_at {receipt.get('created_at')!r} is not a timestamp"]
    if created.tzinfo is None:
        created = created.replace(tzinfo=dt.timezone.utc)
    if created - now > CLOCK_SKEW:
        return [f"the receipt is dated in the future ({created.isoformat()})"]
    if now - created > max_age:
        return [f"the receipt expired: written {created.isoformat()}, older than {max_age}"]
    return []


def parse_duration(text: str) -> dt.timedelta:
    """`90s`, `30m`, `24h`, `7d`."""
    match = _DURATION.match(text.strip())
    if not match:
        raise UsageError(f"--max-age {text!r}: expected a number and s, m, h or d (e.g. 7d)")
    return dt.timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


def generate_keypair() -> tuple[bytes, bytes]:
    """(private PEM, public PEM) of a new Ed25519 key."""
    serialization = _crypto()  # first: a usage error naming the extra when it is missing
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (  # noqa: PLC0415
        Ed25519PrivateKey,
    )

    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public


# --- Sigstore (keyless) ---------------------------------------------------------------------


def check_bundle(
    artifact: bytes,
    bundle_path: Path,
    identity: str,
    issuer: str,
    trusted_root: Path | None = None,
) -> list[str]:
    """Why the Sigstore bundle does not prove that `identity` (issued by `issuer`) signed
    `artifact`; empty when it does. The certificate chain, the transparency-log proof and
    the signature are all checked. `trusted_root`: verify offline against this trust root;
    otherwise Sigstore's public-good root (fetched and checked through TUF)."""
    try:
        from sigstore.errors import Error as SigstoreError  # noqa: PLC0415
        from sigstore.models import Bundle, TrustedRoot  # noqa: PLC0415
        from sigstore.verify import Verifier  # noqa: PLC0415
        from sigstore.verify.policy import Identity  # noqa: PLC0415
    except ImportError:
        raise UsageError("--bundle needs the `sigstore` package", hint=EXTRA_HINT) from None
    try:
        bundle = Bundle.from_json(bundle_path.read_bytes())
    except OSError as exc:
        raise UsageError(f"{bundle_path}: cannot read: {exc.strerror or exc}") from None
    except (ValueError, SigstoreError) as exc:
        raise UsageError(f"{bundle_path}: not a Sigstore bundle: {exc}") from None
    try:
        if trusted_root is not None:
            verifier = Verifier(trusted_root=TrustedRoot.from_file(str(trusted_root)))
        else:
            verifier = Verifier.production()
    except (OSError, ValueError) as exc:
        raise UsageError(f"{trusted_root}: not a Sigstore trusted root: {exc}") from None
    except SigstoreError as exc:
        raise TrustRootError(f"cannot load Sigstore's trust root: {exc}") from None
    try:
        verifier.verify_artifact(artifact, bundle, Identity(identity=identity, issuer=issuer))
    except SigstoreError as exc:
        return [f"the Sigstore bundle {bundle_path} does not verify: {exc}"]
    return []
