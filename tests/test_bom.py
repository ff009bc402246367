"""The ML-BOM: CycloneDX 1.6 valid, and its hashes and counts match the files they describe."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from mlgate.bom import BomError, purl_of, validate_bom

from .conftest import EXAMPLES, run_cli, write

CHURN = EXAMPLES / "churn-model"
INSECURE = EXAMPLES / "insecure-ml"


def _component(bom: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in bom["components"] if c["name"] == name)


def _props(component: dict[str, Any]) -> dict[str, str]:
    return {p["name"]: p["value"] for p in component.get("properties", [])}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _hash(component: dict[str, Any], alg: str = "SHA-256") -> str | None:
    return next((h["content"] for h in component.get("hashes", []) if h["alg"] == alg), None)


@pytest.fixture(scope="session")
def churn_bom(churn_production: Path) -> dict[str, Any]:
    bom: dict[str, Any] = json.loads(
        (churn_production / "mlgate.cdx.json").read_text(encoding="utf-8")
    )
    return bom


def test_churn_bom_is_valid_cyclonedx_1_6(churn_production: Path) -> None:
    text = (churn_production / "mlgate.cdx.json").read_text(encoding="utf-8")
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    bom = json.loads(text)
    assert bom["bomFormat"] == "CycloneDX" and bom["specVersion"] == "1.6"


def test_churn_model_component_matches_the_file_and_the_card(churn_bom: dict[str, Any]) -> None:
    model = _component(churn_bom, "model/model.json")
    assert model["type"] == "machine-learning-model"
    path = CHURN / "model" / "model.json"
    assert _hash(model) == _sha256(path)
    props = _props(model)
    assert props["mlgate:size"] == str(path.stat().st_size)
    assert props["mlgate:format"] == "json"
    assert props["mlgate:verdict"] == "clean (no finding)"
    card = model["modelCard"]
    assert "retention team" in card["considerations"]["useCases"][0]
    assert "three-feature logistic regression" in card["considerations"]["technicalLimitations"][0]
    metrics = {m["type"]: m["value"] for m in card["quantitativeAnalysis"]["performanceMetrics"]}
    written = json.loads((CHURN / "metrics.json").read_text())
    assert float(metrics["accuracy"]) == written["accuracy"]
    assert float(metrics["eval.log_loss"]) == written["eval"]["log_loss"]
    assert {"ref": "data:data/churn.csv"} in card["modelParameters"]["datasets"]


def test_churn_dataset_component_matches_the_file(churn_bom: dict[str, Any]) -> None:
    dataset = _component(churn_bom, "data/churn.csv")
    assert dataset["type"] == "data"
    path = CHURN / "data" / "churn.csv"
    assert _hash(dataset) == _sha256(path)
    with path.open(newline="", encoding="utf-8") as handle:
        rows = sum(1 for _ in csv.reader(handle)) - 1  # the header
    props = _props(dataset)
    assert props["mlgate:rows"] == str(rows) == "200"
    assert props["mlgate:contract"] == "contracts/churn.schema.yml"
    assert props["mlgate:drift"].startswith("vs data/churn_reference.csv: 0 of ")
    reference = _component(churn_bom, "data/churn_reference.csv")
    assert _hash(reference) == _sha256(CHURN / "data" / "churn_reference.csv")


def test_churn_bom_lists_dependencies_tools_and_decision(churn_bom: dict[str, Any]) -> None:
    purls = {c["purl"] for c in churn_bom["components"] if c["type"] == "library"}
    assert purls == {
        "pkg:pypi/numpy@1.26.4",
        "pkg:pypi/pandas@2.2.3",
        "pkg:pypi/scikit-learn@1.5.2",
        "pkg:pypi/pyyaml@6.0.2",
    }
    meta = churn_bom["metadata"]
    facts = {p["name"]: p["value"] for p in meta["properties"]}
    assert facts["mlgate:decision"] == "pass" and facts["mlgate:env"] == "production"
    tools = {t["name"] for t in meta["tools"]["components"]}
    assert {"mlgate", "bandit", "semgrep", "pandera"} <= tools


def test_receipt_names_the_bom_digest(churn_production: Path) -> None:
    receipt = json.loads((churn_production / "receipt.json").read_text())
    assert receipt["bom"] == {
        "file": "mlgate.cdx.json",
        "digest": "sha256:" + _sha256(churn_production / "mlgate.cdx.json"),
    }


def test_bom_command_records_vulnerabilities_and_model_verdicts(
    tmp_path: Path, advisory_db: Path
) -> None:
    out = tmp_path / "insecure.cdx.json"
    done = run_cli(["bom", str(INSECURE), "--advisory-db", str(advisory_db), "-q", "-o", str(out)])
    assert done.returncode == 0, done.stderr
    bom = json.loads(out.read_text())
    validate_bom(bom)
    refs = {c["bom-ref"] for c in bom["components"]}
    vulns = bom["vulnerabilities"]
    assert vulns and all(a["ref"] in refs for v in vulns for a in v["affects"])
    assert any(v["id"] == "PYSEC-2021-142" for v in vulns)  # PyYAML 5.3.1 full_load
    pickle = _component(bom, "models/classifier.pkl")
    assert _props(pickle)["mlgate:verdict"].endswith("critical: pickle-dangerous-global")
    assert _hash(pickle) == _sha256(INSECURE / "models" / "classifier.pkl")
    safe = _component(bom, "models/weights.safetensors")
    assert _props(safe)["mlgate:format"] == "safetensors"
    assert _props(safe)["mlgate:verdict"] == "clean (no finding)"


def test_dvc_pointer_is_listed_by_its_content_hash_without_the_data(tmp_path: Path) -> None:
    md5 = "a" * 32
    write(
        tmp_path, "data/big.parquet.dvc", f"outs:\n- md5: {md5}\n  size: 123\n  path: big.parquet\n"
    )
    done = run_cli(["bom", str(tmp_path), "-q"])
    assert done.returncode == 0, done.stderr
    bom = json.loads(done.stdout)
    validate_bom(bom)
    data = _component(bom, "data/big.parquet")
    assert data["type"] == "data"
    assert _hash(data, "MD5") == md5 and _hash(data) is None  # not downloaded, not hashed
    assert _props(data)["mlgate:dvc-pointer"] == "data/big.parquet.dvc"


def test_an_invalid_bom_is_refused() -> None:
    bom = {"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1}
    validate_bom(bom)
    bad = {**bom, "components": [{"type": "data", "name": "x", "modelCard": {"bogus": 1}}]}
    with pytest.raises(BomError, match=r"not valid CycloneDX 1\.6"):
        validate_bom(bad)


def _library_rendering(bom: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """`bom` read back by cyclonedx-python-lib and rendered again by it (fields the library
    does not model, `modelCard` and component `data`, left out of both)."""
    from cyclonedx.model.bom import Bom
    from cyclonedx.output.json import JsonV1Dot6

    plain = json.loads(json.dumps(bom))
    for component in plain.get("components", []):
        component.pop("modelCard", None)
        component.pop("data", None)
    library_bom = Bom.from_json(plain)  # type: ignore[attr-defined]
    rendered: dict[str, Any] = json.loads(JsonV1Dot6(library_bom).output_as_string())
    return plain, rendered


def _assert_as_the_library_writes_it(bom: dict[str, Any]) -> None:
    plain, rendered = _library_rendering(bom)
    assert plain == rendered  # the same fields, values and order as the library's output


def test_boms_are_what_cyclonedx_python_lib_writes(
    churn_bom: dict[str, Any], tmp_path: Path, advisory_db: Path
) -> None:
    _assert_as_the_library_writes_it(churn_bom)
    assert any("data" in c for c in churn_bom["components"])  # the fields the library lacks
    assert any("modelCard" in c for c in churn_bom["components"])
    out = tmp_path / "insecure.cdx.json"
    argv = ["bom", str(INSECURE), "--advisory-db", str(advisory_db), "-q", "-o", str(out)]
    assert run_cli(argv).returncode == 0
    insecure = json.loads(out.read_text(encoding="utf-8"))
    assert insecure["vulnerabilities"] and len(insecure["components"]) > 5
    _assert_as_the_library_writes_it(insecure)
    write(
        tmp_path / "dvc", "data/big.parquet.dvc", f"outs:\n- md5: {'b' * 32}\n  path: big.parquet\n"
    )
    write(tmp_path / "dvc", "data/small.csv", "a,b\n1,2\n")
    write(tmp_path / "dvc", "data/small.csv.dvc", f"outs:\n- md5: {'c' * 32}\n  path: small.csv\n")
    for tree in (tmp_path / "dvc", tmp_path / "empty"):
        tree.mkdir(exist_ok=True)
        done = run_cli(["bom", str(tree), "-q"])
        assert done.returncode == 0, done.stderr
        _assert_as_the_library_writes_it(json.loads(done.stdout))


@pytest.mark.parametrize(
    ("name", "version"),
    [
        ("numpy", "1.26.4"),
        ("Foo_Bar.baz", "1.0+cpu"),
        ("torch", "2.3.1+cu121"),
        ("pkg", "1!2.0rc1"),
        ("we ird", "2.0 rc/x?y#z@1"),
        ("transformers", None),
        ("ünïcode", "1.0"),
        ("a:b", "1:2"),
        ("x", "a%b"),
        ("Django_REST", "3.0.post1"),
    ],
)
def test_purls_are_what_packageurl_python_writes(name: str, version: str | None) -> None:
    from packageurl import PackageURL

    expected = PackageURL(type="pypi", name=name.lower().replace("_", "-"), version=version)
    assert purl_of(name, version) == expected.to_string()
