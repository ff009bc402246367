"""Literals a regular expression cannot match without: a sound, cheap prefilter.

`required_literals(regex)` reads the parsed pattern (Python's own `re` parser) and returns
a set of literals such that every match of `regex` contains at least one of them, or None
when it cannot tell. A text that contains none of them cannot match, so the (much
slower) regex search can be skipped: redaction runs 50 detectors over every string mlgate
writes, and most strings contain none of their literals.

Case-insensitive literals are compared with `fold(text)`: the text lower-cased, with each
non-ASCII character that `re.IGNORECASE` equates with an ASCII letter (the Kelvin sign
with `k`, the long s with `s`, ...) replaced by that letter first.
"""

from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

_P: Any = None


def _parser() -> Any:
    """Python's regex parser (`re._parser`; `sre_parse` before 3.11, deprecated since)."""
    global _P  # noqa: PLW0603 (imported once, on first use)
    if _P is None:
        try:
            _P = importlib.import_module("re._parser")
        except ImportError:  # pragma: no cover (Python 3.10)
            _P = importlib.import_module("sre_parse")
    return _P


@dataclass(frozen=True)
class Literals:
    """Every match contains one of `plain` (as is) or of `folded` (in `fold(text)`)."""

    plain: frozenset[str]
    folded: frozenset[str]

    def shortest(self) -> int:
        return min(len(x) for x in self.plain | self.folded)

    def size(self) -> int:
        return len(self.plain) + len(self.folded)

    def found_in(self, text: str, folded: str | None = None) -> bool:
        """Whether `text` contains one of the literals (`folded`: `fold(text)`, if known)."""
        if any(x in text for x in self.plain):
            return True
        if not self.folded:
            return False
        folded = fold(text) if folded is None else folded
        return any(x in folded for x in self.folded)

    def __or__(self, other: Literals) -> Literals:
        return Literals(self.plain | other.plain, self.folded | other.folded)


def required_literals(regex: re.Pattern[str]) -> Literals | None:
    """Literals one of which is in every match of `regex`; None when none can be derived."""
    if not isinstance(regex.pattern, str):
        return None
    return pattern_literals(regex.pattern, regex.flags)


def pattern_literals(pattern: str, flags: int) -> Literals | None:
    """`required_literals` of `re.compile(pattern, flags)`, without compiling it."""
    parsed = _parser().parse(pattern, flags)
    return _sequence(parsed, bool(parsed.state.flags & re.IGNORECASE))


def _sequence(items: Iterable[tuple[Any, Any]], ignorecase: bool) -> Literals | None:
    """The best of the candidates of a sequence: runs of literal characters, and what each
    consuming sub-pattern requires."""
    candidates: list[Literals] = []
    run: list[str] = []
    for op, av in items:
        if op is _parser().LITERAL:
            run.append(chr(av))
            continue
        _close(run, ignorecase, candidates)
        run = []
        found = _item(op, av, ignorecase)
        if found is not None:
            candidates.append(found)
    _close(run, ignorecase, candidates)
    return max(candidates, key=lambda c: (c.shortest(), -c.size()), default=None)


def _close(run: list[str], ignorecase: bool, candidates: list[Literals]) -> None:
    literal = _literal("".join(run), ignorecase)
    if literal is not None:
        candidates.append(literal)


def _literal(text: str, ignorecase: bool) -> Literals | None:
    if not text:
        return None
    if not ignorecase:
        return Literals(frozenset({text}), frozenset())
    if not text.isascii():  # folding non-ASCII literals soundly is not worth it
        return None
    return Literals(frozenset(), frozenset({text.lower()}))


def _item(op: Any, av: Any, ignorecase: bool) -> Literals | None:
    p = _parser()
    if op is p.SUBPATTERN:
        _group, add_flags, del_flags, body = av
        if add_flags & re.IGNORECASE:
            ignorecase = True
        if del_flags & re.IGNORECASE:
            ignorecase = False
        return _sequence(body, ignorecase)
    if op is p.ATOMIC_GROUP:
        return _sequence(av, ignorecase)
    if op is p.BRANCH:
        return _branch(av[1], ignorecase)
    if op in (p.MAX_REPEAT, p.MIN_REPEAT, p.POSSESSIVE_REPEAT):
        low, _high, body = av
        return _sequence(body, ignorecase) if low >= 1 else None
    return None  # character sets, anchors, lookarounds, group references: no literal


def _branch(alternatives: Iterable[Any], ignorecase: bool) -> Literals | None:
    union: Literals | None = None
    for alternative in alternatives:
        found = _sequence(alternative, ignorecase)
        if found is None:
            return None  # one alternative needs no literal: the branch needs none
        union = found if union is None else union | found
    return union


_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def fold(text: str) -> str:
    """`text` as case-insensitive literals are looked for in it (see the module's doc)."""
    if not text.isascii():  # each distinct non-ASCII character looked up once, not per place
        found = set(_NON_ASCII.findall(text))
        changed = {c: e for c in found if (e := _ascii_equivalent(c)) != c}
        if changed:  # rare (the long s, the Kelvin sign): replaced where they are, in one C scan
            places = re.compile("|".join(map(re.escape, changed)))
            text = places.sub(lambda found: changed[found.group()], text)
    return text.lower()


@functools.lru_cache(maxsize=4096)
def _ascii_equivalent(char: str) -> str:
    """The ASCII letter `re.IGNORECASE` matches `char` with, else `char` itself."""
    for letter in "abcdefghijklmnopqrstuvwxyz":
        if re.fullmatch(letter, char, re.IGNORECASE):
            return letter
    return char


__all__ = ["Literals", "fold", "required_literals"]
