"""Evaluate the JSON model on a labelled CSV and write DVC-style metrics (metrics.json)."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pandas as pd

from churn.predict import load_model, predict_proba


def roc_auc(labels: list[int], scores: list[float]) -> float:
    """Probability that a random churner scores above a random non-churner (ties count half)."""
    positives = [s for s, y in zip(scores, labels) if y == 1]
    negatives = [s for s, y in zip(scores, labels) if y == 0]
    wins = sum((p > n) + 0.5 * (p == n) for p in positives for n in negatives)
    return wins / (len(positives) * len(negatives))


def evaluate(model: dict, frame: pd.DataFrame, target: str = "churned") -> dict:
    probs = predict_proba(model, frame)
    labels = frame[target].astype(int).tolist()
    eps = 1e-12
    log_loss = -sum(
        y * math.log(max(p, eps)) + (1 - y) * math.log(max(1 - p, eps)) for p, y in zip(probs, labels)
    ) / len(labels)
    accuracy = sum((p >= 0.5) == (y == 1) for p, y in zip(probs, labels)) / len(labels)
    return {
        "accuracy": round(accuracy, 4),
        "roc_auc": round(roc_auc(labels, probs), 4),
        "eval": {"log_loss": round(log_loss, 4), "rows": len(labels)},
    }


def main(argv: list[str]) -> int:
    model = load_model(Path(argv[0]))
    metrics = evaluate(model, pd.read_csv(argv[1]))
    Path(argv[2]).write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
