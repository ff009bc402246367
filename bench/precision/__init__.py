"""Precision suite: mlgate on real ML code, scored against hand-triaged labels."""
