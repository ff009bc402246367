"""Typed gate options: one frozen dataclass holds each option's default and schema."""

from __future__ import annotations

import dataclasses
import json

import pytest

from mlgate.gates import GATES
from mlgate.gates.base import options_schema_of, parse_options
from mlgate.gates.modelfiles import ModelFilesOptions
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
    [("sast", SastOptions), ("secrets", SecretsOptions), ("models", ModelFilesOptions)],
)
def test_the_schema_is_generated_from_the_dataclass(gate: str, options: type[object]) -> None:
    generated = options_schema_of(options)
    assert GATES[gate].options_schema == generated
    assert list(generated) == [f.name for f in dataclasses.fields(options)]  # type: ignore[arg-type]
    published = json.loads(schema_path("config").read_text(encoding="utf-8"))
    section = published["properties"][gate]["properties"]
    assert {k: v for k, v in section.items() if k in generated} == generated
