"""setup.py, read statically: the `install_requires`/`extras_require` literals of the
`setup(...)` call, with `ast` (names bound to a literal at module level are followed). Never
executed: what is computed when it runs is a `low` problem, not a guess."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from mlgate.deps.sources.common import pep508, read_text
from mlgate.deps.sources.interface import DependencySource, Reading


class SetupPySource(DependencySource):
    kind = "setup.py"
    manifest = True

    endings = ("setup.py",)

    def recognises(self, path: PurePosixPath) -> bool:
        return path.name == "setup.py"

    def read(self, root: Path, rel: str, reading: Reading) -> None:
        text = read_text(root, rel, reading)
        if text is None:
            return
        try:
            tree = ast.parse(text, filename=rel)
        except SyntaxError as exc:
            reading.problem(rel, exc.lineno or 0, f"setup.py is not valid Python: {exc.msg}")
            return
        constants = _module_literals(tree)
        for call in ast.walk(tree):
            if isinstance(call, ast.Call) and _call_name(call.func) == "setup":
                for keyword in call.keywords:
                    if keyword.arg in ("install_requires", "extras_require"):
                        _setup_keyword(rel, keyword.arg, keyword.value, constants, reading)


def _module_literals(tree: ast.Module) -> dict[str, ast.expr]:
    found: dict[str, ast.expr] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name):
                found[target.id] = node.value
    return found


def _call_name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    return func.attr if isinstance(func, ast.Attribute) else ""


def _setup_keyword(
    rel: str, key: str, value: ast.expr, constants: Mapping[str, ast.expr], reading: Reading
) -> None:
    if isinstance(value, ast.Name) and value.id in constants:
        value = constants[value.id]
    lists = [value] if key == "install_requires" else []
    if key == "extras_require" and isinstance(value, ast.Dict):
        lists = [v for v in value.values if v is not None]
    elif key == "extras_require":
        lists = []
        _computed(rel, key, value, reading)
    for listed in lists:
        item = constants.get(listed.id, listed) if isinstance(listed, ast.Name) else listed
        if not isinstance(item, (ast.List, ast.Tuple)):
            _computed(rel, key, item, reading)
            continue
        for element in item.elts:
            if isinstance(element, ast.Constant) and isinstance(element.value, str):
                pep508(element.value.strip(), rel, element.lineno, reading)
            else:
                _computed(rel, key, element, reading)


def _computed(rel: str, key: str, node: ast.expr, reading: Reading) -> None:
    reading.problem(
        rel,
        getattr(node, "lineno", 0),
        f"setup.py {key} is computed when setup.py runs, so it is not read (mlgate never "
        "executes it): declare the dependencies in pyproject.toml or setup.cfg",
        "low",
    )
