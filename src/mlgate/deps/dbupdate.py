"""The cache of downloaded advisory databases (`mlgate db update`).

`update_db` downloads an OSV zip, validates it, rewrites it as `vulns/<package>/<ID>.json` plus
a manifest (so a later load reads no record until a package is matched) and switches the cache's
`current` pointer atomically.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import zlib
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import IO, TYPE_CHECKING, Any

import platformdirs

from mlgate import __version__, atomic
from mlgate.errors import AdvisoryDBError
from mlgate.yamlimport import yaml

if TYPE_CHECKING:
    import zipfile

    from mlgate.deps.advisorydb import AdvisoryDB

# The database's reader loads when a database is installed: finding the installed one
# (`cached_db`, asked by every run's deps gate and ML-BOM) does not need it (issue 16).
# ruff: noqa: PLC0415

DEFAULT_DB_URL = "https://osv-vulnerabilities.storage.googleapis.com/PyPI/all.zip"
POINTER = "current"
MAX_DOWNLOAD = 1 << 30  # bytes
MAX_MEMBER = 16 << 20  # bytes of one uncompressed record
MAX_UNPACKED = 2 << 30  # bytes of all uncompressed records
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_SAFE_PACKAGE = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")
_STAGING = re.compile(r"db-[A-Za-z0-9_]+")


def default_cache_dir() -> Path:
    """Where `mlgate db update` keeps downloaded databases."""
    return platformdirs.user_cache_path("mlgate") / "advisory-db"


def cached_db(cache_dir: Path | None = None) -> Path | None:
    """The database directory `update_db` last installed, or None when there is none."""
    return _read_pointer(cache_dir if cache_dir is not None else default_cache_dir())


def update_db(url: str, cache_dir: Path | None = None, timeout: float = 120.0) -> AdvisoryDB:
    """Download an OSV zip from `url`, validate it and make it the cached database.

    Any failure leaves the previously cached database in place.
    """
    from mlgate.deps.advisorydb import MANIFEST, AdvisoryDB

    cache = cache_dir if cache_dir is not None else default_cache_dir()
    try:
        cache.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".download-", suffix=".zip", dir=cache)
    except OSError as exc:
        raise AdvisoryDBError(f"cannot write to the advisory cache {cache}: {exc}") from exc
    archive = Path(name)
    staging: Path | None = None
    try:
        with os.fdopen(fd, "wb") as out:
            _download(url, out, timeout)
        staging = Path(tempfile.mkdtemp(prefix="db-", dir=cache))
        revision, count = _unpack(url, archive, staging)
        _write_json(staging / MANIFEST, _manifest(url, revision, count))
        db = AdvisoryDB.load(staging)
        _switch(cache, staging)
    except BaseException:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        archive.unlink(missing_ok=True)
    return db


def _manifest(url: str, revision: str, count: int) -> dict[str, Any]:
    return {
        "format": 1,
        "source": url,
        "fetched": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "revision": revision,
        "record_count": count,
        "mlgate": __version__,
    }


def _read_pointer(cache: Path) -> Path | None:
    try:
        name = (cache / POINTER).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    if not _STAGING.fullmatch(name) or not (cache / name).is_dir():
        return None
    return cache / name


def _switch(cache: Path, staging: Path) -> None:
    """Point `current` at `staging` with one atomic rename, then drop the previous database."""
    previous = _read_pointer(cache)
    atomic.write(cache / POINTER, staging.name + "\n")
    if previous is not None and previous != staging:
        shutil.rmtree(previous, ignore_errors=True)


def _download(url: str, out: IO[bytes], timeout: float) -> None:
    import http.client  # ssl and http: only `mlgate db update` downloads
    import urllib.parse
    import urllib.request

    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme not in ("http", "https", "file"):
        raise AdvisoryDBError(
            f"cannot download the advisory database from {url!r}: use an http(s):// or file:// URL"
        )
    headers = {"User-Agent": f"mlgate/{__version__}"}
    # The scheme was checked above (http, https or file: the operator's own URL).
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 # nosemgrep
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 # nosemgrep
            _copy(response, out, url)
    except (OSError, ValueError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise AdvisoryDBError(
            f"could not download the advisory database from {url}: {reason}",
            hint="the cached database (if any) was left unchanged",
        ) from exc


def _copy(source: IO[bytes], out: IO[bytes], url: str) -> None:
    total = 0
    while chunk := source.read(1 << 20):
        total += len(chunk)
        if total > MAX_DOWNLOAD:
            raise AdvisoryDBError(f"{url} is larger than {MAX_DOWNLOAD} bytes; refusing it")
        out.write(chunk)


def _unpack(url: str, archive: Path, staging: Path) -> tuple[str, int]:
    """Validate the zip and write its PyPI records as `vulns/<package>/<ID>.json`."""
    import zipfile  # `db update` only: a run asks `cached_db`

    from mlgate.deps.advisorydb import latest_stamp

    try:
        with zipfile.ZipFile(archive) as zf:
            members = _checked_members(url, zf)
            written = [_unpack_member(url, zf, info, staging) for info in members]
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
        raise AdvisoryDBError(f"{url} is not a readable zip archive: {exc}") from exc
    except OSError as exc:
        raise AdvisoryDBError(f"could not unpack {url} into {staging}: {exc}") from exc
    stamps = {record_id: stamp for record_id, stamp in filter(None, written)}
    if not stamps:
        raise AdvisoryDBError(
            f"{url} contains no OSV records for PyPI (no file with an `id` and `affected`)"
        )
    return latest_stamp(stamps.values()), len(stamps)


def _checked_members(url: str, zf: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    from mlgate.deps.advisorydb import RECORD_SUFFIXES

    members: list[zipfile.ZipInfo] = []
    total = 0
    for info in zf.infolist():
        name = info.filename.replace("\\", "/")
        if name.startswith("/") or PureWindowsPath(info.filename).drive:
            raise AdvisoryDBError(f"refusing {url}: zip member {info.filename!r} is absolute")
        if ".." in PurePosixPath(name).parts:
            raise AdvisoryDBError(f"refusing {url}: zip member {info.filename!r} contains '..'")
        if info.is_dir() or not name.lower().endswith(RECORD_SUFFIXES):
            continue
        total += info.file_size
        if info.file_size > MAX_MEMBER or total > MAX_UNPACKED:
            raise AdvisoryDBError(f"refusing {url}: zip member {info.filename!r} is too large")
        members.append(info)
    return members


def _unpack_member(
    url: str, zf: zipfile.ZipFile, info: zipfile.ZipInfo, staging: Path
) -> tuple[str, str] | None:
    """Write one record under each PyPI package it affects; (id, modified) or None if skipped."""
    from mlgate.deps.advisorydb import iter_affected, parse_text

    try:
        data = parse_text(info.filename, zf.read(info))
    except (ValueError, RecursionError, yaml.YAMLError) as exc:
        raise AdvisoryDBError(f"{url}: unparseable record {info.filename}: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("affected"), list):
        return None
    record_id = data.get("id")
    if not isinstance(record_id, str) or not _SAFE_ID.fullmatch(record_id):
        raise AdvisoryDBError(f"refusing {url}: record {info.filename} has a bad id {record_id!r}")
    names = {a.name for a in iter_affected(data) if _SAFE_PACKAGE.fullmatch(a.name)}
    for name in sorted(names):
        folder = staging / "vulns" / name
        folder.mkdir(parents=True, exist_ok=True)
        _write_json(folder / f"{record_id}.json", data)
    return (record_id, _text(data.get("modified"))) if names else None


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""
