"""The safe counterparts of what the fail cases do: nothing here runs data as code."""

import json
from pathlib import Path

import torch
import yaml


def load_weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=True)


def load_config(path: Path) -> dict[str, object]:
    with path.open(encoding="utf-8") as handle:
        return dict(yaml.safe_load(handle))


def load_metrics(path: Path) -> dict[str, float]:
    return dict(json.loads(path.read_text(encoding="utf-8")))
