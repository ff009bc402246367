from __future__ import annotations

import functools
import http.server
import io
import json
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlgate.deps.advisorydb import AdvisoryDB
from mlgate.deps.cvss import cvss3_base_score, severity_rating
from mlgate.deps.dbupdate import cached_db, update_db
from mlgate.errors import AdvisoryDBError
from tests.conftest import ADVISORY_DB, fixture_path

# The vendored subset of the PyPA advisory database (scripts/vendor_advisories.py).
SNAPSHOT = ADVISORY_DB


@pytest.fixture(scope="module")
def snapshot() -> AdvisoryDB:
    return AdvisoryDB.load(fixture_path(SNAPSHOT / "vulns").parent)


def record(rid: str, package: str = "demo", **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": rid,
        "modified": "2024-01-01T00:00:00Z",
        "details": f"details of {rid}\nsecond line",
        "affected": [{"package": {"name": package, "ecosystem": "PyPI"}}],
    }
    data.update(extra)
    return data


def ranged(rid: str, *events: dict[str, str], package: str = "demo", **extra: Any) -> Any:
    data = record(rid, package, **extra)
    data["affected"][0]["ranges"] = [{"type": "ECOSYSTEM", "events": list(events)}]
    return data


def listed(rid: str, *versions: str) -> dict[str, Any]:
    data = record(rid)
    data["affected"][0]["versions"] = list(versions)
    return data


def write_flat(root: Path, *records: dict[str, Any]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for data in records:
        (root / f"{data['id']}.json").write_text(json.dumps(data), encoding="utf-8")
    return root


def write_vulns(root: Path, *records: dict[str, Any]) -> Path:
    for data in records:
        folder = root / "vulns" / data["affected"][0]["package"]["name"]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{data['id']}.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    return root


def ids(db: AdvisoryDB, name: str, version: str) -> list[str]:
    return [a.id for a in db.match(name, version)]


# --- the real snapshot -----------------------------------------------------------------------


def test_snapshot_loads_every_record(snapshot: AdvisoryDB) -> None:
    expected = len(list((SNAPSHOT / "vulns").rglob("*.yaml")))
    assert snapshot.record_count == expected == 57  # the vendored subset
    assert snapshot.revision == "2024-07-11T17:21:37.216928Z"  # its newest `modified`


def test_pyyaml_known_vulnerable_pin(snapshot: AdvisoryDB) -> None:
    found = {a.id: a for a in snapshot.match("PyYAML", "5.1")}
    adv = found["PYSEC-2020-176"]
    assert adv.aliases == ("CVE-2019-20477", "GHSA-3pqx-4fqf-j49f")
    assert adv.fixed == ("5.2b1",)
    assert adv.url == "https://github.com/advisories/GHSA-3pqx-4fqf-j49f"
    assert adv.summary.startswith("PyYAML 5.1 through 5.1.2 has insufficient restrictions")
    assert len(adv.summary) <= 200
    assert adv.modified == "2020-03-01T00:15:00Z"
    assert set(found) == {"PYSEC-2020-176", "PYSEC-2020-96", "PYSEC-2021-142"}
    assert ids(snapshot, "pyyaml", "5.1") == ids(snapshot, "PyYAML", "5.1")


def test_jinja2_fixed_version_does_not_match(snapshot: AdvisoryDB) -> None:
    assert "PYSEC-2019-217" in ids(snapshot, "Jinja2", "2.10")
    assert "PYSEC-2019-217" not in ids(snapshot, "jinja2", "2.10.1")
    assert ids(snapshot, "JINJA2", "3.1.4") == []


def test_torch_unquoted_yaml_and_git_ranges_ignored(snapshot: AdvisoryDB) -> None:
    [adv] = snapshot.match("torch", "1.13.0")
    assert (adv.id, adv.aliases, adv.fixed) == (
        "PYSEC-2022-43015",
        ("CVE-2022-45907",),
        ("1.13.1",),
    )
    assert adv.modified == "2023-05-04T03:49:48.383740Z"  # unquoted in the YAML: still a string
    assert adv.url == "https://osv.dev/vulnerability/PYSEC-2022-43015"  # no ADVISORY reference
    assert snapshot.match("torch", "1.13.1") == []


def test_last_affected_is_inclusive_in_snapshot(snapshot: AdvisoryDB) -> None:
    assert ids(snapshot, "py", "1.11.0") == ["PYSEC-2022-42969"]
    assert ids(snapshot, "py", "1.11.1") == []


def test_two_ranges_and_cvss_severity_in_snapshot(snapshot: AdvisoryDB) -> None:
    old = {a.id: a for a in snapshot.match("Werkzeug", "2.3.7")}["PYSEC-2023-221"]
    assert old.fixed == ("2.3.8", "3.0.1")
    assert old.cvss == "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"
    assert old.severity == "high"
    new = {a.id: a for a in snapshot.match("werkzeug", "3.0.0")}["PYSEC-2023-221"]
    assert new.fixed == ("3.0.1",)  # fixes older than the matched version are not offered
    assert "PYSEC-2023-221" not in ids(snapshot, "werkzeug", "2.3.8")
    assert "PYSEC-2023-221" not in ids(snapshot, "werkzeug", "3.0.1")


def test_withdrawn_record_in_snapshot_is_ignored(snapshot: AdvisoryDB) -> None:
    # PYSEC-2023-73 is withdrawn but still says `introduced: "0"` with no fix
    assert "PYSEC-2023-73" not in ids(snapshot, "redis", "4.5.0")


def test_unparseable_versions_in_snapshot_do_not_crash(snapshot: AdvisoryDB) -> None:
    assert snapshot.match("binderhub", "0.2.0") is not None  # fixed: 0.2.0-n653
    assert snapshot.match("torch", "not a version") == []


# --- small databases -------------------------------------------------------------------------


def test_ranges_versions_and_last_affected(tmp_path: Path) -> None:
    db = AdvisoryDB.load(
        write_flat(
            tmp_path,
            ranged("R-1", {"introduced": "1.0"}, {"fixed": "1.5"}),
            ranged("R-2", {"introduced": "0"}, {"last_affected": "0.9"}),
            listed("R-3", "2.0", "2.1rc1", "not a version"),
            ranged("R-4", {"introduced": "3.0"}),
        )
    )
    assert ids(db, "demo", "0.1") == ["R-2"]
    assert ids(db, "demo", "0.9") == ["R-2"]
    assert ids(db, "demo", "0.9.1") == []
    assert ids(db, "demo", "1.0") == ["R-1"]
    assert ids(db, "demo", "1.5") == []
    assert ids(db, "demo", "2.0") == ["R-3"]
    assert ids(db, "demo", "2.0.0") == ["R-3"]  # PEP 440 equal to a listed version
    assert ids(db, "demo", "2.1rc1") == ["R-3"]
    assert ids(db, "demo", "2.1") == []
    assert ids(db, "demo", "99") == ["R-4"]  # introduced without a fix: every later version
    assert ids(db, "other", "1.0") == []


def test_unsorted_events_and_multiple_introduced(tmp_path: Path) -> None:
    events = [{"fixed": "2.5"}, {"introduced": "2.0"}, {"fixed": "1.5"}, {"introduced": "1.0"}]
    db = AdvisoryDB.load(write_flat(tmp_path, ranged("R-1", *events)))
    assert [v for v in ("0.5", "1.2", "1.7", "2.2", "2.6") if ids(db, "demo", v)] == ["1.2", "2.2"]
    assert db.match("demo", "1.2")[0].fixed == ("1.5", "2.5")


def test_withdrawn_and_other_ecosystems_ignored(tmp_path: Path) -> None:
    npm = ranged("R-3", {"introduced": "0"})
    npm["affected"][0]["package"]["ecosystem"] = "npm"
    db = AdvisoryDB.load(
        write_flat(
            tmp_path,
            ranged("R-1", {"introduced": "0"}, withdrawn="2024-02-01T00:00:00Z"),
            ranged("R-2", {"introduced": "0"}),
            npm,
        )
    )
    assert ids(db, "demo", "1.0") == ["R-2"]
    assert db.record_count == 3


def test_name_normalisation(tmp_path: Path) -> None:
    db = AdvisoryDB.load(
        write_flat(tmp_path, ranged("R-1", {"introduced": "0"}, package="Foo_Bar"))
    )
    for name in ("foo-bar", "Foo.Bar", "FOO__bar", "foo_bar"):
        assert ids(db, name, "1.0") == ["R-1"], name


def test_vulns_layout_is_parsed_per_package(tmp_path: Path) -> None:
    write_vulns(
        tmp_path,
        ranged("R-1", {"introduced": "0"}, {"fixed": "2.0"}, package="alpha"),
        ranged("R-2", {"introduced": "0"}, package="beta", modified="2024-05-01T00:00:00Z"),
    )
    (tmp_path / "vulns" / "beta" / "R-3.yaml").write_text(
        "modified: '2024-03-01T00:00:00Z'\nid: [unclosed\n", encoding="utf-8"
    )
    db = AdvisoryDB.load(tmp_path)
    assert (db.record_count, db.revision) == (3, "2024-05-01T00:00:00Z")
    assert ids(db, "alpha", "1.0") == ["R-1"]  # the broken beta record is not read yet
    for _ in range(2):  # a failed parse is not cached as "no advisories"
        with pytest.raises(AdvisoryDBError, match=r"R-3\.yaml"):
            db.match("beta", "1.0")


def test_revision_is_latest_modified(tmp_path: Path) -> None:
    db = AdvisoryDB.load(
        write_flat(
            tmp_path,
            record("R-1", modified="2023-12-31T23:59:59.999999Z"),
            record("R-2", modified="2024-01-02T00:00:00.123456789Z"),
            record("R-3", modified="2024-01-01T00:00:00Z"),
        )
    )
    assert db.revision == "2024-01-02T00:00:00.123456789Z"


def test_summary_severity_and_url_fields(tmp_path: Path) -> None:
    refs = [
        {"type": "WEB", "url": "https://example.com/blog"},
        {"type": "ADVISORY", "url": "https://example.com/advisory"},
        {"type": "ADVISORY", "url": "https://github.com/advisories/GHSA-xxxx-yyyy-zzzz"},
    ]
    db = AdvisoryDB.load(
        write_flat(
            tmp_path,
            ranged(
                "R-1",
                {"introduced": "0"},
                summary="A short summary",
                references=refs,
                database_specific={"severity": "MODERATE"},
            ),
            ranged(
                "R-2",
                {"introduced": "0"},
                details="x" * 500,
                severity=[{"type": "CVSS_V4", "score": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N"}],
                database_specific={"severity": "CRITICAL"},
            ),
            ranged("R-3", {"introduced": "0"}, references=[{"type": "ADVISORY", "url": "x:y"}]),
        )
    )
    one, two, three = db.match("demo", "1.0")
    assert (one.summary, one.severity, one.cvss) == ("A short summary", "medium", None)
    assert one.url == "https://github.com/advisories/GHSA-xxxx-yyyy-zzzz"
    assert (two.severity, two.cvss) == ("critical", "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N")
    assert len(two.summary) == 200 and two.summary.endswith("...")
    assert (three.summary, three.severity) == ("details of R-3", None)
    assert three.url == "https://osv.dev/vulnerability/R-3"


def test_load_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(AdvisoryDBError, match="does not exist"):
        AdvisoryDB.load(tmp_path / "missing")
    with pytest.raises(AdvisoryDBError, match="no records"):
        AdvisoryDB.load(tmp_path)
    (tmp_path / "BROKEN-1.json").write_text("{", encoding="utf-8")
    with pytest.raises(AdvisoryDBError, match=r"BROKEN-1\.json"):
        AdvisoryDB.load(tmp_path)
    (tmp_path / "BROKEN-1.json").write_text('{"no": "id"}', encoding="utf-8")
    with pytest.raises(AdvisoryDBError, match=r"BROKEN-1\.json.*no `id`"):
        AdvisoryDB.load(tmp_path)


# --- CVSS ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("vector", "score", "rating"),
    [
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8, "critical"),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0, "critical"),
        ("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:N/I:H/A:H", 8.1, "high"),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", 7.5, "high"),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1, "medium"),
        ("CVSS:3.0/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N", 5.5, "medium"),
        ("CVSS:3.1/AV:N/AC:H/PR:H/UI:R/S:C/C:L/I:N/A:N", 2.6, "low"),
        ("CVSS:3.1/AV:L/AC:H/PR:L/UI:N/S:U/C:L/I:N/A:N", 2.5, "low"),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0, None),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:U/RL:O", 9.8, "critical"),
    ],
)
def test_cvss3_scores(vector: str, score: float, rating: str | None) -> None:
    assert cvss3_base_score(vector) == score
    assert severity_rating(score) == rating


@pytest.mark.parametrize(
    "vector",
    ["", "CVSS:2.0/AV:N", "CVSS:3.1/AV:N/AC:L", "CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"],
)
def test_invalid_cvss_vectors(vector: str) -> None:
    assert cvss3_base_score(vector) is None


# --- update_db -------------------------------------------------------------------------------


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An HTTP server on 127.0.0.1 serving the files of a directory: (base URL, directory)."""
    docroot = tmp_path / "www"
    docroot.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(docroot))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", docroot
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def snapshot_json(*relpaths: str) -> dict[str, str]:
    """Snapshot records as OSV's export has them: `<ID>.json`, every scalar a string."""
    fixture_path(SNAPSHOT / "vulns")
    out = {}
    for rel in relpaths:
        data = yaml.load((SNAPSHOT / "vulns" / rel).read_text(encoding="utf-8"), yaml.BaseLoader)
        out[f"{data['id']}.json"] = json.dumps(data)
    return out


def make_zip(path: Path, members: dict[str, str]) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in members.items():
            zf.writestr(name, text)
    path.write_bytes(buffer.getvalue())


def test_update_db_downloads_and_swaps_atomically(served: tuple[str, Path], tmp_path: Path) -> None:
    base, docroot = served
    cache = tmp_path / "cache"
    make_zip(docroot / "one.zip", snapshot_json("pyyaml/PYSEC-2020-176.yaml"))
    first = update_db(f"{base}/one.zip", cache_dir=cache)
    assert cached_db(cache) == first.path
    assert first.record_count == 1 and first.revision == "2020-03-01T00:15:00Z"
    assert ids(first, "PyYAML", "5.1") == ["PYSEC-2020-176"]

    make_zip(
        docroot / "two.zip",
        snapshot_json("jinja2/PYSEC-2019-217.yaml", "torch/PYSEC-2022-43015.yaml"),
    )
    second = update_db(f"{base}/two.zip", cache_dir=cache)
    assert cached_db(cache) == second.path != first.path
    assert not first.path.exists()  # the previous database was removed after the switch
    reloaded = AdvisoryDB.load(second.path)
    assert (reloaded.record_count, reloaded.revision) == (2, "2023-05-04T03:49:48.383740Z")
    assert ids(reloaded, "jinja2", "2.10") == ["PYSEC-2019-217"]
    assert ids(reloaded, "torch", "1.13.0") == ["PYSEC-2022-43015"]
    assert ids(reloaded, "pyyaml", "5.1") == []
    assert sorted(p.name for p in cache.iterdir()) == sorted(["current", second.path.name])


@pytest.mark.parametrize(
    ("members", "message"),
    [
        (None, "not a readable zip"),
        ({"README.md": "hello"}, "no OSV records"),
        ({"x.json": '{"id": "X-1", "details": "no affected"}'}, "no OSV records"),
        ({"X-1.json": "{not json"}, r"unparseable record X-1\.json"),
        ({"../evil.json": "{}"}, r"'\.\.'"),
        ({"/abs/evil.json": "{}"}, "absolute"),
    ],
)
def test_bad_download_leaves_cache_untouched(
    served: tuple[str, Path], tmp_path: Path, members: dict[str, str] | None, message: str
) -> None:
    base, docroot = served
    cache = tmp_path / "cache"
    make_zip(docroot / "good.zip", snapshot_json("pyyaml/PYSEC-2020-176.yaml"))
    good = update_db(f"{base}/good.zip", cache_dir=cache)
    if members is None:
        (docroot / "bad.zip").write_bytes(b"this is not a zip file")
    else:
        make_zip(docroot / "bad.zip", members)
    with pytest.raises(AdvisoryDBError, match=message):
        update_db(f"{base}/bad.zip", cache_dir=cache)
    assert cached_db(cache) == good.path
    assert ids(AdvisoryDB.load(good.path), "pyyaml", "5.1") == ["PYSEC-2020-176"]
    assert sorted(p.name for p in cache.iterdir()) == sorted(["current", good.path.name])


def test_update_db_http_error_and_file_url(served: tuple[str, Path], tmp_path: Path) -> None:
    base, docroot = served
    cache = tmp_path / "cache"
    with pytest.raises(AdvisoryDBError, match=r"could not download .*/missing\.zip"):
        update_db(f"{base}/missing.zip", cache_dir=cache)
    assert cached_db(cache) is None
    make_zip(docroot / "db.zip", snapshot_json("torch/PYSEC-2022-43015.yaml"))
    db = update_db((docroot / "db.zip").as_uri(), cache_dir=cache)
    assert ids(db, "torch", "1.12.1") == ["PYSEC-2022-43015"]
    with pytest.raises(AdvisoryDBError, match="http"):
        update_db("ftp://example.invalid/all.zip", cache_dir=cache)
    assert cached_db(cache) == db.path


def test_update_db_accepts_a_repository_archive_of_yaml(tmp_path: Path) -> None:
    members = {
        "advisory-database-main/vulns/demo/R-1.yaml": yaml.safe_dump(
            ranged("R-1", {"introduced": "0"}, {"fixed": "1.0"})
        ),
        "advisory-database-main/.github/workflows/ci.yml": "on: push\n",
    }
    make_zip(tmp_path / "repo.zip", members)
    db = update_db((tmp_path / "repo.zip").as_uri(), cache_dir=tmp_path / "cache")
    assert ids(db, "demo", "0.5") == ["R-1"]
    assert db.record_count == 1


def test_cli_db_update_then_run_uses_the_cached_database(
    served: tuple[str, Path], tmp_path: Path
) -> None:
    """`mlgate db update --url` fills the user cache; a later run audits offline from it."""
    from ..conftest import run_cli, write

    url, docroot = served
    make_zip(docroot / "all.zip", snapshot_json("pyyaml/PYSEC-2021-142.yaml"))
    env = {"XDG_CACHE_HOME": str(tmp_path / "xdg")}
    done = run_cli(["db", "update", "--url", f"{url}/all.zip"], env=env)
    assert done.returncode == 0, done.stderr
    assert "1 records" in done.stdout
    repo = tmp_path / "repo"
    write(repo, "requirements.txt", "PyYAML==5.3\n")
    ran = run_cli(["run", str(repo), "deps", "--format", "json"], env=env)
    report = json.loads(ran.stdout)
    assert report["gates"][0]["properties"]["source"]["kind"] == "osv-offline"
    assert [f["rule_id"] for f in report["findings"]] == ["PYSEC-2021-142"]
    assert ran.returncode == 1
    bad = run_cli(["db", "update", "--url", f"{url}/missing.zip"], env=env)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    again = run_cli(["run", str(repo), "deps", "--format", "json"], env=env)
    assert again.returncode == 1  # the failed update kept the previous database
