"""`tools.lock`: the exact scanner versions mlgate runs, with the sha256 of every artifact.

The lock is JSON. For each tool (bandit, semgrep, pip-audit, detect-secrets) it holds the
version, a table of every pinned distribution (`name==version` -> its sha256 hashes, as the
index lists them), and per target (`<platform>/<python>`, e.g.
`x86_64-unknown-linux-gnu/3.12`) the distributions that target installs. Installation is
`--require-hashes --no-deps --only-binary :all:` from exactly those lines, so nothing is
resolved at install time. A target missing from the lock means no wheel set exists for it.

`compile_lock` writes one with `uv pip compile --generate-hashes --python-version X
--python-platform Y` per target (`mlgate tools lock`).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlgate.errors import ConfigError, MlgateError

LOCK_VERSION = 1
PACKAGE_LOCK = Path(__file__).with_name("tools.lock")
REPO_LOCK = ".mlgate/tools.lock"
ENV_LOCK = "MLGATE_TOOLS_LOCK"  # operator override of the shipped lock (a mirror, a test)

# tool -> the distribution that provides it (the executable has the tool's name)
TOOLS: Mapping[str, str] = {
    "bandit": "bandit",
    "semgrep": "semgrep",
    "pip-audit": "pip-audit",
    "detect-secrets": "detect-secrets",
}
PYTHONS = ("3.10", "3.11", "3.12", "3.13", "3.14")
# uv's --python-platform names, keyed by (sys.platform, machine). semgrep's Linux wheels
# need glibc 2.34 (Debian 12, Ubuntu 22.04, RHEL 9 and newer); macOS: 11 or newer.
PLATFORMS: Mapping[tuple[str, str], str] = {
    ("linux", "x86_64"): "x86_64-manylinux_2_34",
    ("linux", "aarch64"): "aarch64-manylinux_2_34",
    ("darwin", "arm64"): "aarch64-apple-darwin",
    ("darwin", "x86_64"): "x86_64-apple-darwin",
}
_GLIBC_MIN = (2, 34)
_COMPILE_TIMEOUT = 600


class ToolError(MlgateError):
    """A tool environment could not be created, found or verified (a gate error, exit 3)."""

    exit_code = 3


@dataclass(frozen=True)
class LockedTool:
    name: str
    version: str
    packages: Mapping[str, tuple[str, ...]]  # "name==version" -> ("sha256:...", ...)
    targets: Mapping[str, tuple[str, ...]]  # target -> ("name==version", ...)

    def requirements(self, target: str) -> list[str] | None:
        """The hash-pinned requirement lines for a target (None: not locked for it)."""
        pins = self.targets.get(target)
        if pins is None:
            return None
        return [
            " ".join([pin, *(f"--hash={h}" for h in self.packages[pin])]) for pin in sorted(pins)
        ]


@dataclass(frozen=True)
class ToolLock:
    path: Path
    tools: Mapping[str, LockedTool]


def current_target() -> str | None:
    """`<uv platform>/<major.minor>` of this interpreter, or None on an unsupported platform."""
    machine = platform.machine().lower()
    machine = {"amd64": "x86_64", "arm64": "arm64" if sys.platform == "darwin" else "aarch64"}.get(
        machine, machine
    )
    name = PLATFORMS.get((sys.platform, machine))
    if name is None or (sys.platform == "linux" and not _glibc_at_least(_GLIBC_MIN)):
        return None
    return f"{name}/{sys.version_info.major}.{sys.version_info.minor}"


def _glibc_at_least(minimum: tuple[int, int]) -> bool:
    libc, found = platform.libc_ver()
    if libc != "glibc":
        return False
    parts = tuple(int(p) for p in found.split(".")[:2] if p.isdigit())
    return parts >= minimum


def requirements_digest(lines: Sequence[str]) -> str:
    """The identity of an environment's content: sha256 of its requirement lines."""
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


def package_lock_path() -> Path:
    override = os.environ.get(ENV_LOCK)
    return Path(override) if override else PACKAGE_LOCK


def load_lock(path: Path) -> ToolLock:
    """Read and check a lock file; anything malformed is a ConfigError naming the file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such tool lock", hint="run `mlgate tools lock`") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the tool lock: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}:{exc.lineno}: the tool lock is not JSON: {exc.msg}") from None
    try:
        return _parse(path, data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ConfigError(
            f"{path}: not a valid tool lock ({type(exc).__name__}: {exc})",
            hint="regenerate it with `mlgate tools lock`",
        ) from None


def _parse(path: Path, data: Any) -> ToolLock:
    if data["lock_version"] != LOCK_VERSION:
        raise ValueError(f"lock_version {data['lock_version']} is not {LOCK_VERSION}")
    tools: dict[str, LockedTool] = {}
    for name, entry in data["tools"].items():
        if name not in TOOLS:
            raise ValueError(f"unknown tool {name!r}")
        packages = {str(k): tuple(str(h) for h in v) for k, v in entry["packages"].items()}
        targets = {str(k): tuple(str(p) for p in v) for k, v in entry["targets"].items()}
        for pin, hashes in packages.items():
            if not hashes or not all(h.startswith("sha256:") and len(h) == 71 for h in hashes):
                raise ValueError(f"{name}: {pin}: every artifact needs a sha256 hash")
        for target, pins in targets.items():
            unknown = [p for p in pins if p not in packages]
            if unknown:
                raise ValueError(f"{name}: {target}: {unknown[0]} has no hashes")
            if f"{TOOLS[name]}=={entry['version']}" not in pins:
                raise ValueError(f"{name}: {target} does not install {name} {entry['version']}")
        tools[name] = LockedTool(name, str(entry["version"]), packages, targets)
    return ToolLock(path, tools)


# --- writing a lock -------------------------------------------------------------------------

Compile = Callable[[str, str, str], list[tuple[str, tuple[str, ...]]] | None]


def compile_lock(
    versions: Mapping[str, str | None],
    compile_one: Compile,
    pythons: Sequence[str] = PYTHONS,
    platforms: Sequence[str] = tuple(PLATFORMS.values()),
    jobs: int = 4,
) -> dict[str, Any]:
    """A lock document for `versions` (tool -> version; None: the newest).

    `compile_one(requirement, python, platform)` resolves one target and returns
    [(name==version, hashes)], or None when no wheel set exists for that target.
    """
    from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415 (only `tools lock`)

    resolved = {name: v or _newest(name, compile_one) for name, v in versions.items()}
    jobs_list = [(name, py, plat) for name in resolved for py in pythons for plat in platforms]
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        results = list(
            pool.map(
                lambda j: compile_one(f"{TOOLS[j[0]]}=={resolved[j[0]]}", j[1], j[2]), jobs_list
            )
        )
    tools: dict[str, Any] = {}
    for (name, py, plat), pins in zip(jobs_list, results, strict=True):
        entry = tools.setdefault(name, {"version": resolved[name], "packages": {}, "targets": {}})
        if pins is None:
            continue
        entry["targets"][f"{plat}/{py}"] = sorted(pin for pin, _ in pins)
        for pin, hashes in pins:
            entry["packages"][pin] = sorted(hashes)
    for name, entry in tools.items():
        if not entry["targets"]:
            raise ToolError(f"{name} {resolved[name]}: no wheels for any supported target")
        entry["packages"] = dict(sorted(entry["packages"].items()))
        entry["targets"] = dict(sorted(entry["targets"].items()))
    return {
        "lock_version": LOCK_VERSION,
        "generated_by": "mlgate tools lock (uv pip compile --generate-hashes --only-binary :all:)",
        "tools": dict(sorted(tools.items())),
    }


def _newest(name: str, compile_one: Compile) -> str:
    pins = compile_one(TOOLS[name], "3.12", PLATFORMS[("linux", "x86_64")])
    prefix = f"{TOOLS[name]}=="
    found = [pin[len(prefix) :] for pin, _ in pins or [] if pin.startswith(prefix)]
    if not found:
        raise ToolError(f"{name}: could not resolve its newest version")
    return found[0]


def parse_compiled(text: str) -> list[tuple[str, tuple[str, ...]]]:
    """`uv pip compile --generate-hashes` output -> [(name==version, (sha256:..., ...))]."""
    pins: list[tuple[str, tuple[str, ...]]] = []
    for raw in text.replace("\\\n", " ").splitlines():
        words = raw.split()
        if not words or words[0].startswith("#"):
            continue
        hashes = tuple(w.removeprefix("--hash=") for w in words[1:] if w.startswith("--hash="))
        name, _, version = words[0].partition("==")
        if not version:
            raise ToolError(f"unexpected line in uv's output: {raw.strip()[:120]}")
        pins.append((f"{_canonical(name)}=={version}", hashes))
    return pins


def _canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def dump_lock(document: Mapping[str, Any]) -> str:
    return json.dumps(document, indent=1, sort_keys=False) + "\n"
