"""Recorded scanner outputs: the inputs of the parser unit tests, re-recordable.

`tests/data/tools/` holds what the pinned scanners printed when mlgate's own gates ran them
over `examples/insecure-ml` (bandit, semgrep's native and classic command lines,
detect-secrets), as mlgate read them, with a manifest of each tool's version, command line
and exit code. The only change to the bytes: the temporary checkout is written `<repo>` and
mlgate's temporary directories (converted notebooks) `<tmp>`, so a re-recording diffs cleanly.

Re-record after a tool upgrade (`src/mlgate/tools.lock`)::

    python -m tests.tool_outputs            # rewrites tests/data/tools/

`tests/test_tool_outputs.py` parses the recordings with the gates' own parsers, checks the
shape checks against them, and (marked slow) records afresh into a temporary directory and
asserts that the fresh output parses to the same findings, so a stale recording fails.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

from mlgate import toolenv, tools
from mlgate.gates import GATES, GateContext
from mlgate.gates import sast as sast_gate
from mlgate.repo import open_repo
from mlgate.resources import rule_pack_dir

from .conftest import REPO_ROOT, choose_semgrep_cli, git_init

DATA = REPO_ROOT / "tests" / "data" / "tools"
CASE = "insecure-ml"
MANIFEST = "manifest.json"
_JSON_TOOLS = ("bandit", "semgrep", "detect-secrets")


@contextmanager
def _capturing(runs: list[tools.ToolRun]) -> Iterator[None]:
    """Every `run_tool` call made in the block, with what the tool printed."""
    real = tools.run_tool

    def run_tool(
        argv: Sequence[str],
        timeout: float,
        cwd: Path | None = None,
        env: Any = None,
    ) -> tools.ToolRun:
        run = real(argv, timeout, cwd, env)
        runs.append(run)
        return run

    with (
        mock.patch.object(tools, "run_tool", run_tool),
        mock.patch.object(sast_gate, "run_tool", run_tool),
    ):
        yield


_TEMP = re.compile(r"(?:/private)?" + re.escape(tempfile.gettempdir()) + r"/mlgate-[\w-]+")


def _neutral(text: str, root: Path) -> str:
    """`text` without machine-specific paths (semgrep's classic command line prefixes each
    rule id with the rule directory's path, dotted)."""
    dotted = str(rule_pack_dir()).strip("/").replace("/", ".")
    text = text.replace(dotted + ".", "rule-pack.")
    return _TEMP.sub("<tmp>", text.replace(str(root), "<repo>"))


def _shown(argv: Sequence[str], root: Path) -> list[str]:
    """A command line as the manifest shows it."""
    rules = str(rule_pack_dir())
    return [Path(argv[0]).name] + [
        "<rule-pack>" if arg == rules else _neutral(arg, root) for arg in argv[1:]
    ]


def _run_gates(root: Path) -> list[tools.ToolRun]:
    """The tool runs of sast and secrets over `root`, then semgrep's classic command line
    (a second sast run with the classic one chosen; its bandit run is the same as before)."""
    runs: list[tools.ToolRun] = []
    repo = open_repo(root)
    plan = [("sast", "native"), ("secrets", "native"), ("sast", "classic")]
    for name, cli in plan:
        gate = GATES[name]
        ran: list[tools.ToolRun] = []
        choose_semgrep_cli(cli)
        with _capturing(ran):
            result = gate.run(GateContext(repo, gate.inputs(repo, {}), 600))
        if result.errors:
            raise RuntimeError(f"{name} could not run: {result.errors}")
        runs += [r for r in ran if cli == "native" or Path(r.argv[0]).name == "semgrep"]
    return runs


def cli_of(run: tools.ToolRun) -> str:
    return "native" if "--experimental" in run.argv else "classic"


def record(dest: Path) -> dict[str, Any]:
    """Run the gates over a fresh copy of the case and write every JSON report to `dest`."""
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mlgate-record-") as tmp:
        root = Path(tmp) / CASE
        shutil.copytree(REPO_ROOT / "examples" / CASE, root)
        git_init(root)
        # The gates run their tools on threads: the order they finish in is not the order
        # the files are named in (a tool's runs are numbered by their command lines).
        runs = sorted(_run_gates(root), key=lambda run: _shown(run.argv, root))
        entries: list[dict[str, Any]] = []
        for run in runs:
            tool = Path(run.argv[0]).name
            if tool not in _JSON_TOOLS or not run.stdout.lstrip().startswith("{"):
                continue
            same = sum(e["tool"] == tool for e in entries)
            name = f"{tool}-{cli_of(run)}.json" if tool == "semgrep" else f"{tool}-{same + 1}.json"
            (dest / name).write_text(_neutral(run.stdout, root), encoding="utf-8")
            entries.append(
                {
                    "file": name,
                    "tool": tool,
                    "version": toolenv.version(tool),
                    "argv": _shown(run.argv, root),
                    "returncode": run.returncode,
                }
            )
    manifest = {"case": f"examples/{CASE}", "runs": entries}
    (dest / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return manifest


def main(argv: Sequence[str]) -> int:
    dest = Path(argv[0]) if argv else DATA / CASE
    if dest.exists() and dest == DATA / CASE:
        shutil.rmtree(dest)
    manifest = record(dest)
    for entry in manifest["runs"]:
        print(f"{dest / entry['file']}: {entry['tool']} {entry['version']}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
