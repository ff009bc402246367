"""Train a logistic regression on the churn CSV and save its coefficients as JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import yaml
from sklearn.linear_model import LogisticRegression


def load_params(path: Path) -> dict:
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def train(csv_path: Path, params: dict) -> dict:
    frame = pd.read_csv(csv_path)
    features = params["features"]
    model = LogisticRegression(C=params["C"], max_iter=params["max_iter"])
    model.fit(frame[features], frame[params["target"]])
    return {
        "features": features,
        "coef": model.coef_[0].tolist(),
        "intercept": float(model.intercept_[0]),
    }


def main(argv: list[str]) -> int:
    csv_path, out_path = Path(argv[0]), Path(argv[1])
    params = load_params(Path("params.yaml"))
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(train(csv_path, params), indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
