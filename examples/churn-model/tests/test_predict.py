from churn.predict import predict_proba
import pandas as pd


def test_probabilities_are_between_zero_and_one():
    model = {"features": ["a"], "coef": [0.5], "intercept": -1.0}
    probs = predict_proba(model, pd.DataFrame({"a": [0.0, 10.0]}))
    assert all(0.0 < p < 1.0 for p in probs)
