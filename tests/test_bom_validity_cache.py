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


def test_valid_documents_are_remembered_without_serial_and_timestamp(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path)
    validate_bom(_bom(), cache)
    assert cache.misses == 1 and cache.hits == 0
    validate_bom(_bom("2026-11-28T01:02:03.000001+00:00"), cache)  # another run, same tree
    assert cache.hits == 1


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
