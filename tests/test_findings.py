from __future__ import annotations

import pytest

from mlgate.findings import Finding, Severity, assign_fingerprints, fingerprint, normalise_code


def test_severity_parse_maps_tool_vocabularies() -> None:
    assert Severity.parse("ERROR") is Severity.HIGH
    assert Severity.parse("MODERATE") is Severity.MEDIUM
    assert Severity.parse("weird", Severity.LOW) is Severity.LOW
    with pytest.raises(ValueError):
        Severity.parse("weird")
    assert Severity.CRITICAL.at_least(Severity.HIGH)
    assert not Severity.LOW.at_least(Severity.MEDIUM)


def test_fingerprint_ignores_whitespace_but_not_code() -> None:
    a = fingerprint("bandit", "B301", "a.py", "x = pickle.loads(b)")
    assert a == fingerprint("bandit", "B301", "a.py", "x  =   pickle.loads(b)  ")
    assert a != fingerprint("bandit", "B301", "a.py", "y = pickle.loads(b)")
    assert a != fingerprint("bandit", "B301", "b.py", "x = pickle.loads(b)")
    assert normalise_code("  a\n\t b ") == "a b"


def test_identical_lines_get_distinct_stable_fingerprints() -> None:
    def make(line: int) -> Finding:
        return Finding("sast", "bandit", "B307", Severity.MEDIUM, "eval", path="a.py", line=line)

    first = assign_fingerprints([make(3), make(9)], {0: "eval(x)", 1: "eval(x)"})
    shifted = assign_fingerprints([make(13), make(19)], {0: "eval(x)", 1: "eval(x)"})
    assert first[0].fingerprint != first[1].fingerprint
    assert [f.fingerprint for f in first] == [f.fingerprint for f in shifted]


def test_round_trip_through_dict() -> None:
    item = Finding(
        "deps",
        "osv-database",
        "PYSEC-1",
        Severity.HIGH,
        "bad",
        path="r.txt",
        line=2,
        also_reported_by=("x",),
        properties={"package": "p"},
    )
    back = Finding.from_dict(item.to_dict())
    assert back == item
    assert item.to_dict()["severity"] == "high"
