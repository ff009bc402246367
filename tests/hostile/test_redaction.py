"""Class 3 of issue 12: secrets are redacted in every string mlgate writes.

Secret values (an AWS key id, a GitHub token, a Hugging Face token, a private key) are
planted where they reach mlgate by other ways than the secrets gate: a data sample shown by
a failing contract (a column not listed in `redact`), the output of a failing `predict`
command, a scanner's stderr quoted in a gate error, a file name shown by `--verbose`, an
error message quoting an option. Then every output — stdout, stderr, every report format,
the receipt, the GitHub step summary and the result cache — is grepped for the values.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from mlgate.redact import redact_secrets, redact_value
from tests.conftest import write
from tests.hostile.conftest import LAUNCH

# Built from pieces so that no scanner of this repository flags the test itself.
AWS = "AKIA" + "Z7Q2W4E6R8T0Y1U3"
GITHUB = "ghp_" + "R7vK2mPq9XwL4sT8yB3nD6fH1jC5gA0eZ2uN"
HF = "hf_" + "kQwErTyUiOpAsDfGhJkLzXcVbNmQwErTyU"  # 34 letters, like a real token
KEY_BODY = "MIIEowIBAAKCAQEA0Z3VS5JJcds3xfn" + "ygWyF8PbnGy0AHB7MhgHcTz6sE2I2yPB"
PRIVATE_KEY = "-----BEGIN RSA PRIVATE KEY-----\n" + KEY_BODY + "\n-----END RSA PRIVATE KEY-----\n"
SECRETS = {"aws": AWS, "github": GITHUB, "hf": HF, "private key": KEY_BODY}

CONTRACT = """\
schema_type: dataframe
columns:
  id:
    dtype: int64
  note:
    dtype: str
    checks:
      str_length: {max_value: 8}
"""

PREDICT = f"""\
import sys
sys.stderr.write("loading model with token {GITHUB} from hub {HF}\\n")
sys.exit(1)
"""

FAKE_BANDIT = f"""#!{sys.executable}
import sys
if "--version" in sys.argv:
    print("bandit 0.0.0")
    sys.exit(0)
sys.stderr.write("config error near {AWS}:\\n" + {PRIVATE_KEY!r})
sys.exit(2)
"""


@pytest.fixture
def planted(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    write(root, "data/rows.csv", f"id,note\n1,ok\n2,{AWS}\n3,{GITHUB}\n")
    write(root, "contracts/rows.yml", CONTRACT)
    write(root, "predict.py", PREDICT)
    write(root, f"src/{HF}.py", "print('named after a token')\n")
    config = {
        "data": {"datasets": [{"path": "data/rows.csv", "contract": "contracts/rows.yml"}]},
        "model": {"predict": {"command": [sys.executable, "predict.py", HF], "runs": 1}},
    }
    write(root, ".mlgate.yml", json.dumps(config))
    return root


def _fake_tools(folder: Path) -> Path:
    folder.mkdir(parents=True)
    bandit = folder / "bandit"
    bandit.write_text(FAKE_BANDIT, encoding="utf-8")
    bandit.chmod(bandit.stat().st_mode | stat.S_IXUSR)
    return folder


def _launch(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", LAUNCH, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


def _leaks(text: str) -> list[str]:
    return [name for name, value in SECRETS.items() if value in text]


def _all_files(*folders: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for folder in folders:
        for path in folder.rglob("*"):
            if path.is_file():
                found[str(path)] = path.read_text(encoding="utf-8", errors="replace")
    return found


@pytest.mark.slow
def test_planted_secrets_appear_in_no_output(planted: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    cache = tmp_path / "cache"
    summary = tmp_path / "summary.md"
    env = {
        **os.environ,
        "NO_COLOR": "1",
        "MLGATE_FAKE_TOOLS": str(_fake_tools(tmp_path / "fakes")),
        "MLGATE_CACHE_DIR": str(cache),
        "GITHUB_STEP_SUMMARY": str(summary),
    }
    env.pop("MLGATE_ADVISORY_DB", None)
    formats = [f"--format={f}" for f in ("json", "sarif", "gitlab", "junit", "markdown")]
    done = _launch(
        ["run", str(planted), "sast", "data", "model", "--verbose", "--output", str(out), *formats],
        env,
        tmp_path,
    )
    report = json.loads((out / "mlgate.json").read_text(encoding="utf-8"))
    gates = {g["name"]: g for g in report["gates"]}
    everything = json.dumps(report, ensure_ascii=False)
    # each way in was really taken (so the grep below has something to find) ...
    errors = {name: g["errors"] for name, g in gates.items()}
    assert gates["sast"]["status"] == "error" and "config error near AKIA…" in everything, errors
    assert "RSA PRIVATE KEY …(redacted)" in everything
    assert any("contract" in f["rule_id"] for f in report["findings"]), everything
    assert "AKIA…" in " ".join(f["message"] for f in report["findings"] if f["gate"] == "data")
    assert "ghp_…" in " ".join(f["message"] for f in report["findings"] if f["gate"] == "model")
    assert "predict.py hf_k…" in done.stderr  # --verbose printed the predict command line
    # ... and no value is anywhere
    outputs = {"stdout": done.stdout, "stderr": done.stderr, **_all_files(out, cache)}
    outputs[str(summary)] = summary.read_text(encoding="utf-8")
    leaked = {name: _leaks(text) for name, text in outputs.items() if _leaks(text)}
    assert not leaked, leaked
    assert done.returncode in (1, 3), done.stderr


def test_error_messages_are_redacted(planted: Path, tmp_path: Path) -> None:
    env = {**os.environ, "MLGATE_FAKE_TOOLS": str(tmp_path)}
    done = _launch(["run", str(planted), "--env", HF], env, tmp_path)
    assert done.returncode == 2
    assert "unknown environment 'hf_k…'" in done.stderr
    assert not _leaks(done.stdout + done.stderr)


def test_receipt_is_redacted_before_its_digest(tmp_path: Path) -> None:
    from mlgate.receipt import content_digest

    body = {"policy_source": f"/srv/{GITHUB}/policy.yml", "commit": "a" * 40}
    redacted = redact_value(body)
    assert GITHUB not in json.dumps(redacted) and redacted["commit"] == "a" * 40
    assert content_digest(redacted) == content_digest(redact_value(redacted))


@pytest.mark.parametrize("name", sorted(SECRETS))
def test_each_detector_redacts_and_keeps_json_valid(name: str) -> None:
    value = PRIVATE_KEY if name == "private key" else SECRETS[name]
    text = json.dumps({"message": f"found {value} here", "fingerprint": "f" * 64})
    redacted = redact_secrets(text)
    assert SECRETS[name] not in redacted
    data = json.loads(redacted)
    assert data["fingerprint"] == "f" * 64 and data["message"].startswith("found ")
    assert redact_secrets(redacted) == redacted  # idempotent


def test_digests_commits_and_paths_are_left_alone() -> None:
    text = (
        "commit 0123456789abcdef0123456789abcdef01234567 in wandb-project/src/train.py "
        "sha256:" + "ab" * 32 + " version 1.2.3 at 10.0.0.1"
    )
    assert redact_secrets(text) == text
