"""examples/insecure-ml end to end: malicious model files, the unsafe notebook, a leaked token.

One real run of `mlgate run examples/insecure-ml models sast secrets` (module fixture): the
malicious pickle and PyTorch zip are critical findings naming their globals (and the zip
member), the notebook's unsafe load is found in its cell, the token printed in a cell output
is reported without its value appearing anywhere, the benign safetensors file produces
nothing, and the payload's marker file is never created. The model files are committed; the
script that crafted them must reproduce them byte for byte.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ..conftest import EXAMPLES, run_cli

EXAMPLE = EXAMPLES / "insecure-ml"
MODELS = EXAMPLE / "models"
MODEL_FILES = ("classifier.pkl", "checkpoint.pt", "weights.safetensors")
MARKER = Path("/tmp/mlgate-pwned-marker")
TOKEN = re.compile(r"hf_[A-Za-z0-9]{20,}")


def _notebook_token() -> str:
    """The fake token as the notebook holds it: in a cell output, not in the code."""
    notebook = json.loads((EXAMPLE / "explore.ipynb").read_text(encoding="utf-8"))
    texts = [
        "".join(output.get("text", []))
        for cell in notebook["cells"]
        for output in cell.get("outputs", [])
    ]
    found: set[str] = {match for text in texts for match in TOKEN.findall(text)}
    assert len(found) == 1, found
    return found.pop()


@pytest.fixture(scope="module")
def example_run() -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    MARKER.unlink(missing_ok=True)
    # --no-cache: scan the files for real, even if an earlier test cached their results.
    args = ["run", str(EXAMPLE), "models", "sast", "secrets", "--format", "json", "--no-cache"]
    done = run_cli(args)
    assert done.stdout.strip(), done.stderr
    return done, json.loads(done.stdout)


def _findings(report: dict[str, Any], gate: str) -> list[dict[str, Any]]:
    return [f for f in report["findings"] if f["gate"] == gate]


def test_run_blocks(example_run: tuple[subprocess.CompletedProcess[str], dict[str, Any]]) -> None:
    done, report = example_run
    assert done.returncode == 1, done.stderr
    statuses = {g["name"]: g["status"] for g in report["gates"]}
    assert statuses == {"models": "fail", "sast": "fail", "secrets": "fail"}, report["gates"]


def test_malicious_pickle_is_critical(
    example_run: tuple[subprocess.CompletedProcess[str], dict[str, Any]],
) -> None:
    _, report = example_run
    found = [f for f in _findings(report, "models") if f["path"] == "models/classifier.pkl"]
    assert [(f["rule_id"], f["severity"]) for f in found] == [
        ("pickle-dangerous-global", "critical")
    ]
    (finding,) = found
    assert finding["properties"]["globals"] == ["os.system"]
    assert finding["properties"]["member"] is None
    assert "os.system" in finding["message"]


def test_malicious_torch_zip_names_member_and_global(
    example_run: tuple[subprocess.CompletedProcess[str], dict[str, Any]],
) -> None:
    _, report = example_run
    found = [f for f in _findings(report, "models") if f["path"] == "models/checkpoint.pt"]
    assert [(f["rule_id"], f["severity"]) for f in found] == [
        ("pickle-dangerous-global", "critical")
    ]
    (finding,) = found
    assert finding["properties"]["member"] == "checkpoint/data.pkl"
    assert finding["properties"]["globals"] == ["posix.system"]
    assert "checkpoint/data.pkl" in finding["message"]
    assert "posix.system" in finding["message"]


def test_benign_safetensors_is_scanned_and_silent(
    example_run: tuple[subprocess.CompletedProcess[str], dict[str, Any]],
) -> None:
    _, report = example_run
    models = next(g for g in report["gates"] if g["name"] == "models")
    assert models["properties"]["formats"].get("safetensors") == 1, models
    assert not [f for f in report["findings"] if f["path"] == "models/weights.safetensors"]


def test_notebook_unsafe_load_has_its_cell(
    example_run: tuple[subprocess.CompletedProcess[str], dict[str, Any]],
) -> None:
    _, report = example_run
    found = {
        (f["rule_id"], f["severity"], f["cell"], f["line"])
        for f in _findings(report, "sast")
        if f["path"] == "explore.ipynb"
    }
    assert ("ml-torch-load-unsafe", "high", 2, 3) in found, found


def test_token_in_output_is_reported_but_never_shown(
    example_run: tuple[subprocess.CompletedProcess[str], dict[str, Any]],
) -> None:
    done, report = example_run
    token = _notebook_token()
    found = [f for f in _findings(report, "secrets") if f["path"] == "explore.ipynb"]
    assert [(f["rule_id"], f["cell"]) for f in found] == [("Hugging Face Token", 3)], found
    assert token not in done.stdout
    assert token not in done.stderr
    assert token[4:] not in done.stdout + done.stderr  # not even past a redacted prefix


def test_payload_never_ran(
    example_run: tuple[subprocess.CompletedProcess[str], dict[str, Any]],
) -> None:
    assert example_run[1]["findings"]
    assert not MARKER.exists()


def test_generator_reproduces_the_committed_files(tmp_path: Path) -> None:
    """`python make_models.py` (no argument) writes next to itself: run a copy elsewhere."""
    script = tmp_path / "make_models.py"
    script.write_bytes((MODELS / "make_models.py").read_bytes())
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    written = sorted(p.name for p in tmp_path.iterdir() if p != script)
    assert written == sorted(MODEL_FILES)
    for name in MODEL_FILES:
        assert (tmp_path / name).read_bytes() == (MODELS / name).read_bytes(), name
    assert not MARKER.exists()
