"""Fuzzing (hypothesis) of the configuration readers (issue 12, classes 6 and 7): the policy
and `.mlgate.yml` loaders, and `merge`'s json report reader (test_fuzz.py fuzzes the
notebook and pickle readers). Whatever the input, the outcome is a value or
an MlgateError (a one-line error with a documented exit code), never another exception
(which the CLI would report as an internal error, exit 3)."""

from __future__ import annotations

import contextlib
import json
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlgate.config import load_config
from mlgate.errors import MlgateError
from mlgate.gates import GATES
from mlgate.merge import load_reports, merge_results
from mlgate.policy import decide, load_policy
from tests.hostile.test_inputs_and_receipts import report

FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
)

# Keys the loaders know, so generated documents reach past the first schema check.
KEYS = [
    "extends", "defaults", "gates", "environments", "waivers", "baseline", "production",
    "fail_on", "warn_on", "on_error", "timeout", "enabled", "required", "max_findings",
    "options", "rule", "path", "reason", "expires", "owner", "fingerprint", "exclude",
    "policy", "datasets", "contract", "reference", "metrics_files", "mlflow_run",
    "semgrep_rules", "advisory_db", "files", "install", "level", "python", *GATES,
]  # fmt: skip
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["high", "none", "default", "strict", "2026-02-30", "2030-01-01", "*", ".."]),
    st.sampled_from(["/etc/passwd", "../x", "data/**.csv", "git:main", "git:main:a.json", "~"]),
    st.text(max_size=20),
    st.dates().map(str),
)
DOCUMENTS = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=8)), inner, max_size=5),
    ),
    max_leaves=25,
)
YAML_TEXT = st.one_of(
    DOCUMENTS.map(lambda d: yaml.safe_dump(d, allow_unicode=True)),
    st.text(max_size=300),
    st.lists(st.sampled_from(["a: &x [1, *x]", "k: 1", "k: 2", "- [", "? [a]", ": :", "!!python/object:os.system", "&a", "*a", "x: .nan", "  - 1", "\t", "e: 2026-02-30"]), max_size=8).map("\n".join),
)  # fmt: skip


def _attempt(call: Any) -> None:
    with contextlib.suppress(MlgateError):
        call()


@FUZZ
@given(text=YAML_TEXT)
def test_policy_loader_never_crashes(text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        path = root / ".mlgate" / "policy.yml"
        path.parent.mkdir()
        path.write_text(text, encoding="utf-8")
        _attempt(lambda: load_policy(path, "production", root=root))
        _attempt(lambda: load_policy(path, None, root=root))


@FUZZ
@given(text=YAML_TEXT)
def test_config_loader_never_crashes(text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / ".mlgate.yml").write_text(text, encoding="utf-8")
        _attempt(lambda: load_config(root))


FIELDS = [
    "gates", "findings", "commit", "seconds", "notes", "started_at", "mlgate_version",
    "schema_version", "root", "git", "clean",
]  # fmt: skip
JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=10)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)


def _first_is_object(items: Any) -> bool:
    """A mutation above may have replaced the list with any JSON value (e.g. `[null]`)."""
    return isinstance(items, list) and bool(items) and isinstance(items[0], dict)


@st.composite
def reports(draw: st.DrawFn) -> Any:
    data = report()
    for _ in range(draw(st.integers(0, 3))):
        where = draw(st.sampled_from(["top", "gate", "finding"]))
        value = draw(JSON_VALUES)
        if where == "top":
            data[draw(st.sampled_from(FIELDS))] = value
        elif where == "gate" and _first_is_object(data.get("gates")):
            key = draw(st.sampled_from(["name", "status", "tools", "errors", "seconds", "skipped"]))
            data["gates"][0][key] = value
        elif _first_is_object(data.get("findings")):
            key = draw(st.sampled_from(["severity", "line", "gate", "properties", "fingerprint"]))
            data["findings"][0][key] = value
    return data


@FUZZ
@given(data=st.one_of(reports(), JSON_VALUES))
def test_merge_report_reader_never_crashes(data: Any) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "mlgate.json"
        path.write_text(json.dumps(data), encoding="utf-8")

        def merge() -> None:
            merged = merge_results(load_reports([path]))
            decide(load_policy("default", "production"), merged.results)

        _attempt(merge)
