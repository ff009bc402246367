"""Score rows with the JSON model: no pickle, nothing executed on load."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pandas as pd


def load_model(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def predict_proba(model: dict, frame: pd.DataFrame) -> list[float]:
    scores = frame[model["features"]].to_numpy() @ model["coef"] + model["intercept"]
    return [1.0 / (1.0 + math.exp(-s)) for s in scores]


def main(argv: list[str]) -> int:
    model = load_model(Path(argv[0]))
    frame = pd.read_csv(argv[1])
    for prob in predict_proba(model, frame):
        print(f"{prob:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
