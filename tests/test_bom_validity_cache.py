"""A warm run does not load the CycloneDX validator (1-2 s) for a BOM it validated before:
only the serial number and timestamp may differ, and they must have their usual shape."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from mlgate import bom
from mlgate.bom import BomError, validate_bom
from mlgate.cache import ResultCache


def _bom(stamp: str = "2026-11-27T23:18:04.357148+00:00", **extra: Any) -> dict[str, Any]:
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "version": 1,
        "serialNumber": f"urn:uuid:{uuid.uuid4()}",
        "metadata": {"timestamp": stamp},
        **extra,
    }


def test_valid_documents_are_remembered_without_serial_and_timestamp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = ResultCache(tmp_path)
    validate_bom(_bom(), cache)
    assert cache.misses == 1 and cache.hits == 0
    monkeypatch.setattr(bom, "_VALID_SHAPES", set())  # another process: the cache tells
    validate_bom(_bom("2026-11-28T01:02:03.000001+00:00"), cache)  # another run, same tree
    assert cache.hits == 1


def _with_properties(*values: Any, name: str = "mlgate:verdict") -> dict[str, Any]:
    component = {
        "bom-ref": "model:m.pt",
        "name": "m.pt",
        "type": "machine-learning-model",
        "properties": [{"name": name, "value": value} for value in values],
    }
    return _bom(
        metadata={
            "timestamp": "2026-11-27T23:18:04.357148+00:00",
            "properties": [{"name": "mlgate:decision", "value": values[0]}],
        },
        components=[component],
    )


def _validator_counted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The documents the validator is given, from now on (it still validates them)."""
    seen: list[str] = []
    real = bom.load_validator()

    class Counted:
        def validate_str(self, text: str) -> object:
            seen.append(text)
            return real.validate_str(text)

    monkeypatch.setattr(bom, "load_validator", Counted)
    return seen


def test_a_shape_is_validated_once_whatever_its_property_values(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The BOM validated while the last gate runs (`validate_ahead`) differs from the run's
    own in property values (the verdicts, the decision): validating one validates both, in
    this process (`--no-cache` too)."""
    monkeypatch.setattr(bom, "_VALID_SHAPES", set())
    seen = _validator_counted(monkeypatch)
    validate_bom(_with_properties("scan incomplete: still running"))
    assert len(seen) == 1 and '"value": ""' in seen[0]  # the shape was validated
    validate_bom(_with_properties("2 finding(s), worst high: pickle-global"))
    assert len(seen) == 1
    validate_bom(_with_properties("clean", name="mlgate:other"))  # another name: validated
    assert len(seen) == 2
    with pytest.raises(BomError):  # a value that is not a string is kept, and rejected
        validate_bom(_with_properties(3))


def test_a_shape_the_schema_rejects_leaves_the_document_to_be_validated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two components that differ only in a property value are one twice in the shape,
    which `uniqueItems` rejects: the document itself is valid, and it is not remembered."""
    monkeypatch.setattr(bom, "_VALID_SHAPES", set())
    seen = _validator_counted(monkeypatch)
    doc = _with_properties("a")
    doc["components"].append({**doc["components"][0], "properties": [{"name": "n", "value": "b"}]})
    doc["components"][0]["properties"] = [{"name": "n", "value": "c"}]
    validate_bom(doc)
    validate_bom(doc)
    assert len(seen) == 4  # shape, then document, each time


def test_any_string_is_a_valid_property_value_wherever_the_schema_has_properties() -> None:
    """What `_shape` relies on, read from the schema the validator uses: each member named
    `properties` of any object it defines is a list of `property`, and a property's value is
    any string."""
    import cyclonedx

    schema_file = Path(cyclonedx.__file__).parent / "schema/_res/bom-1.6.SNAPSHOT.schema.json"
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    members: list[Any] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            declared = node.get("properties")
            if isinstance(declared, dict) and "properties" in declared:
                members.append(declared["properties"])
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(schema)
    assert len(members) >= 20
    for member in members:
        kept = {k: v for k, v in member.items() if k not in ("title", "description")}
        assert kept == {"type": "array", "items": {"$ref": "#/definitions/property"}}, member
    value = schema["definitions"]["property"]["properties"]["value"]
    assert {k: v for k, v in value.items() if k not in ("title", "description")} == {
        "type": "string"
    }


def test_anything_else_that_differs_is_validated(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path)
    validate_bom(_bom(), cache)
    bad = _bom(components=[{"type": "data", "name": "x", "modelCard": {"bogus": 1}}])
    with pytest.raises(BomError, match=r"not valid CycloneDX 1\.6"):
        validate_bom(bad, cache)
    with pytest.raises(BomError):  # not remembered as valid either
        validate_bom(bad, cache)


@pytest.mark.parametrize(
    "changes",
    [{"serialNumber": "urn:uuid:not-a-uuid"}, {"metadata": {"timestamp": "yesterday"}}],
)
def test_unusual_serial_or_timestamp_is_always_validated(
    tmp_path: Path, changes: dict[str, Any]
) -> None:
    cache = ResultCache(tmp_path)
    validate_bom(_bom(), cache)
    with pytest.raises(BomError):
        validate_bom({**_bom(), **changes}, cache)


URLS = [
    "https://osv.dev/vulnerability/PYSEC-2021-142",
    "https://github.com/advisories/GHSA-8q59-q68h-6hv4?x=1&y=%20#frag/ment",
    "http://localhost:8080/a/b;c=d/@e",
    "git+ssh://host.example/repo.git",
    "https://example.com/path with space",
    "https://exa mple.com/",
    "https://example.com/%zz",
    "https://example.com/a\\b",
    "https://example.com/<x>",
    "https://[::1]/x",
    "https://user@example.com/",
    "http://\u00e9xample.com/\u00e9",
    "relative/path",
    "",
    "://nothing",
    "1http://x",
]


def test_plain_urls_are_iri_references_and_the_rest_goes_to_the_grammar() -> None:
    from rfc3987_syntax import is_valid_syntax  # type: ignore[import-untyped]

    from mlgate.bom import _SIMPLE_IRI

    rng = random.Random(7)
    samples = list(URLS)
    for url in URLS[:4]:
        for _ in range(50):
            at = rng.randrange(len(url) + 1)
            samples.append(url[:at] + rng.choice(' <>"{}|\\^`%#?/:@[]\u00e9') + url[at:])
    fast = [s for s in samples if _SIMPLE_IRI.fullmatch(s)]
    assert len(fast) >= 20  # the shortcut is taken for ordinary URLs
    for text in fast:  # and only for what the full grammar accepts
        assert is_valid_syntax("iri_reference", text), text
        assert is_valid_syntax("iri", text), text


PROBE = """
import json, sys
from mlgate.bom import validate_bom, BomError
for bom in json.loads(sys.argv[1]):
    try:
        validate_bom(bom)
        print("valid", "rfc3987_syntax" in sys.modules)
    except BomError as exc:
        print("invalid", "rfc3987_syntax" in sys.modules)
"""


def _probe(*urls: str) -> list[str]:
    boms = [
        _bom(
            components=[
                {
                    "type": "library",
                    "name": "x",
                    "externalReferences": [{"type": "website", "url": url}],
                }
            ]
        )
        for url in urls
    ]
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(boms)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_the_iri_grammar_is_loaded_only_for_unusual_urls() -> None:
    assert _probe("https://osv.dev/vulnerability/PYSEC-2021-142") == ["valid False"]
    # the grammar decides the rest: a space is not allowed, an IRI's letters are
    assert _probe("https://example.com/a b", "https://example.com/\u00e9t\u00e9") == [
        "invalid True",
        "valid True",
    ]


def test_the_key_names_the_installed_library_release() -> None:
    """The remembered validity is per cyclonedx-python-lib release (its schemas decide):
    the version read without package metadata is the installed distribution's."""
    from importlib.metadata import version

    from mlgate.bom import _cyclonedx_version

    assert _cyclonedx_version() == version("cyclonedx-python-lib")


def test_the_validator_is_warmed_with_a_valid_bom_of_mlgates_shape() -> None:
    """`load_validator` validates a small document before returning, so that the run's own
    BOM is not the first (reading the schemas, resolving definitions): that document must
    be valid, and hold the parts a run's BOM has."""
    from mlgate.bom import _WARM_UP, load_validator

    assert load_validator().validate_str(json.dumps(_WARM_UP)) is None
    kinds = {c["type"] for c in _WARM_UP["components"]}
    assert kinds == {"machine-learning-model", "library"}
