"""`mlgate --version` and `--help` import only the command line, not the gates (issue 16).

Timing is measured by the benchmark (`python -m bench`); this test pins the cause: which
modules a start-up loads. It runs a fresh interpreter, as a user's shell does.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

# What each command imports when it runs, never at start-up: the gates, the policy and its
# schema validator (jsonschema), YAML, the template engine, the progress display.
HEAVY = (
    "mlgate.gates",
    "mlgate.policy",
    "mlgate.config",
    "mlgate.report",
    "mlgate.runner",
    "mlgate.generate",
    "mlgate.deps",
    "jsonschema",
    "yaml",
    "jinja2",
    "rich",
)

PROBE = """
import sys
from mlgate.cli import run_main
code = run_main(sys.argv[1:])
print("MODULES", " ".join(sorted(sys.modules)), file=sys.stderr)
"""


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["db", "--help"]])
def test_start_up_imports_only_the_command_line(args: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "mlgate" in done.stdout.lower() or "database" in done.stdout
    loaded = set(done.stderr.split("MODULES", 1)[1].split())
    heavy = sorted(m for m in loaded if any(m == h or m.startswith(h + ".") for h in HEAVY))
    assert heavy == [], heavy


def test_run_help_lists_gates_and_formats() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mlgate", "run", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Gates: sast, secrets, deps, models, data, model." in " ".join(done.stdout.split())
    assert "[gitlab|json|junit|markdown|sarif|text]" in done.stdout


VERSION_PROBE = """
import runpy, sys
sys.argv = ["mlgate", "--version"]
runpy.run_module("mlgate", run_name="__main__")
print("MODULES", " ".join(sorted(sys.modules)), file=sys.stderr)
"""


def test_version_is_answered_before_the_command_line_is_imported() -> None:
    done = subprocess.run(
        [sys.executable, "-c", VERSION_PROBE], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    loaded = set(done.stderr.split("MODULES", 1)[1].split())
    assert not {m for m in loaded if m == "click" or m.startswith(("click.", "mlgate.cli"))}
    through_click = subprocess.run(
        [sys.executable, "-c", PROBE, "--version"], capture_output=True, text=True, check=False
    )
    assert done.stdout == through_click.stdout
    assert done.stdout.startswith("mlgate, version ")
