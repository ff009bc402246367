"""Fuzzing (issue 12): the notebook reader and the pickle opcode reader take any bytes a
repository holds. No exception may escape them as an internal error: a notebook is a
Notebook or a NotebookProblem, a model file a FileScan (findings, notes), whatever the
bytes. (The policy, `.mlgate.yml` and `merge` report readers are fuzzed with the
configuration cases.)"""

from __future__ import annotations

import io
import json
import pickle
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from mlgate.gates.modelfiles import FileScan, Settings, scan_file
from mlgate.notebooks import Notebook, NotebookProblem, notebook_texts, read_notebook

FUZZ = settings(max_examples=300, deadline=None, database=None)

_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=40)
)
_json = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=30,
)
_source = st.one_of(st.text(max_size=200), st.lists(st.text(max_size=40), max_size=5), _json)
_cell = st.fixed_dictionaries(
    {"cell_type": st.sampled_from(["code", "markdown", "raw", 3, None]), "source": _source},
    optional={
        "outputs": st.one_of(
            _json,
            st.lists(
                st.fixed_dictionaries(
                    {"output_type": st.sampled_from(["stream", "execute_result", "error"])},
                    optional={"text": _source, "data": _json, "traceback": _json},
                ),
                max_size=3,
            ),
        ),
        "metadata": _json,
    },
)
_notebook = st.fixed_dictionaries(
    {"cells": st.one_of(st.lists(_cell, max_size=6), _json)},
    optional={
        "nbformat": st.one_of(st.just(4), _scalars),
        "nbformat_minor": _scalars,
        "metadata": st.one_of(
            st.fixed_dictionaries({"kernelspec": _json, "language_info": _json}), _json
        ),
    },
)
_notebook_bytes = st.one_of(
    st.binary(max_size=2000),
    _notebook.map(lambda nb: json.dumps(nb).encode()),
    _json.map(lambda value: json.dumps(value).encode()),
)


def _read(data: bytes) -> Notebook | NotebookProblem:
    with tempfile.TemporaryDirectory(prefix="fuzz-") as tmp:
        (Path(tmp) / "n.ipynb").write_bytes(data)
        return read_notebook(Path(tmp), "n.ipynb")


@FUZZ
@given(_notebook_bytes)
def test_notebook_reader_never_raises(data: bytes) -> None:
    notebook = _read(data)
    assert isinstance(notebook, (Notebook, NotebookProblem))
    if isinstance(notebook, Notebook):
        notebook.code_text()  # the sast gate's view
        notebook_texts(notebook)  # the secrets gate's view


_values: st.SearchStrategy[Any] = st.recursive(
    st.one_of(_scalars, st.binary(max_size=20)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.dictionaries(st.text(max_size=5), inner, max_size=4),
        st.sets(st.integers(), max_size=3),
    ),
    max_leaves=20,
)


def _mutated(value: Any, protocol: int, flips: list[tuple[int, int]]) -> bytes:
    data = bytearray(pickle.dumps(value, protocol=protocol))
    for position, byte in flips:
        data[position % len(data)] = byte
    return bytes(data)


_pickle_bytes = st.one_of(
    st.binary(max_size=2000),
    st.binary(max_size=500).map(lambda rest: b"\x80\x04\x95" + rest),
    st.builds(
        _mutated,
        _values,
        st.integers(0, pickle.HIGHEST_PROTOCOL),
        st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=6),
    ),
)


@FUZZ
@given(_pickle_bytes, st.sampled_from(["m.pkl", "m.joblib", "m.pt", "m.npy", "m.bin"]))
def test_pickle_opcode_reader_never_raises(data: bytes, name: str) -> None:
    with tempfile.TemporaryDirectory(prefix="fuzz-") as tmp:
        (Path(tmp) / name).write_bytes(data)
        scan = scan_file(Path(tmp), name, Settings.from_options({}, None))
    assert isinstance(scan, FileScan)


def test_fuzzers_reach_both_outcomes() -> None:
    """The generators are not vacuous: a real notebook reads, garbage is a problem."""
    good = {"cells": [{"cell_type": "code", "source": "x = 1", "outputs": []}], "nbformat": 4}
    assert isinstance(_read(json.dumps(good).encode()), Notebook)
    assert isinstance(_read(b"\xff\x00"), NotebookProblem)
    assert io.BytesIO(pickle.dumps([1, 2])).read(1) == b"\x80"
