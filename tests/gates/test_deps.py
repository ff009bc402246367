from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mlgate.deps.sources import Requirement, read_dependency_file
from mlgate.findings import Severity
from mlgate.gates import GATES, GateContext
from mlgate.gates.deps import parse_pip_audit
from mlgate.repo import open_repo

from ..conftest import run_cli, write

# Recorded from a real `pip-audit -r req.txt --no-deps --disable-pip --format json` run.
PIP_AUDIT_OFFLINE = {
    "dependencies": [
        {
            "name": "pyyaml",
            "skip_reason": "Dependency not found on PyPI and could not be audited: pyyaml (5.3)",
        },
        {
            "name": "requests",
            "skip_reason": "Dependency not found on PyPI and could not be audited: requests (2.0.0)",
        },
    ],
    "fixes": [],
}
PIP_AUDIT_VULNERABLE = {
    "dependencies": [
        {
            "name": "pyyaml",
            "version": "5.3",
            "vulns": [
                {
                    "id": "PYSEC-2021-142",
                    "fix_versions": ["5.4"],
                    "aliases": ["CVE-2020-14343", "GHSA-8q59-q68h-6hv4"],
                    "description": "A vulnerability was discovered in the PyYAML library ...",
                }
            ],
        },
        {"name": "requests", "version": "2.32.3", "vulns": []},
    ],
    "fixes": [],
}


def _ctx(tmp_path: Path, **options: Any) -> GateContext:
    write(tmp_path, "requirements.txt", "PyYAML==5.3\nrequests==2.32.3\n")
    repo = open_repo(tmp_path)
    gate = GATES["deps"]
    return GateContext(repo, gate.inputs(repo, options), 60)


PINNED = [
    Requirement("pyyaml", "5.3", "PyYAML==5.3", "requirements.txt", 1),
    Requirement("requests", "2.32.3", "requests==2.32.3", "requirements.txt", 2),
]


def test_pip_audit_fail_open_becomes_an_error(tmp_path: Path) -> None:
    findings, errors = parse_pip_audit(_ctx(tmp_path), PIP_AUDIT_OFFLINE, PINNED)
    assert findings == []
    assert errors and "2 of 2 dependencies could not be audited" in errors[0]
    assert "vulnerability service reachable" in errors[0]


def test_unaudited_as_finding_when_the_policy_says_so(tmp_path: Path) -> None:
    findings, errors = parse_pip_audit(
        _ctx(tmp_path, unaudited="finding"), PIP_AUDIT_OFFLINE, PINNED
    )
    assert errors == []
    assert [f.rule_id for f in findings] == ["unaudited-dependency"] * 2


def test_pip_audit_vulnerabilities_become_findings(tmp_path: Path) -> None:
    findings, errors = parse_pip_audit(_ctx(tmp_path), PIP_AUDIT_VULNERABLE, PINNED)
    assert errors == []
    (only,) = findings
    assert only.rule_id == "PYSEC-2021-142" and only.path == "requirements.txt" and only.line == 1
    assert only.severity is Severity.HIGH
    assert only.fix == "upgrade pyyaml to 5.4"
    assert only.properties["aliases"] == ["CVE-2020-14343", "GHSA-8q59-q68h-6hv4"]


def test_online_pip_audit_really_runs_and_never_passes_without_data(tmp_path: Path) -> None:
    """The real pip-audit: with its service unreachable the gate errors; with it, it audits."""
    write(tmp_path, "requirements.txt", "PyYAML==5.3\n")
    done = run_cli(["run", str(tmp_path), "deps", "--format", "json"])
    report = json.loads(done.stdout)
    gate = report["gates"][0]
    assert gate["tools"]["pip-audit"]
    if gate["status"] == "error":  # no network here: fail-open trap caught
        assert done.returncode == 3
        assert "could not be audited" in gate["errors"][0]
    else:  # network: the vulnerable pin is found
        assert done.returncode == 1
        assert any(f["properties"].get("package") == "pyyaml" for f in report["findings"])


def test_offline_audit_of_the_insecure_example(
    insecure_run: tuple[int, dict[str, Any], str],
) -> None:
    code, report, _ = insecure_run
    deps = next(g for g in report["gates"] if g["name"] == "deps")
    assert deps["status"] == "fail"
    source = deps["properties"]["source"]
    assert source["kind"] == "osv-offline" and source["revision"].startswith("2024-07-11")
    vulns = {
        (f["properties"].get("package"), f["rule_id"])
        for f in report["findings"]
        if f["gate"] == "deps"
    }
    assert ("pyyaml", "PYSEC-2021-142") in vulns
    unpinned = [f for f in report["findings"] if f["rule_id"] == "unpinned-dependency"]
    assert unpinned and unpinned[0]["properties"]["package"] == "transformers"
    assert code == 1


def test_advisory_db_from_environment(tmp_path: Path, advisory_db: Path) -> None:
    write(tmp_path, "requirements.txt", "jinja2==2.10\n")
    done = run_cli(
        ["run", str(tmp_path), "deps", "--format", "json"],
        env={"MLGATE_ADVISORY_DB": str(advisory_db)},
    )
    report = json.loads(done.stdout)
    assert done.returncode == 1, done.stderr
    assert report["gates"][0]["properties"]["source"]["kind"] == "osv-offline"


def test_missing_advisory_db_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "requirements.txt", "jinja2==2.10\n")
    done = run_cli(
        ["run", str(tmp_path), "deps", "--advisory-db", str(tmp_path / "nope"), "--format", "json"]
    )
    report = json.loads(done.stdout)
    assert done.returncode == 3
    assert report["gates"][0]["status"] == "error"


# --- precision: one finding per package, libraries, lock files, more dependency files --------


def _deps_run(root: Path, advisory_db: Path) -> dict[str, Any]:
    done = run_cli(
        ["run", str(root), "deps", "--advisory-db", str(advisory_db), "--format", "json"],
        env={"MLGATE_CACHE_DIR": str(root.parent / f"{root.name}-cache")},
    )
    assert done.stdout.strip(), done.stderr
    return dict(json.loads(done.stdout))


def test_one_finding_per_vulnerable_package_with_every_advisory(
    tmp_path: Path, advisory_db: Path
) -> None:
    write(tmp_path, "requirements.txt", "jinja2==2.10\n")
    report = _deps_run(tmp_path, advisory_db)
    [finding] = [f for f in report["findings"] if f["gate"] == "deps"]
    assert finding["properties"]["advisories"] == ["PYSEC-2019-217", "PYSEC-2021-66"]
    assert finding["fix"] == "upgrade jinja2 to 2.11.3"  # the single minimal safe version
    assert finding["properties"]["fixed_versions"] == ["2.11.3"]
    assert "2 advisories" in finding["message"]


def test_library_ranges_are_audited_not_flagged_unpinned(tmp_path: Path, advisory_db: Path) -> None:
    write(
        tmp_path,
        "pyproject.toml",
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "lib"\nversion = "1"\n'
        'dependencies = ["jinja2>=2.10", "requests>=2.31", "numpy"]\n',
    )
    report = _deps_run(tmp_path, advisory_db)
    deps = next(g for g in report["gates"] if g["name"] == "deps")
    assert deps["properties"]["project"] == "library"
    findings = [f for f in report["findings"] if f["gate"] == "deps"]
    assert not [f for f in findings if f["rule_id"] == "unpinned-dependency"]
    ranges = {f["properties"]["package"]: f for f in findings if f["rule_id"] == "vulnerable-range"}
    assert set(ranges) == {"jinja2", "numpy"}  # requests>=2.31 admits no vulnerable version
    jinja = ranges["jinja2"]
    assert jinja["severity"] == "low" and jinja["properties"]["safe_lower_bound"] == "2.11.3"
    assert ">=2.11.3" in jinja["message"] and jinja["line"] == 7
    assert report["decision"]["passed"] is True  # low: reported, not blocking


def test_lock_file_is_audited_and_ranges_are_not_unpinned(
    tmp_path: Path, advisory_db: Path
) -> None:
    write(
        tmp_path,
        "pyproject.toml",
        '[project]\nname = "app"\nversion = "1"\ndependencies = ["jinja2>=2.10"]\n',
    )
    write(
        tmp_path,
        "uv.lock",
        'version = 1\n\n[[package]]\nname = "app"\nversion = "1"\nsource = { editable = "." }\n\n'
        '[[package]]\nname = "jinja2"\nversion = "2.10"\n'
        'source = { registry = "https://pypi.org/simple" }\n',
    )
    report = _deps_run(tmp_path, advisory_db)
    findings = [f for f in report["findings"] if f["gate"] == "deps"]
    assert [(f["path"], f["line"], f["properties"]["package"]) for f in findings] == [
        ("uv.lock", 9, "jinja2")
    ]


def test_setup_py_is_read_statically_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    write(
        tmp_path,
        "setup.py",
        "import pathlib\n"
        f"pathlib.Path({str(marker)!r}).write_text('x')\n"
        "from setuptools import setup\n"
        "REQS = ['numpy==1.21.0', 'pandas>=1']\n"
        "setup(name='x', install_requires=REQS,\n"
        "      extras_require={'dev': ['pytest'], 'x': open('r.txt').read().split()})\n",
    )
    reqs, problems = read_dependency_file(tmp_path, "setup.py")
    assert [(r.name, r.version, r.line) for r in reqs] == [
        ("numpy", "1.21.0", 4),
        ("pandas", None, 4),
        ("pytest", None, 6),
    ]
    assert [(p.line, p.severity) for p in problems] == [(6, "low")]
    assert "never executes" in problems[0].message
    assert not marker.exists()


def test_setup_cfg_and_conda_environment(tmp_path: Path) -> None:
    write(
        tmp_path,
        "setup.cfg",
        "[metadata]\nname = x\n[options]\ninstall_requires =\n    numpy>=1.20\n    scipy==1.8.0\n"
        "[options.extras_require]\ndev =\n    pytest\n",
    )
    reqs, problems = read_dependency_file(tmp_path, "setup.cfg")
    assert [(r.name, r.version, r.line) for r in reqs] == [
        ("numpy", None, 5),
        ("scipy", "1.8.0", 6),
        ("pytest", None, 9),
    ]
    write(
        tmp_path,
        "conda.yaml",
        "name: churn\nchannels: [conda-forge]\ndependencies:\n  - python=3.10\n  - pip\n"
        "  - numpy=1.21.0\n  - conda-forge::pandas>=1.3\n  - scikit-learn=1.0=py310h1\n"
        "  - pip:\n    - mlflow==2.9.2\n    - cloudpickle\n",
    )
    reqs, problems = read_dependency_file(tmp_path, "conda.yaml")
    assert [(r.name, r.version, r.line) for r in reqs] == [
        ("numpy", "1.21.0", 6),
        ("pandas", None, 7),
        ("scikit-learn", "1.0", 8),
        ("mlflow", "2.9.2", 10),
        ("cloudpickle", None, 11),
    ]
    assert problems == []


def test_mlproject_conda_env_is_audited_and_skips_are_reasons(
    tmp_path: Path, advisory_db: Path
) -> None:
    write(tmp_path, "MLproject", "name: churn\nconda_env: envs/train-env.yaml\n")
    write(tmp_path, "envs/train-env.yaml", "dependencies:\n  - pip:\n    - jinja2==2.10\n")
    write(tmp_path, "src/requirements.txt", "pyyaml==5.3\n")
    report = _deps_run(tmp_path, advisory_db)
    paths = {f["path"] for f in report["findings"] if f["gate"] == "deps"}
    assert paths == {"envs/train-env.yaml", "src/requirements.txt"}
    empty = tmp_path / "empty"
    empty.mkdir()
    write(empty, "app.py", "print(1)\n")
    done = run_cli(["run", str(empty), "deps", "--env", "production", "--format", "json"])
    decision = json.loads(done.stdout)["decision"]
    text = json.dumps(decision)
    assert "required gate skipped: no dependency files found" in text
