"""The data stack behind the data gate and `mlgate data infer`: pandas, pyarrow, pandera, scipy.

Those packages come with the optional extra `mlgate[data]`. This package's modules import
them at the top, so import a module from here only after `missing_data_stack()` returned
None; this file itself imports none of them.
"""

from __future__ import annotations

import importlib

from mlgate.errors import EXIT_GATE_ERROR, MlgateError

INSTALL_COMMAND = "pip install 'mlgate[data]'"
_STACK = (
    "numpy",
    "pandas",
    "pyarrow.parquet",
    "pandera.pandas",
    "pandera.io.pandas_io",
    "scipy.stats",
)


class DataError(MlgateError):
    """A dataset or contract that cannot be read or used; the message says which and why."""


class DataStackMissing(DataError):
    """The optional data stack is not installed."""

    exit_code = EXIT_GATE_ERROR


def missing_data_stack() -> str | None:
    """None when the data stack imports, else a message naming the install command."""
    for module in _STACK:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            return (
                f"the data stack is not installed ({module}: {exc}); "
                f"install mlgate[data]: {INSTALL_COMMAND}"
            )
    return None


def require_data_stack() -> None:
    problem = missing_data_stack()
    if problem is not None:
        raise DataStackMissing(problem, hint=INSTALL_COMMAND)
