"""The secrets gate: detect-secrets plus ML token patterns, notebook outputs, redaction."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from mlgate.findings import Finding, fingerprint
from mlgate.gates import GATES, GateContext, GateResult
from mlgate.gates.secrets import (
    Hit,
    Origin,
    merge_hits,
    pattern_hits,
    preview_for,
    redact,
    secret_hash,
)
from mlgate.policy import load_policy
from mlgate.repo import open_repo

from .conftest import git_init, run_cli, write


def fake(*parts: str) -> str:
    """Fake credentials are assembled at run time, so this file itself holds none."""
    return "".join(parts)


# Every value below is FAKE: pattern-valid, never issued.
AWS_KEY = fake("AKIA", "Q7XK2M4PLD9RZB3N")
AWS_IN_OUTPUT = fake("AKIA", "W5TC8NJ3HY6GV1QF")
HF_IN_OUTPUT = fake("hf_", "Zq8LmVt3RbXw9KpNc2HyTf6GdJs4QeUaBo")
HF_IGNORED = fake("hf_", "Pw7XcRt2LmQz9VbNk4HsJd8GfTy3UeAo1M")
HF_EXCLUDED = fake("hf_", "Kd9QwEr4TyUi2OpAs7DfGh3JkLz8XcVb6N")
HF_KEPT = fake("hf_", "Mn4BvCx7ZaSd2FgHj9KlQw3ErTy8UiOp5L")
HF_IN_CODE = fake("hf_", "Ty6UiOp2AsDf9GhJk3LzXc7VbNm4QwEr8T")
HF_TOO_LARGE = fake("hf_", "Rt5YuIo8PaSd3FgHj6KlZx2CvBn9MqWe4T")
OPENAI_KEY = fake("sk-proj-", "Ab3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY")
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
    outputs = [
        {
            "output_type": "stream",
            "name": "stdout",
            "text": ["loading\n", f"token: {HF_IN_OUTPUT}\n"],
        },
        {"output_type": "execute_result", "data": {"text/plain": f"'{AWS_IN_OUTPUT}'"}},
        {"output_type": "display_data", "data": {"text/html": f"<pre>{HF_IN_OUTPUT}</pre>"}},
    ]
    cells = [
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
    write(root, "notebooks/broken.ipynb", '{"cells": [ "' + DATABRICKS + '"')
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
        (fake("key = 'sk-", "Xy12AbCd", "EfGhIjKl", "MnOpQrSt'"), "OpenAI API Key"),
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
    assert (aws.line, aws.cell, aws.tool, aws.severity.value) == (
        3,
        None,
        "detect-secrets",
        "critical",
    )
    assert aws.properties["preview"] == "AKIA…"


def test_detect_secrets_finds_a_key_in_a_git_repo(git_run: dict[str, Any]) -> None:
    assert git_run["done"].returncode == 1, git_run["texts"]["stderr"]
    assert not gate_entry(git_run["report"], "secrets")["errors"]
    [aws] = git_findings(git_run, "src/config.py", "AWS Access Key")
    assert (aws["line"], aws["tool"], aws["severity"]) == (3, "detect-secrets", "critical")


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
    [aws] = by_rule(plain_result, NB, "AWS Access Key")  # found by detect-secrets in the outputs
    assert (aws.cell, aws.line, aws.tool) == (2, 3, "detect-secrets")


def test_notebook_source_secret_maps_to_cell_and_line(plain_result: GateResult) -> None:
    [wandb] = by_rule(plain_result, NB, "Weights & Biases API Key")
    assert (wandb.cell, wandb.line, wandb.properties["notebook_part"]) == (1, 2, "source")


def test_secret_on_a_100kb_minified_line(plain_result: GateResult) -> None:
    [key] = by_rule(plain_result, "static/app.min.js", "OpenAI Project API Key")
    assert (key.line, key.properties["preview"]) == (2, "sk-p…")


def test_invalid_notebook_is_scanned_as_a_plain_file(plain_result: GateResult) -> None:
    [token] = by_rule(plain_result, "notebooks/broken.ipynb", "Databricks Token")
    assert (token.line, token.cell) == (1, None)
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
    assert options["max_file_bytes"] == 5_000_000
