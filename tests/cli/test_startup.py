"""`mlgate --version` and `--help` import only the command line, not the gates (issue 16).

Timing is measured by the benchmark (`python -m bench`); this test pins the cause: which
modules a start-up loads. It runs a fresh interpreter, as a user's shell does.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ..conftest import last_lines_of_probe

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


HELP_PROBE = """
import sys
from click.testing import CliRunner
from mlgate.cli import cli

def render(width):
    return CliRunner().invoke(cli, ["--help"], terminal_width=width).output

lazy = [render(width) for width in (40, 80, 200)]
loaded = sorted(m for m in sys.modules if m.startswith("mlgate"))
for name in cli.list_commands(None):
    cli.get_command(None, name)
eager = [render(width) for width in (40, 80, 200)]
print(lazy == eager, " ".join(loaded))
print(lazy[1])
"""


def test_help_lists_commands_without_importing_them() -> None:
    """`mlgate --help` renders from the summaries in `cli.lazy` exactly what it renders once
    every command is imported, at any width, and imports none of them to do it."""
    done = subprocess.run(
        [sys.executable, "-c", HELP_PROBE], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    same, *loaded = done.stdout.splitlines()[0].split()
    assert loaded == [
        "mlgate",
        "mlgate.cli",
        "mlgate.cli.common",
        "mlgate.cli.lazy",
        "mlgate.errors",
    ]
    assert same == "True", done.stdout
    assert "run       Run the gates over PATH (default: .) and decide." in done.stdout


def test_each_summary_is_the_commands_own_short_help() -> None:
    from mlgate.cli.lazy import COMMANDS, LazyGroup, load

    group = LazyGroup(lazy=COMMANDS)
    for name, entry in COMMANDS.items():
        command = load(entry)
        assert command.name == name
        stand_in = group.summary_of(name)
        for width in range(0, 160):
            assert stand_in.get_short_help_str(width) == command.get_short_help_str(width), name
        assert not command.hidden and not command.deprecated, name


def test_group_help_starts_without_the_process_machinery() -> None:
    """`mlgate --help` through the console entry point: no tool can start, so neither the
    subreaper nor the signal handlers (mlgate.lifecycle) are loaded."""
    probe = (
        "import runpy, sys\n"
        "sys.argv = ['mlgate', '--help']\n"
        "try:\n"
        "    runpy.run_module('mlgate', run_name='__main__')\n"
        "except SystemExit as done:\n"
        "    print('EXIT', done.code, ' '.join(sorted(sys.modules)), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=False
    )
    code, *loaded = done.stderr.split("EXIT", 1)[1].split()
    assert code == "0", done.stderr
    assert "Commands:" in done.stdout
    assert {m for m in loaded if m.startswith("mlgate")} == {
        "mlgate",
        "mlgate.cli",
        "mlgate.cli.common",
        "mlgate.cli.lazy",
        "mlgate.errors",
    }


def test_redaction_does_not_load_the_gates() -> None:
    """Every command but `--version`/`--help` installs redaction on its output: it needs the
    secret shapes (`mlgate.secretpatterns`), never the gate registry and its dependencies."""
    probe = "import sys, mlgate.redact; print(' '.join(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    loaded = done.stdout.split()
    assert "mlgate.secretpatterns" in loaded
    assert [m for m in loaded if m.startswith(("mlgate.gates", "yaml", "cyclonedx"))] == []


def test_a_run_loads_no_network_client_or_package_metadata() -> None:
    """What `mlgate run` imports before any gate runs (the registry, the runner, the reports,
    the BOM writer) leaves out what only a cold path uses: the http client and ssl (online
    secret verification, `db update`), package metadata (version lookups), the BOM's schema
    validator (jsonschema), the template engine and the progress display."""
    probe = (
        "import sys, mlgate.cli.run, mlgate.core, mlgate.report, mlgate.bom, mlgate.runner\n"
        "from mlgate.deps.dbupdate import cached_db\n"  # the deps gate's and BOM's inputs ask
        "cached_db()\n"
        "print(' '.join(sorted(sys.modules)))"
    )
    # without coverage's start-up hook (CI's pytest-cov): it reads its configuration with
    # configparser and tomllib, which a run must not load itself
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COV_CORE_", "COVERAGE_"))}
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env
    )
    loaded = set(done.stdout.split())
    assert "mlgate.gates.secrets" in loaded and "mlgate.bom" in loaded
    assert [
        m for m in loaded if m.startswith(("cyclonedx.", "py_serializable", "packageurl"))
    ] == []
    cold = {"http.client", "ssl", "urllib.request", "importlib.metadata", "jsonschema", "jinja2"}
    cold.add("packaging.requirements")  # parsing a dependency file: not when it is cached
    # parsers of files a warm run does not read, and a misspelt key's suggestion
    cold |= {"tomllib", "configparser", "packaging.specifiers", "xml.etree.ElementTree"}
    cold |= {"difflib", "importlib.resources.readers", "zipfile"}
    assert sorted(cold & loaded) == []
    # The gates' engines load when a gate runs or a file is sniffed, not with the registry:
    # a warm run reuses cached results and the BOM's cached inventory (issue 16).
    engines = {
        "mlgate.modelfiles.engine",
        "mlgate.modelfiles.formats",
        "mlgate.modelfiles.allowlist",
        "mlgate.modelfiles.pickle_vm",
        "mlgate.deps.audit",
        "mlgate.deps.advisorydb",
        "mlgate.deps.services.osv",
        "mlgate.deps.services.pip_audit",
        "mlgate.notebooks",
        "mlgate.rulepack_prefilter",
        "mlgate.detect",  # what pipelines are written from: not a run
        "mlgate.training",
    }
    assert sorted(engines & loaded) == []
    assert not any(m == "rich" or m.startswith("rich.") for m in loaded)
    # Each report format's module loads when the format is first used.
    formats = {f"mlgate.report.{name}" for name in ("text", "json", "sarif", "gitlab", "junit")}
    assert sorted((formats | {"mlgate.report.markdown"}) & loaded) == []


def test_a_warm_run_writes_its_bom_without_cyclonedx_python_lib(
    tmp_path: Path, advisory_db: Path
) -> None:
    """The ML-BOM is written as JSON data (`mlgate.bom`); the library's schema validator runs
    only for a document not validated before, so a warm run imports none of the library."""
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "requirements.txt").write_text("pyyaml==5.3.1\n", encoding="utf-8")
    env = {**os.environ, "MLGATE_CACHE_DIR": str(tmp_path / "cache")}
    argv = [
        "run",
        str(repo),
        "deps",
        "--quiet",
        "--format",
        "json",
        "--output",
        str(tmp_path / "out"),
    ]
    argv += ["--advisory-db", str(advisory_db)]
    probe = (
        "import sys\nfrom mlgate.cli import run_main\ncode = run_main(sys.argv[1:])\n"
        "print(code, ' '.join(sorted(sys.modules)))"
    )
    loaded = []
    for line, stderr in last_lines_of_probe(probe, argv, env):
        code, _, modules = line.partition(" ")
        assert code == "1", stderr  # pyyaml 5.3.1 is vulnerable: blocked
        loaded.append(set(modules.split()))
    assert (tmp_path / "out" / "mlgate.cdx.json").is_file()
    assert "cyclonedx.validation.json" in loaded[0]  # the first document is validated
    assert [
        m for m in loaded[1] if m.startswith(("cyclonedx.", "py_serializable", "jsonschema"))
    ] == []


GC_PROBE = """
import atexit, gc, runpy, sys
collections = []
gc.callbacks.append(lambda phase, info: phase == "stop" and collections.append(info))
atexit.register(lambda: print(gc.get_threshold()[0], len(collections), file=sys.stderr))
sys.argv = ["mlgate", "run", "--help"]
runpy.run_module("mlgate", run_name="__main__")
"""


def test_the_command_line_collects_garbage_rarely() -> None:
    """A command (not `--version`) raises the young generation's threshold before it
    imports the command line: Python's default (700 objects) collects about 55 times while
    a run imports what it needs, 12-15 ms of a warm run that frees nothing (issue 16)."""
    from mlgate.__main__ import GC_THRESHOLD

    done = subprocess.run(
        [sys.executable, "-c", GC_PROBE], capture_output=True, text=True, check=False
    )
    threshold, collected = map(int, done.stderr.split()[-2:])
    assert threshold == GC_THRESHOLD > 700
    assert collected <= 2, done.stderr
