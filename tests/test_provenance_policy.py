"""Policy over provenance: model files need a model card, tracked datasets need a contract."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

from .conftest import run_cli, write

POLICY = """extends: default
gates:
  models:
    options: {require_model_card: true}
  data:
    options: {require_contract: true, run_tests: false}
"""


def _repo(root: Path) -> Path:
    write(root, ".mlgate/policy.yml", POLICY)
    (root / "models").mkdir()
    (root / "models" / "clf.pkl").write_bytes(pickle.dumps({"weights": [1.0, 2.0]}, protocol=4))
    write(root, "data/train.csv", "a,b\n1,2\n3,4\n")
    write(root, "data/README.md", "what the data is\n")
    write(
        root, "raw/events.parquet.dvc", "outs:\n- md5: " + "b" * 32 + "\n  path: events.parquet\n"
    )
    return root


def _run(root: Path) -> tuple[int, dict[str, Any]]:
    done = run_cli(["run", str(root), "models", "data", "--no-cache", "--format", "json"])
    assert done.stdout.strip(), done.stderr
    return done.returncode, json.loads(done.stdout)


def _rules(report: dict[str, Any], rule: str) -> list[str]:
    return sorted(f["path"] for f in report["findings"] if f["rule_id"] == rule)


def test_uncarded_models_and_uncontracted_data_are_findings(tmp_path: Path) -> None:
    code, report = _run(_repo(tmp_path))
    assert code == 1
    assert _rules(report, "model-file-without-card") == ["models/clf.pkl"]
    assert _rules(report, "dataset-without-contract") == ["data/train.csv", "raw/events.parquet"]


def test_a_card_and_a_contract_satisfy_the_policy(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    write(root, "MODEL_CARD.md", "# Model card\n\nThe classifier is `models/clf.pkl`.\n")
    write(
        root,
        "contracts/train.schema.yml",
        "schema_type: dataframe\nversion: 0.24.0\ncolumns:\n"
        "  a: {dtype: int64, nullable: false}\n  b: {dtype: int64, nullable: false}\n",
    )
    (root / "raw" / "events.parquet.dvc").unlink()
    write(
        root,
        ".mlgate.yml",
        "data:\n  datasets:\n    - {path: data/train.csv, contract: contracts/train.schema.yml}\n",
    )
    code, report = _run(root)
    assert _rules(report, "model-file-without-card") == []
    assert _rules(report, "dataset-without-contract") == []
    assert code == 0, report["decision"]
