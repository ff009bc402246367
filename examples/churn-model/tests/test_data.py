"""Checks of the training data that a schema cannot express (run by `pytest -m data`)."""

import csv
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[1] / "data" / "churn.csv"


def _rows():
    with DATA.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.data
def test_both_classes_are_present_in_a_plausible_ratio():
    labels = [int(row["churned"]) for row in _rows()]
    rate = sum(labels) / len(labels)
    assert 0.05 <= rate <= 0.5, rate


@pytest.mark.data
def test_new_customers_churn_more_than_long_standing_ones():
    rows = _rows()
    new = [int(r["churned"]) for r in rows if int(r["tenure_months"]) <= 12]
    old = [int(r["churned"]) for r in rows if int(r["tenure_months"]) > 36]
    assert sum(new) / len(new) > sum(old) / len(old)
