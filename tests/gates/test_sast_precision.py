"""Issue 13's last sast false-positive classes on real ML code (bench/precision): a Hub
download of the model the caller names in a library, `torch.load` of an object's own state
inside `__setstate__`, and MD5 used to derive a random seed. The code below is adapted from
skorch 1.0.0 (BSD-3-Clause) and dowhy 0.11.1 (MIT)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlgate.findings import Finding, Severity
from mlgate.gates import GATES, GateContext
from mlgate.gates.sast import PROJECT_OPTION, _in_project, _semgrep_finding
from mlgate.repo import open_repo

from ..conftest import write

LIBRARY_CODE = """\
import hashlib
import tempfile

import torch
from transformers import AutoConfig, AutoTokenizer

DEFAULT_MODEL = "google/flan-t5-small"


def load_config(name):
    return AutoConfig.from_pretrained(name)


def load_default():
    return AutoConfig.from_pretrained(DEFAULT_MODEL)


class Tokenizer:
    def __init__(self, tokenizer, train=False):
        self.tokenizer = tokenizer
        self.train = train

    def fit(self, X):
        self.fast_tokenizer_ = AutoTokenizer.from_pretrained(self.tokenizer)
        return self


class Net:
    def __setstate__(self, state):
        load_kwargs = {"map_location": "cpu"}
        with tempfile.SpooledTemporaryFile() as f:
            f.write(state["__cuda_dependent_attributes__"])
            f.seek(0)
            cuda_attrs = torch.load(f, **load_kwargs)
        state.update(cuda_attrs)
        self.__dict__.update(state)

    def load_params(self, f_params):
        return torch.load(f_params)


def seed_hash(*args):
    return int(hashlib.md5(str(args).encode("utf-8")).hexdigest(), 16) % (2**31)


def verify(path, expected):
    with open(path, "rb") as handle:
        return hashlib.md5(handle.read()).hexdigest() == expected
"""
PYPROJECT = '[build-system]\nrequires = ["setuptools"]\n\n[project]\nname = "lib"\nversion = "1"\n'


@pytest.fixture(scope="module")
def library_findings(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, int], Finding]:
    """One real bandit + semgrep run over a library (a build system, no lock file)."""
    root = tmp_path_factory.mktemp("library")
    write(root, "pyproject.toml", PYPROJECT)
    write(root, "lib/core.py", LIBRARY_CODE)
    repo = open_repo(root)
    gate = GATES["sast"]
    inputs = gate.inputs(repo, {})
    assert inputs.options[PROJECT_OPTION] == "library"
    result = gate.run(GateContext(repo, inputs, 300))
    assert not result.errors, result.errors
    assert result.properties["project"] == "library"
    return {(f.rule_id, f.line or 0): f for f in result.findings}


def _line(text: str) -> int:
    return next(i for i, line in enumerate(LIBRARY_CODE.splitlines(), 1) if text in line)


def test_download_of_the_callers_model_is_low_in_a_library(
    library_findings: dict[tuple[str, int], Finding],
) -> None:
    for text in ("AutoConfig.from_pretrained(name)", "from_pretrained(self.tokenizer)"):
        found = library_findings[("ml-hf-download-caller-chosen", _line(text))]
        assert found.severity is Severity.LOW, found
        assert found.properties["severity_outside_library"] == "medium"
        assert ("ml-hf-download-unpinned", _line(text)) not in library_findings
    # The library's own choice of model is still the library's to pin.
    own = library_findings[("ml-hf-download-unpinned", _line("from_pretrained(DEFAULT_MODEL)"))]
    assert own.severity is Severity.MEDIUM


def test_torch_load_of_the_state_being_unpickled_is_not_a_finding(
    library_findings: dict[tuple[str, int], Finding],
) -> None:
    assert not [k for k in library_findings if k[1] == _line("cuda_attrs = torch.load")]
    loaded = library_findings[("ml-torch-load-unsafe", _line("torch.load(f_params)"))]
    assert loaded.severity is Severity.HIGH


def test_md5_seed_is_not_a_finding_but_md5_checksum_is(
    library_findings: dict[tuple[str, int], Finding],
) -> None:
    assert not [k for k in library_findings if k[1] == _line("hashlib.md5(str(args)")]
    checksum = library_findings[("ml-weak-hash", _line("hashlib.md5(handle.read())"))]
    assert checksum.severity is Severity.HIGH
    # bandit's B324 is left to the rule (it supersedes it): no second finding, and none for
    # the seed.
    assert not [k for k in library_findings if k[0] == "B324"]


def _caller_chosen(severity: str = "medium") -> Finding:
    return _semgrep_finding(
        {
            "check_id": "policies.semgrep.rules.ml-hf-download-caller-chosen",
            "path": "lib/core.py",
            "start": {"line": 3, "col": 5},
            "end": {"line": 3, "col": 40},
            "extra": {
                "message": "download",
                "severity": "WARNING",
                "metadata": {"mlgate": {"severity": severity, "severity_in_library": "low"}},
            },
        }
    )


def test_severity_in_library_applies_only_in_a_library() -> None:
    finding = _caller_chosen()
    assert finding.properties["severity_in_library"] == "low"
    assert _in_project(finding, library=False) == finding
    lowered = _in_project(finding, library=True)
    assert lowered.severity is Severity.LOW
    assert lowered.properties["severity_outside_library"] == "medium"


@pytest.mark.parametrize(
    ("files", "kind"),
    [
        ({"pyproject.toml": PYPROJECT}, "library"),
        ({"pyproject.toml": PYPROJECT, "uv.lock": "version = 1\n"}, "locked"),
        ({"requirements.txt": "torch==2.3.1\n"}, "app"),
        ({"setup.py": "from setuptools import setup\nsetup()\n"}, "library"),
    ],
)
def test_sast_inputs_record_the_project_kind(
    tmp_path: Path, files: dict[str, str], kind: str
) -> None:
    for rel, text in files.items():
        write(tmp_path, rel, text)
    write(tmp_path, "a.py", "x = 1\n")
    repo = open_repo(tmp_path)
    assert GATES["sast"].inputs(repo, {}).options[PROJECT_OPTION] == kind
