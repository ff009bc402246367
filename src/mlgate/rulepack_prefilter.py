"""Which semgrep rules could match a file: a sound literal prefilter for the rule pack.

semgrep's fixed start costs more than scanning one small file, so a warm run where the
changed files cannot match any rule-pack rule need not start it. For each rule this
module derives, from its patterns, a conjunction of clauses; each clause is a set of
atoms (byte patterns) one of which every file the rule matches contains. A file where
some clause has no atom cannot match the rule. Derived like semgrep's own prefilter
(`Analyze_rule`): `patterns` is an AND of its positive parts (`pattern`, `pattern-inside`,
`pattern-either`), `pattern-either` an OR, taint needs a source and a sink;
`pattern-not*`, `metavariable-*` and `focus-metavariable` only narrow a match and add
nothing; anything not understood puts no constraint on its branch (an OR with such a
branch constrains nothing, a rule with nothing left has no prefilter: it always may
match).

Atoms:
- an identifier of a pattern (not a metavariable, keyword, `self` or `cls`): semgrep's
  name resolution (`import numpy as np` makes `np.load` match `numpy.load`) still needs
  every name of the pattern in the file, in the import if not at the call;
- a string literal of a pattern: semgrep matches it against constants it folds from
  pieces (`"/t" + "mp"`, adjacent literals, f-strings, a variable holding one), and reads
  each piece's text without decoding escapes (tested). A value `V` therefore needs `V` in
  the file, or a piece that is a proper prefix of `V` between delimiters (quotes, `{`,
  `}`), or an escape that could stand for a character (`\\x`, `\\u`, `\\U`, `\\N`, octal,
  a line continuation). A regex string `"=~/^c.../"` needs a piece starting with `c`.
  `"..."`, strings with metavariables and f-string patterns give no atom.

`tests/test_rulepack_prefilter.py` checks every rule against its annotated test file
(the prefilter must say "may match") and runs semgrep on those files with each clause's
atoms made absent (no finding of that rule may remain).
"""

from __future__ import annotations

import collections
import functools
import itertools
import keyword
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlgate.regexlit import required_literals
from mlgate.yamlimport import yaml

# A piece of a folded string starts after one of these (an opening quote, the end of an
# f-string interpolation, an f-string `{{`) and ends before one of them.
_DELIMITERS = rb"[\"'{}]"
# An escape that could stand for a letter, a digit, `/` or nothing at all.
_ESCAPE = rb"\\[xuUN0-7\r\n]"
_WORD = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
_NOT_NAMES = frozenset({*keyword.kwlist, *keyword.softkwlist, "self", "cls"})
_TOKEN = re.compile(
    r"""
      (?P<comment>\#[^\n]*)
    | (?P<string>(?P<prefix>[rRbBuUfF]{1,2})?
        (?:\"\"\"(?:\\.|[^\\])*?\"\"\"|'''(?:\\.|[^\\])*?'''|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'))
    | (?P<mvar>\$(?:\.\.\.)?\w+)
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)
# `^(load|loads)$`: a metavariable-regex naming whole identifiers
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_WHOLE_NAMES = re.compile(rf"\^(?:\(({_NAME}(?:\|{_NAME})*)\)|({_NAME}))\$")
# `$X: int`: the type of a typed metavariable need not be written in the file.
# `$X.$NAME`: a metavariable bound to an attribute name (an identifier, never a constant).
_FIELD_METAVARIABLE = re.compile(r"\.\s*(\$[A-Z_][A-Z0-9_]*)\b")
_TYPED_METAVARIABLE = re.compile(r"\$\w+\s*:\s*[A-Za-z_]")
_NARROWING = frozenset(
    {
        "pattern-not",
        "pattern-not-inside",
        "pattern-not-regex",
        "metavariable-regex",
        "metavariable-pattern",
        "metavariable-comparison",
        "metavariable-type",
        "metavariable-analysis",
        "focus-metavariable",
    }
)
# libyaml's safe loader when PyYAML has it: the same data, 10x faster
_LIBYAML = bool(getattr(yaml, "__with_libyaml__", False))
_MAX_CLAUSES = 64  # an OR's product of clauses is cut down to a few joins beyond this
_SHARED_PASSES = 3


@dataclass(frozen=True)
class Atom:
    """Something every matching file contains: `text` (for people), `pattern` (searched)."""

    text: str
    pattern: bytes
    word: bool = False  # a whole identifier: not preceded by an identifier character

    @functools.cached_property
    def regex(self) -> re.Pattern[bytes]:
        return re.compile(self.pattern)

    def search(self, data: bytes) -> re.Match[bytes] | None:
        """The first occurrence in `data` (a regex starting with a lookbehind would not be
        searched for its literal first: the preceding byte is checked here instead)."""
        for match in self.regex.finditer(data):
            if not self.word or match.start() == 0 or data[match.start() - 1] not in _WORD:
                return match
        return None


Clause = frozenset[Atom]
Cnf = tuple[Clause, ...]  # every clause must have an atom in the file; () constrains nothing


@dataclass(frozen=True)
class RuleFilter:
    """The clauses of one rule; none (`clauses == ()`) means it always may match."""

    rule_id: str
    clauses: Cnf

    def may_match(self, data: bytes, seen: dict[Atom, bool] | None = None) -> bool:
        seen = {} if seen is None else seen
        return all(any(_found(atom, data, seen) for atom in clause) for clause in self.clauses)


def _found(atom: Atom, data: bytes, seen: dict[Atom, bool]) -> bool:
    if atom not in seen:
        seen[atom] = atom.search(data) is not None
    return seen[atom]


def identifier(name: str) -> Atom:
    """A name as a whole token: semgrep matches identifiers, never part of one (`eval` is
    not in `evaluate`). A non-ASCII neighbour counts as a boundary (may match: safe)."""
    return Atom(name, re.escape(name.encode()) + rb"(?![A-Za-z0-9_])", word=True)


def string_value(value: str) -> Atom:
    """A folded string constant equal to `value` (non-empty)."""
    raw = value.encode()
    prefixes = [re.escape(raw[:n]) for n in range(len(raw) - 1, 0, -1)]
    parts = [re.escape(raw), _ESCAPE]
    if prefixes:
        parts.append(_DELIMITERS + b"(?:" + b"|".join(prefixes) + b")" + _DELIMITERS)
    return Atom(f'"{value}"', b"|".join(parts))


def string_start(char: str) -> Atom:
    """A folded string constant that starts with `char`."""
    return Atom(f'"{char}...', _DELIMITERS + re.escape(char.encode()) + b"|" + _ESCAPE)


# --- patterns -----------------------------------------------------------------------------


def pattern_cnf(pattern: str) -> Cnf:
    """The clauses of one semgrep pattern (Python): one per identifier or string it needs."""
    if _TYPED_METAVARIABLE.search(pattern):
        return ()
    atoms: set[Atom] = set()
    for token in _TOKEN.finditer(pattern):
        if token.group("name") and token.group("name") not in _NOT_NAMES:
            atoms.add(identifier(token.group("name")))
        elif token.group("string"):
            atom = _string_atom(token.group("string"), token.group("prefix") or "")
            if atom is not None:
                atoms.add(atom)
    return tuple(frozenset({a}) for a in sorted(atoms, key=lambda a: a.text))


def _string_atom(literal: str, prefix: str) -> Atom | None:
    body = literal[len(prefix) :]
    quote = body[:3] if body[:3] in ('"""', "'''") else body[:1]
    content = body[len(quote) : len(body) - len(quote)]
    if "f" in prefix.lower():
        return None
    if content.startswith("=~/") and content.endswith("/") and len(content) > 4:
        char = _regex_first_char(content[3:-1])
        return string_start(char) if char is not None else None
    if "\\" in content or "$" in content or "..." in content:
        return None
    return string_value(content) if content else None


def _regex_first_char(regex: str) -> str | None:
    """The character every match starts with, when the regex is `^c...` (no flags, no
    top-level alternative)."""
    if not regex.startswith("^") or len(regex) < 2 or not regex[1].isprintable():
        return None
    char = regex[1]
    if char in "\\.^$*+?{}[]|()" or "|" in _top_level(regex):
        return None
    if len(regex) > 2 and regex[2] in "*?{":
        return None  # `^c*`, `^c?`, `^c{0,1}`: c may be absent
    return char


def _top_level(regex: str) -> str:
    """`regex` with every group and character class removed (escapes dropped first)."""
    text = re.sub(r"\\.", "", regex)
    text = re.sub(r"\[[^\]]*\]", "", text)
    previous = None
    while previous != text:
        previous, text = text, re.sub(r"\([^()]*\)", "", text)
    return text


def _and(parts: Iterable[Cnf]) -> Cnf:
    """The clauses of all parts, without those another one implies (a clause with every
    atom of a smaller one adds nothing to it)."""
    clauses = sorted({c for part in parts for c in part}, key=lambda c: (len(c), _key(c)))
    kept: list[Clause] = []
    for clause in clauses:
        if not any(k <= clause for k in kept):
            kept.append(clause)
    return tuple(kept)


def _key(clause: Clause) -> list[str]:
    return sorted(a.text for a in clause)


def _or(parts: Sequence[Cnf]) -> Cnf:
    if not parts or any(not part for part in parts):
        return ()
    size = 1
    for part in parts:
        size *= len(part)
    if size <= _MAX_CLAUSES:
        product = (frozenset().union(*combo) for combo in itertools.product(*parts))
        return _and([tuple(product)])
    # Any one clause of each branch, joined, is a clause of the OR. Kept: the join of each
    # branch's best clause, and a few joins of the clauses most branches share (`torch` in
    # every `torch.*` branch, then the `load*` names, ...), each pass avoiding the clauses
    # an earlier one took where a branch has others.
    shared = collections.Counter(c for part in parts for c in part)
    joins = [frozenset().union(*(min(part, key=_weakness) for part in parts))]
    used: set[Clause] = set()
    for _ in range(_SHARED_PASSES):
        picks = [
            min(
                [c for c in part if c not in used] or part,
                key=lambda c: (-shared[c], *_weakness(c)),
            )
            for part in parts
        ]
        used.update(picks)
        joins.append(frozenset().union(*picks))
    return _and([tuple(joins)])


def _weakness(clause: Clause) -> tuple[int, int]:
    """Prefer clauses of few, long identifiers: they rule out the most files."""
    return (len(clause), -min(len(a.text) for a in clause))


def _formula(node: Any) -> Cnf:
    """The clauses of a pattern operator: a string (a pattern), a list of operators (AND, as
    under `patterns`), or a mapping of operators (each key one of them, ANDed)."""
    if isinstance(node, str):
        return pattern_cnf(node)
    if isinstance(node, list):
        return _and([*(_formula(item) for item in node), *_name_regexes(node)])
    if not isinstance(node, Mapping):
        return ()
    parts: list[Cnf] = []
    for key, value in node.items():
        if key in ("pattern", "pattern-inside", "patterns"):
            parts.append(_formula(value))
        elif key == "pattern-either" and isinstance(value, list):
            parts.append(_or([_formula(item) for item in value]))
        # anything else (narrowing operators, options, unknown keys) constrains nothing
    return _and(parts)


def _name_regexes(conjuncts: Sequence[Any]) -> list[Cnf]:
    """Under `patterns`: a `metavariable-regex` on a metavariable that a positive `pattern`
    of the same list binds to an attribute name (`$X.$NAME`) is matched against that name,
    which is written in the file (at the call, or in the import semgrep resolves it by):
    the regex's required literals are atoms (semgrep's own prefilter does the same). A
    metavariable anywhere else may be bound to a folded constant: its regex adds nothing."""
    bound = {
        name
        for item in conjuncts
        if isinstance(item, Mapping) and isinstance(item.get("pattern"), str)
        for name in _FIELD_METAVARIABLE.findall(item["pattern"])
    }
    clauses: list[Cnf] = []
    for item in conjuncts:
        spec = item.get("metavariable-regex") if isinstance(item, Mapping) else None
        if not isinstance(spec, Mapping) or spec.get("metavariable") not in bound:
            continue
        regex = str(spec.get("regex", ""))
        names = _WHOLE_NAMES.fullmatch(regex)
        if names:  # `^(a|b)$`: the name is one of them, a whole identifier
            words = (names.group(1) or names.group(2)).split("|")
            clauses.append((frozenset(identifier(x) for x in words),))
        elif literals := _regex_literals(regex):  # part of the name: found as a substring
            clauses.append((frozenset(Atom(x, re.escape(x.encode())) for x in literals),))
    return clauses


def _regex_literals(regex: str) -> frozenset[str] | None:
    try:
        compiled = re.compile(regex)
    except re.error:
        return None
    found = required_literals(compiled)
    if found is None or found.folded or not found.plain or "" in found.plain:
        return None
    return found.plain


def rule_cnf(rule: Mapping[str, Any]) -> Cnf:
    """The clauses of one rule; () when it has none that is sound (always may match)."""
    if rule.get("languages") not in (["python"], ["py"], ["python3"]):
        return ()
    if rule.get("options") or rule.get("equivalences"):
        return ()  # options change matching (symbolic propagation, ...): no prefilter
    mode = rule.get("mode", "search")
    if mode == "taint":
        sources, sinks = rule.get("pattern-sources"), rule.get("pattern-sinks")
        if not isinstance(sources, list) or not isinstance(sinks, list):
            return ()
        return _and([_or([_formula(s) for s in sources]), _or([_formula(s) for s in sinks])])
    if mode != "search":
        return ()
    keys = ("pattern", "patterns", "pattern-either")
    if sum(key in rule for key in keys) != 1:
        return ()
    return _formula({key: rule[key] for key in keys if key in rule})


def rule_documents(path: Path) -> list[dict[str, Any]]:
    """The rules of one semgrep rule file (libyaml's safe loader when PyYAML has it: the
    same data, 10x faster); OSError or yaml.YAMLError when it cannot be read."""
    text = path.read_text(encoding="utf-8")
    data = yaml.load(text, Loader=yaml.CSafeLoader) if _LIBYAML else yaml.safe_load(text)
    rules = data.get("rules") if isinstance(data, dict) else None
    return [rule for rule in rules or [] if isinstance(rule, dict)]


@functools.cache
def pack_documents(path: Path) -> list[dict[str, Any]]:
    """`rule_documents` of a file of mlgate's rule pack (package data, unchanged while mlgate
    runs), read once per process: the prefilter, the sast gate's supersession table and its
    rule catalogue all read every file (callers only read the rules, never change them)."""
    return rule_documents(path)


def rule_filters(
    rule_files: Iterable[Path],
    read: Callable[[Path], list[dict[str, Any]]] = rule_documents,
) -> tuple[RuleFilter, ...]:
    return tuple(
        RuleFilter(str(rule.get("id", "")).rsplit(".", 1)[-1], rule_cnf(rule))
        for path in rule_files
        for rule in read(path)
    )


def rule_files(directory: Path) -> list[Path]:
    """Every YAML file of a rule directory (one without `rules` adds none)."""
    return sorted(directory.rglob("*.y*ml"))


@functools.cache
def pack_filters(directory: Path) -> tuple[RuleFilter, ...]:
    """The filters of a rule directory's rules; none (no prefilter) when it also holds a
    JSON file, which semgrep may read as rules too."""
    if any(p.suffix.lower() == ".json" for p in directory.rglob("*")):
        return ()
    return rule_filters(rule_files(directory), pack_documents)


def may_match(filters: Sequence[RuleFilter], data: bytes) -> bool:
    """Whether some rule may match a file with these bytes: true as well for a rule without
    clauses and for a text that is not ASCII-compatible (the atoms say nothing there).
    Callers treat "no filters" as "no prefilter"."""
    if b"\0" in data or data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return True
    if any(not f.clauses for f in filters):
        return True
    seen: dict[Atom, bool] = {}
    return any(f.may_match(data, seen) for f in filters)
