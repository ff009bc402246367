"""Redaction at scale: the literal prefilter never rules out a detector that matches, and
redacting strings together (`redacted_strings`, what `redact_value` uses for a report)
gives exactly what redacting each string alone gives."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from mlgate import cache, redact
from mlgate.redact import detectors, redact_secrets, redact_value, redacted_strings
from mlgate.regexlit import fold, required_literals

# Built from pieces so that no scanner of this repository flags the test itself.
SAMPLES = [
    "AKIA" + "Z7Q2W4E6R8T0Y1U3",
    "key id ASIA" + "QWERTYUIOPASDFGH and more",
    "ghp_" + "R7vK2mPq9XwL4sT8yB3nD6fH1jC5gA0eZ2uN",
    "token=github_pat_" + "A" * 82,
    "hf_" + "kQwErTyUiOpAsDfGhJkLzXcVbNmQwErTyU",
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA0Z3VS5JJ\n-----END RSA PRIVATE KEY-----",
    "PuTTY-User-Key-File-2: ssh-rsa",
    "slack: xox" + "b-1234567890-0987654321-abcdefABCDEFabcdef",
    "stripe sk" + "_live_" + "4eC39HqLyjWDarjtT1zdp7dc",
    "jwt eyJ" + "hbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
    "https://user:" + "s3cr3tpassw0rd@example.com/path",
    "AccountKey=" + "a" * 88,
    "SG." + "a" * 22 + "." + "b" * 43,
    "//registry.npmjs.org/:_authToken=" + "npm_" + "a" * 36,
    "pypi-AgEIcHlwaS5vcmc" + "a" * 70,
    "mailchimp " + "0123456789abcdef0123456789abcdef" + "-us12",
    "bot 123456789:" + "A" * 35,
    "twilio AC" + "0123456789abcdef0123456789abcdef",
    "ibm_cloud_iam_key = '" + "a" * 44 + "'",
    "aws_secret_access_key = '" + "A" * 40 + "'",
    "databricks dapi" + "0123456789abcdef" * 2,
    "openai sk-" + "A" * 48,
    # case-insensitive detectors over text that folds to ASCII only under re.IGNORECASE
    "AWS_\u212aEY = '" + "B" * 40 + "'",  # Kelvin sign for K
    "aws pa\u017fsword='" + "C" * 40 + "'",  # long s
    "XO\u212a" + "...",
]
PLAIN = [
    "finding 12 of shard 3: a hazard was found here",
    "pkg7/module_1234.py",
    "0123456789abcdef0123456789abcdef",
    "CWE-502",
    "Unsafe deserialisation: pickle.load on untrusted input",
    "",
    "\u00e9t\u00e9 \u212a \u03a3\u03c3\u03c2",
]


def test_required_literals() -> None:
    lits = required_literals(re.compile(r"(?:\s|^)AKC[a-z]{10,}"))
    assert lits is not None and lits.plain == {"AKC"}
    lits = required_literals(re.compile(r"(?i)xox(?:a|b)-\d+"))
    assert lits is not None and lits.folded == {"xox"} and not lits.plain
    lits = required_literals(re.compile(r"(?:key|token)=\w+"))
    assert lits is not None and lits.plain == {"key", "token"}
    assert required_literals(re.compile(r"(?:key|)[0-9a-f]{32}")) is None  # empty branch
    assert required_literals(re.compile(r"(?:abc)?[0-9]+")) is None  # optional
    lits = required_literals(re.compile(r"x(?i:secret)y"))
    assert lits is not None and lits.folded == {"secret"}


def test_fold_matches_re_ignorecase() -> None:
    assert "key" in fold("AWS_\u212aEY")
    assert "password" in fold("pa\u017fsword")
    assert re.search("(?i)key", "\u212aEY")  # what fold must agree with


def test_fold_keeps_positions_and_folds_each_character_alone() -> None:
    """`fold` is character by character (positions in the folded text are positions in the
    text, which `redacted_strings` relies on): every character of a text mixing ASCII,
    IGNORECASE equivalents and other non-ASCII folds as it does on its own."""
    text = "Secret \u212aEY \u2014 pa\u017fsword \u2026 \u00c9t\u00e9 \u0130 caf\u00e9 \u212a" * 3
    folded = fold(text)
    assert len(folded) == len(text)
    assert folded == "".join(fold(c) for c in text)
    assert "key" in folded and "password" in folded


@pytest.mark.parametrize("text", SAMPLES + PLAIN)
def test_prefilter_never_rules_out_a_match(text: str) -> None:
    for detector in detectors():
        if detector.regex.search(text):
            assert detector.may_match(text), (detector.regex.pattern, text)


def test_some_samples_match_every_kind_of_detector() -> None:
    """The samples exercise the prefilter: most detectors match one of them."""
    matched = {d.regex.pattern for d in detectors() for s in SAMPLES if d.regex.search(s)}
    assert len(matched) >= 20


def test_batch_equals_one_by_one() -> None:
    texts = SAMPLES + PLAIN + [f"{s} (line {i})" for i, s in enumerate(SAMPLES)]
    one_by_one = {t: redact_secrets(t) for t in texts}
    expected = {t: r for t, r in one_by_one.items() if r != t}
    assert redacted_strings(texts) == expected
    assert all(s in expected for s in SAMPLES[:22])  # every real-shaped secret is redacted


def test_batch_equals_one_by_one_when_literals_are_everywhere() -> None:
    """Many strings holding common literals ('.', ':', 'key'), some a secret: a literal
    found in most strings is tested for string by string, and gives the same."""
    texts = [f"pkg{i}/module_{i}.py: key {i}." for i in range(300)]
    texts += [f"{s} at line {i}: see pkg/x.py." for i, s in enumerate(SAMPLES * 4)]
    texts += [f"PKG{i}.KEY:{s}" for i, s in enumerate(SAMPLES)]
    one_by_one = {t: redact_secrets(t) for t in texts}
    expected = {t: r for t, r in one_by_one.items() if r != t}
    assert redacted_strings(texts) == expected
    assert len(expected) >= 4 * 22


def test_digests_are_left_out_only_while_no_detector_can_match_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Strings of lower-case hex digits (the digests that fill cache packs) are not searched:
    no detector's literal can occur in one. A detector with a hex-only literal (or none)
    brings them back."""
    assert redact._digests_cannot_match()
    digest = "0123456789abcdef" * 4
    assert redacted_strings([digest, SAMPLES[0]]) == {SAMPLES[0]: redact_secrets(SAMPLES[0])}
    hexy = redact.Detector(r"dead[0-9a-f]{8}", literals=required_literals(re.compile("dead")))
    monkeypatch.setattr(redact, "detectors", lambda: (*detectors(), hexy))
    redact._digests_cannot_match.cache_clear()
    try:
        assert not redact._digests_cannot_match()
        hexed = "deadbeef01234567" * 2  # a digest's length: tested, and kept
        assert redacted_strings([hexed]) == {hexed: redact._redact(hexed, [hexy])}
    finally:
        redact._digests_cannot_match.cache_clear()


@dataclass(frozen=True)
class _Item:
    name: str
    notes: tuple[str, ...] = ()
    extra: dict[str, object] = field(default_factory=dict)


def test_redact_value_copies_only_what_changes() -> None:
    clean = [_Item("a", ("b",), {"c": ["d", 1, None]})]
    assert redact_value(clean) is clean
    secret = SAMPLES[2]
    shared = _Item("x")
    value = {"items": [shared, _Item("y", (secret,), {"k": [secret, 2]})], "same": shared}
    out: Any = redact_value(value)
    assert secret not in repr(out)
    assert out["items"][0] is out["same"]  # one copy of a shared object
    assert out["items"][1].notes == (redact_secrets(secret),)
    assert out["items"][1].extra["k"][1] == 2


def test_detect_secrets_regexes_are_remembered_per_installed_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # where the CLI puts the cache for MLGATE_CACHE_DIR (cache.configure)
    monkeypatch.setattr(cache, "_configured_dir", tmp_path)
    imported = list(redact._import_specs())
    assert len(imported) >= 20  # detect-secrets is a dependency: its regex plugins
    assert redact._detect_secrets_specs() == imported  # first run: imported, then stored
    stored = list(tmp_path.glob("redact-detectors-*.json"))
    assert len(stored) == 1
    assert redact._detect_secrets_specs() == imported  # read back
    stored[0].write_text('[["x", "not flags", true]]', encoding="utf-8")
    assert redact._detect_secrets_specs() == imported  # a damaged file is not trusted
    assert json.loads(stored[0].read_text(encoding="utf-8"))[0][0] == imported[0][0]


def test_remembered_literals_are_the_derived_ones_or_not_trusted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cache keeps each regex's literals (the prefilter that decides whether a regex is
    compiled and run at all): what is read back equals what `required_literals` derives,
    and an entry whose literals are malformed, or a file of the older three-field format,
    is re-derived rather than trusted (a wrong literal would let a secret through)."""
    monkeypatch.setattr(cache, "_configured_dir", tmp_path)
    specs = redact._detect_secrets_specs()
    for pattern, flags, _, literals in specs:
        assert literals == required_literals(re.compile(pattern, flags)), pattern
    [stored] = tmp_path.glob("redact-detectors-*.json")
    rows = json.loads(stored.read_text(encoding="utf-8"))
    for damaged in (
        [[*row[:3]] for row in rows],  # written by an older mlgate
        [[*rows[0][:3], [["ok"], [""]]], *rows[1:]],  # an empty literal matches nothing
        [[*rows[0][:3], [[], []]], *rows[1:]],
        [[*rows[0][:3], "AKIA"], *rows[1:]],
    ):
        stored.write_text(json.dumps(damaged), encoding="utf-8")
        assert redact._detect_secrets_specs() == specs


def test_a_detector_compiles_its_regex_only_when_asked() -> None:
    detector = redact.Detector("[")  # not a valid regex: building the detector does not compile it
    with pytest.raises(re.error):
        _ = detector.regex
    assert redact.Detector("ab+c").regex.search("xabbbc") is not None


def test_a_detector_whose_literals_are_absent_is_not_compiled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Only the regexes of detectors whose literals occur are compiled (a warm run's report
    holds the literals of a few of the 51 detectors)."""
    fresh = tuple(
        redact.Detector(d.pattern, d.flags, d.private_key, literals=d.literals) for d in detectors()
    )
    monkeypatch.setattr(redact, "detectors", lambda: fresh)
    assert redacted_strings(["hf_" + "kQwErTyUiOpAsDfGhJkLzXcVbNmQwErTyU and more"])
    compiled = [d for d in fresh if "regex" in d.__dict__]
    assert compiled, "the Hugging Face detector must have run"
    assert len(compiled) < len(fresh) / 2
    assert all(d.literals is None or d.may_match("hf_") for d in compiled)


def test_clean_strings_are_remembered_and_secrets_are_not(tmp_path: Path) -> None:
    store = cache.ResultCache(tmp_path / "cache")
    texts = [*PLAIN, *SAMPLES]
    with redact.remembering_clean_strings(store) as memo:
        assert memo is not None and not memo.known
        first = redacted_strings(texts)
    assert set(first) == {t for t in SAMPLES if redact_secrets(t) != t}
    with redact.remembering_clean_strings(store) as memo:
        assert memo is not None
        assert "Unsafe deserialisation: pickle.load on untrusted input" in memo.known
        assert memo.known <= set(PLAIN)  # digests and strings too short are not searched
        assert not memo.known & set(SAMPLES)
        assert redacted_strings(texts) == first  # the same answer from the memo
    stored = [p.read_text(encoding="utf-8") for p in (tmp_path / "cache").glob("*/*.json")]
    assert stored and not any(s in text for s in first for text in stored)


def test_a_remembered_string_is_not_searched_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the memo holds is trusted: a string in it is left as it is (this is what saves
    the time), so the memo is keyed by the detectors and the redaction code: a change to
    either starts a new one."""
    store = cache.ResultCache(tmp_path / "cache")
    planted = SAMPLES[0]
    key = cache.make_key("redact-clean", redact._MEMO_VERSION, redact._detectors_stamp())
    store.put(key, ["planted"])  # put redacts: write the file as a tampered cache would hold it
    (tmp_path / "cache" / key[:2] / f"{key}.json").write_text(json.dumps([planted]))
    with redact.remembering_clean_strings(store):
        assert redacted_strings([planted]) == {}
    assert redacted_strings([planted]) == {planted: redact_secrets(planted)}  # outside: searched
    other = (*detectors(), redact.Detector(r"zzz[0-9]{9}", literals=None))
    monkeypatch.setattr(redact, "detectors", lambda: other)
    redact._digests_cannot_match.cache_clear()
    try:
        with redact.remembering_clean_strings(store) as memo:
            assert memo is not None and not memo.known
            assert redacted_strings([planted]) == {planted: redact_secrets(planted)}
    finally:
        redact._digests_cannot_match.cache_clear()


def test_no_cache_no_memo() -> None:
    with redact.remembering_clean_strings(None) as memo:
        assert memo is None
        assert redacted_strings([SAMPLES[0]]) == {SAMPLES[0]: redact_secrets(SAMPLES[0])}


def test_the_memo_loads_the_detectors_only_when_a_string_is_redacted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Entering the block costs nothing: a cold run loads the detectors (importing
    detect-secrets' plugins) while its scanners run, not before the first one starts."""
    stamped: list[str] = []
    real = redact._detectors_stamp

    def stamp() -> str:
        stamped.append("x")
        return real()

    monkeypatch.setattr(redact, "_detectors_stamp", stamp)
    with redact.remembering_clean_strings(cache.ResultCache(tmp_path / "cache")):
        assert stamped == []
        redacted_strings(PLAIN)
        redacted_strings(SAMPLES)
        assert stamped == ["x"]


def test_a_string_found_clean_earlier_in_the_run_is_not_searched_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cold run writes the same paths in its stat index, each gate's cache pack and its
    reports: each is searched once. A secret is found every time."""
    searched: list[list[str]] = []
    real = redact._searched

    def counting(texts: list[str]) -> dict[str, str]:
        searched.append(list(texts))
        return real(texts)

    monkeypatch.setattr(redact, "_searched", counting)
    texts = [*PLAIN, *SAMPLES]
    with redact.remembering_clean_strings(cache.ResultCache(tmp_path / "cache")):
        first = redacted_strings(texts)
        again = redacted_strings(texts)
    assert again == first and set(first) == {t for t in SAMPLES if redact_secrets(t) != t}
    clean = set(searched[0]) - set(first)
    assert clean and not clean & set(searched[1])  # found clean once: not searched again
    assert set(first) <= set(searched[1])  # the secrets are searched (and redacted) again
