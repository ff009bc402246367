"""The shapes of secrets: mlgate's own token patterns (Hugging Face, Databricks, OpenAI,
W&B, GitHub, AWS) with their acceptance checks, placeholders and hash contexts, and the
preview a secret is shown as.

The secrets gate finds secrets with them; `mlgate.redact` removes them from everything
mlgate writes. They live outside the gates package so that redaction, which every command
installs on its output, does not import the gate registry (every gate and its
dependencies): `mlgate tools`, `db`, `verify` and `hook` start without it (issue 16).
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from mlgate.findings import Severity

# base64 media embedded in notebooks' text/html outputs (images, audio): never a credential,
# often a false "AWS key" or "high entropy string" (`notebooks.notebook_texts` blanks them).
DATA_URI = re.compile(r"data:[\w.+/-]*;base64,[A-Za-z0-9+/=]+")

PREVIEW_CHARS = 4
WANDB_WINDOW = 200  # a 40-hex key counts as a W&B key when `wandb` is this close

# detect-secrets' heuristic detectors: frequent false positives (hashes, ids in outputs).
HEURISTIC_TYPES: Mapping[str, Severity] = {
    "Base64 High Entropy String": Severity.LOW,
    "Hex High Entropy String": Severity.LOW,
    "Public IP (ipv4)": Severity.LOW,
}
ENTROPY_TYPES = frozenset({"Base64 High Entropy String", "Hex High Entropy String"})
KEYWORD_TYPE = "Secret Keyword"
AWS_TYPE = "AWS Access Key"
HF_TYPE = "Hugging Face Token"
GITHUB_TYPE = "GitHub Token"
ANTHROPIC_TYPE = "Anthropic API Key"
WANDB_TYPE = "Weights & Biases API Key"
GENERIC_TYPES = frozenset({KEYWORD_TYPE, *HEURISTIC_TYPES})


def redact(value: str) -> str:
    """A preview that cannot be used: the first 4 characters (fewer for short values), then …"""
    shown = PREVIEW_CHARS if len(value) >= 4 * PREVIEW_CHARS else len(value) // 4
    return value[:shown] + "…"


def secret_hash(value: str) -> str:
    """The hash detect-secrets reports for a value (`hashed_secret`)."""
    return hashlib.sha1(value.encode("utf-8"), usedforsecurity=False).hexdigest()


# --- mlgate's own patterns ----------------------------------------------------------------
# Each regex is linear: a literal prefix, one bounded character class, and no nesting, so a
# 100 KB minified line costs one pass. Acceptance checks run only on matches. `PATTERNS` is
# data: other modules (redaction) import it and call `accept` the same way.


@dataclass(frozen=True)
class TokenPattern:
    secret_type: str
    regex: re.Pattern[str]
    accept: Callable[[str, int, int], str | None]  # (text, start, end) -> type, or None


def _fixed(secret_type: str, length: int) -> Callable[[str, int, int], str | None]:
    def accept(text: str, start: int, end: int) -> str | None:
        value = text[start:end]
        return secret_type if end - start == length and not is_placeholder(value) else None

    return accept


BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
GITHUB_PREFIXES = {
    "ghp_": "GitHub Personal Access Token",
    "gho_": "GitHub OAuth Token",
    "ghu_": "GitHub User-to-Server Token",
    "ghs_": "GitHub Server-to-Server Token",
    "ghr_": "GitHub Refresh Token",
}


def base62(number: int, width: int) -> str:
    digits = ""
    while number:
        number, rest = divmod(number, 62)
        digits = BASE62[rest] + digits
    return digits.rjust(width, "0")


def github_checksum_ok(token: str) -> bool:
    """GitHub's classic token format: prefix, 30 random base62 characters, then the CRC32 of
    those 30 characters in base62, zero-padded to 6 (github.blog, 2021-04-05)."""
    body = token[4:]
    if len(body) != 36 or any(c not in BASE62 for c in body):
        return False
    return base62(zlib.crc32(body[:30].encode("ascii")), 6) == body[30:]


def _github(text: str, start: int, end: int) -> str | None:
    value = text[start:end]
    kind = GITHUB_PREFIXES.get(value[:4])
    return kind if kind and github_checksum_ok(value) else None


def _github_pat(text: str, start: int, end: int) -> str | None:
    """Fine-grained PATs: `github_pat_` + 22 + `_` + 59 base62 characters (format only: their
    checksum is not published)."""
    value = text[start:end]
    ok = _GITHUB_PAT.fullmatch(value) is not None and not is_placeholder(value)
    return "GitHub Fine-Grained Personal Access Token" if ok else None


_GITHUB_PAT = re.compile(r"github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}")


def _huggingface(text: str, start: int, end: int) -> str | None:
    """`hf_` + exactly 34 ASCII letters (User Access Tokens have no digits)."""
    value = text[start:end]
    if len(value) != 37 or not value[3:].isalpha() or is_placeholder(value):
        return None
    return "Hugging Face Token"


def aws_key_id_ok(value: str) -> bool:
    """An AWS access key id: AKIA/ASIA/ABIA/ACCA + 16 base32 characters ([A-Z2-7]), and not a
    DNA sequence (`ACCA` followed by A/C/G/T only is a read, not a key)."""
    if _AWS_ID.fullmatch(value) is None:
        return False
    return not set(value) <= set("ACGT") and not is_placeholder(value)


_AWS_ID = re.compile(r"(?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}")


def _aws(text: str, start: int, end: int) -> str | None:
    return "AWS Access Key" if aws_key_id_ok(text[start:end]) else None


OPENAI_PREFIXES = ("sk-proj-", "sk-svcacct-", "sk-admin-", "sk-None-")
OPENAI_MARKER = "T3BlbkFJ"  # base64 of "OpenAI", inside every OpenAI key


def openai_type(value: str) -> str | None:
    """The type of an `sk-` key, or None: Anthropic `sk-ant-api03-…`, OpenAI legacy
    `sk-` + 48 alphanumerics with the `T3BlbkFJ` marker, or `sk-proj-`/`sk-svcacct-`/
    `sk-admin-` + at least 40 characters with the marker or of mixed case and digits."""
    if is_placeholder(value) or value.startswith("sk-lf-"):
        return None  # Langfuse's documented `sk-lf-...` and other placeholders
    if value.startswith("sk-ant-"):
        return "Anthropic API Key" if len(value) >= 90 and _mixed(value[7:]) else None
    prefix = next((p for p in OPENAI_PREFIXES if value.startswith(p)), None)
    if prefix is not None:
        body = value[len(prefix) :]
        if len(body) >= 40 and (OPENAI_MARKER in body or _mixed(body)):
            return "OpenAI Project API Key" if prefix == "sk-proj-" else "OpenAI API Key"
        return None
    body = value[3:]
    if len(body) == 48 and body.isalnum() and (OPENAI_MARKER in body or _mixed(body)):
        return "OpenAI API Key"
    return None


def _mixed(body: str) -> bool:
    """Random key material: digits, upper and lower case letters all present."""
    return (
        any(c.isdigit() for c in body)
        and any(c.isupper() for c in body)
        and any(c.islower() for c in body)
    )


def _openai(text: str, start: int, end: int) -> str | None:
    return openai_type(text[start:end])


def _wandb(text: str, start: int, end: int) -> str | None:
    if end - start != 40:
        return None
    window = text[max(0, start - WANDB_WINDOW) : end + WANDB_WINDOW].lower()
    if "wandb" not in window:
        return None
    line_start = text.rfind("\n", 0, start) + 1
    if HASH_CONTEXT.search(text[line_start:start]):
        return None  # `commit: <sha>` in a wandb run summary is a git SHA, not a key
    return "Weights & Biases API Key"


PATTERNS: tuple[TokenPattern, ...] = (
    TokenPattern(
        "Hugging Face Token",
        re.compile(r"(?<![A-Za-z0-9_])hf_[A-Za-z0-9]{30,}"),
        _huggingface,
    ),
    TokenPattern(
        "Databricks Token",
        re.compile(r"(?<![A-Za-z0-9])dapi[0-9a-f]{32,}"),
        _fixed("Databricks Token", 36),
    ),
    TokenPattern("OpenAI API Key", re.compile(r"(?<![A-Za-z0-9_-])sk-[A-Za-z0-9_-]{20,}"), _openai),
    TokenPattern("Weights & Biases API Key", re.compile(r"(?<![0-9a-f])[0-9a-f]{40,}"), _wandb),
    TokenPattern(
        "GitHub Token", re.compile(r"(?<![A-Za-z0-9_])gh[pousr]_[A-Za-z0-9]{36,}"), _github
    ),
    TokenPattern(
        "GitHub Fine-Grained Personal Access Token",
        re.compile(r"(?<![A-Za-z0-9_])github_pat_[A-Za-z0-9_]{82,}"),
        _github_pat,
    ),
    TokenPattern(
        "AWS Access Key", re.compile(r"(?<![A-Za-z0-9])A(?:KIA|SIA|BIA|CCA)[A-Z0-9]{16,}"), _aws
    ),
)


# --- placeholders and hash contexts --------------------------------------------------------

# A value containing one of these is documentation, not a credential.
PLACEHOLDER_WORDS = (
    "your",
    "xxxx",
    "changeme",
    "change_me",
    "change-me",
    "placeholder",
    "redacted",
    "replace_me",
    "replaceme",
    "insert_",
    "dummy",
    "<",
    ">",
    "{",
    "}",
    "$",
    "...",
    "\u2026",
    "****",
)
_REPEATED = re.compile(r"(.)\1{5,}")
# Words before a value that make it a digest or an id (git SHAs, md5 in .dvc files, lock hashes).
HASH_CONTEXT = re.compile(
    r"(?i)(?:sha(?:1|224|256|384|512)?|md5|hash|digest|checksum|signature|etag|commit|"
    r"revision|\brev\b|integrity|--hash|uuid|object_id)[\"']?\s*[:=]|\bcommit\s+[0-9a-f]{7}"
)
# Files whose long hex/base64 strings are digests by construction.
HASH_FILE_GLOBS = (
    "*.dvc",
    "dvc.lock",
    "*.lock",
    "*-lock.json",
    "*.lock.json",
    "pylock.toml",
    "pylock.*.toml",
    "go.sum",
    "*.sha256",
    "*.md5",
)


def is_placeholder(value: str) -> bool:
    """`YOUR_API_KEY`, `sk-lf-...`, `<your-token>`, `xxxx`, `changeme`, `hf_aaaaaa…`."""
    lowered = value.lower()
    if any(word in lowered for word in PLACEHOLDER_WORDS):
        return True
    return _REPEATED.search(value) is not None


def hash_context(path: str, line: str) -> bool:
    """The value on `line` of `path` is a digest or an id, not a secret."""
    name = path.rsplit("/", 1)[-1]
    if any(fnmatch.fnmatchcase(name, glob) for glob in HASH_FILE_GLOBS):
        return True
    return HASH_CONTEXT.search(line) is not None or "--hash=" in line


# Shapes of detect-secrets' most severe secrets, for previews and for redacting mlgate's
# output when detect-secrets itself is not installed (see mlgate.redact).
PRIVATE_KEY_HEADER = re.compile(r"BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?|PuTTY-User-Key-File-[23]")
AWS_KEY_ID = re.compile(r"(?:A3T[A-Z0-9]|ABIA|ACCA|AKIA|ASIA)[0-9A-Z]{16}")
