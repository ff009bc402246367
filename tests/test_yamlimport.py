"""mlgate.yamlimport: PyYAML without compiling its all-of-Unicode regex at import."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "mlgate"

PROBE = """
import re, time
compiled = []
real = re._compile
def counting(pattern, flags):
    compiled.append(pattern)
    return real(pattern, flags)
re._compile = counting
from mlgate.yamlimport import yaml
import yaml.reader
from mlgate.yamlimport import _NON_PRINTABLE
lazy = type(yaml.reader.Reader.NON_PRINTABLE).__name__
assert _NON_PRINTABLE not in compiled, "compiled at import"
yaml.load("a: [1, 2]\\n", Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
on_c_path = _NON_PRINTABLE not in compiled
try:
    yaml.load('x: "\\x07"', Loader=yaml.SafeLoader)  # the pure-Python reader checks
    rejected = False
except yaml.reader.ReaderError:
    rejected = True
print(lazy, on_c_path, rejected, _NON_PRINTABLE in compiled)
"""


def test_the_regex_is_compiled_on_first_use_only_and_still_checks() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=True
    )
    from mlgate.yamlimport import yaml

    libyaml = str(hasattr(yaml, "CSafeLoader"))
    assert done.stdout.split() == ["_LazyPattern", libyaml, "True", "True"]


def test_every_module_imports_pyyaml_through_yamlimport() -> None:
    """`import yaml` nowhere else; `from yaml import X` only after mlgate.yamlimport."""
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        if path.name == "yamlimport.py":
            continue
        through: int | None = None  # the line importing mlgate.yamlimport
        nodes = list(ast.walk(ast.parse(path.read_text(encoding="utf-8"))))
        for node in sorted((n for n in nodes if isinstance(n, ast.stmt)), key=_line):
            if isinstance(node, ast.ImportFrom) and node.module == "mlgate.yamlimport":
                through = node.lineno if through is None else through
            elif _imports_yaml(node, through):
                offenders.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert offenders == []


def _line(node: ast.stmt) -> int:
    return node.lineno


def _imports_yaml(node: ast.stmt, through: int | None) -> bool:
    if isinstance(node, ast.Import):
        return any(alias.name.split(".")[0] == "yaml" for alias in node.names)
    if isinstance(node, ast.ImportFrom) and node.level == 0:
        return (node.module or "").split(".")[0] == "yaml" and through is None
    return False
