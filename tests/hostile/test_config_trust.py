"""Class 4 of issue 12: the repository may not steer its own audit.

Paths from repository configuration stay inside the repository (symlinks included),
operator settings win over the repository's, and `--trusted-config REF` reads the policy
and `.mlgate.yml` from REF and reports every way the working tree weakens them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlgate.config import load_config
from mlgate.errors import ConfigError
from mlgate.gates import GATES
from mlgate.policy import load_policy
from mlgate.trust import load_settings
from tests.conftest import git_init, run_cli, write

AWS_KEY = "AKIAQWERTYUIOPASDFGH"  # pragma: allowlist secret


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory beside the repository holding files a pull request should not reach."""
    folder = tmp_path / "outside"
    write(folder, "baseline.json", json.dumps(["f" * 32]))
    write(folder, "rules.yml", "rules: []\n")
    write(folder, "metrics.json", '{"accuracy": 0.99}')
    write(folder, "policy.yml", "extends: default\n")
    (folder / "db" / "vulns").mkdir(parents=True)
    return folder


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    return root


CONFIG_ESCAPES = [
    ("sast:\n  semgrep_rules: [{out}/rules.yml]\n", "sast.semgrep_rules.0", "absolute"),
    ("sast:\n  semgrep_rules: [../outside/rules.yml]\n", "sast.semgrep_rules.0", "leaves"),
    ("deps:\n  advisory_db: {out}/db\n", "deps.advisory_db", "absolute"),
    ("model:\n  metrics_files: [../outside/metrics.json]\n", "model.metrics_files.0", "leaves"),
    ("model:\n  baseline: git:main:../outside/m.json\n", "model.baseline", "leaves"),
    ("model:\n  mlflow_run: /tmp/mlruns/*/*\n", "model.mlflow_run", "absolute"),
    (
        "data:\n  datasets:\n    - path: data/x.csv\n      contract: {out}/c.yml\n",
        "contract",
        "absolute",
    ),
    ("policy: ../outside/policy.yml\n", "policy", "leaves"),
]


@pytest.mark.parametrize(("text", "key", "why"), CONFIG_ESCAPES)
def test_config_paths_outside_the_repository_are_config_errors(
    repo: Path, outside: Path, text: str, key: str, why: str
) -> None:
    write(repo, ".mlgate.yml", text.format(out=outside))
    with pytest.raises(ConfigError) as caught:
        load_config(repo)
    message = caught.value.message
    assert ".mlgate.yml:" in message and key in message and why in message, message


POLICY_ESCAPES = [
    ("extends: {out}/policy.yml\n", "extends"),
    ("extends: ../../outside/policy.yml\n", "extends"),
    ("baseline: {out}/baseline.json\n", "baseline"),
    ("gates:\n  sast:\n    options:\n      semgrep_rules: [{out}/rules.yml]\n", "semgrep_rules"),
    (
        "environments:\n  production:\n    gates:\n      deps:\n"
        "        options: {{advisory_db: {out}/db}}\n",
        "environments.production.gates.deps.options.advisory_db",
    ),
]


@pytest.mark.parametrize(("text", "key"), POLICY_ESCAPES)
def test_repository_policy_paths_outside_are_config_errors_via_the_cli(
    repo: Path, outside: Path, text: str, key: str
) -> None:
    write(repo, ".mlgate/policy.yml", text.format(out=outside))
    done = run_cli(["run", str(repo), "secrets", "--format", "json"])
    assert done.returncode == 2, done.stdout + done.stderr
    assert "policy.yml:" in done.stderr and key in done.stderr
    assert "repository" in done.stderr
    assert not done.stdout  # refused before any gate ran


def test_symlinks_out_of_the_repository_are_refused(repo: Path, outside: Path) -> None:
    (repo / "rules").symlink_to(outside)
    write(repo, ".mlgate.yml", "sast:\n  semgrep_rules: [rules/rules.yml]\n")
    with pytest.raises(ConfigError, match=r"\.mlgate\.yml:2: config: sast.semgrep_rules.0"):
        load_config(repo)
    (repo / "data").symlink_to(outside)
    write(repo, ".mlgate.yml", "data:\n  datasets:\n    - path: data/*.json\n")
    with pytest.raises(ConfigError, match="resolves outside the repository"):
        load_config(repo)


def test_symlinked_policy_and_config_files_are_refused(repo: Path, outside: Path) -> None:
    (repo / ".mlgate").mkdir()
    (repo / ".mlgate" / "policy.yml").symlink_to(outside / "policy.yml")
    done = run_cli(["policy", "check", "--path", str(repo)])
    assert done.returncode == 2 and "outside the repository" in done.stderr
    (repo / ".mlgate" / "policy.yml").unlink()
    (repo / ".mlgate.yml").symlink_to(outside / "policy.yml")
    done = run_cli(["policy", "check", "--path", str(repo)])
    assert done.returncode == 2 and "outside the repository" in done.stderr


def test_paths_inside_the_repository_still_work(repo: Path) -> None:
    write(repo, "rules/r.yml", "rules: []\n")
    write(repo, "mlgate-baseline.json", json.dumps(["a" * 32]))
    write(repo, ".mlgate.yml", "sast:\n  semgrep_rules: [rules/r.yml]\n")
    write(repo, ".mlgate/policy.yml", "extends: strict\nbaseline: ../mlgate-baseline.json\n")
    assert load_config(repo).options_for("sast")["semgrep_rules"] == ["rules/r.yml"]
    policy = load_policy(repo / ".mlgate/policy.yml", root=repo)
    assert policy.baseline == frozenset({"a" * 32})


def test_an_operator_policy_outside_the_repository_may_name_its_own_files(
    repo: Path, outside: Path
) -> None:
    write(outside, "mine.yml", f"baseline: {outside}/baseline.json\n")
    policy = load_policy(outside / "mine.yml", root=repo)
    assert policy.baseline == frozenset({"f" * 32})


# --- operator settings win ------------------------------------------------------------------


def _vuln_db(root: Path) -> Path:
    record = {
        "id": "PYSEC-0000-1",
        "modified": "2024-01-01T00:00:00Z",
        "details": "planted",
        "affected": [
            {
                "package": {"name": "demo", "ecosystem": "PyPI"},
                "versions": ["1.0"],
            }
        ],
    }
    folder = root / "vulns" / "demo"
    folder.mkdir(parents=True)
    (folder / "PYSEC-0000-1.yaml").write_text(yaml.safe_dump(record), encoding="utf-8")
    return root


def test_environment_advisory_db_wins_over_the_repository(repo: Path, tmp_path: Path) -> None:
    write(repo, "requirements.txt", "demo==1.0\n")
    (repo / "empty-db" / "vulns").mkdir(parents=True)
    write(repo, "empty-db/vulns/.keep", "")
    write(repo, ".mlgate.yml", "deps:\n  advisory_db: empty-db\n")
    db = _vuln_db(tmp_path / "operator-db")
    done = run_cli(
        ["run", str(repo), "deps", "--format", "json"], env={"MLGATE_ADVISORY_DB": str(db)}
    )
    report = json.loads(done.stdout)
    rules = {f["rule_id"] for f in report["findings"]}
    assert "PYSEC-0000-1" in rules, done.stderr
    assert report["gates"][0]["properties"]["source"]["path"] == str(db.resolve())
    assert done.returncode == 1


# --- --trusted-config -----------------------------------------------------------------------

TRUSTED_POLICY = """\
extends: default
gates:
  secrets:
    options:
      exclude: []
waivers:
  - rule: B301
    path: "legacy/*.py"
    reason: reviewed loader of our own files
    expires: 2030-01-31
    owner: ml-platform
"""

WEAKENED_POLICY = """\
extends: default
defaults:
  fail_on: critical
gates:
  models:
    enabled: false
  secrets:
    options:
      exclude: ["*.env"]
waivers:
  - rule: B301
    path: "legacy/*.py"
    reason: reviewed loader of our own files
    expires: 2031-01-31
    owner: ml-platform
  - rule: AWS Access Key
    reason: this is fine really
    expires: 2030-01-31
    owner: attacker
"""


@pytest.fixture
def pull_request(tmp_path: Path) -> Path:
    """A repo whose main branch has a policy, and a working tree (the PR) that weakens it."""
    root = tmp_path / "pr"
    write(root, ".mlgate/policy.yml", TRUSTED_POLICY)
    write(root, ".mlgate.yml", "deps:\n  unaudited: error\n")
    write(root, "app.py", "print('hello')\n")
    git_init(root)
    write(root, ".mlgate/policy.yml", WEAKENED_POLICY)
    write(root, ".mlgate.yml", "deps:\n  unaudited: finding\n  vulnerability_service: osv\n")
    write(root, "settings.env", f"AWS_ACCESS_KEY_ID={AWS_KEY}\n")
    return root


def _changes(root: Path, env: str | None = None) -> list[str]:
    settings = load_settings(root, None, env, "main")
    assert settings.check is not None
    return [str(f.properties["change"]) for f in settings.check.findings]


def test_every_weakening_is_listed(pull_request: Path) -> None:
    changes = "\n".join(_changes(pull_request))
    for expected in (
        "defaults: sast: fail_on raised from high to critical",
        "defaults: models: disabled",
        "defaults: secrets: options.exclude: added *.env",
        "waiver extended from 2030-01-31 to 2031-01-31",
        "waiver added: rule AWS Access Key",
        "defaults: deps: options.vulnerability_service: advisory source changed",
        "defaults: deps: options.unaudited: changed from 'error' to 'finding'",
    ):
        assert expected in changes, changes
    # production overrides fail_on itself, so the top-level change does not weaken it; and a
    # change found at the top level is not repeated for every environment
    assert "environment production: sast: fail_on" not in changes
    assert "environment production: models: disabled" not in changes


def test_trusted_settings_are_the_refs(pull_request: Path) -> None:
    settings = load_settings(pull_request, None, "production", "main")
    assert settings.policy.settings("models").enabled
    assert [w.expires.year for w in settings.policy.waivers] == [2030]
    assert settings.config.options_for("deps") == {"unaudited": "error"}


def test_no_change_no_finding(tmp_path: Path) -> None:
    root = tmp_path / "same"
    write(root, ".mlgate/policy.yml", TRUSTED_POLICY)
    git_init(root)
    write(root, ".mlgate/policy.yml", TRUSTED_POLICY.replace("2030-01-31", "2029-12-31"))
    assert _changes(root) == []  # a waiver that expires sooner is stricter


def _run_json(root: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    done = run_cli(["run", str(root), "secrets", "--format", "json", *args])
    assert done.stdout, done.stderr
    return done.returncode, json.loads(done.stdout), done.stderr


@pytest.mark.slow
def test_pull_request_cannot_waive_its_own_secret(pull_request: Path) -> None:
    """Without --trusted-config the PR's waiver and exclude hide the key; with it, the
    secret blocks and every weakening is a finding that blocks production."""
    code, report, _ = _run_json(pull_request, "--env", "production")
    assert code == 0, report["decision"]
    code, report, stderr = _run_json(
        pull_request, "--env", "production", "--trusted-config", "main"
    )
    assert code == 1, stderr
    rules = [f["rule_id"] for f in report["findings"] if f["waived_by"] is None]
    assert "AWS Access Key" in rules
    weakened = [f for f in report["findings"] if f["rule_id"] == "policy-weakened"]
    assert len(weakened) >= 6 and all(f["severity"] == "medium" for f in weakened)
    assert any(v.startswith("policy: ") for v in report["decision"]["violations"])
    assert AWS_KEY not in json.dumps(report)


@pytest.mark.slow
def test_weakening_warns_outside_production(tmp_path: Path) -> None:
    root = tmp_path / "dev"
    write(root, ".mlgate/policy.yml", TRUSTED_POLICY)
    write(root, "app.py", "print('hello')\n")
    git_init(root)
    write(root, ".mlgate/policy.yml", TRUSTED_POLICY.replace("exclude: []", "exclude: [x]"))
    code, report, _ = _run_json(root, "--env", "dev", "--trusted-config", "main")
    assert code == 0
    assert any("policy-weakened" in json.dumps(f) for f in report["findings"])
    assert any(w.startswith("policy: ") for w in report["decision"]["warnings"])


def test_merge_with_trusted_config_adds_the_check(pull_request: Path, tmp_path: Path) -> None:
    report = {
        "schema_version": 1,
        "mlgate_version": __import__("mlgate").__version__,
        "commit": "a" * 40,
        "started_at": "2026-01-01T00:00:00+00:00",
        "gates": [{"name": g, "status": "pass", "tools": {}} for g in GATES],
        "findings": [],
    }
    path = write(tmp_path, "in/mlgate.json", json.dumps(report))
    done = run_cli(["merge", str(path), "--env", "production"], cwd=pull_request)
    assert done.returncode == 0, done.stdout + done.stderr
    done = run_cli(
        ["merge", str(path), "--env", "production", "--trusted-config", "main"], cwd=pull_request
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "policy-weakened" in done.stdout


def test_unknown_trusted_ref_is_a_usage_error(pull_request: Path) -> None:
    done = run_cli(["run", str(pull_request), "secrets", "--trusted-config", "no-such-branch"])
    assert done.returncode == 2
    assert "--trusted-config no-such-branch" in done.stderr


def test_an_option_left_at_its_default_is_compared_at_that_default(tmp_path: Path) -> None:
    """The packs no longer restate the gates' defaults: a pull request that lowers a severity
    or grows a skip list is still measured against the gate's declared default."""
    root = tmp_path / "defaults"
    write(root, ".mlgate/policy.yml", "extends: default\n")
    git_init(root)
    write(
        root,
        ".mlgate/policy.yml",
        "extends: default\ngates:\n  data:\n    options:\n      contract_severity: low\n"
        "  sast:\n    options:\n      bandit_skip: [B101, B301]\n",
    )
    changes = "\n".join(_changes(root))
    assert "data: options.contract_severity: lowered from high to low" in changes, changes
    assert "sast: options.bandit_skip: added B301" in changes, changes
