"""Rules of the house that a test can check."""

from __future__ import annotations

import ast
import re
from pathlib import Path

TESTS = Path(__file__).resolve().parent

# A test that reads a sibling of the checkout (`../shared`) works only on the author's machine.
OUTSIDE = re.compile(r"""\.\./shared|/ *["']shared["']""")
PARENTS = re.compile(r"parents\[(\d+)\]")


def _escapes(path: Path, line: str) -> bool:
    """`Path(__file__).parents[N]` above the repository root, or a path to `shared`."""
    depth = len(path.relative_to(TESTS.parent).parts) - 1  # tests/x.py: parents[1] is the root
    return bool(OUTSIDE.search(line)) or any(int(n) > depth for n in PARENTS.findall(line))


def test_no_test_reads_outside_the_repository() -> None:
    offenders = [
        f"{path.relative_to(TESTS)}:{number}: {line.strip()}"
        for path in sorted(TESTS.rglob("*.py"))
        if path.name != "test_house.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if _escapes(path, line)
    ]
    assert offenders == []


def test_the_guard_catches_a_sibling_checkout() -> None:
    assert _escapes(TESTS / "test_x.py", 'SNAPSHOT = Path(__file__).resolve().parents[2] / "x"')
    assert _escapes(TESTS / "test_x.py", 'db = REPO_ROOT.parent / "shared" / "advisory-db"')
    assert not _escapes(TESTS / "sub" / "test_x.py", "ROOT = Path(__file__).parents[2]")


def test_vendored_fixtures_carry_their_licence() -> None:
    for folder in ("data/advisory-db", "schemas/sarif", "schemas/junit", "schemas/gitlab"):
        texts = [p.read_text(encoding="utf-8") for p in (TESTS / folder).glob("*") if p.is_file()]
        assert any("licen" in t.lower() or "ipr policy" in t.lower() for t in texts), folder


# --- gates that describe themselves ---------------------------------------------------------

SRC = TESTS.parent / "src" / "mlgate"
# String constants equal to a gate's name that are not the gate: a command group, GitLab's
# report type, notebook and CycloneDX keys, a directory name.
NOT_A_GATE = {
    ("cli/data.py", "data"),  # `mlgate data infer`
    ("cli/lazy.py", "data"),  # the `mlgate data` command and its module
    ("report/gitlab.py", "sast"),  # GitLab's scan type `sast`
    ("notebooks.py", "data"),  # an output's `data` key in nbformat
    ("bom.py", "data"),  # CycloneDX's component `data`
    ("detect.py", "data"),  # a `data/` directory
    ("deps/sources/named.py", "deps"),  # a dvc.yaml stage's `deps` list
}


def _gate_names_named(path: Path, names: frozenset[str]) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names
    ]


def test_nothing_outside_a_gate_module_names_a_gate() -> None:
    from mlgate.gates import GATES

    names = frozenset(GATES)
    offenders = [
        f"{rel}:{line}: {value!r}"
        for path in sorted(SRC.rglob("*.py"))
        if "gates" not in path.relative_to(SRC).parts
        for rel in [path.relative_to(SRC).as_posix()]
        for line, value in _gate_names_named(path, names)
        if (rel, value) not in NOT_A_GATE
    ]
    assert offenders == []


def test_the_gate_name_guard_catches_a_literal(tmp_path: Path) -> None:
    path = tmp_path / "x.py"
    path.write_text('KINDS = {"sast": "tools"}\n', encoding="utf-8")
    assert _gate_names_named(path, frozenset({"sast"})) == [(1, "sast")]


# --- only the command line prints or exits --------------------------------------------------


def _in_cli_layer(path: Path) -> bool:
    """The command-line layer is the `mlgate.cli` package and the entry point in front of it
    (`__main__.py` answers `--version` before the package is imported)."""
    rel = path.relative_to(SRC).parts
    return rel[0] == "cli" or rel == ("__main__.py",)


def test_the_cli_layer_is_the_cli_package() -> None:
    assert _in_cli_layer(SRC / "cli" / "run.py")
    assert not _in_cli_layer(SRC / "runner.py")
    assert not _in_cli_layer(SRC / "client.py")
    assert _in_cli_layer(SRC / "__main__.py") and not _in_cli_layer(SRC / "gates" / "__main__.py")
    assert (SRC / "cli" / "__init__.py").is_file()
    assert not list(SRC.glob("cli*.py")), "the CLI layer is the cli/ package, no cli*.py module"


# Calls that print or end the process: only the CLI layer (the `cli/` package) makes them.
PRINTING = {
    ("", "print"),
    ("click", "echo"),
    ("click", "secho"),
    ("sys", "exit"),
    ("os", "_exit"),
    ("stderr", "write"),
    ("stdout", "write"),
}


def _prints_or_exits(source: str) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Raise) and node.exc is not None:
            exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if isinstance(exc, ast.Name) and exc.id == "SystemExit":
                found.append((node.lineno, "raise SystemExit"))
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and ("", func.id) in PRINTING:
            found.append((node.lineno, func.id))
        elif isinstance(func, ast.Attribute):
            owner = func.value
            name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", "")
            if (name, func.attr) in PRINTING:
                found.append((node.lineno, f"{name}.{func.attr}"))
    return sorted(found)


# A forked copy of mlgate (`bulk.Forked`, writing part of the reports) ends by `os._exit`:
# it ends the copy, never mlgate, and runs none of mlgate's exit handlers.
FORKED_COPY_ENDS = {("bulk.py", "os._exit")}


def test_only_the_command_line_prints_or_exits() -> None:
    offenders = [
        f"{path.relative_to(SRC)}:{line}: {call}"
        for path in sorted(SRC.rglob("*.py"))
        if not _in_cli_layer(path)
        for line, call in _prints_or_exits(path.read_text(encoding="utf-8"))
        if (str(path.relative_to(SRC)), call) not in FORKED_COPY_ENDS
    ]
    assert offenders == []
    bulk = _prints_or_exits((SRC / "bulk.py").read_text(encoding="utf-8"))
    assert [call for _, call in bulk] == ["os._exit", "os._exit"]  # the copy's two ways out


def test_the_print_guard_catches_each_way_out() -> None:
    source = (
        "import sys, click\nprint('x')\nclick.echo('x')\nsys.exit(2)\n"
        "sys.stderr.write('x')\nraise SystemExit(3)\n"
    )
    assert [call for _, call in _prints_or_exits(source)] == [
        "print",
        "click.echo",
        "sys.exit",
        "stderr.write",
        "raise SystemExit",
    ]
    assert _prints_or_exits("probe = 'print(1)'\n") == []


def test_reports_read_the_decision_never_thresholds() -> None:
    """A report shows what the decision marked (`blocking`, `outcome`): it never compares a
    severity with `fail_on` again, nor tests an exit code's number."""
    offenders = [
        f"{path.name}:{number}: {line.strip()}"
        for path in sorted((SRC / "report").glob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"\.settings\(|\.fail_on\b|exit_code ==", line)
    ]
    assert offenders == []


# --- environment variables are operator settings: the CLI reads them ---------------------------

# Modules outside the CLI that still read the environment: a ratchet, so no new module starts.
# The CLI reads the operator's variables (`cli/environment.py`: MLGATE_CACHE_DIR,
# MLGATE_SEMGREP_CLI, MLGATE_ADVISORY_DB; `--sign-key env:VAR`) and passes them down as
# settings (`cache.configure`, `toolenv.Settings`, `signing.load_private_key(spec, environ)`).
READS_ENVIRONMENT = {
    # the environment the child processes inherit: a tool needs PATH, HOME, proxies...
    "tools.py",
    # VIRTUAL_ENV: the interpreter the pipeline activated for the repository's own tests
    # (part of the child's environment, like PATH; issue 15 step 3, not moved yet)
    "gates/repotests.py",
    # MLGATE_TOOLS_DIR, MLGATE_TOOLS, MLGATE_OFFLINE, the index settings (not moved yet:
    # in-process tests and the benchmark configure the pinned tools through them)
    "toolenv.py",
    "toollock.py",  # MLGATE_TOOLS_LOCK (not moved yet, with toolenv's)
}


def test_only_the_command_line_reads_the_environment() -> None:
    readers = {
        path.relative_to(SRC).as_posix()
        for path in sorted(SRC.rglob("*.py"))
        if not _in_cli_layer(path)
        and re.search(r"os\.environ|os\.getenv", path.read_text(encoding="utf-8"))
    }
    assert readers == READS_ENVIRONMENT


# --- the `slow` marks name tests and fixtures that exist ----------------------------------------


def test_every_test_and_fixture_marked_slow_exists() -> None:
    from .conftest import SLOW_FIXTURES, SLOW_TESTS

    sources = {path.name: path.read_text(encoding="utf-8") for path in TESTS.rglob("test_*.py")}
    every = "\n".join([*sources.values(), (TESTS / "conftest.py").read_text(encoding="utf-8")])
    missing = [
        name
        for name in sorted(SLOW_TESTS)
        if f"def {name.split('::')[1]}(" not in sources.get(name.split("::")[0], "")
    ]
    missing += [f for f in sorted(SLOW_FIXTURES) if f"def {f}(" not in every]
    assert missing == []
