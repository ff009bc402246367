"""Secrets never leave mlgate in clear: one redaction applied wherever mlgate writes.

A secret can reach mlgate's output in many ways besides the secrets gate: a data sample
shown by a failing contract, a `predict` command's output, a scanner's stderr quoted in a
gate error, a command line printed by `--verbose`. Rather than redact field by field,
`redact_secrets` runs over every string at the boundary where mlgate writes: report files
and receipts (`report.write_atomic`, `append_summary`), cached results, and the process's
stdout and stderr (`redacted_streams`, installed by the CLI).

The detectors are the secrets gate's: detect-secrets' regex plugins (when detect-secrets
is installed; its entropy and IP heuristics are left out, they would redact digests and
versions) and mlgate's own ML token patterns (Hugging Face, Databricks, OpenAI-style),
plus the gate's AWS key id and private key shapes when detect-secrets is missing. A value
becomes its preview (`redact`: the first 4 characters, then `…`); a private key loses its
whole block.
"""

from __future__ import annotations

import bisect
import contextlib
import dataclasses
import enum
import functools
import hashlib
import importlib.util
import io
import itertools
import json
import operator
import re
import sys
import threading
from collections.abc import Callable, Collection, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any, TextIO, TypeVar, cast

from mlgate import atomic, regexlit, secretpatterns
from mlgate.cache import ResultCache, default_cache_dir, make_key
from mlgate.findings import Finding
from mlgate.regexlit import Literals, fold, pattern_literals, required_literals
from mlgate.secretpatterns import (
    AWS_KEY_ID,
    HEURISTIC_TYPES,
    PATTERNS,
    PRIVATE_KEY_HEADER,
    WANDB_TYPE,
    redact,
)

T = TypeVar("T")
MIN_GROUP = 8  # a regex group this long is the secret; shorter groups are prefixes
KEY_REDACTED = " …(redacted)"
KEY_BLOCK_LIMIT = 16_384  # characters after a private key header searched for its end
_KEY_TYPES = frozenset({"Private Key"})
_CONTEXT_PATTERNS = frozenset({WANDB_TYPE})  # 40 hex: a git commit too
# (a pattern for 40+ hex characters would redact commits and digests)
_KEY_BODY = re.compile(r"(?:-----)?(?:[A-Za-z0-9+/=:,.\s-]|\\[nrt])*")
_TRIGGER = re.compile(r"[A-Za-z0-9+/=_-]{8}|PRIVATE KEY|PuTTY|SSH2|://")
_CACHED_LENGTH = 4096
_KEY_END = re.compile(r"-----END [A-Z0-9 ]*-----|---- END SSH2 [A-Z ]*----")


@dataclass(frozen=True)
class Detector:
    pattern: str
    flags: int = 0
    private_key: bool = False
    accept: Callable[[str, int, int], str | None] | None = None  # mlgate's own patterns
    # one of these is in every match (None: unknown); `detectors()` derives them
    literals: Literals | None = None

    @classmethod
    def of(cls, regex: re.Pattern[str], private_key: bool = False) -> Detector:
        return cls(regex.pattern, regex.flags, private_key, literals=required_literals(regex))

    @functools.cached_property
    def regex(self) -> re.Pattern[str]:
        """Compiled when first needed: most detectors find none of their literals in what
        mlgate writes (`may_match`), and then compiling their regex is wasted time."""
        return re.compile(self.pattern, self.flags)

    def may_match(self, text: str, folded: str | None = None) -> bool:
        """False only when the detector cannot match `text` (it lacks every literal)."""
        return self.literals is None or self.literals.found_in(text, folded)


@functools.cache
def detectors() -> tuple[Detector, ...]:
    """detect-secrets' regex plugins (if installed) and mlgate's own token patterns."""
    found = list(_detect_secrets_detectors())
    if not found:  # detect-secrets is not installed: the gate's own shapes of the worst
        found = [Detector.of(PRIVATE_KEY_HEADER, private_key=True), Detector.of(AWS_KEY_ID)]
    # Their regexes only: the gate's acceptance checks (checksums, exact lengths, placeholder
    # words) keep false positives out of findings, but redacting a near-miss costs nothing.
    found += [Detector.of(p.regex) for p in PATTERNS if p.secret_type not in _CONTEXT_PATTERNS]
    return tuple(found)


def _detect_secrets_detectors() -> Iterator[Detector]:
    for pattern, flags, private_key, literals in _detect_secrets_specs():
        yield Detector(pattern, flags, private_key, literals=literals)


# A detect-secrets regex: pattern, flags, private key, and its literals (`pattern_literals`)
Spec = tuple[str, int, bool, Literals | None]


def _detect_secrets_specs() -> list[Spec]:
    """detect-secrets' regexes and their literals, remembered in the cache directory for the
    installed copy: importing its plugins costs more than a warm run (they import requests,
    for verifying secrets online), parsing 45 regexes for their literals a tenth of one, and
    both change only with its files and `regexlit`'s code (both in the stamp)."""
    stamp = _detect_secrets_stamp()
    if stamp is None:
        return []
    path = default_cache_dir() / f"redact-detectors-2-{stamp}.json"
    cached = _read_specs(path)
    if cached is not None:
        return cached
    specs = list(_import_specs())
    _write_specs(path, specs)
    return specs


def _detect_secrets_stamp() -> str | None:
    """A digest of where detect-secrets is and of its plugin files (name, size, mtime)."""
    spec = importlib.util.find_spec("detect_secrets")
    if spec is None or spec.origin is None:
        return None
    package = Path(spec.origin).parent
    parts = [str(package), _source_digest(regexlit.__file__)]
    for path in sorted((package / "plugins").glob("*.py")):
        with contextlib.suppress(OSError):
            info = path.stat()
            parts.append(f"{path.name}:{info.st_size}:{info.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode("utf-8", "surrogateescape")).hexdigest()[:32]


def _source_digest(path: str | None) -> str:
    """The SHA-256 of a source file (the code that derives the literals that are cached)."""
    try:
        return hashlib.sha256(Path(str(path)).read_bytes()).hexdigest()
    except OSError:
        return f"unreadable:{path}"


def _read_specs(path: Path) -> list[Spec] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, list) or not data:
        return None
    specs: list[Spec] = []
    for item in data:
        if not (isinstance(item, list) and len(item) == 4):
            return None
        pattern, flags, private_key, literals = item
        if not (isinstance(pattern, str) and type(flags) is int and isinstance(private_key, bool)):
            return None
        if literals is not None and not _literal_lists(literals):
            return None
        found = (
            None if literals is None else Literals(frozenset(literals[0]), frozenset(literals[1]))
        )
        specs.append((pattern, flags, private_key, found))
    return specs


def _literal_lists(value: Any) -> bool:
    """[plain, folded]: two lists of non-empty strings, at least one string in all."""
    return (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(part, list) for part in value)
        and all(isinstance(x, str) and x for part in value for x in part)
        and any(value)
    )


def _write_specs(path: Path, specs: Sequence[Spec]) -> None:
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        rows = [[*spec[:3], _literal_rows(spec[3])] for spec in specs]
        atomic.write(path, json.dumps(rows), create_mode=0o600)


def _literal_rows(literals: Literals | None) -> list[list[str]] | None:
    return None if literals is None else [sorted(literals.plain), sorted(literals.folded)]


def _import_specs() -> Iterator[Spec]:
    try:
        from detect_secrets.core.plugins.util import (  # noqa: PLC0415 (optional, slow)
            get_mapping_from_secret_type_to_class,
        )
        from detect_secrets.plugins.base import RegexBasedDetector  # noqa: PLC0415
    except ImportError:
        return
    mapping: dict[str, Any] = get_mapping_from_secret_type_to_class()
    for secret_type, plugin in sorted(mapping.items()):
        if secret_type in HEURISTIC_TYPES or not issubclass(plugin, RegexBasedDetector):
            continue
        instance: Any = cast(Any, plugin)()
        for regex in instance.denylist:
            literals = pattern_literals(regex.pattern, regex.flags)
            yield regex.pattern, regex.flags, secret_type in _KEY_TYPES, literals


def redact_secrets(text: str) -> str:
    """`text` with every secret the detectors recognise replaced by its preview."""
    if not _may_hold_a_secret(text):
        return text
    if len(text) <= _CACHED_LENGTH:
        return _redact_cached(text)
    return _redact(text)


def _may_hold_a_secret(text: str) -> bool:
    """A cheap test every detector's match passes: each secret is a run of at least 8
    token characters, or a private key header, or credentials in a URL (`://`)."""
    return bool(text) and _TRIGGER.search(text) is not None


@functools.lru_cache(maxsize=65_536)
def _redact_cached(text: str) -> str:
    return _redact(text)


def _redact(text: str, candidates: Sequence[Detector] | None = None) -> str:
    """`text` redacted by every detector of `candidates` (default: all) that may match it;
    a detector that lacks all of its literals in `text` cannot match, and is not run."""
    spans: list[tuple[int, int, bool]] = []
    folded = fold(text)
    for detector in detectors() if candidates is None else candidates:
        if detector.may_match(text, folded):
            spans += _spans(detector, text)
    if not spans:
        return text
    return _replace(text, _merged(spans))


def _spans(detector: Detector, text: str) -> Iterator[tuple[int, int, bool]]:
    for match in detector.regex.finditer(text):
        if detector.accept is not None and detector.accept(text, *match.span()) is None:
            continue
        if detector.private_key:
            if not text.startswith(KEY_REDACTED, match.end()):  # redacted already
                yield match.start(), _key_block_end(text, match.end()), True
            continue
        groups = [
            match.span(i)
            for i in range(1, (match.re.groups or 0) + 1)
            if match.group(i) and len(match.group(i)) >= MIN_GROUP
        ]
        for start, end in groups or [match.span()]:
            yield start, end, False


def _key_block_end(text: str, start: int) -> int:
    """Where a private key that starts at `start` ends: its END line, else its body."""
    window = text[start : start + KEY_BLOCK_LIMIT]
    end = _KEY_END.search(window)
    if end is not None:
        return start + end.end()
    body = _KEY_BODY.match(window)
    return start + (body.end() if body else 0)


def _merged(spans: Sequence[tuple[int, int, bool]]) -> list[tuple[int, int, bool]]:
    out: list[tuple[int, int, bool]] = []
    for start, end, key in sorted(spans):
        if out and start < out[-1][1]:
            last = out[-1]
            out[-1] = (last[0], max(last[1], end), last[2] or key)
        else:
            out.append((start, end, key))
    return out


def _replace(text: str, spans: Sequence[tuple[int, int, bool]]) -> str:
    parts: list[str] = []
    done = 0
    for start, end, key in spans:
        parts.append(text[done:start])
        value = text[start:end]
        parts.append(_key_preview(value) if key else redact(value))
        done = end
    parts.append(text[done:])
    return "".join(parts)


def _key_preview(block: str) -> str:
    header = PRIVATE_KEY_HEADER.search(block)
    return (header.group(0) if header else "PRIVATE KEY") + KEY_REDACTED


def redact_value(value: T) -> T:
    """A copy of `value` with every string in it redacted: dataclasses (frozen ones
    included), mappings, lists, tuples and sets are walked; enums, numbers and paths kept.
    Objects with nothing to redact are returned as they are, not copied.

    The distinct strings are collected first and redacted together (`redacted_strings`):
    a report of 100,000 findings holds 700,000 strings, and the detectors that cannot
    match any of them are ruled out once for all, not once per string."""
    strings: set[str] = set()
    _collect(value, strings, set())
    replaced = redacted_strings(strings)
    if not replaced:
        return value
    return cast("T", _walk(value, {}, replaced))


def redacted_strings(strings: Collection[str]) -> dict[str, str]:
    """{string: its redaction} for each of `strings` that redaction changes.

    The strings are joined (newline-separated) and each detector's literals are looked for
    in the whole text once: only a string holding one of them is searched with that
    detector's regex, and only a string some regex matches is redacted (`_redact`)."""
    texts = list(filter(_TRIGGER.search, strings))  # `_may_hold_a_secret`, without a call each
    if _digests_cannot_match():  # a cache pack or stat index is half SHA-256 digests
        texts = [t for t in texts if len(t) not in _DIGEST_LENGTHS or _HEX.fullmatch(t) is None]
    memo = _MEMOS[-1] if _MEMOS else None
    if memo is None:
        return _searched(texts)
    out = _searched(memo.unknown(texts))
    memo.saw(texts, out)
    return out


def _searched(texts: list[str]) -> dict[str, str]:
    """`redacted_strings` of `texts`, each of which may hold a secret."""
    if not texts:
        return {}
    joined = "\n".join(texts)
    starts = list(itertools.accumulate((len(t) + 1 for t in texts), initial=0))
    folded = fold(joined)
    aligned = len(folded) == len(joined)  # positions in `folded` are positions in `joined`
    pieces = _Pieces(texts, joined, folded, starts)
    suspects: set[int] = set()
    for detector in detectors():
        if detector.literals is None:
            holding: Iterable[int] = range(len(texts))
        elif aligned:
            holding = _holding(detector.literals, pieces)
        else:
            holding = [i for i, t in enumerate(texts) if detector.literals.found_in(t)]
        unsure = list(set(holding).difference(suspects))
        if unsure:  # else its regex is not compiled (`Detector.regex`)
            matched = map(detector.regex.search, map(texts.__getitem__, unsure))
            suspects.update(itertools.compress(unsure, matched))  # one C loop, not a call each
    out: dict[str, str] = {}
    for index in suspects:
        new = _redact(texts[index])
        if new != texts[index]:
            out[texts[index]] = new
    return out


class CleanStrings:
    """The strings a run found no secret in (`remembering_clean_strings`).

    What an earlier run stored is loaded when first needed: its key names the detectors,
    which a cold run loads while its scanners run (`core._load_redaction`), not before."""

    def __init__(self, cache: ResultCache) -> None:
        self._cache = cache
        self._lock = threading.Lock()
        self._key: str | None = None
        self._known: frozenset[str] | None = None
        self.seen: set[str] = set()  # found clean by this run (known ones included)

    @property
    def known(self) -> frozenset[str]:
        """Found clean by an earlier run, under the same detectors and redaction code."""
        with self._lock:
            if self._known is None:
                self._key = make_key("redact-clean", _MEMO_VERSION, _detectors_stamp())
                loaded = self._cache.get(self._key)
                valid = isinstance(loaded, list) and all(type(x) is str for x in loaded)
                self._known = frozenset(cast(list[str], loaded)) if valid else frozenset()
            return self._known

    def unknown(self, texts: Iterable[str]) -> list[str]:
        """Those of `texts` that neither an earlier run nor this one found clean (a cold
        run writes the same paths in its stat index, each gate's cache pack and its
        reports: 2,000 paths searched once, not four times)."""
        known = self.known
        with self._lock:
            return [t for t in texts if t not in known and t not in self.seen]

    def saw(self, texts: Iterable[str], changed: Collection[str]) -> None:
        with self._lock:  # gates store their cache entries from several threads
            self.seen.update(texts)
            self.seen.difference_update(changed)

    def store(self) -> None:
        """Store what this run found clean, if it differs and is not too large."""
        key, known = self._key, self._known
        if key is None or known is None or self.seen == known:  # nothing redacted, or no news
            return
        if len(self.seen) <= MEMO_MAX_STRINGS and sum(map(len, self.seen)) <= MEMO_MAX_CHARS:
            with self._lock:
                self._known = frozenset(self.seen)  # the entry is redacted as every entry:
            self._cache.put(key, sorted(self._known))  # each of its strings found clean


_MEMOS: list[CleanStrings] = []  # the innermost `remembering_clean_strings` block's last
MEMO_MAX_STRINGS = 20_000  # a larger run does not store its strings (a report of 100,000
MEMO_MAX_CHARS = 4_000_000  # findings holds 700,000 of them: loading them costs more)
_MEMO_VERSION = 1


@contextlib.contextmanager
def remembering_clean_strings(cache: ResultCache | None) -> Iterator[CleanStrings | None]:
    """Within the block, a string this run or an earlier one found clean (under the same
    detectors and redaction code) is not searched again; at its end the strings found
    clean are stored in `cache`. A warm run writes the same report and cache entries as the
    run before it:
    searching their few thousand strings, and compiling the detectors' regexes to do it,
    took 15-20 ms of a 2,000-file tree's warm run (issue 16). Only strings no detector
    matched are stored, and a string is a key, not a digest: no collision skips one."""
    if cache is None:
        yield None
        return
    memo = CleanStrings(cache)
    _MEMOS.append(memo)
    try:
        yield memo
        memo.store()
    finally:
        _MEMOS.remove(memo)


def _detectors_stamp() -> str:
    """What decides whether redaction changes a string: the detectors, and the code that
    runs them (this module, mlgate's own patterns, the literals' derivation)."""
    rows = [[d.pattern, d.flags, d.private_key, _literal_rows(d.literals)] for d in detectors()]
    sources = [regexlit.__file__, secretpatterns.__file__, __file__]
    return make_key(rows, [_source_digest(path) for path in sources])


_HEX = re.compile(r"[0-9a-f]+")
# The lengths of the digests mlgate writes (SHA-256, SHA-1, MD5, fingerprints): only a
# string this long is tested, so 700,000 strings of a large report cost a length test each.
_DIGEST_LENGTHS = frozenset({32, 40, 64, 128})


@functools.cache
def _digests_cannot_match() -> bool:
    """Whether no detector can match in a string of lower-case hex digits (a digest): each
    has literals, and each literal holds a character that no such string, folded or not,
    holds (`fold` lower-cases)."""
    hexdigits = frozenset("0123456789abcdef")
    return all(
        detector.literals is not None
        and not any(set(x) <= hexdigits for x in detector.literals.plain | detector.literals.folded)
        for detector in detectors()
    )


class _Pieces:
    """The texts `redacted_strings` searches, joined and one by one, plain and folded."""

    def __init__(self, texts: list[str], joined: str, folded: str, starts: Sequence[int]) -> None:
        self.texts = texts
        self.joined = joined
        self.folded = folded
        self.starts = starts
        self.holding: dict[tuple[bool, str], set[int]] = {}  # (plain, literal): its texts

    @functools.cached_property
    def folded_texts(self) -> list[str]:
        """Each text folded: its slice of the folded join (`fold` keeps positions)."""
        folded, starts = self.folded, self.starts
        return [folded[start : end - 1] for start, end in itertools.pairwise(starts)]


_FEW_HITS = 64  # a literal found this often: every text is tested for it instead


def _holding(literals: Literals, pieces: _Pieces) -> set[int]:
    """Indices of the texts in which a literal occurs (each literal looked for once, however
    many detectors need it)."""
    found: set[int] = set()
    for plain, wanted in ((True, literals.plain), (False, literals.folded)):
        for literal in wanted:
            key = (plain, literal)
            if key not in pieces.holding:
                pieces.holding[key] = _holding_literal(pieces, plain, literal)
            found |= pieces.holding[key]
    return found


def _holding_literal(pieces: _Pieces, plain: bool, literal: str) -> set[int]:
    """Indices of the texts (`plain` or folded) holding `literal`.

    A rare literal is found in the joined text, each place mapped to its text; a common
    one ('.', ':') is tested for in each text in one C loop (a place at a time, 100,000
    places cost a third of a second)."""
    found: set[int] = set()
    starts = pieces.starts
    text = pieces.joined if plain else pieces.folded
    at, hits = text.find(literal), 0
    while at >= 0 and hits < _FEW_HITS:
        index = bisect.bisect_right(starts, at) - 1
        found.add(index)
        hits += 1
        at = text.find(literal, starts[index + 1])  # the next text holding it
    if at >= 0:
        own = pieces.texts if plain else pieces.folded_texts
        tests = map(operator.contains, own, itertools.repeat(literal))
        found.update(itertools.compress(range(len(own)), tests))
    return found


_ATOMS = frozenset({int, float, bool, bytes, type(None)})
_SEQUENCES = (list, tuple, set, frozenset)
_LEAVES = (str, enum.Enum, PurePath, int, float, bytes)


@functools.lru_cache(maxsize=256)
def _init_fields(kind: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(kind) if f.init)


@functools.lru_cache(maxsize=256)
def _fields_getter(kind: Hashable) -> Callable[[Any], tuple[Any, ...]]:
    names = _init_fields(cast(type, kind))
    getter = operator.attrgetter(*names) if names else (lambda _item: ())
    return (lambda item: (getter(item),)) if len(names) == 1 else getter


def _collect(value: Any, out: set[str], seen: set[int]) -> None:
    """Add every string `_walk` would redact in `value` to `out` (each container once)."""
    stack = [value]
    pop, push, add = stack.pop, stack.extend, out.add
    while stack:
        item = pop()
        kind = type(item)
        if kind is str:
            add(item)
        elif kind not in _ATOMS and id(item) not in seen:
            seen.add(id(item))
            if isinstance(item, _LEAVES):
                continue
            if isinstance(item, _SEQUENCES):
                rows = _rows_kind(item)
                if rows is None:
                    if type(item) is list and _only_strings(item):  # a cache pack's paths
                        out.update(item)
                    else:
                        push(item)
                else:  # 100,000 findings: a column at a time, not a value at a time
                    fresh = [row for row in item if id(row) not in seen]
                    seen.update(map(id, fresh))
                    for column in _columns(fresh, rows):
                        what = _column_kind(column)
                        if what is _STRINGS:
                            out.update(column)
                        elif what is _MIXED:  # an empty container holds no string
                            push(filter(None, column))
            elif isinstance(item, Mapping):
                push(item.keys())
                push(item.values())
            elif dataclasses.is_dataclass(item) and not isinstance(item, type):
                push(_fields_getter(cast(Hashable, kind))(item))
    out.discard(cast(str, None))  # a column of optional strings added its Nones


def _only_strings(items: list[Any]) -> bool:
    return len(items) >= _COLUMNS_FROM and set(map(type, items)) == _STR


_STR = frozenset({str})
_COLUMNS_FROM = 32  # a list or tuple this long of one dataclass type: walked by columns
_STRINGS, _LEAF_VALUES, _MIXED = "strings", "leaves", "mixed"
_OPTIONAL_STR = frozenset({str, type(None)})


def _rows_kind(item: Any) -> type | None:
    """The dataclass type of every element of a long list or tuple (else None)."""
    if type(item) not in (list, tuple) or len(item) < _COLUMNS_FROM:
        return None
    kinds = set(map(type, item))
    kind = kinds.pop() if len(kinds) == 1 else None
    return kind if kind is not None and dataclasses.is_dataclass(kind) else None


def _columns(rows: Sequence[Any], kind: type) -> list[tuple[Any, ...]]:
    """The values of each init field of `rows` (all of type `kind`), one tuple per field."""
    if not rows or not _init_fields(kind):
        return []
    return list(zip(*map(_fields_getter(cast(Hashable, kind)), rows), strict=True))


def _column_kind(column: Sequence[Any]) -> str:
    """_STRINGS: strings or None; _LEAF_VALUES: nothing to redact; _MIXED: anything else."""
    types = set(map(type, column))
    if types <= _OPTIONAL_STR and str in types:
        return _STRINGS
    if all(t in _ATOMS or issubclass(t, _LEAVES) for t in types):
        return _LEAF_VALUES
    return _MIXED


def _walk(value: Any, memo: dict[int, Any], replaced: Mapping[str, str]) -> Any:
    kind = type(value)
    if kind is str:
        return replaced.get(value, value)
    if kind in _ATOMS:
        return value
    key = id(value)
    if key not in memo:
        memo[key] = _walk_container(value, memo, replaced)
    return memo[key]


def _walk_container(value: Any, memo: dict[int, Any], replaced: Mapping[str, str]) -> Any:
    if isinstance(value, (str, enum.Enum, PurePath, int, float, bytes)):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {}
        for name in _init_fields(type(value)):
            old = getattr(value, name)
            new = _walk(old, memo, replaced)
            if new is not old:
                changes[name] = new
        return _replaced(value, changes)
    if isinstance(value, Mapping):
        pairs = []
        changed = False
        for key, item in value.items():
            new_key, new_item = _walk(key, memo, replaced), _walk(item, memo, replaced)
            changed = changed or new_key is not key or new_item is not item
            pairs.append((new_key, new_item))
        return dict(pairs) if changed else value
    if isinstance(value, _SEQUENCES):
        rows = _rows_kind(value)
        if rows is not None:  # only a list or a tuple
            items = _walk_rows(cast(Sequence[Any], value), rows, memo, replaced)
        else:
            items = [_walk(v, memo, replaced) for v in value]
        if all(n is o for n, o in zip(items, value, strict=True)):
            return value
        return type(value)(items)
    return value


def _walk_rows(
    rows: Sequence[Any], kind: type, memo: dict[int, Any], replaced: Mapping[str, str]
) -> list[Any]:
    """`_walk` of each of `rows` (all of dataclass type `kind`), column by column: a column
    of strings none of which is redacted is skipped at once."""
    changes: dict[int, dict[str, Any]] = {}
    for name, column in zip(_init_fields(kind), _columns(rows, kind), strict=True):
        what = _column_kind(column)
        if what is _LEAF_VALUES or replaced.keys().isdisjoint(_strings_in(column, what)):
            continue
        for index, old in enumerate(column):
            new = _walk(old, memo, replaced)
            if new is not old:
                changes.setdefault(index, {})[name] = new
    out = []
    for index, row in enumerate(rows):
        key = id(row)
        if key not in memo:
            memo[key] = _replaced(row, changes.get(index))
        out.append(memo[key])
    return out


def _strings_in(column: Sequence[Any], what: str) -> Collection[Any]:
    if what is _STRINGS:
        return column
    found: set[str] = set()
    _collect(list(filter(None, column)), found, set())  # an empty container holds no string
    return found


def _replaced(value: Any, changes: Mapping[str, Any] | None) -> Any:
    if not changes:
        return value
    if isinstance(value, Finding):  # much cheaper than dataclasses.replace
        return value.with_changes(**changes)
    return dataclasses.replace(value, **changes)


# --- the process's own output ---------------------------------------------------------------

_verbatim = threading.local()


@contextlib.contextmanager
def already_redacted() -> Iterator[None]:
    """Within the block, text written to the redacted streams by this thread is passed on
    as is: it was built from `redact_value` output (a report), and scanning it twice would
    cost as much again."""
    _verbatim.on = True
    try:
        yield
    finally:
        _verbatim.on = False


class RedactingWriter(io.TextIOBase):
    """A text stream that redacts everything written through it, then passes it on."""

    def __init__(self, target: TextIO) -> None:
        super().__init__()
        self.target = target

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        verbatim = getattr(_verbatim, "on", False)
        self.target.write(text if verbatim else redact_secrets(text))
        return len(text)

    def flush(self) -> None:
        self.target.flush()

    def isatty(self) -> bool:
        return self.target.isatty()

    def fileno(self) -> int:
        return self.target.fileno()

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return str(getattr(self.target, "encoding", None) or "utf-8")

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return getattr(self.target, "errors", None)


@contextlib.contextmanager
def redacted_streams() -> Iterator[None]:
    """Within the block, everything written to sys.stdout and sys.stderr is redacted."""
    saved = sys.stdout, sys.stderr
    sys.stdout = RedactingWriter(saved[0])
    sys.stderr = RedactingWriter(saved[1])
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        sys.stdout, sys.stderr = saved


__all__ = [
    "RedactingWriter",
    "already_redacted",
    "detectors",
    "redact_secrets",
    "redact_value",
    "redacted_streams",
    "redacted_strings",
]
