"""The precision suite's scoring and its committed labels (no download: that is the bench's)."""

from __future__ import annotations

import json
from pathlib import Path

from bench.precision.precision import HERE, read_labels, score, table


def test_labels_are_complete_and_name_corpus_sdists() -> None:
    labels = read_labels(HERE / "labels.csv")
    corpus = json.loads((HERE / "corpus.json").read_text(encoding="utf-8"))["sdists"]
    names = {entry["spec"].split("==")[0] for entry in corpus}
    assert len(labels) >= 50
    assert {key[0] for key in labels} <= names
    assert {gate for gate, _, _ in labels.values()} >= {"sast", "secrets", "deps"}
    assert all(len(why) >= 10 for _, _, why in labels.values())


def test_score_counts_precision_recall_and_unlabelled(tmp_path: Path) -> None:
    csv = tmp_path / "labels.csv"
    csv.write_text(
        "# comment\nsdist,path,line,rule,gate,verdict,why\n"
        "a,x.py,1,R1,sast,true,real pickle load of a download\n"
        "a,x.py,2,R1,sast,false,round trip in a test\n"
        "a,y.py,3,R2,sast,true,eval of a config value\n"
        "a,k.txt,4,S,secrets,false,a sha256 digest\n",
        encoding="utf-8",
    )
    labels = read_labels(csv)
    found = {
        ("a", "x.py", 1, "R1"): {"gate": "sast"},
        ("a", "x.py", 2, "R1"): {"gate": "sast"},
        ("a", "z.py", 9, "R3"): {"gate": "sast"},
    }
    scores = score(found, labels)
    assert scores["sast"]["true_positives"] == 1 and scores["sast"]["false_positives"] == 1
    assert scores["sast"]["unlabelled"] == 1 and scores["sast"]["precision"] == 0.5
    assert scores["sast"]["recall"] == 0.5  # y.py:3 was true and is no longer reported
    assert "secrets" not in scores  # no secrets finding, no true secret: nothing to score
    assert "| sast | 3 | 1 | 1 | 1 | 0.5 | 0.5 |" in table(scores)


def test_held_out_sdists_are_scored_apart_and_secrets_are_counted() -> None:
    from bench.precision.precision import _sets, census_line, medium_plus, secrets_census

    corpus = json.loads((HERE / "corpus.json").read_text(encoding="utf-8"))["sdists"]
    held = {e["spec"].split("==")[0] for e in corpus if e.get("held_out")}
    assert len(held) >= 2 and all(len(e["sha256"]) == 64 for e in corpus)
    sets = _sets(corpus)
    assert sets["held-out set"] == held and not sets["tuning set"] & held
    report = {
        "findings": [
            {"gate": "secrets", "severity": "low", "path": "a.ipynb", "line": 3, "rule_id": "H"},
            {"gate": "secrets", "severity": "high", "path": "b.py", "line": 1, "rule_id": "K"},
            {"gate": "sast", "severity": "medium", "path": "c.py", "line": 2, "rule_id": "R"},
            {"gate": "sast", "severity": "high", "path": "d.py", "line": 5, "rule_id": "R",
             "waived_by": "waiver"},
        ],
        "gates": [
            {"name": "secrets", "files_scanned": 40},
            {"name": "sast", "properties": {"notebooks": 2}},
        ],
    }  # fmt: skip
    assert set(medium_plus("x", report)) == {("x", "b.py", 1, "K"), ("x", "c.py", 2, "R")}
    census = secrets_census(report)
    assert census_line(census) == (
        "critical 0, high 1, medium 0, low 1, info 0, files scanned 40, notebooks 2"
    )
