"""Notebooks: the JSON reader, IPython syntax, and the sast gate over `.ipynb` files."""

from __future__ import annotations

import itertools
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from mlgate.findings import Finding, Severity, fingerprint
from mlgate.gates import GATES, GateContext, GateResult
from mlgate.gates.sast import merge_tool_findings
from mlgate.notebooks import (
    Cell,
    CodeText,
    Notebook,
    NotebookProblem,
    is_pinned,
    package_name,
    python_lines,
    read_notebook,
    split_lines,
)
from mlgate.repo import open_repo

from .conftest import git_init, write

NB = "notebooks/explore.ipynb"
BIG = "notebooks/big.ipynb"
BIG_CELLS = 10_000


def code(source: str, outputs: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "cell_type": "code",
        "execution_count": None,
        "metadata": {},
        "outputs": outputs or [],
        "source": source.splitlines(keepends=True),
    }


def markdown(source: str) -> dict[str, Any]:
    return {"cell_type": "markdown", "metadata": {}, "source": source}


def notebook_json(cells: list[dict[str, Any]], language: str = "python") -> str:
    meta = {"kernelspec": {"name": "k", "language": language}, "language_info": {"name": language}}
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": meta, "cells": cells})


def load(tmp_path: Path, cells: list[dict[str, Any]], language: str = "python") -> Notebook:
    write(tmp_path, "n.ipynb", notebook_json(cells, language))
    notebook = read_notebook(tmp_path, "n.ipynb")
    assert isinstance(notebook, Notebook), notebook
    return notebook


# The fixture notebook: an unsafe model load in cell 3, a token in an output, IPython syntax.
EXPLORE_CELLS = [
    markdown("# Explore\nFAKE credentials only."),  # cell 0
    code("%pip install transformers\n!pip install numpy==1.26.4\nimport pickle\nimport torch\n"),
    code("%%bash\nls -la\npip install requests\n"),  # cell 2: shell, blanked
    code(  # cell 3: the unsafe loads, after a `!ls` line
        'path = "model.pt"\n!ls\nmodel = torch.load(path)\nwith open("d.pkl", "rb") as f:\n'
        "    data = pickle.load(f)\n"
    ),
    code("model?\nmodel.eval()\n"),  # cell 4: help syntax
]


# --- the reader -----------------------------------------------------------------------------


def test_cells_are_counted_across_all_types_and_lines_map_back(tmp_path: Path) -> None:
    notebook = load(tmp_path, EXPLORE_CELLS)
    assert [c.index for c in notebook.cells] == [0, 1, 2, 3, 4]
    assert [c.cell_type for c in notebook.cells] == ["markdown", "code", "code", "code", "code"]
    text = notebook.code_text()
    lines = text.text.splitlines()
    assert len(lines) == len(text.lines) == 4 + 3 + 5 + 2
    joined = lines.index("model = torch.load(path)") + 1
    assert text.locate(joined) == (3, 3)
    assert text.locate(lines.index("    data = pickle.load(f)") + 1) == (3, 5)
    assert text.locate(0) is None and text.locate(len(lines) + 1) is None


def test_ipython_syntax_is_neutralised_keeping_lines_and_indentation(tmp_path: Path) -> None:
    text = load(tmp_path, EXPLORE_CELLS).code_text()
    lines = text.text.splitlines()
    assert lines[:4] == ["pass", "pass", "import pickle", "import torch"]
    assert lines[4:7] == ["", "", ""]  # %%bash: the whole cell blanked
    assert lines[8] == "pass"  # !ls
    assert lines[12] == "pass"  # model?
    assert text.syntax_errors == ()
    cell = Cell(0, "code", "for f in files:\n    !rm {f}\n    x = 1\n", "")
    assert python_lines(cell).lines == ["for f in files:", "    pass", "    x = 1"]


def test_code_running_line_magics_keep_their_statement_and_columns() -> None:
    cell = Cell(0, "code", "%time model = torch.load(p)\n%timeit -n 10 f(x)\n", "")
    lines = python_lines(cell).lines
    assert lines[0] == "pass; model = torch.load(p)"
    assert lines[0].index("torch") == "%time model = torch.load(p)".index("torch")
    assert lines[1].endswith("f(x)") and lines[1].startswith("pass;")


def test_python_cell_magics_keep_their_body_others_are_blanked() -> None:
    timed = python_lines(Cell(0, "code", "%%time\nx = torch.load(p)\n", ""))
    assert timed.lines == ["pass", "x = torch.load(p)"]
    for magic in ("%%bash", "%%sh", "%%html", "%%writefile x.py", "%%javascript"):
        blank = python_lines(Cell(0, "code", f"{magic}\nimport os\nos.system('x')\n", ""))
        assert blank.lines == ["", "", ""], magic


def test_cells_that_are_valid_python_are_kept_verbatim() -> None:
    source = 'doc = """Is this right?\n%s\n!not a magic\n"""\n'
    assert python_lines(Cell(0, "code", source, "")).lines == source.splitlines()


def test_a_cell_that_is_not_python_is_blanked_and_reported(tmp_path: Path) -> None:
    notebook = load(tmp_path, [code("x = 1\n"), code("def broken(:\n    pass\n"), code("y = 2\n")])
    text = notebook.code_text()
    assert text.text.splitlines() == ["x = 1", "", "", "y = 2"]
    [error] = text.syntax_errors
    assert (error.cell, error.line) == (1, 1)
    assert "SyntaxError" in error.message


def test_pip_installs_are_collected_with_cell_and_line(tmp_path: Path) -> None:
    text = load(tmp_path, EXPLORE_CELLS).code_text()
    found = [(p.cell, p.line, p.packages, p.unpinned()) for p in text.pip_installs]
    assert found == [
        (1, 1, ("transformers",), ("transformers",)),
        (1, 2, ("numpy==1.26.4",), ()),
        (2, 3, ("requests",), ("requests",)),  # inside %%bash
    ]
    assert text.pip_installs[0].text == "%pip install transformers"


@pytest.mark.parametrize(
    ("line", "packages"),
    [
        ("%pip install -q 'numpy>=1' torch==2.1 -U", ("numpy>=1", "torch==2.1")),
        ("!pip install -r requirements.txt -e . x==1 2>&1 > /dev/null", ("x==1",)),
        ("!{sys.executable} -m pip install --index-url https://x/simple y", ("y",)),
        ("!pip install a && pip install b", ("a",)),
        ("!pip install a \\\n    b==2", ("a", "b==2")),
        ("!pip3 install git+https://github.com/o/r#egg=r", ("git+https://github.com/o/r#egg=r",)),
    ],
)
def test_pip_install_arguments(line: str, packages: tuple[str, ...]) -> None:
    [pip] = python_lines(Cell(0, "code", line + "\n", "")).pip_installs
    assert pip.packages == packages


def test_pinned_means_one_exact_version() -> None:
    assert is_pinned("torch==2.1.0") and is_pinned("Transformers[torch]==4.40.0")
    assert is_pinned("git+https://github.com/o/r@" + "a" * 40)
    for spec in ("torch", "torch>=2", "torch==2.*", "torch~=2.1", "git+https://github.com/o/r"):
        assert not is_pinned(spec), spec
    assert package_name("Transformers[torch]>=4") == "transformers"


def test_outputs_text_streams_plain_html_and_tracebacks(tmp_path: Path) -> None:
    outputs: list[dict[str, Any]] = [
        {"output_type": "stream", "name": "stdout", "text": ["line one\n", "line two\n"]},
        {"output_type": "execute_result", "data": {"text/plain": "plain", "image/png": "iVBOR"}},
        {"output_type": "display_data", "data": {"text/html": ["<b>html</b>"]}},
        {
            "output_type": "error",
            "ename": "E",
            "evalue": "v",
            "traceback": ["\x1b[0;31mE: v\x1b[0m"],
        },
    ]
    notebook = load(tmp_path, [code("x\n", outputs)])
    assert notebook.cells[0].outputs == "line one\nline two\nplain\n<b>html</b>\nE: v\n"


def test_invalid_json_and_old_formats_are_problems_not_crashes(tmp_path: Path) -> None:
    write(tmp_path, "bad.ipynb", '{"cells": [')
    write(tmp_path, "v3.ipynb", json.dumps({"nbformat": 3, "worksheets": [{"cells": []}]}))
    write(tmp_path, "list.ipynb", "[]")
    write(tmp_path, "cells.ipynb", json.dumps({"nbformat": 4, "cells": {}}))
    write(tmp_path, "source.ipynb", json.dumps({"nbformat": 4, "cells": [{"source": 3}]}))
    (tmp_path / "latin.ipynb").write_bytes(b'{"cells": "\xff"}')
    problems = {name: read_notebook(tmp_path, name) for name in (
        "bad.ipynb", "v3.ipynb", "list.ipynb", "cells.ipynb", "source.ipynb", "latin.ipynb",
        "missing.ipynb",
    )}  # fmt: skip
    assert all(isinstance(p, NotebookProblem) for p in problems.values()), problems
    messages = {name: p.message for name, p in problems.items() if isinstance(p, NotebookProblem)}
    assert messages["bad.ipynb"].startswith("not valid JSON")
    assert "nbformat 3" in messages["v3.ipynb"]
    assert "cell 0" in messages["source.ipynb"]
    assert "UTF-8" in messages["latin.ipynb"]


def test_other_kernel_languages_have_no_python_code(tmp_path: Path) -> None:
    notebook = load(tmp_path, [code("library(ggplot2)\nx <- 1\n")], language="R")
    assert notebook.language == "r" and not notebook.is_python
    assert notebook.code_text() == CodeText("", (), (), ())


def big_notebook_cells() -> list[dict[str, Any]]:
    cells = [code(f"x{i} = {i}\n%time y{i} = x{i}\n!echo {i}\n") for i in range(BIG_CELLS - 1)]
    return [*cells, code("import torch\nm = torch.load(p)\n")]


def test_ten_thousand_cells_in_bounded_time(tmp_path: Path) -> None:
    write(tmp_path, "big.ipynb", notebook_json(big_notebook_cells()))
    started = time.monotonic()
    notebook = read_notebook(tmp_path, "big.ipynb")
    assert isinstance(notebook, Notebook)
    text = notebook.code_text()
    assert time.monotonic() - started < 10
    assert len(notebook.cells) == BIG_CELLS
    assert text.locate(len(text.lines)) == (BIG_CELLS - 1, 2)


# --- the sast gate over notebooks (real bandit and semgrep, once) --------------------------


@pytest.fixture(scope="session")
def notebook_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("nbrepo")
    write(root, NB, notebook_json(EXPLORE_CELLS))
    write(root, BIG, notebook_json(big_notebook_cells()))
    write(root, "notebooks/bad.ipynb", '{"cells": [}')
    write(root, "notebooks/v3.ipynb", json.dumps({"nbformat": 3, "worksheets": []}))
    write(root, "notebooks/r.ipynb", notebook_json([code("system('ls')\n")], language="R"))
    write(root, "src/load.py", "import torch\n\n\ndef load(p):\n    return torch.load(p)\n")
    write(root, ".gitignore", "ignored/\n")
    write(root, "ignored/secret.ipynb", notebook_json([code("import pickle\npickle.load(f)\n")]))
    git_init(root)
    return root


@pytest.fixture(scope="session")
def sast_result(notebook_repo: Path) -> GateResult:
    repo = open_repo(notebook_repo)
    gate = GATES["sast"]
    return gate.run(GateContext(repo, gate.inputs(repo, {}), timeout=600))


def at(result: GateResult, path: str, rule: str) -> list[Finding]:
    return [f for f in result.findings if f.path == path and f.rule_id == rule]


def test_sast_maps_findings_to_notebook_cell_and_line(sast_result: GateResult) -> None:
    assert not sast_result.errors, sast_result.errors
    [torch_load] = at(sast_result, NB, "ml-torch-load-unsafe")
    assert (torch_load.cell, torch_load.line, torch_load.end_line) == (3, 3, 3)
    assert torch_load.tool == "semgrep"  # bandit's B614 is left to this rule (bandit -s)
    assert "B614" in sast_result.properties["bandit_tests_left_to_rule_pack"]
    [pickle_load] = at(sast_result, NB, "ml-pickle-load")
    assert (pickle_load.cell, pickle_load.line) == (3, 5)
    [in_python] = at(sast_result, "src/load.py", "ml-torch-load-unsafe")
    assert (in_python.cell, in_python.line) == (None, 5)
    assert not any("mlgate-sast-" in (f.path or "") for f in sast_result.findings)


def test_sast_fingerprint_anchors_on_the_notebook_code_line(sast_result: GateResult) -> None:
    [torch_load] = at(sast_result, NB, "ml-torch-load-unsafe")
    expected = fingerprint("semgrep", "ml-torch-load-unsafe", NB, "model = torch.load(path)")
    assert torch_load.fingerprint == expected


def test_sast_scans_every_cell_of_a_ten_thousand_cell_notebook(sast_result: GateResult) -> None:
    [last] = at(sast_result, BIG, "ml-torch-load-unsafe")
    assert (last.cell, last.line) == (BIG_CELLS - 1, 2)


def test_sast_reports_unpinned_pip_installs(sast_result: GateResult) -> None:
    found = sorted(
        (f.cell, f.line, f.properties["package"], f.severity.value, f.tool)
        for f in at(sast_result, NB, "notebook-unpinned-pip-install")
    )
    assert found == [
        (1, 1, "transformers", "medium", "mlgate"),
        (2, 3, "requests", "medium", "mlgate"),
    ]


def test_sast_reports_unreadable_notebooks_as_low_findings(sast_result: GateResult) -> None:
    problems = {f.path: f for f in sast_result.findings if f.rule_id == "notebook-parse-error"}
    assert set(problems) == {"notebooks/bad.ipynb", "notebooks/v3.ipynb"}
    assert all(f.severity.value == "low" and f.cell is None for f in problems.values())
    assert "not valid JSON" in problems["notebooks/bad.ipynb"].message
    assert "nbformat 3" in problems["notebooks/v3.ipynb"].message


def test_sast_skips_shell_cells_other_languages_and_ignored_files(sast_result: GateResult) -> None:
    in_shell_cell = [f for f in sast_result.findings if f.path == NB and f.cell == 2]
    assert [f.rule_id for f in in_shell_cell] == ["notebook-unpinned-pip-install"]
    assert not [f for f in sast_result.findings if f.path == "notebooks/r.ipynb"]
    assert any("r.ipynb: kernel language 'r'" in n for n in sast_result.notes)
    assert not [f for f in sast_result.findings if (f.path or "").startswith("ignored/")]


def test_example_notebook_findings_show_cells(
    insecure_run: tuple[int, dict[str, Any], str],
) -> None:
    _, report, _ = insecure_run
    found = {
        (f["gate"], f["rule_id"], f["cell"], f["line"])
        for f in report["findings"]
        if f["path"] == "explore.ipynb"
    }
    assert ("sast", "ml-torch-load-unsafe", 2, 3) in found
    assert ("sast", "notebook-unpinned-pip-install", 1, 1) in found
    assert ("secrets", "Hugging Face Token", 3, 1) in found
    assert "_FakeTokenForMlgateExampleOnlyQzWxy" not in json.dumps(report)


def test_bandit_findings_are_kept_where_semgrep_did_not_finish() -> None:
    """A rule that timed out on a big notebook must not make bandit's finding look superseded."""
    target = "/tmp/mlgate-sast-x/nb/big.ipynb.py"
    bandit = Finding("sast", "bandit", "B614", Severity.MEDIUM, "torch.load", target, 7)
    superseded = {"B614": frozenset({"ml-torch-load-unsafe"})}
    assert merge_tool_findings([bandit], [], superseded, verified=frozenset({target})) == ([], 1)
    kept, dropped = merge_tool_findings([bandit], [], superseded)
    assert (kept, dropped) == ([bandit], 0)


def test_split_lines_ends_lines_where_python_does() -> None:
    """Only \\n, \\r\\n and \\r end a line (not \\v, \\f or U+2028, which `splitlines` splits
    on), compared with the regex it replaced, over every mix of the line ends."""
    reference = re.compile(r"\r\n|\r|\n")
    pieces = ["a", "\n", "\r", "\r\n", "\v", "\f", "\u2028", "\x1c", ""]
    for combo in itertools.product(pieces, repeat=4):
        text = "".join(combo)
        expected = reference.split(text)
        if expected[-1] == "":
            expected.pop()
        assert split_lines(text) == expected, repr(text)
