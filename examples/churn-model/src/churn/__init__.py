"""Churn prediction: a logistic regression stored as plain JSON."""
