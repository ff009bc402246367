"""The ML-BOM: one CycloneDX 1.6 document of what a run looked at and what it decided.

Written as plain JSON data from a Report and the checkout it describes:
- every file the models gate reads (its own selection, plus `model_files`) as a
  `machine-learning-model` component: SHA-256, size, format, the scanner's verdict, and a
  `modelCard` from the repository's model card (intended use, training data, limitations)
  with the metric values the model gate read;
- every dataset the data gate validated, its drift reference, and every `.dvc` pointer, as
  `data` components: SHA-256 of the file (a pointer's DVC content hash when the data is not
  checked out; nothing is downloaded), row count, contract, drift summary;
- the dependencies the deps gate reads as `library` components with purls, and its
  findings as CycloneDX `vulnerabilities`;
- every tool and version that ran, and the decision (metadata properties `mlgate:*`).

The document is what cyclonedx-python-lib renders for the same BOM (its field names, and its
order: components, properties, hashes, tools, vulnerabilities and dependencies sorted as the
library sorts them; `tests/test_bom.py` renders each test BOM again through the library and
compares), plus `modelCard` and component `data`, which the library does not model. Building
it directly keeps the library's model and serializer (about 0.2 s of imports, 40% of a warm
run) off every run; the whole document is validated against the CycloneDX 1.6 JSON schema
the library ships (`validate_bom`, once per distinct document) before it is written.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import json
import operator
import re
import urllib.parse
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, cast

from mlgate import __version__
from mlgate.cache import ResultCache, StatIndex, make_key, tree_stamps
from mlgate.config import RepoConfig
from mlgate.deps import sources
from mlgate.deps.sources import read_dependency_file
from mlgate.errors import MlgateError
from mlgate.findings import Finding
from mlgate.gates import GATES, GateResult
from mlgate.gates import data as data_gate
from mlgate.gates import deps as deps_gate
from mlgate.gates import modelfiles as files_gate
from mlgate.gates import quality as quality_gate
from mlgate.gates.data import dvc_outputs
from mlgate.modelcards import ModelCard, card_for, find_cards
from mlgate.policy import Policy
from mlgate.redact import redact_value
from mlgate.repo import Repo
from mlgate.report.base import Report
from mlgate.runner import gate_options

if TYPE_CHECKING:
    from cyclonedx.validation.json import JsonStrictValidator

# The gates whose facts the ML-BOM records (model files, datasets, dependencies, metrics).
BOM_GATES = (files_gate.NAME, data_gate.NAME, deps_gate.NAME, quality_gate.NAME)

CHUNK = 1 << 20
SNIFF_BYTES = 8192
MAX_SECTION_CHARS = 4000
CARD_SECTIONS = {
    "intended use": "useCases",
    "limitations": "technicalLimitations",
    "users": "users",
}
SCHEMA_URL = "http://cyclonedx.org/schema/bom-1.6.schema.json"

Component = dict[str, Any]  # a CycloneDX component, as JSON data


class BomError(MlgateError):
    """The ML-BOM could not be built or is not valid CycloneDX (exit 3)."""

    exit_code = 3


def build_bom(
    report: Report,
    repo: Repo,
    config: RepoConfig,
    cache: ResultCache | None = None,
    stats: StatIndex | None = None,
) -> dict[str, Any]:
    """The ML-BOM of a run over `repo` (the checkout whose files are hashed), validated
    (`cache`: remembers which documents were valid, see `validate_bom`; `stats`: the run's
    stat index, whose stamps key the cached model inventory)."""
    data = _assemble(report, repo, config, cache, stats)
    _let_go(report.policy, config, repo)
    validate_bom(data, cache)
    return data


def validate_ahead(
    report: Report,
    repo: Repo,
    config: RepoConfig,
    cache: ResultCache | None = None,
    stats: StatIndex | None = None,
) -> None:
    """Validate, while the last gate's scanner runs, the ML-BOM of a report that lacks only
    that gate's result (a stand-in for it): the run's own BOM, built once it is in, differs
    from this one in property values only (its verdict, the decision) unless that gate adds
    components, vulnerabilities or model card metrics, or names other tools than its
    stand-in (the deps gate over an advisory database), and then its shape is known valid
    (`validate_bom`): a first run does not validate its BOM after its last scanner ends
    (15 to 25 ms on the synthetic corpus, issue 16). An invalid one, or one that cannot be
    built (a model file gone, say), is not an error here: the run's own BOM is built and
    validated, and its error reported, after the run."""
    with contextlib.suppress(MlgateError, OSError):
        validate_bom(_assemble(report, repo, config, cache, stats), cache)


def _assemble(
    report: Report,
    repo: Repo,
    config: RepoConfig,
    cache: ResultCache | None,
    stats: StatIndex | None,
) -> dict[str, Any]:
    datasets = list(_datasets(report, repo))
    inventory = model_inventory(report.policy, repo, config, cache, stats)
    models = [_model_component(report, rel, facts) for rel, facts in inventory.items()]
    libraries = _libraries(report, repo, config, cache)
    components = _sorted_unique(
        [*(c for c, _ in datasets), *models, *libraries.values()], _component_order
    )
    data: dict[str, Any] = {
        "$schema": SCHEMA_URL,
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": f"urn:uuid:{uuid.uuid4()}",
        "version": 1,
        "metadata": _metadata(report, repo),
    }
    if components:
        data["components"] = components
    # the repository holds every component
    refs = sorted(c["bom-ref"] for c in components)
    data["dependencies"] = sorted(
        [{"ref": ref} for ref in refs] + [{"ref": "repository", **_depends_on(refs)}],
        key=lambda d: d["ref"],
    )
    vulnerabilities = _sorted_unique(
        _vulnerabilities(report, libraries), lambda v: (v["id"], v["bom-ref"])
    )
    if vulnerabilities:
        data["vulnerabilities"] = vulnerabilities
    _add_component_data(data, {c["bom-ref"]: d for c, d in datasets})
    cards = find_cards(repo)
    _add_model_cards(data, report, cards, [(c["bom-ref"], c["name"]) for c in models], datasets)
    return redact_value(data)  # card text and finding messages may quote a secret


def _depends_on(refs: Sequence[str]) -> dict[str, Any]:
    return {"dependsOn": list(refs)} if refs else {}


def _sorted_unique(
    items: Iterable[dict[str, Any]], order: Callable[[dict[str, Any]], Any]
) -> list[dict[str, Any]]:
    """Each distinct item once, in `order`: the library keeps components and vulnerabilities
    in sorted sets."""
    unique: dict[str, dict[str, Any]] = {}
    for item in items:
        unique.setdefault(json.dumps(item, sort_keys=True), item)
    return sorted(unique.values(), key=order)


def _component_order(c: Component) -> tuple[Any, ...]:
    """The library's order: type, name, version (a missing one last), bom-ref."""
    version = c.get("version")
    return (c["type"], c["name"], version is None, version or "", c["bom-ref"])


def render_bom(data: Mapping[str, Any]) -> str:
    return json.dumps(data, indent=2) + "\n"


def validate_bom(data: Mapping[str, Any], cache: ResultCache | None = None) -> None:
    """BomError unless `data` is valid under the CycloneDX 1.6 JSON schema (strict).

    The validator costs 1-2 s to load (jsonschema's IRI grammars), more than a warm run,
    and 15-25 ms a document. What is validated is the document's shape (`_shape`): the
    document with what cannot change its validity made the same in every run. A valid
    shape makes every document of that shape valid, and is remembered, in this process
    and in `cache`: two runs over the same tree, or a run and the BOM it validated ahead
    (`validate_ahead`), differ in serial number, timestamp and property values only. A
    shape the schema rejects (two properties of a list made equal) leaves the document
    itself to be validated."""
    shape = _shape(data)
    key = make_key("cyclonedx-1.6-valid", __version__, _cyclonedx_version(), shape)
    if key in _VALID_SHAPES or (cache is not None and cache.get(key) is True):
        return
    validator = load_validator()
    if validator.validate_str(json.dumps(shape)) is None:
        _VALID_SHAPES.add(key)
        if cache is not None:
            cache.put(key, True)
            cache.put(make_key(VALIDATOR_USED), True)
        return
    error = validator.validate_str(json.dumps(data))
    if error is not None:
        raise BomError(f"the ML-BOM is not valid CycloneDX 1.6: {error}")


# The keys of the shapes this process found valid (`validate_bom`).
_VALID_SHAPES: set[str] = set()


# Set in a result cache once it remembers a valid document: from then on, most runs with
# that cache validate nothing, and the CLI stops loading the validator ahead of time.
VALIDATOR_USED = "bom-validator-used"


@functools.cache
def load_validator() -> JsonStrictValidator:
    """The CycloneDX 1.6 strict JSON validator, loaded once (0.2 to 0.3 s of imports: a
    first run loads it on the prefetch thread while the scanners run, see `cli/run.py`).

    It reads its schemas, and resolves the definitions a BOM of mlgate's uses, on its first
    document: a small one is validated here, so that the run's own BOM, validated after
    the last scanner, is not the first (8 ms less on the synthetic corpus)."""
    _install_iri_checks()
    from cyclonedx.schema import SchemaVersion  # noqa: PLC0415 (slow: only to validate)
    from cyclonedx.validation.json import JsonStrictValidator  # noqa: PLC0415

    validator = JsonStrictValidator(SchemaVersion.V1_6)
    validator.validate_str(json.dumps(_WARM_UP))
    return validator


# A BOM in the shape of mlgate's, each kind of part once (`load_validator`).
_WARM_UP: dict[str, Any] = {
    "$schema": SCHEMA_URL,
    "bomFormat": "CycloneDX",
    "specVersion": "1.6",
    "serialNumber": "urn:uuid:00000000-0000-4000-8000-000000000000",
    "version": 1,
    "metadata": {
        "component": {"bom-ref": "repository", "name": "r", "type": "application"},
        "properties": [{"name": "mlgate:decision", "value": "pass"}],
        "timestamp": "2026-01-01T00:00:00+00:00",
        "tools": {"components": [{"name": "mlgate", "type": "application", "version": "0"}]},
    },
    "components": [
        {
            "bom-ref": "model:m.pt",
            "name": "m.pt",
            "type": "machine-learning-model",
            "hashes": [{"alg": "SHA-256", "content": "0" * 64}],
            "properties": [{"name": "mlgate:path", "value": "m.pt"}],
            "modelCard": {"properties": [{"name": "mlgate:model-card", "value": "README.md"}]},
        },
        {
            "bom-ref": "pkg:pypi/x@1",
            "name": "x",
            "type": "library",
            "version": "1",
            "purl": "pkg:pypi/x@1",
        },
    ],
    "dependencies": [{"ref": "repository", "dependsOn": ["model:m.pt", "pkg:pypi/x@1"]}],
}


# An IRI reference that certainly is one (RFC 3987 / 3986): `scheme://host[:port]/path?q#f`
# in unreserved, sub-delimiter and percent-encoded characters. Anything else is checked by
# the full grammar.
_PCHAR = r"(?:[A-Za-z0-9._~!$&'()*+,;=:@-]|%[0-9A-Fa-f]{2})"
_SIMPLE_IRI = re.compile(
    rf"[A-Za-z][A-Za-z0-9+.-]*://[A-Za-z0-9._~-]+(?::[0-9]*)?(?:/{_PCHAR}*)*"
    rf"(?:\?(?:{_PCHAR}|[/?])*)?(?:#(?:{_PCHAR}|[/?])*)?"
)


def _install_iri_checks() -> None:
    """Import jsonschema without compiling the IRI grammars of rfc3987-syntax (38 Lark
    parsers, 1.4 s of CPU, more than the rest of a small repository's cold run), and check
    the `iri`/`iri-reference` formats (URLs in the BOM) with them only when a value is not
    plainly a URL (`_SIMPLE_IRI`, a subset of both formats)."""
    import sys  # noqa: PLC0415

    if "jsonschema" not in sys.modules:
        hidden = "rfc3987_syntax" not in sys.modules
        if hidden:
            sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]
        try:
            import jsonschema  # noqa: F401, PLC0415
        finally:
            if hidden:
                del sys.modules["rfc3987_syntax"]
    from jsonschema import Draft7Validator  # noqa: PLC0415

    checkers = Draft7Validator.FORMAT_CHECKER.checkers
    for name, rule in (("iri", "iri"), ("iri-reference", "iri_reference")):
        if name not in checkers:
            checkers[name] = (functools.partial(_iri_check, rule), ValueError)


def _iri_check(rule: str, instance: object) -> bool:
    if not isinstance(instance, str) or _SIMPLE_IRI.fullmatch(instance):
        return True
    from rfc3987_syntax import (  # type: ignore[import-untyped]  # noqa: PLC0415 (slow)
        is_valid_syntax,
    )

    return bool(is_valid_syntax(rule, instance))


# What cyclonedx-python-lib writes as a serial number and a timestamp (`uuid4`, UTC now).
_SERIAL = re.compile(
    r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
)
_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{6})?\+00:00"
)
_SHAPE_SERIAL = "urn:uuid:00000000-0000-4000-8000-000000000000"
_SHAPE_TIMESTAMP = "2000-01-01T00:00:00+00:00"


def _shape(data: Mapping[str, Any]) -> dict[str, Any]:
    """`data` with its serial number and timestamp made the same in every run when they
    have the form cyclonedx-python-lib writes (each other value of it being as valid), and
    the value of each property emptied: the schema's `property.value` is any string, and
    every `properties` it defines is a list of `property` (`tests/test_bom_validity_cache.py`
    checks both in the schema). Another value is kept, and validated."""
    shaped = cast(dict[str, Any], _blank_properties(data))
    if isinstance(shaped.get("serialNumber"), str) and _SERIAL.fullmatch(shaped["serialNumber"]):
        shaped["serialNumber"] = _SHAPE_SERIAL
    metadata = shaped.get("metadata")
    if isinstance(metadata, dict):
        stamp = metadata.get("timestamp")
        if isinstance(stamp, str) and _TIMESTAMP.fullmatch(stamp):
            shaped["metadata"] = {**metadata, "timestamp": _SHAPE_TIMESTAMP}
    return shaped


def _blank_properties(value: Any) -> Any:
    """A copy of `value` (JSON data) with the string value of each property emptied."""
    if isinstance(value, Mapping):
        return {
            key: _blank_list(item) if key == "properties" else _blank_properties(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_blank_properties(item) for item in value]
    return value


def _blank_list(value: Any) -> Any:
    if not isinstance(value, list):
        return _blank_properties(value)
    return [
        {**item, "value": ""}
        if isinstance(item, Mapping) and isinstance(item.get("value"), str)
        else _blank_properties(item)
        for item in value
    ]


def _cyclonedx_version() -> str:
    """The library's release (its schemas decide validity): its own `__version__`, which
    costs nothing, where reading package metadata costs a warm run 20-30 ms (importing
    importlib.metadata and scanning sys.path); the metadata when it has none."""
    import cyclonedx  # noqa: PLC0415

    found = getattr(cyclonedx, "__version__", None)
    if isinstance(found, str) and found:
        return found
    from importlib.metadata import version  # noqa: PLC0415

    return version("cyclonedx-python-lib")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


# --- metadata -----------------------------------------------------------------------------


def _metadata(report: Report, repo: Repo) -> dict[str, Any]:
    tools = {("mlgate", __version__)}
    for result in report.run.results:
        tools.update((name, version) for name, version in result.tools.items() if version)
    decision = report.decision
    facts = {
        "mlgate:decision": "pass" if decision.passed else "blocked",
        "mlgate:env": decision.env or "",
        "mlgate:commit": repo.commit or "",
        "mlgate:policy-digest": report.policy.digest,
        "mlgate:mode": str(report.mode.get("kind", "full")),
    }
    facts.update(
        {f"mlgate:gate:{name}": v.status.value for name, v in sorted(decision.verdicts.items())}
    )
    return {
        "component": {
            "bom-ref": "repository",
            "name": repo.root.name or "repository",
            "type": "application",
            "version": repo.commit or "unversioned",
        },
        "properties": _props(facts),
        "timestamp": dt.datetime.now(dt.timezone.utc).isoformat(),
        "tools": {
            "components": [
                {"name": name, "type": "application", "version": version}
                for name, version in sorted(tools)
            ]
        },
    }


def _props(values: Mapping[str, Any]) -> list[dict[str, str]]:
    """CycloneDX properties, sorted by name and value as the library sorts them."""
    pairs = sorted((k, str(v)) for k, v in values.items() if v is not None)
    return [{"name": name, "value": value} for name, value in pairs]


def _component(kind: str, name: str, ref: str, **fields: Any) -> Component:
    """A component with the library's fields: empty lists and None values left out."""
    found: Component = {"bom-ref": ref, "name": name, "type": kind}
    found.update({key: value for key, value in fields.items() if value not in (None, [])})
    return found


def _file_facts(root: Path, rel: str) -> tuple[list[dict[str, str]], dict[str, Any]]:
    path = root / rel
    if not path.is_file():
        return [], {"mlgate:hash": "file not present in the checkout"}
    return [{"alg": "SHA-256", "content": file_sha256(path)}], {"mlgate:size": path.stat().st_size}


# --- models -------------------------------------------------------------------------------


def model_files(policy: Policy, repo: Repo, config: RepoConfig) -> list[str]:
    """The files the models gate reads in this checkout under this policy and config."""
    options = gate_options(policy, config, {}, files_gate.NAME)
    return list(GATES[files_gate.NAME].inputs(repo, options).files)


def model_inventory(
    policy: Policy,
    repo: Repo,
    config: RepoConfig,
    cache: ResultCache | None = None,
    stats: StatIndex | None = None,
) -> dict[str, dict[str, Any]]:
    """Each model file (`model_files`) with its hashes and facts (size, format).

    With `cache`, remembered while no file of the tree, and no file of the engine that
    selects and sniffs them, changes (stat stamps, `cache.tree_stamps`): a warm run neither
    loads the model-file engine nor hashes the model files again (issue 16). Read ahead,
    while the scanners run, when the run was asked to (`read_ahead`)."""
    ahead = _taken("model-files", policy, config, repo)
    if ahead is not None:
        return cast(dict[str, dict[str, Any]], ahead)
    options = gate_options(policy, config, {}, files_gate.NAME)
    code = [str(p) for p in files_gate.engine_sources()]
    found = _cached(
        cache,
        _stamped_key(cache, "bom-models", repo, repo.files, code, options, stats),
        lambda hit: isinstance(hit, dict) and all(isinstance(v, dict) for v in hit.values()),
        lambda: {rel: _model_facts(repo.root, rel) for rel in model_files(policy, repo, config)},
    )
    return cast(dict[str, dict[str, Any]], found)


def _cached(
    cache: ResultCache | None,
    key: str | None,
    valid: Callable[[Any], bool],
    read: Callable[[], Any],
) -> Any:
    """The cache's entry for `key` when `valid`, else what `read` returns (then cached)."""
    hit = cache.get(key) if cache is not None and key is not None else None
    if valid(hit):
        return hit
    found = read()
    if cache is not None and key is not None:
        cache.put(key, found)
    return found


# What `read_ahead` read for the ML-BOM of a run, taken by the BOMs of that run (the one
# validated ahead, the one written), then let go:
# kind -> (policy, config, repo, value), matched by identity.
_AHEAD: dict[str, tuple[Policy, RepoConfig, Repo, object]] = {}


def read_ahead(
    policy: Policy, repo: Repo, config: RepoConfig, cache: ResultCache | None = None
) -> None:
    """Read the model files and the libraries the run's ML-BOM will list, so that the BOM
    does not read them after the scanners end (a prefetch task of `core.run`)."""
    _AHEAD["model-files"] = (policy, config, repo, model_inventory(policy, repo, config, cache))
    _AHEAD["libraries"] = (policy, config, repo, _declared(policy, repo, config, cache))


def _taken(kind: str, policy: Policy, config: RepoConfig, repo: Repo) -> object | None:
    held = _AHEAD.get(kind)
    if held is None or held[0] is not policy or held[1] is not config or held[2] is not repo:
        return None
    return held[3]


def _let_go(policy: Policy, config: RepoConfig, repo: Repo) -> None:
    """Forget what was read ahead for this run: its BOM is built."""
    mine = (policy, config, repo)
    for kind in [k for k, held in _AHEAD.items() if all(map(operator.is_, held[:3], mine))]:
        del _AHEAD[kind]


def _stamped_key(
    cache: ResultCache | None,
    kind: str,
    repo: Repo,
    files: Sequence[str],
    code: Sequence[str],
    options: Any,
    stats: StatIndex | None = None,
) -> str | None:
    """A cache key over the stat stamps of `files` (in the repository; those `stats` holds
    are not examined again) and of `code` (absolute paths); None without a cache, or when a
    file is racy or unreadable."""
    if cache is None:
        return None
    stamps = stats.stamps(files) if stats is not None else tree_stamps(repo.root, files)
    code_stamps = tree_stamps(repo.root, code)  # absolute paths: joined, they stay themselves
    if stamps is None or code_stamps is None:
        return None
    return make_key(kind, __version__, options, list(files), stamps, code, code_stamps)


def _model_facts(root: Path, rel: str) -> dict[str, Any]:
    hashes, facts = _file_facts(root, rel)
    facts["mlgate:format"] = _format(root / rel)
    return {"hashes": hashes, "facts": facts}


def _model_component(report: Report, rel: str, known: Mapping[str, Any]) -> Component:
    facts = {
        **known["facts"],
        "mlgate:path": rel,
        "mlgate:verdict": _verdict(report.result(files_gate.NAME), rel),
    }
    return _component(
        "machine-learning-model",
        rel,
        f"model:{rel}",
        hashes=list(known["hashes"]),
        properties=_props(facts),
    )


def _format(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            head = handle.read(SNIFF_BYTES)
    except OSError:
        return "unreadable"
    from mlgate.modelfiles.formats import sniff  # noqa: PLC0415 (a warm run does not sniff)

    kind = sniff(head, path.stat().st_size)
    return kind or (path.suffix.lstrip(".").lower() or "unknown")


def _verdict(result: GateResult | None, rel: str) -> str:
    """What the models gate said about one file: clean, its worst finding, or why not scanned."""
    if result is None:
        return "not scanned (the models gate did not run)"
    if result.skipped:
        return f"not scanned ({result.skipped})"
    found = [f for f in result.findings if f.path == rel]
    if found:
        worst = max(found, key=lambda f: f.severity.rank)
        return f"{len(found)} finding(s), worst {worst.severity.value}: {worst.rule_id}"
    if result.errors:
        return "scan incomplete: " + "; ".join(result.errors)
    return "clean (no finding)"


def _section(card: ModelCard, key: str) -> str | None:
    return next((text for title, text in card.sections.items() if key in title and text), None)


def _add_model_cards(
    data: dict[str, Any],
    report: Report,
    cards: Sequence[ModelCard],
    models: Sequence[tuple[str, str]],
    datasets: Sequence[tuple[Component, dict[str, Any]]],
) -> None:
    metrics = _metrics(report.result(quality_gate.NAME))
    by_ref = {c["bom-ref"]: c for c in data.get("components", [])}
    for ref, rel in models:
        card = card_for(cards, rel)
        model_card = _model_card(card, metrics, datasets) if card else None
        if model_card:
            by_ref[ref]["modelCard"] = model_card


def _model_card(
    card: ModelCard,
    metrics: Sequence[dict[str, str]],
    datasets: Sequence[tuple[Component, dict[str, Any]]],
) -> dict[str, Any]:
    considerations = {
        field: [text] for key, field in CARD_SECTIONS.items() if (text := _section(card, key))
    }
    result: dict[str, Any] = {}
    training = _section(card, "training data")
    used = [
        {"ref": c["bom-ref"]}
        for c, _ in datasets
        if training and c["name"] in training  # the card names the dataset
    ]
    if used:
        result["modelParameters"] = {"datasets": used}
    if metrics:
        result["quantitativeAnalysis"] = {"performanceMetrics": list(metrics)}
    if considerations:
        result["considerations"] = considerations
    properties = [{"name": "mlgate:model-card", "value": card.path}]
    if training:
        properties.append({"name": "mlgate:model-card:training-data", "value": training})
    result["properties"] = properties
    return result


def _metrics(result: GateResult | None) -> list[dict[str, str]]:
    """The metric values the model gate read (current values, from its metrics files)."""
    rows = result.properties.get("metrics", []) if result else []
    return [
        {"type": str(row["metric"]), "value": f"{row['current']:g}"}
        for row in rows
        if isinstance(row, Mapping) and isinstance(row.get("current"), (int, float))
    ]


# --- data ---------------------------------------------------------------------------------


def _datasets(report: Report, repo: Repo) -> Iterator[DataComponent]:
    """Validated datasets, their local drift references, and DVC-tracked data."""
    result = report.result(data_gate.NAME)
    records = [
        r for r in (result.properties.get("datasets", []) if result else []) if isinstance(r, dict)
    ]
    seen: set[str] = set()
    for record in records:
        rel = str(record.get("path"))
        if rel not in seen:
            seen.add(rel)
            yield _validated(repo, record)
    for record in records:
        reference = record.get("reference")
        if (
            isinstance(reference, str)
            and reference not in seen
            and (repo.root / reference).is_file()
        ):
            seen.add(reference)
            role = "drift reference of " + str(record.get("path"))
            yield _data_component(repo, reference, {"mlgate:role": role}, role)
    for rel in repo.files:
        if rel.endswith(".dvc") and not rel.endswith("/.dvc"):
            yield from _dvc(repo, rel, seen)


DataComponent = tuple[Component, dict[str, Any]]  # the component, its componentData


def _data_component(
    repo: Repo, rel: str, facts: Mapping[str, Any], description: str, md5: str = ""
) -> DataComponent:
    """A `data` component: the file's SHA-256 when present (else the DVC MD5 given)."""
    hashes, found = _file_facts(repo.root, rel)
    if len(md5) == 32:
        hashes.insert(0, {"alg": "MD5", "content": md5})  # the library sorts MD5 first
        found.pop("mlgate:hash", None)
    properties = _props({**found, "mlgate:path": rel, **facts})
    component = _component("data", rel, f"data:{rel}", hashes=hashes, properties=properties)
    return component, {"type": "dataset", "name": rel, "description": description}


def _validated(repo: Repo, record: Mapping[str, Any]) -> DataComponent:
    contract = record.get("contract")
    facts = {
        "mlgate:format": record.get("format"),
        "mlgate:rows": record.get("rows"),
        "mlgate:contract": contract,
        "mlgate:contract-violations": record.get("violations"),
        "mlgate:unreadable": record.get("unreadable"),
        "mlgate:drift": _drift_summary(record.get("drift")),
    }
    what = f"validated against the contract {contract}" if contract else "compared for drift"
    return _data_component(repo, str(record["path"]), facts, what)


def _drift_summary(drift: Any) -> str | None:
    if not isinstance(drift, Mapping):
        return None
    columns = [c for c in drift.get("columns", []) if isinstance(c, Mapping)]
    drifted = [str(c.get("column")) for c in columns if c.get("drifted")]
    psis = [float(c["psi"]) for c in columns if isinstance(c.get("psi"), (int, float))]
    return (
        f"vs {drift.get('reference')}: {len(drifted)} of {len(columns)} column(s) drifted"
        + (f" ({', '.join(drifted)})" if drifted else "")
        + (f"; max PSI {max(psis):.3g}" if psis else "")
    )


def _dvc(repo: Repo, pointer: str, seen: set[str]) -> Iterator[DataComponent]:
    folder = PurePosixPath(pointer).parent
    for out in dvc_outputs(repo.root, pointer):
        rel = str(folder / str(out["path"])).removeprefix("./")
        if rel in seen:
            continue
        seen.add(rel)
        facts = {
            "mlgate:dvc-pointer": pointer,
            "mlgate:dvc-hash": out.get("md5") or out.get("etag"),
            "mlgate:dvc-size": out.get("size"),
        }
        md5 = str(out.get("md5") or "").removesuffix(".dir")
        yield _data_component(repo, rel, facts, f"tracked by {pointer}", md5)


def _add_component_data(data: dict[str, Any], described: Mapping[str, dict[str, Any]]) -> None:
    for component in data.get("components", []):
        extra = described.get(component.get("bom-ref"))
        if extra is not None:
            component["data"] = [extra]


# --- dependencies -------------------------------------------------------------------------


def _libraries(
    report: Report, repo: Repo, config: RepoConfig, cache: ResultCache | None = None
) -> dict[str, Component]:
    """The dependencies the deps gate reads, by name and version (the first declaration of
    each)."""
    found: dict[str, Component] = {}
    for name, version, where, spec in _declared(report.policy, repo, config, cache):
        ref = _lib_key(name, version)
        if ref not in found:
            found[ref] = _library(name, version, where, spec)
    return found


def _declared(
    policy: Policy, repo: Repo, config: RepoConfig, cache: ResultCache | None = None
) -> list[list[Any]]:
    """[name, version, declared in, spec] of each requirement of the files the deps gate
    reads. With `cache`, remembered while neither they nor the readers change (as
    `model_inventory`)."""
    ahead = _taken("libraries", policy, config, repo)
    if ahead is not None:
        return cast(list[list[Any]], ahead)
    options = gate_options(policy, config, {}, deps_gate.NAME)
    files = GATES[deps_gate.NAME].inputs(repo, options).files
    readers = sorted(str(p) for p in Path(sources.__file__).parent.glob("*.py"))
    declared = _cached(
        cache,
        _stamped_key(cache, "bom-libraries", repo, files, readers, options),
        lambda hit: isinstance(hit, list) and all(isinstance(r, list) and len(r) == 4 for r in hit),
        lambda: [
            [req.name, req.version, f"{req.path}:{req.line}", req.spec]
            for rel in files
            for req in read_dependency_file(repo.root, rel)[0]
        ],
    )
    return cast(list[list[Any]], declared)


def _lib_key(name: str, version: str | None) -> str:
    return f"{name.lower().replace('_', '-')}@{version or ''}"


def _library(name: str, version: str | None, declared_in: str, spec: str) -> Component:
    purl = purl_of(name, version)
    return _component(
        "library",
        name,
        purl,
        version=version,
        purl=purl,
        properties=_props({"mlgate:declared-in": declared_in, "mlgate:spec": spec}),
    )


def purl_of(name: str, version: str | None) -> str:
    """The package URL of a PyPI package, as packageurl-python writes it (the purl spec's
    pypi rules: `_` as `-` and the name lower-cased; percent-encoded but for `/` and `:`;
    tested against packageurl-python)."""
    text = "pkg:pypi/" + _purl_quote(name.replace("_", "-")).lower()
    return text + ("@" + _purl_quote(version) if version else "")


def _purl_quote(text: str) -> str:
    return urllib.parse.quote(text, safe="/").replace("%3A", ":")


def _vulnerabilities(
    report: Report, libraries: Mapping[str, Component]
) -> Iterator[dict[str, Any]]:
    for finding in report.findings_of(deps_gate.NAME):
        advisory = finding.properties.get("advisory")
        if not advisory:
            continue
        yield _vulnerability(finding, str(advisory), libraries)


def _vulnerability(
    finding: Finding, advisory: str, libraries: Mapping[str, Component]
) -> dict[str, Any]:
    props = finding.properties
    key = _lib_key(str(props.get("package")), props.get("version"))
    target = libraries.get(key)
    found: dict[str, Any] = {
        "bom-ref": f"vuln:{advisory}:{key}",
        "id": advisory,
        "source": {"name": "OSV" if finding.tool == "mlgate" else finding.tool},
        "ratings": [{"severity": finding.severity.value}],
        "description": finding.message,
        "recommendation": finding.fix,
        "affects": [{"ref": target["bom-ref"]}] if target else [],
        "properties": _props(
            {
                "mlgate:aliases": ", ".join(props.get("aliases") or []) or None,
                "mlgate:waived-by": finding.waived_by,
            }
        ),
    }
    return {k: v for k, v in found.items() if v not in (None, [])}
