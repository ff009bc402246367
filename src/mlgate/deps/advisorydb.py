"""Offline vulnerability matching against an OSV-format advisory database.

Two layouts load the same way: the PyPA advisory database (`vulns/<package>/<ID>.yaml`) and
OSV's PyPI export (a flat set of `<ID>.json`). Records under `vulns/<package>/` are parsed on
the first `match` for that package (parsing all ~2,700 YAML records of the PyPA database takes
about a second; the index, record count and revision take a fraction of that); every other
record is parsed at load time. `dbupdate` downloads and installs such a database.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from mlgate.deps.cvss import cvss3_base_score, severity_rating
from mlgate.errors import AdvisoryDBError
from mlgate.yamlimport import yaml

try:  # PyYAML is imported above (mlgate.yamlimport); libyaml's loader when it has one
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]

RECORD_SUFFIXES = (".yaml", ".yml", ".json")
MANIFEST = "mlgate-db.json"
SUMMARY_CHARS = 200
_DB_SEVERITY = {
    "critical": "critical",
    "high": "high",
    "moderate": "medium",
    "medium": "medium",
    "low": "low",
}
_YAML_MODIFIED = re.compile(r"""^modified:[ \t]*(['"]?)([0-9][^'"#\n]*?)\1[ \t]*$""", re.M)
_EPOCH = datetime(1, 1, 1, tzinfo=timezone.utc)
_ZERO = Version("0")
_KEPT_YAML_TAGS = ("tag:yaml.org,2002:null", "tag:yaml.org,2002:bool")


class _StringLoader(_SafeLoader):
    """Safe YAML loading where every unquoted scalar but null and booleans stays a string.

    OSV YAML leaves many values unquoted: `modified: 2023-11-07T20:24:23Z` would become a
    datetime and a version like `1.10` the float 1.1.
    """

    yaml_implicit_resolvers = {  # noqa: RUF012 - PyYAML's class-level table
        first: [(tag, rx) for tag, rx in resolvers if tag in _KEPT_YAML_TAGS]
        for first, resolvers in _SafeLoader.yaml_implicit_resolvers.items()
    }


@dataclass(frozen=True)
class Advisory:
    """One advisory as it applies to the package and version that matched it."""

    id: str
    aliases: tuple[str, ...]
    summary: str
    fixed: tuple[str, ...]
    severity: str | None
    cvss: str | None
    url: str
    modified: str


# (kind, bound): kind is introduced / fixed / last_affected; bound None is `introduced: "0"`
_Event = tuple[str, Version | None]


@dataclass(frozen=True)
class _Affected:
    name: str
    versions: frozenset[str]
    parsed_versions: frozenset[Version]
    ranges: tuple[tuple[_Event, ...], ...]
    fixed: tuple[Version, ...]


@dataclass(frozen=True)
class _Record:
    id: str
    aliases: tuple[str, ...]
    summary: str
    severity: str | None
    cvss: str | None
    url: str
    modified: str
    withdrawn: bool
    affected: tuple[_Affected, ...]


class AdvisoryDB:
    """A loaded advisory database; `match` answers which advisories affect name==version."""

    def __init__(
        self,
        path: Path,
        revision: str,
        record_count: int,
        records: Iterable[_Record],
        lazy: Mapping[str, Sequence[Path]],
    ) -> None:
        self.path = path
        self.revision = revision
        self.record_count = record_count
        self._index: dict[str, list[_Record]] = {}
        for record in records:
            for name in {a.name for a in record.affected}:
                self._index.setdefault(name, []).append(record)
        self._lazy = {name: list(paths) for name, paths in lazy.items()}

    @classmethod
    def load(cls, path: Path) -> AdvisoryDB:
        """Index the database under `path`; AdvisoryDBError when it is missing, empty or bad."""
        path = Path(path)
        if not path.is_dir():
            what = "is not a directory" if path.exists() else "does not exist"
            raise AdvisoryDBError(
                f"advisory database {path} {what}",
                hint="download one with `mlgate db update`, or unzip an OSV export there",
            )
        manifest = read_manifest(path)
        if manifest is not None:
            return cls._from_manifest(path, manifest)
        return cls._from_tree(path)

    @classmethod
    def _from_manifest(cls, path: Path, manifest: Mapping[str, Any]) -> AdvisoryDB:
        lazy: dict[str, list[Path]] = {}
        vulns = path / "vulns"
        if vulns.is_dir():
            for entry in sorted(vulns.iterdir()):
                if entry.is_dir():
                    lazy.setdefault(canonicalize_name(entry.name), []).append(entry)
        if not lazy:
            raise AdvisoryDBError(f"advisory database {path} contains no records")
        return cls(path, str(manifest["revision"]), int(manifest["record_count"]), [], lazy)

    @classmethod
    def _from_tree(cls, path: Path) -> AdvisoryDB:
        records: list[_Record] = []
        lazy: dict[str, list[Path]] = {}
        stamps: list[str] = []
        for file in _record_files(path):
            key = _package_key(file)
            stamp = _scan_modified(file) if key is not None else None
            if key is not None and stamp is not None:
                lazy.setdefault(key, []).append(file)
                stamps.append(stamp)
            else:
                record = _load_record(file)
                records.append(record)
                stamps.append(record.modified)
        count = len(stamps)
        if count == 0:
            raise AdvisoryDBError(
                f"advisory database {path} contains no records (*.yaml, *.yml or *.json)"
            )
        return cls(path, latest_stamp(stamps), count, records, lazy)

    def match(self, name: str, version: str) -> list[Advisory]:
        """The advisories (withdrawn ones excluded) that affect `name` at `version`, by id."""
        key = canonicalize_name(name)
        parsed = _version(version)
        found: dict[str, Advisory] = {}
        for record in self._records(key):
            if record.withdrawn or record.id in found:
                continue
            mine = [a for a in record.affected if a.name == key]
            if any(_affects(a, version, parsed) for a in mine):
                found[record.id] = _advisory(record, mine, parsed)
        return [found[i] for i in sorted(found)]

    def admitted(self, name: str, specifier: str) -> list[tuple[Advisory, Version]]:
        """Advisories with a fix that a version range (`>=1.2,<3`) admits a vulnerable
        version of, each with the lowest version that avoids it (its highest fixed version)."""
        try:
            spec = SpecifierSet(specifier)
        except InvalidSpecifier:
            return []
        key = canonicalize_name(name)
        found: dict[str, tuple[Advisory, Version]] = {}
        for record in self._records(key):
            mine = [a for a in record.affected if a.name == key]
            fixes = [v for a in mine for v in a.fixed]
            if record.withdrawn or record.id in found or not fixes:
                continue
            bounds = [_version(s.version.rstrip(".*")) for s in spec]
            for affected in mine:
                candidates = {*affected.parsed_versions, *(b for b in bounds if b is not None)}
                candidates |= {bound or _ZERO for events in affected.ranges for _, bound in events}
                hit = [
                    v
                    for v in candidates
                    if spec.contains(v, prereleases=True) and _affects(affected, str(v), v)
                ]
                if hit:
                    found[record.id] = (_advisory(record, mine, None), max(fixes))
                    break
        return [found[i] for i in sorted(found)]

    def _records(self, key: str) -> list[_Record]:
        paths = self._lazy.get(key)
        if paths is not None:
            loaded = [_load_record(file) for file in _expand(paths)]  # raises on a bad record
            self._index.setdefault(key, []).extend(loaded)
            del self._lazy[key]
        return self._index.get(key, [])


# --- parsing records --------------------------------------------------------------------------


def _record_files(root: Path) -> Iterator[Path]:
    for top, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            wanted = name.lower().endswith(RECORD_SUFFIXES) and not name.startswith(".")
            if wanted and (name != MANIFEST or Path(top) != root):
                yield Path(top) / name


def _expand(paths: Iterable[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.iterdir() if p.name.endswith(RECORD_SUFFIXES))
        else:
            yield path


def _package_key(file: Path) -> str | None:
    """The package a `vulns/<package>/<ID>.yaml` record is filed under (parsed lazily)."""
    if file.parent.parent.name != "vulns" or file.suffix.lower() == ".json":
        return None
    return canonicalize_name(file.parent.name)


def _scan_modified(file: Path) -> str | None:
    """The top-level `modified:` of a YAML record without parsing it (None: parse it now)."""
    try:
        found = _YAML_MODIFIED.search(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise AdvisoryDBError(f"unreadable advisory record {file}: {exc}") from exc
    return found.group(2) if found else None


def _load_record(file: Path) -> _Record:
    try:
        data = parse_text(file.name, file.read_bytes())
    except FileNotFoundError as exc:
        raise AdvisoryDBError(
            f"advisory record {file} disappeared",
            hint="the database was replaced while in use; run again",
        ) from exc
    except (OSError, ValueError, RecursionError, yaml.YAMLError) as exc:
        raise AdvisoryDBError(f"unparseable advisory record {file}: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("id"), str) or not data["id"]:
        raise AdvisoryDBError(f"advisory record {file} is not an OSV record (no `id`)")
    return _parse_record(data)


def parse_text(name: str, raw: bytes) -> Any:
    text = raw.decode("utf-8-sig")
    if name.lower().endswith(".json"):
        return json.loads(text)
    return yaml.load(text, Loader=_StringLoader)  # a SafeLoader subclass


def _parse_record(data: Mapping[str, Any]) -> _Record:
    severity, cvss = _severity(data)
    record_id = str(data["id"])
    return _Record(
        id=record_id,
        aliases=tuple(a for a in _list(data.get("aliases")) if isinstance(a, str)),
        summary=_summary(data),
        severity=severity,
        cvss=cvss,
        url=_url(data, record_id),
        modified=_str(data.get("modified")),
        withdrawn=bool(data.get("withdrawn")),
        affected=tuple(iter_affected(data)),
    )


def iter_affected(data: Mapping[str, Any]) -> Iterator[_Affected]:
    for entry in _list(data.get("affected")):
        package = _dict(_dict(entry).get("package"))
        name = package.get("name")
        if package.get("ecosystem") == "PyPI" and isinstance(name, str) and name:
            yield _parse_affected(canonicalize_name(name), _dict(entry))


def _parse_affected(name: str, entry: Mapping[str, Any]) -> _Affected:
    versions = frozenset(v for v in _list(entry.get("versions")) if isinstance(v, str))
    ranges = tuple(
        _events(_dict(r).get("events"))
        for r in _list(entry.get("ranges"))
        if _dict(r).get("type") == "ECOSYSTEM"
    )
    fixed = {bound for events in ranges for kind, bound in events if kind == "fixed" and bound}
    return _Affected(
        name=name,
        versions=versions,
        parsed_versions=frozenset(v for v in map(_version, versions) if v is not None),
        ranges=ranges,
        fixed=tuple(sorted(fixed)),
    )


def _events(raw: Any) -> tuple[_Event, ...]:
    """A range's events, sorted by version as OSV evaluates them; unparseable ones dropped."""
    events: list[_Event] = []
    for event in _list(raw):
        for kind in ("introduced", "fixed", "last_affected"):
            value = _dict(event).get(kind)
            if kind == "introduced" and value == "0":
                events.append((kind, None))
            elif isinstance(value, str) and (bound := _version(value)) is not None:
                events.append((kind, bound))
    return tuple(sorted(events, key=lambda e: (e[1] is not None, e[1] or _ZERO)))


def _affects(affected: _Affected, raw: str, version: Version | None) -> bool:
    if raw in affected.versions or version in affected.parsed_versions:
        return True
    return version is not None and any(_in_range(version, r) for r in affected.ranges)


def _in_range(version: Version, events: Sequence[_Event]) -> bool:
    inside = False
    for kind, bound in events:
        if kind == "introduced":
            inside = inside or bound is None or version >= bound
        elif bound is not None and (version >= bound if kind == "fixed" else version > bound):
            inside = False
    return inside


def _advisory(record: _Record, mine: Sequence[_Affected], version: Version | None) -> Advisory:
    fixed = sorted({v for a in mine for v in a.fixed if version is None or v > version})
    return Advisory(
        id=record.id,
        aliases=record.aliases,
        summary=record.summary,
        fixed=tuple(str(v) for v in fixed),
        severity=record.severity,
        cvss=record.cvss,
        url=record.url,
        modified=record.modified,
    )


def _summary(data: Mapping[str, Any]) -> str:
    text = _str(data.get("summary")).strip()
    if not text:
        lines = [line.strip() for line in _str(data.get("details")).splitlines()]
        text = next((line for line in lines if line), "")
    text = " ".join(text.split())
    if len(text) > SUMMARY_CHARS:
        text = text[: SUMMARY_CHARS - 3].rstrip() + "..."
    return text


def _severity(data: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(rating, vector): CVSS v3 computed; otherwise the database's own severity label."""
    vectors: dict[str, list[str]] = {}
    for entry in _list(data.get("severity")):
        kind, score = _str(_dict(entry).get("type")), _str(_dict(entry).get("score"))
        if score:
            vectors.setdefault(kind, []).append(score)
    scores = [s for s in map(cvss3_base_score, vectors.get("CVSS_V3", [])) if s is not None]
    rating = severity_rating(max(scores)) if scores else None
    cvss = next((v[0] for k in ("CVSS_V3", "CVSS_V4", "CVSS_V2") if (v := vectors.get(k))), None)
    return rating or _labelled_severity(data), cvss


def _labelled_severity(data: Mapping[str, Any]) -> str | None:
    places = [data, *(_dict(a) for a in _list(data.get("affected")))]
    for place in places:
        label = _str(_dict(place.get("database_specific")).get("severity")).lower()
        if label in _DB_SEVERITY:
            return _DB_SEVERITY[label]
    return None


def _url(data: Mapping[str, Any], record_id: str) -> str:
    advisories = [
        _str(_dict(r).get("url"))
        for r in _list(data.get("references"))
        if _dict(r).get("type") == "ADVISORY"
    ]
    web = [u for u in advisories if u.startswith(("https://", "http://"))]
    github = [u for u in web if "github.com/advisories/" in u]
    return (github or web or [f"https://osv.dev/vulnerability/{record_id}"])[0]


def _version(text: object) -> Version | None:
    if not isinstance(text, str):
        return None
    try:
        return Version(text)
    except InvalidVersion:
        return None


def latest_stamp(stamps: Iterable[str]) -> str:
    return max((s for s in stamps if s), key=_timestamp, default="")


def _timestamp(text: str) -> datetime:
    """An OSV (RFC 3339) timestamp as an aware datetime; the epoch when unparseable."""
    cleaned = text.strip().replace("Z", "+00:00").replace("z", "+00:00")
    # Python 3.10's fromisoformat wants exactly 6 (or 3) fraction digits
    cleaned = re.sub(r"\.(\d+)", lambda m: "." + m.group(1)[:6].ljust(6, "0"), cleaned)
    try:
        stamp = datetime.fromisoformat(cleaned)
    except ValueError:
        return _EPOCH
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=timezone.utc)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def read_manifest(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if (
        not isinstance(data, dict)
        or data.get("format") != 1
        or not isinstance(data.get("revision"), str)
        or not isinstance(data.get("record_count"), int)
    ):
        return None
    return data
