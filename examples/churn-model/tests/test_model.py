"""Checks of the trained model (run by `pytest -m model`)."""

from pathlib import Path

import pandas as pd
import pytest
import yaml

from churn.predict import load_model, predict_proba

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.model
def test_model_uses_the_configured_features():
    model = load_model(ROOT / "model" / "model.json")
    params = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
    assert model["features"] == params["features"]
    assert len(model["coef"]) == len(model["features"])


@pytest.mark.model
def test_longer_tenure_lowers_the_churn_probability():
    model = load_model(ROOT / "model" / "model.json")
    frame = pd.DataFrame(
        {"tenure_months": [2, 60], "monthly_charges": [70.0, 70.0], "support_calls": [3, 3]}
    )
    short, long = predict_proba(model, frame)
    assert short > long

