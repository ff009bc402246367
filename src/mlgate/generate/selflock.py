"""Hash-pinned installs of mlgate itself in the generated pipelines.

`mlgate tools lock --mlgate` writes one requirements file per set of extras the pipelines
install (`.mlgate/mlgate-install.txt`, `-data.txt`, `-provenance.txt`): every
dependency of mlgate with those extras, resolved for the pipeline's Python on Linux x86_64
(the runners' platform) with the sha256 of every file, plus mlgate itself when its source
can be hashed: a wheel file (hashed here, so it must exist when locking) or a release on the
package index (its hashes as the index lists them). A VCS commit cannot be hashed: its
dependencies still are, and mlgate is then installed from the commit with `--no-deps`.

The files are named so that the deps gate does not take them for the project's own
dependency files (they are mlgate's, and a wheel path is not an auditable requirement).
When such a file exists, `generate` installs from it with `pip install --require-hashes
--no-deps -r FILE` (pip refuses anything unpinned or whose hash differs, and resolves
nothing); without one, the install line is the plain `pip install` of the source. The
first lines of each file record what it was locked for (source, Python, platform, extras):
`generate` refuses a file locked for another source or Python (run the command again).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import shlex
import zipfile
from collections.abc import Callable, Iterable, Sequence
from email.parser import Parser
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

from mlgate.errors import ConfigError, MlgateError

LOCK_DIR = ".mlgate"
PLATFORM = "x86_64-manylinux_2_34"  # ubuntu-24.04 runners, the Debian bookworm images
PROVENANCE = "provenance"  # the extra of the jobs that sign and verify (level 2)
_HEADER = "# mlgate-lock "
Compile = Callable[[str, str, str], list[tuple[str, tuple[str, ...]]] | None]


def extras_sets() -> tuple[str, ...]:
    """Each set of mlgate extras a generated job installs: none, each gate's, provenance."""
    from mlgate.gates import GATES  # noqa: PLC0415 (only locking needs the gates)

    declared = {e for g in GATES.values() for e in g.pipeline.extras.split(",")}
    return ("", *sorted(declared - {"", "tools", PROVENANCE}), PROVENANCE)


def lock_path(extras: str) -> str:
    """Repo-relative path of the requirements file for one set of extras."""
    return f"{LOCK_DIR}/mlgate-install{'-' + extras if extras else ''}.txt"


def _header(source: str, python: str, extras: str) -> list[str]:
    return [
        "# Hash-pinned install of mlgate for the generated pipelines: written by",
        "# `mlgate tools lock --mlgate`; installed with pip install --require-hashes --no-deps.",
        f"{_HEADER}source={source} python={python} platform={PLATFORM} extras={extras or '-'}",
    ]


def lock_text(
    root: Path, source: str, python: str, extras: str, compile_one: Compile, version: str
) -> str:
    """The requirements file for `extras` (ConfigError when mlgate cannot be hashed)."""
    wanted = dependency_lines(_requires(root, source, version), python, extras)
    pins = compile_one("\n".join(wanted), python, PLATFORM) or []
    if wanted and not pins:
        raise ConfigError(f"mlgate's dependencies do not resolve for Python {python} on Linux")
    lines = _header(source, python, extras)
    for pin, hashes in pins:
        lines.append(" ".join([pin, *(f"--hash={h}" for h in hashes)]))
    own = _own_line(root, source, python, compile_one)
    if own:
        lines.append(own)
    return "\n".join(lines) + "\n"


def _own_line(root: Path, source: str, python: str, compile_one: Compile) -> str | None:
    """mlgate's own hash-pinned line (None for a VCS commit: it cannot be hashed)."""
    if source.startswith("git+"):
        return None
    if source.startswith("mlgate=="):
        try:
            pins = compile_one(source, python, PLATFORM) or []
        except MlgateError as exc:  # uv could not resolve it: not on the index
            pins = []
            reason = exc.message
        else:
            reason = "no such release"
        found = [hashes for pin, hashes in pins if pin == source]
        if not found:
            raise ConfigError(
                f"{source} is not on the package index ({reason[:200]}): it cannot be hashed",
                hint="set pipeline.mlgate_install to a wheel file (dist/mlgate-X-py3-none-any"
                ".whl, committed) or lock again once the release is published",
            )
        return " ".join([source, *(f"--hash={h}" for h in found[0])])
    wheel = _wheel_file(root, source)
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    return f"{source} --hash=sha256:{digest}"


def _wheel_file(root: Path, source: str) -> Path:
    if "://" in source:
        raise ConfigError(
            f"pipeline.mlgate_install: {source}: a wheel URL is not hashed here",
            hint="download it into the repository and name the file",
        )
    path = Path(source) if Path(source).is_absolute() else root / source
    if not path.is_file():
        raise ConfigError(f"pipeline.mlgate_install: {path}: no such wheel file to hash")
    return path


def _requires(root: Path, source: str, version: str) -> list[str]:
    """Requires-Dist of the mlgate the pipelines install."""
    if source.endswith(".whl"):
        return _wheel_requires(_wheel_file(root, source))
    if source.startswith("mlgate==") and source != f"mlgate=={version}":
        raise ConfigError(
            f"pipeline.mlgate_install is {source} but this is mlgate {version}",
            hint=f"lock with mlgate {source.split('==', 1)[1]}, whose dependencies these are",
        )
    return list(importlib.metadata.requires("mlgate") or [])


def _wheel_requires(wheel: Path) -> list[str]:
    try:
        with zipfile.ZipFile(wheel) as archive:
            name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
            text = archive.read(name).decode("utf-8")
    except (OSError, zipfile.BadZipFile, StopIteration, UnicodeDecodeError) as exc:
        raise ConfigError(f"{wheel}: not a readable wheel ({exc})") from None
    return Parser().parsestr(text).get_all("Requires-Dist") or []


def dependency_lines(requires: Iterable[str], python: str, extras: str) -> list[str]:
    """The requirements that apply to `extras` on Linux x86_64 CPython `python`, unmarked."""
    lines: list[str] = []
    for text in requires:
        try:
            req = Requirement(text)
        except InvalidRequirement as exc:
            raise ConfigError(f"mlgate's metadata: {text!r}: {exc}") from None
        if req.name.lower() == "mlgate" or not _applies(req, python, extras):
            continue
        extra = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
        line = f"{req.name}{extra}{req.specifier}"
        if line not in lines:
            lines.append(line)
    return lines


def _applies(req: Requirement, python: str, extras: str) -> bool:
    if req.marker is None:
        return True
    env = {
        "python_version": python,
        "python_full_version": f"{python}.0",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "platform_machine": "x86_64",
        "os_name": "posix",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
    }
    return any(req.marker.evaluate({**env, "extra": e}) for e in dict.fromkeys(("", extras)))


def install_command(root: Path | None, source: str, python: str, extras: str) -> str:
    """The shell command a job installs mlgate with: from the hash-pinned file when there is
    one for these extras, else `pip install` of the source (not hash-checked)."""
    locked = None if root is None else _read_lock(root, extras)
    if locked is None:
        return f"python -m pip install {shlex.quote(_requirement(source, extras))}"
    _check_header(locked, source, python, extras)
    command = f"python -m pip install --require-hashes --no-deps -r {lock_path(extras)}"
    if source.startswith("git+"):
        command += f" && python -m pip install --no-deps {shlex.quote('mlgate @ ' + source)}"
    return command


def _requirement(source: str, extras: str) -> str:
    wanted = f"[{extras}]" if extras else ""
    if source.startswith("mlgate=="):
        return f"mlgate{wanted}{source[len('mlgate') :]}"
    if source.startswith("git+"):
        return f"mlgate{wanted} @ {source}"
    return f"{source}{wanted}"


def _read_lock(root: Path, extras: str) -> list[str] | None:
    path = root / lock_path(extras)
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None


def _check_header(lines: Sequence[str], source: str, python: str, extras: str) -> None:
    expected = _header(source, python, extras)[-1]
    found = next((line for line in lines if line.startswith(_HEADER)), None)
    if found != expected:
        where = lock_path(extras)
        raise ConfigError(
            f"{where}: locked for {found[len(_HEADER) :] if found else 'nothing known'}, "
            f"not {expected[len(_HEADER) :]}",
            hint="run `mlgate tools lock --mlgate` again (or delete the file)",
        )
