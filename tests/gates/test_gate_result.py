"""`GateResult.to_dict/from_dict`: the one shape the cache, the json report and merge share."""

from __future__ import annotations

import dataclasses
import json

from mlgate.findings import Finding, Severity
from mlgate.gates import GateResult

FINDING = Finding(
    gate="deps",
    tool="osv-database",
    rule_id="PYSEC-2021-142",
    severity=Severity.HIGH,
    message="pyyaml 5.3 is vulnerable",
    path="requirements.txt",
    line=1,
    fingerprint="abc",
    properties={"package": "pyyaml"},
)
RESULT = GateResult(
    "deps",
    findings=(FINDING,),
    errors=("pip-audit: timed out",),
    tools={"osv-database": "2024-07-11"},
    seconds=1.23456,
    files_scanned=2,
    notes=("a note",),
    properties={"project": "app"},
)


def test_a_result_survives_json_both_ways() -> None:
    data = json.loads(json.dumps(RESULT.to_dict()))
    back = GateResult.from_dict(data)
    assert back == dataclasses.replace(RESULT, seconds=1.235)
    assert back.findings[0].properties == {"package": "pyyaml"}


def test_the_report_form_counts_findings_given_apart() -> None:
    data = RESULT.to_dict(listed=False)
    assert data["findings"] == 1
    assert GateResult.from_dict(data, [FINDING]).findings == (FINDING,)
    assert GateResult.from_dict(data).findings == ()


def test_missing_keys_take_the_defaults() -> None:
    assert GateResult.from_dict({"name": "sast"}) == GateResult("sast")
