"""Typed gate options: one frozen dataclass holds each option's default and schema."""

from __future__ import annotations

import dataclasses
import json

import pytest

from mlgate.gates import GATES
from mlgate.gates.base import default_options, options_schema_of, parse_options
from mlgate.gates.data import DataOptions
from mlgate.gates.deps import DepsOptions
from mlgate.gates.modelfiles import ModelFilesOptions
from mlgate.gates.quality import DEFAULT_SECTIONS, ModelQualityOptions
from mlgate.gates.sast import BANDIT_DEFAULT_SKIP, SastOptions
from mlgate.gates.secrets import DEFAULT_MAX_FILE_BYTES, SecretsOptions
from mlgate.resources import schema_path


def test_defaults_live_in_the_dataclass() -> None:
    options = parse_options(SastOptions, {})
    assert options == SastOptions()
    assert options.bandit_skip == BANDIT_DEFAULT_SKIP and options.rule_pack is True


def test_merged_mapping_becomes_immutable_typed_options() -> None:
    options = parse_options(SastOptions, {"bandit_skip": ["B102"], "rule_pack": False, "x": 1})
    assert options.bandit_skip == ("B102",) and options.rule_pack is False
    assert options.prefer_rule_pack is True  # not given: the default
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.rule_pack = True  # type: ignore[misc]


def test_secrets_defaults_and_entropy_severity() -> None:
    assert SecretsOptions.of({}).max_file_bytes == DEFAULT_MAX_FILE_BYTES
    assert SecretsOptions.of({}).entropy_severity is None  # bare entropy stays low
    given = SecretsOptions.of({"exclude": ["*.csv"], "verify": True})
    assert given.exclude == ("*.csv",) and given.verify is True


@pytest.mark.parametrize(
    ("gate", "options"),
    [
        ("sast", SastOptions),
        ("secrets", SecretsOptions),
        ("models", ModelFilesOptions),
        ("data", DataOptions),
        ("model", ModelQualityOptions),
        ("deps", DepsOptions),
    ],
)
def test_the_schema_is_generated_from_the_dataclass(gate: str, options: type[object]) -> None:
    generated = options_schema_of(options)
    assert GATES[gate].options_schema == generated
    assert list(generated) == [f.name for f in dataclasses.fields(options)]  # type: ignore[arg-type]
    published = json.loads(schema_path("config").read_text(encoding="utf-8"))
    section = published["properties"][gate]["properties"]
    assert {k: v for k, v in section.items() if k in generated} == generated


def test_data_and_model_defaults_live_in_their_dataclasses() -> None:
    data = DataOptions.of({})
    assert (data.psi, data.ks_pvalue, data.psi_bins, data.max_categories) == (0.2, 0.01, 10, 50)
    assert data.contract_severity == data.drift_severity == "high"
    assert data.run_tests is True and data.require_contract is False and data.datasets == ()
    given = DataOptions.of({"datasets": [{"path": "d.csv"}], "psi": 0.3, "test_command": ["x"]})
    assert given.datasets == ({"path": "d.csv"},) and given.psi == 0.3
    assert given.test_command == ("x",)
    model = ModelQualityOptions.of({"latency_p95_ms": 50})
    assert model.model_card is False and model.model_card_sections == DEFAULT_SECTIONS
    assert model.budgets() == {"latency_p95_ms": 50}
    assert ModelQualityOptions.of({}).budgets() == {}


def test_deps_defaults_live_in_its_dataclass() -> None:
    deps = DepsOptions.of({})
    assert (deps.default_severity, deps.unpinned_severity) == ("high", "medium")
    assert deps.unaudited == "error" and deps.vulnerability_service == "pypi"
    assert deps.files is None and deps.advisory_db is None
    assert DepsOptions.of({"files": ["req/*.txt"]}).files == ("req/*.txt",)


def test_the_schema_carries_each_default_and_gives_it_back() -> None:
    assert GATES["data"].options_schema["psi"]["default"] == 0.2
    assert "default" not in GATES["model"].options_schema["baseline"]  # None: no default
    assert default_options(GATES["sast"])["bandit_skip"] == list(BANDIT_DEFAULT_SKIP)
    assert default_options(GATES["model"])["model_card"] is False


# Sections of the default pack that still restate defaults: models' (the model-file engine is
# being moved by another change; its pack section goes with it), and deps' (the pack says
# `unaudited: error` out loud, and tests/test_policy.py proves through it that `extends`
# inherits a gate's options).
STILL_RESTATED = {("default.yml", "models"), ("default.yml", "deps")}


def test_policy_packs_do_not_restate_a_typed_default() -> None:
    import yaml

    from mlgate.resources import policies_dir

    restated = []
    for pack in sorted(policies_dir().glob("*.yml")):
        doc = yaml.safe_load(pack.read_text(encoding="utf-8"))
        for gate, settings in (doc.get("gates") or {}).items():
            defaults = default_options(GATES[gate])
            for key, value in ((settings or {}).get("options") or {}).items():
                if key in defaults and defaults[key] == value:
                    restated.append((pack.name, gate, key))
    assert {(p, g) for p, g, _ in restated} <= STILL_RESTATED, restated
