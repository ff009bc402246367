"""Fault-injection tools: fake bandit, semgrep, detect-secrets, pip-audit and pytest.

Each fake is a small Python script written into a directory that mlgate is made to search
first. Its MODE decides what it does: behave like the real tool (`good`), print `{}`,
garbage or a report of the right shape that scanned nothing, crash, hang, leave children
behind (in its process group, or escaped with setsid), flood stderr, or keep stdout open
from a child. Every process a fake starts carries the case's marker in its environment
(MLGATE_HOSTILE_CASE, inherited from the run), so the suite can check none survives.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Mapping
from pathlib import Path

TOOLS = ("bandit", "semgrep", "detect-secrets", "pip-audit", "pytest")
MARKER_VAR = "MLGATE_HOSTILE_CASE"

_SCRIPT = r'''#!{python}
"""Fake {tool} for mlgate's hostile suite (mode: {mode})."""
import json, os, re, subprocess, sys, time

TOOL, MODE = {tool!r}, {mode!r}
args = sys.argv[1:]
if "--version" in args:
    print(TOOL + " 0.0.0")
    sys.exit(0)
files = args[args.index("--") + 1:] if "--" in args else []
MARK = os.environ.get("MLGATE_HOSTILE_CASE", "")
SLEEP = [sys.executable, "-c", "import time; time.sleep(300)", "mlgate-hostile-sleeper", MARK]


def good():
    if TOOL == "bandit":
        metrics = {{f: {{"loc": 1}} for f in files}}
        metrics["_totals"] = {{"loc": len(files)}}
        return {{"errors": [], "generated_at": "x", "metrics": metrics, "results": []}}
    if TOOL == "semgrep":
        return {{"version": "0", "results": [], "errors": [], "paths": {{"scanned": files}}}}
    if TOOL == "detect-secrets":
        return {{"version": "1.5.0", "plugins_used": [], "filters_used": [], "results": {{}}}}
    if TOOL == "pip-audit":
        req = args[args.index("-r") + 1]
        deps = []
        for line in open(req, encoding="utf-8"):
            name, _, version = line.strip().partition("==")
            deps.append({{"name": name, "version": version, "vulns": []}})
        return {{"dependencies": deps, "fixes": []}}
    return None


def emit(report):
    if TOOL == "pytest":
        junit = next(a.split("=", 1)[1] for a in args if a.startswith("--junitxml="))
        if report is not None:
            with open(junit, "w", encoding="utf-8") as out:
                out.write(report)
        return
    print(report if isinstance(report, str) else json.dumps(report))


GOOD_JUNIT = (
    '<testsuites><testsuite name="pytest" tests="1" failures="0" errors="0" skipped="0">'
    '<testcase classname="test_model" name="test_ok" file="test_model.py" line="3"/>'
    "</testsuite></testsuites>"
)
EMPTY = {{
    "bandit": {{"errors": [], "metrics": {{"_totals": {{}}}}, "results": []}},
    "semgrep": {{"results": [], "errors": [], "paths": {{"scanned": []}}}},
    "detect-secrets": {{"version": "1.5.0", "results": {{"not-given.txt": []}}}},
    "pip-audit": {{"dependencies": [], "fixes": []}},
    "pytest": '<testsuites><testsuite name="pytest" tests="0"/></testsuites>',
}}

if MODE == "good":
    emit(GOOD_JUNIT if TOOL == "pytest" else good())
elif MODE == "empty-object":
    emit("{{}}" if TOOL != "pytest" else None)
elif MODE == "garbage":
    emit("this is not a report <<<")
elif MODE == "top-level-list":
    emit("[]")
elif MODE == "wrong-types":
    emit({{"results": "none", "errors": {{}}, "metrics": [], "paths": [], "version": 1,
           "dependencies": {{}}}})
elif MODE == "scanned-nothing":
    emit(EMPTY[TOOL])
elif MODE == "crash":
    sys.stderr.write("Traceback (most recent call last):\nRuntimeError: fake crash\n")
    sys.stderr.flush()
    os.kill(os.getpid(), 11)
elif MODE == "exit-2":
    sys.stderr.write("usage error\n")
    sys.exit(2)
elif MODE == "stderr-flood":
    sys.stderr.write("noise " * 2_000_000)
    emit("{{}}")
elif MODE == "hang":
    time.sleep(300)
elif MODE == "fork-and-hang":
    subprocess.Popen(SLEEP)
    subprocess.Popen(SLEEP)
    time.sleep(300)
elif MODE == "fork-and-exit":
    subprocess.Popen(SLEEP)
    emit(GOOD_JUNIT if TOOL == "pytest" else good())
elif MODE == "setsid-escape":
    subprocess.Popen(SLEEP, start_new_session=True, stdout=subprocess.DEVNULL)
    emit(GOOD_JUNIT if TOOL == "pytest" else good())
elif MODE == "scrubbed-double-fork":
    # a child in a new session with an empty environment starts the sleeper and exits: the
    # sleeper carries no token and its parent is gone (only a subreaper can find it)
    spawn = "import subprocess, sys; subprocess.Popen(sys.argv[1:])"
    subprocess.Popen([sys.executable, "-c", spawn, *SLEEP], env={{}}, start_new_session=True,
                     stdout=subprocess.DEVNULL).wait()
    emit(GOOD_JUNIT if TOOL == "pytest" else good())
elif MODE == "child-holds-stdout":
    subprocess.Popen(SLEEP)  # inherits stdout: a pipe reader would wait for it
    emit(GOOD_JUNIT if TOOL == "pytest" else good())
else:
    sys.exit("unknown mode " + MODE)
'''


def install(directory: Path, modes: Mapping[str, str]) -> Path:
    """Write a fake for every tool in TOOLS (mode `good` unless `modes` says otherwise)."""
    directory.mkdir(parents=True, exist_ok=True)
    for tool in TOOLS:
        script = directory / tool
        mode = modes.get(tool, "good")
        script.write_text(
            _SCRIPT.format(python=sys.executable, tool=tool, mode=mode), encoding="utf-8"
        )
        script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return directory


def survivors(marker: str) -> list[str]:
    """Command lines of live processes (not zombies) whose environment carries `marker`,
    or whose command line names it (a sleeper started with an empty environment)."""
    found = []
    needle = f"{MARKER_VAR}={marker}".encode()
    named = f"mlgate-hostile-sleeper {marker}"
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if (entry / "stat").read_text().rpartition(")")[2].split()[0] == "Z":
                continue
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            if named in cmdline or needle in (entry / "environ").read_bytes().split(b"\0"):
                found.append(cmdline)
        except (OSError, IndexError):
            continue
    return found
