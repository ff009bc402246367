"""PyYAML, imported without compiling the one regex that costs a run 10 ms (issue 16).

`yaml.reader.Reader.NON_PRINTABLE`, a character class spanning all of Unicode, is compiled
when PyYAML is imported: 10 ms, as much as the rest of PyYAML's import, in every mlgate
process that reads a policy. Only the pure-Python reader uses it; mlgate parses with
libyaml (`CSafeLoader`) when PyYAML has it, as its wheels do. So while PyYAML is imported
here, that one pattern becomes a `_LazyPattern`, compiled on first use: the pure-Python
reader still gets the same compiled pattern, the libyaml path never pays for it.

Every mlgate module imports PyYAML as `from mlgate.yamlimport import yaml`
(`tests/test_yamlimport.py` checks).
"""

from __future__ import annotations

import functools
import re
import sys
import threading
from typing import Any

_NON_PRINTABLE = "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
_patching = threading.Lock()


class _LazyPattern:
    """Stands for `re.compile(pattern, flags)`, compiled the first time it is used."""

    def __init__(self, pattern: str, flags: int) -> None:
        self._args = (pattern, flags)

    @functools.cached_property
    def compiled(self) -> re.Pattern[str]:
        return re.compile(*self._args)

    def __getattr__(self, name: str) -> Any:  # search, match, sub, pattern, flags ...
        return getattr(self.compiled, name)


def _import_without_the_regex() -> None:
    if "yaml" in sys.modules:
        return
    real = re.compile

    def compile_lazily(pattern: Any, flags: Any = 0) -> Any:
        if pattern == _NON_PRINTABLE and not flags:
            return _LazyPattern(pattern, flags)
        return real(pattern, flags)

    with _patching:
        re.compile = compile_lazily
        try:
            import yaml  # noqa: F401, PLC0415
        finally:
            re.compile = real


_import_without_the_regex()
import yaml  # noqa: E402 (imported above, without the regex)

__all__ = ["yaml"]
