"""The CVSS v3.0/v3.1 base score of a vector string, and its qualitative rating.

OSV records carry CVSS vectors, not scores; the offline advisory database rates each advisory
from its vector (the specification's formulas, with its Roundup).
"""

from __future__ import annotations

import math

_CVSS3 = {
    "AV": {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2},
    "AC": {"L": 0.77, "H": 0.44},
    "PR": {"N": 0.85, "L": 0.62, "H": 0.27},
    "UI": {"N": 0.85, "R": 0.62},
    "S": {"U": 0.0, "C": 0.0},
    "C": {"H": 0.56, "L": 0.22, "N": 0.0},
    "I": {"H": 0.56, "L": 0.22, "N": 0.0},
    "A": {"H": 0.56, "L": 0.22, "N": 0.0},
}
_PR_CHANGED = {"N": 0.85, "L": 0.68, "H": 0.5}  # privileges required when S:C


def cvss3_base_score(vector: str) -> float | None:
    """The CVSS v3.0/v3.1 base score of a vector string, None when it is not a valid vector."""
    metrics = _cvss3_metrics(vector)
    if metrics is None:
        return None
    changed = metrics["S"] == "C"
    pr = (_PR_CHANGED if changed else _CVSS3["PR"])[metrics["PR"]]
    c, i, a = (_CVSS3[m][metrics[m]] for m in ("C", "I", "A"))
    iss = 1 - (1 - c) * (1 - i) * (1 - a)
    impact = 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02) ** 15 if changed else 6.42 * iss
    if impact <= 0:
        return 0.0
    exploitability = 8.22 * pr * math.prod(_CVSS3[m][metrics[m]] for m in ("AV", "AC", "UI"))
    total = impact + exploitability
    return _roundup(min(1.08 * total if changed else total, 10.0))


def severity_rating(score: float) -> str | None:
    """CVSS qualitative rating; None for a score of 0 (CVSS "none")."""
    if score >= 9.0:
        return "critical"
    if score >= 7.0:
        return "high"
    if score >= 4.0:
        return "medium"
    return "low" if score > 0 else None


def _cvss3_metrics(vector: str) -> dict[str, str] | None:
    head, _, rest = vector.strip().partition("/")
    if head not in ("CVSS:3.0", "CVSS:3.1"):
        return None
    metrics: dict[str, str] = {}
    for part in rest.split("/"):
        key, _, value = part.partition(":")
        metrics[key] = value
    if any(metrics.get(key) not in table for key, table in _CVSS3.items()):
        return None
    return metrics


def _roundup(value: float) -> float:
    """CVSS v3.1 Roundup: the smallest one-decimal number >= value, robust to float noise."""
    scaled = round(value * 100_000)
    if scaled % 10_000 == 0:
        return scaled / 100_000.0
    return (math.floor(scaled / 10_000) + 1) / 10.0
