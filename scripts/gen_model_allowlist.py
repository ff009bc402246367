"""Generate src/mlgate/modelfiles/model_globals.json: the classes and functions each ML
library DEFINES, as exact `module` -> names pairs, for the models gate's allowlist
(development time only).

A pickle names a global by `obj.__module__` and `obj.__qualname__`, so a pair is recorded only
when the object found in a module's namespace says it was defined there, under that name
(`__module__ == module`, `__qualname__ == name`): a re-export such as
`sklearn.datasets._covtype.GzipFile` (which *is* `gzip.GzipFile`) is never recorded.
pandas 3 renames its public classes' `__module__` to `pandas` (its `set_module` decorator,
which keeps the defining module in the class's own `_module_source`): such a class is recorded
under both names, since pickles written by pandas < 3 name the defining module
(`pandas.core.indexes.base.Index`) and pandas 3 pickles name `pandas.Index`. The old
locations pandas itself still maps when unpickling (`pandas.compat.pickle_compat`, e.g.
`pandas.core.indexes.numeric.Int64Index` -> `Index`) are recorded as the class they map to.

Installed libraries are imported and walked (pkgutil). PyTorch, too big to install here, is
read from its wheel's own source (`--torch-wheel torch-*.whl`: top-level `class` statements
of torch/nn/modules/*.py, parsed with ast, nothing imported).

Which families of these names are safe is decided in mlgate.modelfiles.allowlist (e.g.
scikit-learn classes, sklearn.metrics functions); this file only records what exists
where, with the library versions it was generated from.

    OUT=src/mlgate/modelfiles/model_globals.json
    python scripts/gen_model_allowlist.py [--torch-wheel PATH] > "$OUT"
"""

from __future__ import annotations

import argparse
import ast
import importlib
import importlib.metadata
import inspect
import json
import pkgutil
import re
import sys
import warnings
import zipfile
from collections.abc import Iterator
from types import ModuleType

# (import name, distribution name, module prefixes walked, what is recorded)
LIBRARIES = (
    ("sklearn", "scikit-learn", ("sklearn",), "classes+functions"),
    ("pandas", "pandas", ("pandas",), "classes+functions"),
    ("numpy", "numpy", ("numpy.dtypes", "numpy.random"), "classes"),
    ("scipy", "scipy", ("scipy.sparse",), "classes"),
    ("xgboost", "xgboost-cpu", ("xgboost.sklearn", "xgboost.core"), "classes"),
    ("lightgbm", "lightgbm", ("lightgbm.sklearn", "lightgbm.basic"), "classes"),
    ("catboost", "catboost", ("catboost.core",), "classes"),
    ("pyarrow", "pyarrow", ("pyarrow.lib",), "classes+functions"),
)
CYTHON = frozenset({"cython_function_or_method", "fused_cython_function"})
SKIP = re.compile(r"(^|\.)(tests?|testing|conftest|_testing|externals|_build_utils)(\.|$)")


def walk(prefix: str) -> Iterator[ModuleType]:
    """The module `prefix` and every submodule that imports cleanly."""
    try:
        root = importlib.import_module(prefix)
    except Exception:  # an optional part of a library (missing dependency)
        return
    yield root
    for info in pkgutil.walk_packages(getattr(root, "__path__", []), prefix + "."):
        if SKIP.search(info.name):
            continue
        try:
            module = importlib.import_module(info.name)
        except Exception as exc:  # optional parts (missing extras) are left out, said so
            print(f"skipped {info.name}: {type(exc).__name__}", file=sys.stderr)
            continue
        yield module


def home(obj: object) -> object:
    """The module that defines `obj`: `__module__`, or for a class whose `__module__` pandas'
    `set_module` renamed, the original it kept in the class's own `_module_source`."""
    if inspect.isclass(obj) and "_module_source" in vars(obj):
        return vars(obj)["_module_source"]
    return getattr(obj, "__module__", None)


def defined(module: ModuleType, functions: bool) -> Iterator[tuple[str, str]]:
    """(kind, name) of the classes (and functions) defined in `module` under their name."""
    for name, obj in sorted(vars(module).items()):
        if module.__name__ not in (home(obj), getattr(obj, "__module__", None)):
            continue
        if getattr(obj, "__qualname__", name) != name:
            continue
        if inspect.isclass(obj):
            yield "classes", name
        elif functions and (inspect.isroutine(obj) or type(obj).__name__ in CYTHON):
            yield "functions", name


def pandas_moved(modules: dict[str, dict[str, list[str]]]) -> None:
    """Record the old class locations pandas maps when unpickling, as the class they map to
    (only a class that is itself recorded)."""
    try:
        moved = importlib.import_module("pandas.compat.pickle_compat")._class_locations_map
    except (ImportError, AttributeError):
        print("skipped pandas' moved classes: no pickle_compat map", file=sys.stderr)
        return
    for (old_module, old_name), (module, name) in sorted(moved.items()):
        if name in modules.get(module, {}).get("classes", []):
            modules.setdefault(old_module, {}).setdefault("classes", []).append(old_name)


def torch_from_wheel(path: str) -> tuple[str, dict[str, dict[str, list[str]]]]:
    """Classes defined at the top level of torch/nn/modules/*.py in a torch wheel."""
    found: dict[str, dict[str, list[str]]] = {}
    with zipfile.ZipFile(path) as wheel:
        version = next(
            match.group(1)
            for n in wheel.namelist()
            if (match := re.fullmatch(r"torch-([^-/]+)\.dist-info/METADATA", n))
        )
        for name in sorted(wheel.namelist()):
            match = re.fullmatch(r"torch/nn/modules/(\w+)\.py", name)
            if match is None or match.group(1) == "__init__":
                continue
            tree = ast.parse(wheel.read(name))
            classes = sorted(n.name for n in tree.body if isinstance(n, ast.ClassDef))
            if classes:
                found[f"torch.nn.modules.{match.group(1)}"] = {"classes": classes}
    return version, found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--torch-wheel", help="a torch wheel to read torch.nn.modules from")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    versions: dict[str, str] = {}
    modules: dict[str, dict[str, list[str]]] = {}
    for import_name, dist, prefixes, what in LIBRARIES:
        try:
            versions[dist] = importlib.metadata.version(dist)
            importlib.import_module(import_name)
        except Exception:
            print(f"skipped {dist}: not installed", file=sys.stderr)
            versions.pop(dist, None)
            continue
        for prefix in prefixes:
            for module in walk(prefix):
                for kind, name in defined(module, "functions" in what):
                    modules.setdefault(module.__name__, {}).setdefault(kind, []).append(name)
    if "pandas" in versions:
        pandas_moved(modules)
    if args.torch_wheel:
        versions["torch"], torch_modules = torch_from_wheel(args.torch_wheel)
        modules.update(torch_modules)
    data = {
        "generated_by": "scripts/gen_model_allowlist.py",
        "python": sys.version.split()[0],
        "versions": dict(sorted(versions.items())),
        "modules": {
            module: {kind: sorted(set(names)) for kind, names in sorted(kinds.items())}
            for module, kinds in sorted(modules.items())
        },
    }
    json.dump(data, sys.stdout, indent=0, sort_keys=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
