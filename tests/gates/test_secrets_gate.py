"""The secrets gate: detect-secrets plus ML token patterns, notebook outputs, redaction."""

from __future__ import annotations

import json
import os
import time
import urllib.request
import zlib
from pathlib import Path
from typing import Any

import pytest

from mlgate.findings import Finding, fingerprint
from mlgate.gates import GATES, GateContext, GateResult
from mlgate.gates import secrets as secrets_gate
from mlgate.gates.base import default_options
from mlgate.gates.secrets import (
    Hit,
    merge_hits,
    pattern_hits,
    preview_for,
)
from mlgate.notebooks import Origin, notebook_texts
from mlgate.policy import load_policy
from mlgate.repo import open_repo
from mlgate.secretpatterns import base62, redact, secret_hash

from ..conftest import git_init, run_cli, write


def fake(*parts: str) -> str:
    """Fake credentials are assembled at run time, so this file itself holds none."""
    return "".join(parts)


# Every value below is FAKE: pattern-valid, never issued.
AWS_KEY = fake("AKIA", "Q7XK2M4PLDZRZB3N")
AWS_IN_OUTPUT = fake("AKIA", "W5TCXNJ3HY6GVQQF")
HF_IN_OUTPUT = fake("hf_", "ZqeLmVtRbXwKpNcHyTfGdJsQeUaBoPwXcR")
HF_IGNORED = fake("hf_", "PwXcRtLmQzVbNkHsJdGfTyUeAoMKdQwErT")
HF_EXCLUDED = fake("hf_", "KdQwErTyUiOpAsDfGhJkLzXcVbNMnBvCxZ")
HF_KEPT = fake("hf_", "MnBvCxZaSdFgHjKlQwErTyUiOpLTyUiOpA")
HF_IN_CODE = fake("hf_", "TyUiOpAsDfGhJkLzXcVbNmQwErTRtYuIoP")
HF_TOO_LARGE = fake("hf_", "RtYuIoPaSdFgHjKlZxCvBnMqWeTMnBvCxZ")
OPENAI_KEY = fake("sk-proj-", "Ab3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY", "T3BlbkFJ", "Qr8sT2uV")
WANDB_KEY = fake("9f8e7d6c5b4a", "39281706f5e4d3c2b1a0", "a1b2c3d4")
DATABRICKS = fake("dapi", "0f1e2d3c4b5a69788796a5b4c3d2e1f0")
SECRETS = (
    AWS_KEY, AWS_IN_OUTPUT, HF_IN_CODE, HF_IN_OUTPUT, HF_IGNORED, HF_EXCLUDED, HF_KEPT, HF_TOO_LARGE,
    OPENAI_KEY, WANDB_KEY, DATABRICKS,
)  # fmt: skip
NB = "notebooks/train.ipynb"


def notebook(cells: list[dict[str, Any]]) -> str:
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells})


def minified_line(secret: str, size: int = 100_000) -> str:
    chunk = "var a0=1,b1=[2,3];function f(x){return x*2};"
    half = chunk * (size // (2 * len(chunk)))
    return f'{half}var k="{secret}";{half}'


def build_repo(root: Path) -> Path:
    settings = f'"""Settings."""\n\nAWS_ACCESS_KEY_ID = "{AWS_KEY}"\nHF_TOKEN = "{HF_IN_CODE}"\n'
    write(root, "src/config.py", settings)
    write(root, "static/app.min.js", "/* bundle */\n" + minified_line(OPENAI_KEY) + "\n")
    outputs: list[dict[str, Any]] = [
        {
            "output_type": "stream",
            "name": "stdout",
            "text": ["loading\n", f"token: {HF_IN_OUTPUT}\n"],
        },
        {"output_type": "execute_result", "data": {"text/plain": f"'{AWS_IN_OUTPUT}'"}},
        {"output_type": "display_data", "data": {"text/html": f"<pre>{HF_IN_OUTPUT}</pre>"}},
    ]
    cells: list[dict[str, Any]] = [
        {"cell_type": "markdown", "metadata": {}, "source": "FAKE credentials, test fixture."},
        {
            "cell_type": "code",
            "metadata": {},
            "outputs": [],
            "source": ["import wandb\n", f'wandb.login(key="{WANDB_KEY}")\n'],
        },
        {
            "cell_type": "code",
            "metadata": {},
            "outputs": outputs,
            "source": "import os\nprint(os.environ['HF_TOKEN'])",
        },
    ]
    write(root, NB, notebook(cells))
    broken = '{"cells": [ "' + DATABRICKS + '",\n  "db_password": "Rq8Zt4Lm2Vx7Np3K"'
    write(root, "notebooks/broken.ipynb", broken)
    write(root, ".gitignore", ".env\n")
    write(root, ".env", f"HF_TOKEN={HF_IGNORED}\n")
    (root / "data").mkdir()
    (root / "data/blob.bin").write_bytes(b"\0\1\2" + HF_KEPT.encode())
    return root


def run_gate(root: Path, options: dict[str, Any] | None = None) -> GateResult:
    repo = open_repo(root)
    gate = GATES["secrets"]
    return gate.run(GateContext(repo, gate.inputs(repo, options or {}), timeout=600))


def by_rule(result: GateResult, path: str, rule: str) -> list[Finding]:
    return [f for f in result.findings if f.path == path and f.rule_id == rule]


# --- unit: redaction, patterns, preview, merging -------------------------------------------


def test_redact_shows_at_most_four_characters() -> None:
    assert redact(HF_IN_OUTPUT) == "hf_Z…"
    assert redact("hunter2-prod") == "hun…"  # short values show less
    assert redact("abc") == "…"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"token = '{HF_KEPT}'", "Hugging Face Token"),
        (f"wandb.login(key='{WANDB_KEY}')", "Weights & Biases API Key"),
        (f"WANDB_API_KEY={WANDB_KEY}", "Weights & Biases API Key"),
        (f"host: x\ntoken: {DATABRICKS}", "Databricks Token"),
        (f"OPENAI_API_KEY={OPENAI_KEY}", "OpenAI Project API Key"),
        (
            fake("key = 'sk-", "Xy12AbCdEfGhIjKlMnOp", "T3BlbkFJ", "Qr5tUv6wXy7zAb8cDe9f'"),
            "OpenAI API Key",
        ),
    ],
)
def test_ml_token_patterns(text: str, expected: str) -> None:
    [hit] = pattern_hits("f", text)
    assert hit.secret_type == expected and hit.tool == "mlgate"
    assert hit.preview is not None and len(hit.preview) == 5


@pytest.mark.parametrize(
    "text",
    [
        fake("commit ", WANDB_KEY),  # a 40-hex id with no wandb near it
        fake("wandb ", WANDB_KEY, "0"),  # 41 hex digits
        fake("x", HF_KEPT),  # part of a longer word
        "hf_tooShort123",
        "class='sk-this-is-a-very-long-css-class-name'",
        fake("dapi", "0f1e2d3c"),
    ],
)
def test_ml_token_patterns_reject_lookalikes(text: str) -> None:
    assert list(pattern_hits("f", text)) == []


@pytest.mark.parametrize(
    "text",
    [
        minified_line(OPENAI_KEY),
        "hf_" * 40_000,
        "sk-" + "-" * 120_000,
        "wandb " + "0123456789abcdef" * 7_000,
        "dapi" * 30_000,
        "a" * 120_000,
    ],
)
def test_patterns_run_in_bounded_time_on_100kb_lines(text: str) -> None:
    started = time.monotonic()
    list(pattern_hits("f", text))
    assert time.monotonic() - started < 2


def test_inline_allowlist_pragmas_are_honoured() -> None:
    assert list(pattern_hits("f", f"t = '{HF_KEPT}'  # pragma: allowlist secret\n")) == []
    text = f"# pragma: allowlist nextline secret\nt = '{HF_KEPT}'\nu = '{HF_KEPT}'\n"
    assert [h.origin.line for h in pattern_hits("f", text)] == [3]


def test_patterns_map_lines_of_a_long_minified_file() -> None:
    [hit] = pattern_hits("a.js", "/* x */\n" + minified_line(OPENAI_KEY) + "\n")
    assert (hit.origin.line, hit.preview) == (2, "sk-p…")


def test_preview_recovers_the_value_detect_secrets_hashed() -> None:
    line = f'AWS_ACCESS_KEY_ID = "{AWS_KEY}"  # prod'
    assert preview_for(line, secret_hash(AWS_KEY)) == "AKIA…"
    assert preview_for(f"url = https://user:{HF_KEPT}@host/x", secret_hash(HF_KEPT)) == "hf_M…"
    assert preview_for(line, secret_hash("something else")) is None


def test_one_finding_per_secret_and_place_most_specific_detector_first() -> None:
    hashed = secret_hash(HF_KEPT)
    place = Origin(2, "output", 1)
    hits = [
        Hit(NB, place, "Base64 High Entropy String", hashed, None, "detect-secrets"),
        Hit(NB, place, "Hugging Face Token", hashed, "hf_M…", "mlgate"),
        Hit(NB, Origin(2, "output", 7), "Hugging Face Token", hashed, "hf_M…", "mlgate"),
        Hit(NB, Origin(3, "output", 1), "Hugging Face Token", hashed, "hf_M…", "mlgate"),
    ]
    first, second = merge_hits(hits)
    assert (first.rule_id, first.cell, first.line, first.tool) == (
        "Hugging Face Token",
        2,
        1,
        "mlgate",
    )
    assert first.also_reported_by == ("detect-secrets:Base64 High Entropy String",)
    assert first.fingerprint == fingerprint("mlgate", "Hugging Face Token", NB, hashed)
    assert "hashed" not in first.properties  # a SHA-1 of a short password can be cracked
    assert second.cell == 3


# --- the gate over fixture repos (real detect-secrets, once per repo) ------------------------


@pytest.fixture(scope="session")
def plain_result(tmp_path_factory: pytest.TempPathFactory) -> GateResult:
    """Not a git repository: .gitignore does not apply, every file is scanned."""
    return run_gate(build_repo(tmp_path_factory.mktemp("plain")))


@pytest.fixture(scope="session")
def git_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """`mlgate run REPO sast secrets` as a user runs it, every report format written."""
    root = build_repo(tmp_path_factory.mktemp("gitrepo"))
    git_init(root)
    out = tmp_path_factory.mktemp("reports")
    scratch = tmp_path_factory.mktemp("tmpdir")
    formats = [a for f in ("json", "sarif", "markdown", "junit", "gitlab") for a in ("--format", f)]
    done = run_cli(
        [
            "run",
            str(root),
            "sast",
            "secrets",
            *formats,
            "--output",
            str(out),
            "--verbose",
            "--no-cache",
        ],
        env={"TMPDIR": str(scratch), "MLGATE_CACHE_DIR": str(scratch / "cache")},
    )
    report = json.loads((out / "mlgate.json").read_text(encoding="utf-8"))
    texts = {p.name: p.read_text(encoding="utf-8") for p in out.iterdir() if p.is_file()}
    texts |= {"stdout": done.stdout, "stderr": done.stderr}
    leftovers = [p.name for p in scratch.iterdir() if p.name.startswith("mlgate-")]
    return {"done": done, "report": report, "texts": texts, "leftovers": leftovers}


def gate_entry(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(g for g in report["gates"] if g["name"] == name)


def git_findings(git_run: dict[str, Any], path: str, rule: str) -> list[dict[str, Any]]:
    findings = git_run["report"]["findings"]
    return [
        f for f in findings if f["gate"] == "secrets" and f["path"] == path and f["rule_id"] == rule
    ]


def test_detect_secrets_finds_a_key_outside_git(plain_result: GateResult) -> None:
    assert not plain_result.errors, plain_result.errors
    [aws] = by_rule(plain_result, "src/config.py", "AWS Access Key")
    assert (aws.line, aws.cell, aws.tool, aws.severity.value) == (3, None, "mlgate", "critical")
    assert aws.also_reported_by == ("detect-secrets:AWS Access Key",)  # one finding, two tools
    assert aws.properties["preview"] == "AKIA…"


def test_detect_secrets_finds_a_key_in_a_git_repo(git_run: dict[str, Any]) -> None:
    assert git_run["done"].returncode == 1, git_run["texts"]["stderr"]
    assert not gate_entry(git_run["report"], "secrets")["errors"]
    [aws] = git_findings(git_run, "src/config.py", "AWS Access Key")
    assert (aws["line"], aws["severity"]) == (3, "critical")
    assert aws["also_reported_by"] == ["detect-secrets:AWS Access Key"]


def test_bandit_password_messages_are_redacted_in_sast(git_run: dict[str, Any]) -> None:
    findings = git_run["report"]["findings"]
    [b105] = [f for f in findings if f["gate"] == "sast" and f["rule_id"] == "B105"]
    assert (b105["path"], b105["line"]) == ("src/config.py", 4)
    assert b105["message"] == "Possible hardcoded password: 'hf_T…'"  # pragma: allowlist secret
    [token] = git_findings(git_run, "src/config.py", "Hugging Face Token")
    assert token["line"] == 4


def test_git_ignored_files_are_not_scanned(
    plain_result: GateResult, git_run: dict[str, Any]
) -> None:
    assert by_rule(plain_result, ".env", "Hugging Face Token")  # no git: scanned
    assert not [f for f in git_run["report"]["findings"] if f["path"] == ".env"]


def test_notebook_output_secret_maps_to_cell_and_output_line(plain_result: GateResult) -> None:
    [token] = by_rule(plain_result, NB, "Hugging Face Token")  # text/plain and html: one finding
    assert (token.cell, token.line, token.properties["notebook_part"]) == (2, 2, "output")
    assert token.severity.value == "high" and token.properties["preview"] == "hf_Z…"
    assert "output of cell 2" in token.message
    [aws] = by_rule(plain_result, NB, "AWS Access Key")  # detect-secrets and mlgate in outputs
    assert (aws.cell, aws.line) == (2, 3)
    assert aws.also_reported_by == ("detect-secrets:AWS Access Key",)


def test_notebook_source_secret_maps_to_cell_and_line(plain_result: GateResult) -> None:
    [wandb] = by_rule(plain_result, NB, "Weights & Biases API Key")
    assert (wandb.cell, wandb.line, wandb.properties["notebook_part"]) == (1, 2, "source")


def test_secret_on_a_100kb_minified_line(plain_result: GateResult) -> None:
    [key] = by_rule(plain_result, "static/app.min.js", "OpenAI Project API Key")
    assert (key.line, key.properties["preview"]) == (2, "sk-p…")


def test_invalid_notebook_is_scanned_as_a_plain_file(plain_result: GateResult) -> None:
    [token] = by_rule(plain_result, "notebooks/broken.ipynb", "Databricks Token")
    assert (token.line, token.cell) == (1, None)
    # detect-secrets reads it too (a run of its own: the repository's run starts before
    # the notebooks are read)
    [keyword] = by_rule(plain_result, "notebooks/broken.ipynb", "Secret Keyword")
    assert (keyword.line, keyword.tool) == (2, "detect-secrets")
    assert any("broken.ipynb" in n and "plain file" in n for n in plain_result.notes)


def test_binary_files_are_skipped(plain_result: GateResult) -> None:
    assert not [f for f in plain_result.findings if f.path == "data/blob.bin"]
    assert "1 binary file(s) not scanned" in plain_result.notes


def test_secret_values_appear_in_no_output(
    plain_result: GateResult, git_run: dict[str, Any]
) -> None:
    gate_text = json.dumps([f.to_dict() for f in plain_result.findings])
    gate_text += "\n".join([*plain_result.notes, *plain_result.errors])
    outputs = {**git_run["texts"], "gate": gate_text}
    assert set(outputs) >= {"mlgate.json", "mlgate.sarif", "stdout", "stderr"}
    for name, text in outputs.items():
        for secret in SECRETS:
            assert secret not in text, f"{secret[:4]}… leaked into {name}"
            assert secret[4:] not in text, f"the tail of {secret[:4]}… leaked into {name}"


def test_temporary_notebook_texts_are_removed(git_run: dict[str, Any]) -> None:
    assert git_run["leftovers"] == []


def test_mlgate_yml_excludes_and_size_limit(tmp_path: Path) -> None:
    write(tmp_path, "app.py", f"TOKEN = '{HF_KEPT}'\n")
    write(tmp_path, "vendor/lib.py", f"TOKEN = '{HF_EXCLUDED}'\n")
    write(tmp_path, "fixtures/sample.txt", f"token: {HF_EXCLUDED}\n")
    write(tmp_path, "dumps/big.txt", "x" * 2000 + f"\n{HF_TOO_LARGE}\n")
    write(
        tmp_path,
        ".mlgate.yml",
        "exclude: ['vendor/*']\nsecrets:\n  exclude: ['fixtures/*']\n  max_file_bytes: 1500\n",
    )
    scratch = tmp_path.parent / f"{tmp_path.name}-cache"
    done = run_cli(
        ["run", str(tmp_path), "secrets", "--format", "json", "--no-cache"],
        env={"MLGATE_CACHE_DIR": str(scratch)},
    )
    report = json.loads(done.stdout)
    paths = {f["path"] for f in report["findings"]}
    assert paths == {"app.py"}, paths
    notes = gate_entry(report, "secrets")["notes"]
    assert any("dumps/big.txt" in n and "max_file_bytes" in n for n in notes), notes
    for secret in (HF_KEPT, HF_EXCLUDED, HF_TOO_LARGE):
        assert secret not in done.stdout + done.stderr


def test_secrets_gate_is_registered_with_a_policy_section() -> None:
    gate = GATES["secrets"]
    assert {"exclude", "max_file_bytes", "disable_plugins"} <= set(gate.options_schema)
    options = load_policy("default", None).settings("secrets").options
    # the pack no longer restates it: the effective value is the gate's declared default
    assert {**default_options(gate), **options}["max_file_bytes"] == 5_000_000


# --- precision: provider formats, placeholders, digests, media, entropy, verification -------


def github_token(prefix: str, body30: str) -> str:
    """A token in GitHub's classic format with a correct CRC32/base62 checksum (fake body)."""
    return prefix + body30 + base62(zlib.crc32(body30.encode()), 6)


GH_BODY = fake("Xk7Qm2Rt9Lp4Wz", "8Nc3Vb6Hy1Jd5Fs0")


@pytest.mark.parametrize("prefix", ["ghp_", "gho_", "ghu_", "ghs_", "ghr_"])
def test_github_tokens_need_a_valid_checksum(prefix: str) -> None:
    token = github_token(prefix, GH_BODY)
    [hit] = pattern_hits("f", f"GITHUB_TOKEN={token}\n")
    assert hit.secret_type.startswith("GitHub") and hit.preview == prefix + "…"
    broken = token[:-1] + ("A" if token[-1] != "A" else "B")  # one character off: no checksum
    assert list(pattern_hits("f", f"GITHUB_TOKEN={broken}\n")) == []


def test_github_fine_grained_pat_format() -> None:
    pat = fake(
        "github_pat_",
        "11ABCDEFG0abcdefghijkl",
        "_",
        "Qw3Er5Ty7Ui9Op1As3Df5Gh7Jk9Lz1Xc3Vb5Nm7Qw9Er1Ty3Ui5Op7As9Df",
    )
    [hit] = pattern_hits("f", f"token: {pat}\n")
    assert hit.secret_type == "GitHub Fine-Grained Personal Access Token"
    assert list(pattern_hits("f", "token: github_pat_" + "short_one" + "\n")) == []


@pytest.mark.parametrize(
    "text",
    [
        fake("ACCA", "ACGTTGCAACGTGGTA"),  # a DNA read, not a key id
        fake("AKIA", "Q7XK2M4PLD9RZB3N"),  # 9 is not base32: impossible key id
        fake("hf_", "Zq8LmVt3RbXw9KpNc2HyTf6GdJs4QeUaBo"),  # HF tokens have letters only
        fake("hf_", "YOURHUGGINGFACETOKENHEREabcdefghij"),
        fake("hf_", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
        "OPENAI_API_KEY=sk-lf-...",
        fake("LANGFUSE_SECRET_KEY=sk-lf-", "1234abcd-12ab-34cd-56ef-1234567890ab"),
        fake("key = 'sk-proj-", "YOUR_OPENAI_API_KEY_GOES_HERE_PLEASE_REPLACE'"),
        fake("key = 'sk-", "<your-openai-key-here-0123456789abcdefghijklmno>'"),
        fake("wandb commit: ", WANDB_KEY),  # a git SHA in a wandb run summary
    ],
)
def test_placeholders_and_impossible_formats_are_not_secrets(text: str) -> None:
    assert list(pattern_hits("f", text)) == []


@pytest.mark.parametrize(
    ("secret_type", "value", "path", "line", "kept"),
    [
        ("AWS Access Key", fake("ACCA", "ACGTACGTTTGGCCAA"), "seqs.fa", "ACCA...", False),
        ("AWS Access Key", AWS_KEY, "cfg.py", f"k = '{AWS_KEY}'", True),
        ("Secret Keyword", "YOUR_API_KEY", "cfg.py", "api_key = 'YOUR_API_KEY'", False),
        ("Secret Keyword", "changeme", "cfg.py", "password = 'changeme'", False),
        ("Secret Keyword", "<your-token>", "README.md", "token: <your-token>", False),
        # a lower-case word after a keyword is a name (mlgate's own self-scan hit these)
        ("Secret Keyword", "tools", "spec.py", '    "secrets": "tools",', False),
        ("Secret Keyword", "detect-secrets", "lock.py", '"detect-secrets": "detect-secrets",', False),
        ("Secret Keyword", "`version`", "README.md", "detect-secrets: `version`, `results`", False),
        ("Secret Keyword", "s3cr3t-Pa55", "cfg.py", "password = 's3cr3t-Pa55'", True),
        ("Secret Keyword", "hunter2", "cfg.py", "password = 'hunter2'", True),
        ("Hex High Entropy String", "d41d8cd98f00b204e9800998ecf8427e", "data.dvc",
         "- md5: d41d8cd98f00b204e9800998ecf8427e", False),
        ("Hex High Entropy String", "9f86d081884c7d659a2feaa0c55ad015", "poetry.lock",
         'files = [{file = "x.whl", hash = "9f86d081884c7d659a2feaa0c55ad015"}]', False),
        ("Base64 High Entropy String", "sha256:9f86d081884c7d659a2feaa0", "requirements.txt",
         "torch==2.1.0 --hash=sha256:9f86d081884c7d659a2feaa0", False),
        ("Hex High Entropy String", "4ed0e0a8b8c2d53f8e5b8b0e3c0f4b1a2c3d4e5f", "manifest.json",
         '"signature": "4ed0e0a8b8c2d53f8e5b8b0e3c0f4b1a2c3d4e5f",', False),
        ("Hex High Entropy String", "4ed0e0a8b8c2d53f8e5b8b0e3c0f4b1a2c3d4e5f", "out.txt",
         "commit 4ed0e0a8b8c2d53f8e5b8b0e3c0f4b1a2c3d4e5f", False),
        ("Basic Auth Credentials", "foobar", "tests/test_mongo.py",
         '"mongo://hyperopt:foobar@127.0.0.1:27017/db/jobs",', False),  # hyperopt 0.2.7
        ("Basic Auth Credentials", "s3cr3t", "cfg.py",
         'DB = "postgres://app:s3cr3t@localhost/db"', False),
        ("Basic Auth Credentials", "s3cr3t", "cfg.py",
         'DB = "postgres://app:s3cr3t@db.internal.example.com/db"', True),
        ("Basic Auth Credentials", "s3cr3t", "cfg.py",
         'DB = "postgres://app:s3cr3t@localhost.evil.com/db"', True),
        ("Hex High Entropy String", "8f3a9c2e7b1d4f6a0c5e9b3d7a1f4c8e", "settings.py",
         'API_SECRET = "8f3a9c2e7b1d4f6a0c5e9b3d7a1f4c8e"', True),
    ],
)  # fmt: skip
def test_detect_secrets_reports_are_filtered_precisely(
    secret_type: str, value: str, path: str, line: str, kept: bool
) -> None:
    assert secrets_gate.plausible(secret_type, value, path, line) is kept


def test_rich_media_outputs_are_not_read() -> None:
    png = "iVBORw0KGgoAAAANSUhEUgAKIAQ7XK2M4PLDZRZB3NAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
    outputs = [
        {"output_type": "display_data", "data": {"image/png": png, "text/plain": "<Figure>"}},
        {
            "output_type": "display_data",
            "data": {"text/html": f'<img src="data:image/png;base64,{png}"/>'},
        },
        {"output_type": "stream", "name": "stdout", "text": f"key {AWS_IN_OUTPUT}\n"},
    ]
    cells = [{"cell_type": "code", "metadata": {}, "outputs": outputs, "source": "plot()"}]
    nb = json.loads(notebook(cells))
    read = read_notebook_data(nb)
    _, other = notebook_texts(read)
    assert png not in other.text and "data:…" in other.text
    hits = list(pattern_hits(NB, other.text, other))
    assert [(h.secret_type, h.origin.part) for h in hits] == [("AWS Access Key", "output")]


def read_notebook_data(data: dict[str, Any]) -> Any:
    from mlgate.notebooks import Notebook, _cells

    return Notebook(NB, tuple(_cells(data)))


def test_verification_requests_are_built_per_provider() -> None:
    hf = secrets_gate.verification_request("Hugging Face Token", HF_KEPT)
    assert hf is not None and hf.full_url == "https://huggingface.co/api/whoami-v2"
    assert hf.get_method() == "GET" and hf.get_header("Authorization") == f"Bearer {HF_KEPT}"
    gh = secrets_gate.verification_request("GitHub Personal Access Token", "ghp_x")
    assert gh is not None and gh.full_url == "https://api.github.com/rate_limit"
    assert gh.get_header("Authorization") == "token ghp_x"
    oa = secrets_gate.verification_request("OpenAI Project API Key", OPENAI_KEY)
    assert oa is not None and oa.full_url == "https://api.openai.com/v1/models"
    wb = secrets_gate.verification_request("Weights & Biases API Key", WANDB_KEY)
    assert wb is not None and wb.get_method() == "POST" and wb.full_url.startswith("https://")
    assert secrets_gate.verification_request("AWS Access Key", AWS_KEY) is None  # needs a pair


def test_verify_uses_the_opener_and_grades_findings() -> None:
    seen: list[str] = []
    codes = {HF_KEPT: 200, HF_IN_CODE: 401}

    def opener(request: Any, timeout: float) -> int:
        seen.append(request.full_url)
        token = request.get_header("Authorization").split()[-1]
        if token not in codes:
            raise OSError("unreachable")
        return codes[token]

    hits = [
        *pattern_hits("a.py", f"t = '{HF_KEPT}'\n"),
        *pattern_hits("b.py", f"t = '{HF_IN_CODE}'\n"),
        *pattern_hits("c.py", f"t = '{HF_EXCLUDED}'\n"),
        *pattern_hits("d.py", f"t = '{HF_KEPT}'\n"),  # same secret: asked once
        *pattern_hits("e.py", f"k = '{AWS_KEY}'\n"),  # no endpoint: not asked
    ]
    statuses = secrets_gate.verify_hits(hits, opener)
    assert len(seen) == 3
    by_path = {f.path: f for f in merge_hits(hits, statuses)}
    assert by_path["a.py"].severity.value == "critical"
    assert by_path["a.py"].properties["verified"] == "active"
    assert by_path["b.py"].severity.value == "low"
    assert by_path["c.py"].properties["verified"] == "unknown"
    assert "verified" not in by_path["e.py"].properties


@pytest.fixture(scope="module")
def noisy_result(tmp_path_factory: pytest.TempPathFactory) -> GateResult:
    """Real detect-secrets over digests, placeholders and one entropy string."""
    root = tmp_path_factory.mktemp("noisy")
    write(root, "data/raw.csv.dvc", "outs:\n- md5: 3b5d5c3712955042212316173ccf37be\n  size: 1\n")
    write(
        root,
        "requirements.txt",
        "numpy==1.26.4 \\\n    --hash=sha256:2e8f4d1a7c9b3e6f5a2d8c1b4e7f0a3d6c9b2e5f8a1d4c7b0e3f6a9d2c5b8e1f\n",
    )
    write(root, "src/settings.py", 'API_KEY = "YOUR_API_KEY"\nPASSWORD = "changeme"\n')
    write(root, "src/vault.py", 'SIGNING = "8f3a9c2e7b1d4f6a0c5e9b3d7a1f4c8e5d2b9a6f"\n')
    return run_gate(root)


def test_digests_and_placeholders_are_not_findings_real_tool(noisy_result: GateResult) -> None:
    assert not noisy_result.errors, noisy_result.errors
    paths = {f.path for f in noisy_result.findings}
    assert paths == {"src/vault.py"}, [(f.path, f.rule_id) for f in noisy_result.findings]
    assert any("not reported (placeholders" in n for n in noisy_result.notes)


def test_entropy_hits_are_low_and_do_not_say_rotate(noisy_result: GateResult) -> None:
    [entropy] = [f for f in noisy_result.findings if f.path == "src/vault.py"]
    assert entropy.rule_id == "Hex High Entropy String"
    assert entropy.severity.value == "low"
    assert "rotate" not in entropy.message and "heuristic" in entropy.message


def test_verification_is_off_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a verification request was sent without verify: true")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    write(tmp_path, "a.py", f"t = '{HF_KEPT}'\n")
    [token] = run_gate(tmp_path).findings
    assert token.rule_id == "Hugging Face Token" and "verified" not in token.properties


def test_files_are_sorted_by_size_and_head(tmp_path: Path) -> None:
    """`sort_files` (one open, fstat and read per file): text, binary (a NUL in the first
    bytes), too large, unreadable (a dangling link, a fifo: opened without blocking)."""
    from mlgate.gates.secrets import SNIFF_BYTES, Plan, sort_files

    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "b.bin").write_bytes(b"MZ\0\1")
    (tmp_path / "late.bin").write_bytes(b"x" * SNIFF_BYTES + b"\0")  # NUL after the head
    (tmp_path / "big.txt").write_text("y" * (4 * SNIFF_BYTES))
    (tmp_path / "gone.py").symlink_to(tmp_path / "missing.py")
    os.mkfifo(tmp_path / "pipe")
    plan = Plan(tmp_path / "tmp")
    sort_files(
        plan, tmp_path, ["a.py", "b.bin", "late.bin", "big.txt", "gone.py", "pipe"], 3 * SNIFF_BYTES
    )
    assert plan.plain == ["a.py", "late.bin"]
    assert plan.binary == 1
    assert plan.too_large == ["big.txt"]
    assert plan.unreadable == ["gone.py", "pipe"]
