"""Hermetic scanner environments: one isolated virtual environment per pinned tool.

Each tool (bandit, semgrep, pip-audit, detect-secrets) lives in its own environment under
`$MLGATE_TOOLS_DIR` (default: the user cache, `mlgate/tools`), named
`<tool>-<version>-py<X.Y>-<lock hash>`, installed from the hash-pinned requirement lines of
`tools.lock` (see toollock.py) with uv when it is available, else `python -m venv` + pip.

An environment is built in a temporary directory beside its final place, verified (the
tool's distribution has the pinned version), given a marker file (`mlgate-env.json`, with
the lock hash) and renamed into place; a file lock per environment makes a second mlgate
that needs the same environment wait for the first instead of building it twice. An
environment whose marker is missing or different, whose executable is gone, or (deep check)
whose executable does not run is not intact; `mlgate tools install` rebuilds it.

Where each tool comes from is decided per tool: `pinned` (mlgate's lock), `repo-pinned`
(a version in `.mlgate.yml` `tools:`, hashes in the repo's `.mlgate/tools.lock`) or
`system` (PATH; `tools: {semgrep: system}` or `MLGATE_TOOLS=system`). The operator's
`MLGATE_TOOLS` (`system` or `pinned`) wins over the repository's settings.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import platformdirs

from mlgate import atomic
from mlgate.errors import ConfigError
from mlgate.toollock import (
    REPO_LOCK,
    TOOLS,
    LockedTool,
    ToolError,
    ToolLock,
    current_target,
    load_lock,
    package_lock_path,
    parse_compiled,
    requirements_digest,
)

ENV_TOOLS_DIR = "MLGATE_TOOLS_DIR"
ENV_MODE = "MLGATE_TOOLS"  # system: every tool from PATH; pinned: ignore the repo's pins
ENV_OFFLINE = "MLGATE_OFFLINE"
ENV_INDEX_URL = "MLGATE_TOOLS_INDEX_URL"  # a package index (mirror) to install from
ENV_FIND_LINKS = "MLGATE_TOOLS_FIND_LINKS"  # a directory of wheels; no index then
ENV_INSTALLER = "MLGATE_TOOLS_INSTALLER"  # pip: never uv
MARKER = "mlgate-env.json"
SYSTEM = "system"
PINNED = "pinned"
REPO_PINNED = "repo-pinned"
_INSTALL_TIMEOUT = 1200
_CHECK_TIMEOUT = 120
_LOCK_WAIT = 1800
_SCRIPT_HEAD = 1024  # bytes of a script where its interpreter line(s) are

Notify = Callable[[str], None]


@dataclass(frozen=True)
class Settings:
    """How tools are resolved in this process (the CLI sets them; defaults: pinned, install)."""

    repo_tools: Mapping[str, str] = field(default_factory=dict)  # tool -> system | version
    repo_root: Path | None = None
    offline: bool = False
    notify: Notify | None = None
    # semgrep's command line: native (`scan --experimental`), classic, or auto (native, classic
    # when native cannot start); the operator's MLGATE_SEMGREP_CLI, read by the CLI
    semgrep_cli: str = "auto"


@dataclass(frozen=True)
class Plan:
    """Where a tool comes from and, when pinned, which environment holds it."""

    tool: str
    source: str  # pinned | repo-pinned | system
    version: str | None = None  # the pinned version (None for system)
    env: Path | None = None
    requirements: tuple[str, ...] = ()
    lock_hash: str = ""
    lock_path: Path | None = None

    @property
    def executable(self) -> Path | None:
        return None if self.env is None else _bin(self.env) / self.tool


@dataclass(frozen=True)
class Status:
    plan: Plan
    intact: bool
    reason: str  # why not intact, or "intact"


_settings = Settings()
_state_lock = threading.Lock()
_tool_locks: dict[str, threading.Lock] = {name: threading.Lock() for name in TOOLS}
_problems: dict[str, str] = {}
_resolved: dict[str, Plan] = {}


def configure(settings: Settings) -> None:
    """Set how tools are resolved for the rest of this process (called by the CLI)."""
    global _settings  # noqa: PLW0603 (one process-wide setting, like the command observers)
    from mlgate.tools import tool_version  # noqa: PLC0415 (tools imports this module)

    with _state_lock:
        _settings = settings
        _problems.clear()
        _resolved.clear()
    tool_version.cache_clear()


def settings() -> Settings:
    return _settings


def configure_repo(root: Path, pins: Mapping[str, str], operator: Settings) -> None:
    """Tools for this process: the operator's settings plus the repository's `tools:` pins
    (ConfigError when a pinned version has no hashes in the repository's lock)."""
    check_repo_pins(root.resolve(), pins)
    configure(replace(operator, repo_tools=pins, repo_root=root.resolve()))


def offline_requested() -> bool:
    return os.environ.get(ENV_OFFLINE, "").strip().lower() in ("1", "true", "yes", "on")


def tools_dir() -> Path:
    override = os.environ.get(ENV_TOOLS_DIR)
    if override:
        return Path(override).expanduser()
    return platformdirs.user_cache_path("mlgate") / "tools"


def is_managed(name: str) -> bool:
    return name in TOOLS


# --- planning: which source, which version, which environment -------------------------------


def plan(tool: str) -> Plan:
    """Decide where `tool` comes from (ConfigError for an unusable lock or pin)."""
    with _state_lock:
        known = _resolved.get(tool)
    if known is not None:
        return known
    made = _make_plan(tool, _settings)
    with _state_lock:
        _resolved[tool] = made
    return made


def _make_plan(tool: str, settings: Settings) -> Plan:
    mode = os.environ.get(ENV_MODE, "").strip().lower()
    if mode not in ("", SYSTEM, PINNED):
        raise ConfigError(f"{ENV_MODE}={mode!r}: expected 'system' or 'pinned'")
    wanted = "" if mode == PINNED else settings.repo_tools.get(tool, "")
    if SYSTEM in (mode, wanted):
        return Plan(tool, SYSTEM)
    if wanted and wanted != PINNED:
        return _pinned_plan(tool, REPO_PINNED, _repo_locked(tool, wanted, settings.repo_root))
    lock = _cached_lock(package_lock_path())
    locked = lock.tools.get(tool)
    if locked is None:
        raise ConfigError(f"{lock.path}: the tool lock has no entry for {tool}")
    return _pinned_plan(tool, PINNED, locked, lock.path)


@functools.lru_cache(maxsize=8)
def _cached_lock(path: Path) -> ToolLock:
    """The shipped (or operator's) lock, parsed once per process."""
    return load_lock(path)


def _repo_locked(tool: str, version: str, root: Path | None) -> LockedTool:
    path = (root or Path.cwd()) / REPO_LOCK
    if not path.is_file():
        raise ConfigError(
            f".mlgate.yml: tools: {tool}: pinned to {version} but {path} does not exist",
            hint="run `mlgate tools lock` in the repository to record the hashes",
        )
    locked = load_lock(path).tools.get(tool)
    if locked is None or locked.version != version:
        have = f"has {tool} {locked.version}" if locked else f"has no entry for {tool}"
        raise ConfigError(
            f".mlgate.yml: tools: {tool}: pinned to {version} but {path} {have}",
            hint="run `mlgate tools lock` in the repository to record the hashes",
        )
    return locked


def check_repo_pins(root: Path, pins: Mapping[str, str]) -> None:
    """Every version pinned in `.mlgate.yml` has hashes in the repo lock (ConfigError if not)."""
    for tool, wanted in pins.items():
        if wanted not in (SYSTEM, PINNED):
            _repo_locked(tool, wanted, root)


def _pinned_plan(tool: str, source: str, locked: LockedTool, lock_path: Path | None = None) -> Plan:
    target = current_target()
    lines = locked.requirements(target) if target else None
    if target is None or lines is None:
        where = target or f"{sys.platform}/{os.uname().machine if hasattr(os, 'uname') else '?'}"
        return Plan(tool, source, locked.version, lock_path=lock_path, lock_hash=f"none:{where}")
    digest = requirements_digest(lines)
    py = f"{sys.version_info.major}.{sys.version_info.minor}"
    env = tools_dir() / f"{tool}-{locked.version}-py{py}-{digest[:12]}"
    return Plan(tool, source, locked.version, env, tuple(lines), digest, lock_path)


# --- status ---------------------------------------------------------------------------------


def status(p: Plan, deep: bool = False) -> Status:
    """Whether the planned environment is intact (deep: also run `TOOL --version`)."""
    if p.source == SYSTEM:
        exe = _system_executable(p.tool)
        return Status(p, exe is not None, "on PATH" if exe else "not found on PATH")
    if p.env is None:
        return Status(p, False, _no_target(p))
    if not p.env.is_dir():
        return Status(p, False, "not installed")
    marker = _read_marker(p.env)
    if marker is None:
        return Status(p, False, f"corrupted: {MARKER} is missing or unreadable")
    if marker.get("lock_hash") != p.lock_hash:
        return Status(p, False, "corrupted: its marker does not match the lock")
    if _moved_from(p.env, marker) is not None:
        return Status(p, False, f"moved: its scripts name {marker['path']}")
    tool_exe = p.executable
    if tool_exe is None or not (tool_exe.is_file() and os.access(tool_exe, os.X_OK)):
        return Status(p, False, f"corrupted: {tool_exe} is missing")
    if not (_bin(p.env) / "python").exists():
        return Status(p, False, "corrupted: its Python interpreter is gone")
    if deep:
        failure = _runs(p)
        if failure:
            return Status(p, False, f"corrupted: {failure}")
    return Status(p, True, "intact")


def _no_target(p: Plan) -> str:
    return (
        f"the lock has no {p.tool} wheels for this platform and Python ({p.lock_hash[5:]}); "
        f"use `{ENV_MODE}=system` or `tools: {{{p.tool}: system}}` with the tool on PATH"
    )


def _moved_from(env: Path, marker: Mapping[str, Any]) -> str | None:
    """Where an environment was built, when that is not where it is now (a CI cache restored
    it elsewhere); None when it is in place (or its marker predates the `path` field)."""
    path = marker.get("path")
    return path if isinstance(path, str) and path != str(env) else None


def _read_marker(env: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((env / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _runs(p: Plan) -> str | None:
    """None when `TOOL --version` exits 0 and prints the pinned version, else the problem."""
    from mlgate.tools import QUIET_ENV, run_tool  # noqa: PLC0415 (tools imports this module)

    run = run_tool([str(p.executable), "--version"], _CHECK_TIMEOUT, env=QUIET_ENV)
    if not run.ok or run.returncode != 0:
        return f"`{p.tool} --version` failed: {run.describe(300)}"
    if p.version and p.version not in run.stdout + run.stderr:
        return f"`{p.tool} --version` does not say {p.version}: {run.stdout.strip()[:100]}"
    return None


# --- resolving for a run --------------------------------------------------------------------


def executable(tool: str) -> str | None:
    """The tool's executable for this run, installing its environment if needed.

    None when it cannot be had; `problem(tool)` then says why.
    """
    try:
        p = plan(tool)
    except ConfigError as exc:
        _problems[tool] = exc.message
        return None
    if p.source == SYSTEM:
        return _system_executable(tool)
    with _tool_locks[tool]:
        if status(p).intact:
            return str(p.executable)
        if tool in _problems:
            return None
        try:
            install(p, _settings.notify, offline=_settings.offline or offline_requested())
        except (ToolError, ConfigError) as exc:
            _problems[tool] = exc.message
            return None
    return str(p.executable)


def problem(tool: str) -> str | None:
    """Why `executable(tool)` returned None (None when nothing went wrong)."""
    return _problems.get(tool)


def version(tool: str) -> str | None:
    """The version a run records for `tool`: the pinned one, or the system tool's own."""
    try:
        p = plan(tool)
    except ConfigError:
        return None
    if p.source != SYSTEM:
        return p.version
    return _system_version(tool)


def provenance(tool: str) -> dict[str, Any]:
    """What the json report and receipt record about a tool: version and source."""
    try:
        p = plan(tool)
    except ConfigError as exc:
        return {"version": None, "source": "error", "problem": exc.message}
    if p.source == SYSTEM:
        return {"version": _system_version(tool), "source": SYSTEM, "unpinned": True}
    return {"version": p.version, "source": p.source, "lock_hash": p.lock_hash[:12]}


def where(p: Plan) -> str:
    """The executable a plan points at, for display ('-' when there is none)."""
    exe = _system_executable(p.tool) if p.source == SYSTEM else p.executable
    return str(exe) if exe else "-"


def _system_executable(tool: str) -> str | None:
    beside = Path(sys.executable).parent / tool
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which(tool)


def _system_version(tool: str) -> str | None:
    from mlgate.tools import cli_version  # noqa: PLC0415 (tools imports this module)

    exe = _system_executable(tool)
    if exe is None:
        return None
    if Path(exe).parent == Path(sys.executable).parent:
        from importlib import metadata  # noqa: PLC0415 (not on `mlgate --version`'s path)

        with contextlib.suppress(metadata.PackageNotFoundError):
            return metadata.version(TOOLS[tool])
    return cli_version(exe)


# --- installing -----------------------------------------------------------------------------


def install(
    p: Plan, notify: Notify | None = None, offline: bool = False, deep: bool = False
) -> Path:
    """Create (or repair) the environment of a pinned tool; idempotent and safe in parallel.

    An environment that is intact (deep: and whose tool runs) is kept. Raises ToolError (a
    gate error) when it cannot be installed, naming the tool and why.
    """
    if p.env is None:
        raise ToolError(f"{p.tool} {p.version}: {_no_target(p)}")
    state = status(p, deep)
    if state.intact:
        return p.env
    if offline and not state.reason.startswith("moved"):
        raise _offline_error(p)
    root = _writable_root(p.env.parent)
    with _file_lock(root / ".locks" / f"{p.env.name}.lock", p.tool, notify):
        if status(p, deep).intact:  # another process built it while we waited
            return p.env
        if _relocate(p) and status(p, deep).intact:
            _say(notify, f"{p.tool} {p.version}: moved environment {p.env} repaired in place")
            return p.env
        if offline:
            raise _offline_error(p)
        _say(notify, f"installing {p.tool} {p.version} (pinned, hash-checked) into {p.env} ...")
        started = time.monotonic()
        _build(p, root)
        _say(notify, f"installed {p.tool} {p.version} in {time.monotonic() - started:.0f}s")
    return p.env


def _offline_error(p: Plan) -> ToolError:
    return ToolError(
        f"{p.tool} {p.version} is not installed in {tools_dir()} and installing is off "
        f"(--offline / {ENV_OFFLINE}=1)",
        hint="run `mlgate tools install` once while the package index is reachable",
    )


def _say(notify: Notify | None, message: str) -> None:
    if notify is not None:
        notify(message)


def _writable_root(root: Path) -> Path:
    try:
        (root / ".locks").mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=root):
            pass
    except OSError as exc:
        reason = " ".join(str(exc.strerror or exc).split())
        raise ToolError(
            f"cannot write the tool directory {root}: {reason} "
            f"(set {ENV_TOOLS_DIR} to a writable directory)"
        ) from None
    return root


@contextlib.contextmanager
def _file_lock(path: Path, tool: str, notify: Notify | None) -> Iterator[None]:
    """An exclusive lock between processes (POSIX flock; elsewhere, threads only)."""
    try:
        import fcntl  # noqa: PLC0415 (POSIX only)
    except ImportError:  # pragma: no cover (Windows)
        yield
        return
    with path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            _say(notify, f"waiting for another mlgate that is installing {tool} ...")
            deadline = time.monotonic() + _LOCK_WAIT
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise ToolError(
                            f"{tool}: gave up waiting for the install lock {path}"
                        ) from None
                    time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _build(p: Plan, root: Path) -> None:
    assert p.env is not None
    tmp = Path(tempfile.mkdtemp(prefix=f".build-{p.env.name}-", dir=root))
    tmp.chmod(0o755)  # mkdtemp makes it private; the environment is a shared cache entry
    try:
        installer = _create_env(tmp, p)
        _check_installed_version(tmp, p)
        _relocate_scripts(_bin(tmp), str(tmp), str(p.env))
        marker = {
            "tool": p.tool,
            "path": str(p.env),
            "version": p.version,
            "source": p.source,
            "python": sys.version.split()[0],
            "target": current_target(),
            "lock_hash": p.lock_hash,
            "installer": installer,
            "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        }
        (tmp / MARKER).write_text(json.dumps(marker, indent=1) + "\n", encoding="utf-8")
        _replace_dir(tmp, p.env)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _replace_dir(new: Path, final: Path) -> None:
    """Rename `new` to `final`; a broken `final` is moved aside first and removed."""
    if final.exists():
        trash = final.with_name(f".trash-{final.name}-{os.getpid()}")
        os.rename(final, trash)
        shutil.rmtree(trash, ignore_errors=True)
    os.rename(new, final)


def _create_env(tmp: Path, p: Plan) -> str:
    """Create a venv in `tmp` and install the hash-pinned lines; the installer's name."""
    from mlgate.tools import run_tool  # noqa: PLC0415 (tools imports this module)

    requirements = tmp / "mlgate-requirements.txt"
    uv = find_uv()
    env = {"UV_PYTHON_DOWNLOADS": "never", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    if uv:
        create = [uv, "venv", "--quiet", "--python", sys.executable, str(tmp)]
    else:
        create = [sys.executable, "-m", "venv", str(tmp)]
    run = run_tool(create, _INSTALL_TIMEOUT, env=env)
    if not run.ok or run.returncode != 0:
        raise ToolError(
            f"{p.tool} {p.version}: could not create a virtual environment: {run.describe()}"
        )
    requirements.write_text("\n".join(p.requirements) + "\n", encoding="utf-8")
    python = str(_bin(tmp) / "python")
    flags = ["--require-hashes", "--no-deps", "--only-binary", ":all:", *_index_args()]
    if uv:
        # copies, not hard links into uv's cache: damage to an environment stays in it
        argv = [uv, "pip", "install", "--quiet", "--link-mode=copy", "--python", python, *flags]
    else:
        argv = [python, "-m", "pip", "install", "--quiet", "--no-input", *flags]
    argv += ["-r", str(requirements)]
    run = run_tool(argv, _INSTALL_TIMEOUT, env=env)
    if not run.ok or run.returncode != 0:
        raise ToolError(_install_failure(p, run.stderr or run.stdout, run.problem))
    return "uv" if uv else "pip"


def _install_failure(p: Plan, words: str, problem: str | None) -> str:
    text = " ".join(words.split())
    lowered = text.lower()
    if "hash" in lowered and ("mismatch" in lowered or "do not match" in lowered):
        kind = "hash mismatch: a downloaded file is not the one the lock names (refused)"
    elif any(k in lowered for k in ("connect", "resolve", "network", "timed out", "dns")):
        kind = "the package index is unreachable"
    else:
        kind = problem or "the installer failed"
    return f"{p.tool} {p.version} could not be installed: {kind}: {text[-500:]}"


def _index_args() -> list[str]:
    links = os.environ.get(ENV_FIND_LINKS)
    if links:
        return ["--no-index", "--find-links", links]
    url = os.environ.get(ENV_INDEX_URL)
    return ["--index-url", url] if url else []


def _check_installed_version(env: Path, p: Plan) -> None:
    from mlgate.tools import run_tool  # noqa: PLC0415 (tools imports this module)

    probe = "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))"
    run = run_tool([str(_bin(env) / "python"), "-c", probe, TOOLS[p.tool]], _CHECK_TIMEOUT)
    found = run.stdout.strip()
    if run.returncode != 0 or found != p.version:
        raise ToolError(
            f"{p.tool}: the new environment holds version {found or '?'}, not {p.version}"
        )
    exe = _bin(env) / p.tool
    if not exe.is_file():
        raise ToolError(f"{p.tool}: the installed distribution has no `{p.tool}` executable")


def _relocate(p: Plan) -> bool:
    """Point the scripts of an environment restored at another path (a CI cache) at where
    it is now, and record that path in its marker; False when it did not move."""
    assert p.env is not None
    marker = _read_marker(p.env)
    old = None if marker is None else _moved_from(p.env, marker)
    if marker is None or old is None or marker.get("lock_hash") != p.lock_hash:
        return False
    try:
        _relocate_scripts(_bin(p.env), old, str(p.env))
        marker["path"] = str(p.env)
        _write_new(p.env / MARKER, (json.dumps(marker, indent=1) + "\n").encode("utf-8"))
    except OSError:
        return False  # rebuilt instead
    return True


def _relocate_scripts(scripts: Path, old_path: str, new_path: str) -> None:
    """Entry-point scripts name the interpreter by absolute path: point them at `new_path`.

    Each changed script is written as a new file renamed over the old one, so a file shared
    with another copy of the environment (a hard link) is never changed in place.
    """
    old, new = old_path.encode(), new_path.encode()
    for script in scripts.iterdir():
        if script.is_symlink() or not script.is_file():
            continue
        with script.open("rb") as handle:
            head = handle.read(_SCRIPT_HEAD)
        if not head.startswith(b"#!") or old not in head:
            continue
        data = script.read_bytes()
        _write_new(script, data[:_SCRIPT_HEAD].replace(old, new) + data[_SCRIPT_HEAD:])


def _write_new(target: Path, data: bytes) -> None:
    """Replace `target` by a new file with `data` and the same mode (atomic rename)."""
    atomic.write(target, data, mode=target.stat().st_mode & 0o7777)


def _bin(env: Path) -> Path:
    return env / ("Scripts" if sys.platform == "win32" else "bin")


def find_uv() -> str | None:
    """uv beside the running interpreter, else on PATH (None with MLGATE_TOOLS_INSTALLER=pip)."""
    if os.environ.get(ENV_INSTALLER, "").strip().lower() == "pip":
        return None
    beside = Path(sys.executable).parent / "uv"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("uv")


# --- writing locks --------------------------------------------------------------------------


def uv_compile(
    requirement: str, python: str, target_platform: str
) -> list[tuple[str, tuple[str, ...]]] | None:
    """Resolve one requirement for one target with uv (None: no wheel set for that target)."""
    from mlgate.tools import run_tool  # noqa: PLC0415 (tools imports this module)

    uv = find_uv()
    if uv is None:
        raise ToolError("`mlgate tools lock` needs uv", hint="pip install uv")
    with tempfile.TemporaryDirectory(prefix="mlgate-lock-") as tmp:
        source = Path(tmp) / "requirements.in"
        source.write_text(requirement + "\n", encoding="utf-8")
        argv = [
            uv,
            "pip",
            "compile",
            "--quiet",
            "--no-header",
            "--no-annotate",
            "--generate-hashes",
            "--only-binary",
            ":all:",
            "--python-version",
            python,
            "--python-platform",
            target_platform,
            *_index_args(),
            str(source),
        ]
        run = run_tool(argv, 600, env={"UV_PYTHON_DOWNLOADS": "never"})
    if run.ok and run.returncode == 0:
        return parse_compiled(run.stdout)
    text = run.stderr + run.stdout
    if "No solution found" in text or "not satisfiable" in text or "no wheels" in text.lower():
        return None
    raise ToolError(f"{requirement} for {target_platform}/{python}: {run.describe()}")


def with_notify(settings_: Settings, notify: Notify | None) -> Settings:
    return replace(settings_, notify=notify)
