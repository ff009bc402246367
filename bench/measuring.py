"""Running the raw tools and mlgate, and measuring them."""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import (
    CHILD,
    IMPORTS_CHILD,
    NOT_SCANNERS,
    RAW_TOOLS,
    TIMEOUT,
    _fmt_s,
    log,
    median_run,
)
from bench.corpora import Corpus
from bench.environment import Env, base_env

# --- measuring ----------------------------------------------------------------------------


@dataclass
class RawRun:
    seconds: float | None
    returncode: int | None = None
    note: str | None = None  # why it is n/a, or what went wrong
    cpu: float | None = None  # user + system seconds of the tool's whole process tree


@dataclass
class MlgateRun:
    wall: float
    returncode: int
    startup: float | None = None  # spawn -> mlgate.cli imported (interpreter + imports)
    tool_busy: float | None = None  # wall time during which at least one scanner ran
    overhead: float | None = None  # wall - tool_busy
    before_first: float | None = None  # spawn -> the first scanner started
    after_last: float | None = None  # the last scanner ended -> mlgate exited
    rss_mb: float | None = None
    cpu: float | None = None  # user + system seconds: mlgate and every tool it ran
    own_cpu: float | None = None  # user + system seconds of mlgate's own process
    tool_cpu: dict[str, float] = field(default_factory=dict)  # tool -> CPU seconds (its tree)
    gates: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[dict[str, Any]] = field(default_factory=list)
    modules: list[str] = field(default_factory=list)  # the mlgate modules the run loaded
    imports: float | None = None  # wall time of the interpreter importing them, alone
    error: str | None = None


@dataclass
class Repetition:
    raw: dict[str, RawRun]
    cold: MlgateRun
    warm: MlgateRun
    changed: MlgateRun
    load: tuple[float, float]  # 1-minute load average before and after (other work = noise)
    busy: float | None = None  # CPU fraction busy with other work just before the repetition
    unmatched: MlgateRun | None = None  # a file no rule can match changed (warm cache)


def raw_commands(env: Env, corpus: Corpus) -> dict[str, list[str] | str]:
    """Each raw tool's command line as a user would type it, or why it is n/a."""
    commands: dict[str, list[str] | str] = {}
    for tool, gate in RAW_TOOLS.items():
        exe = env.tools.get(tool)
        if gate not in env.gates:
            commands[tool] = f"n/a: mlgate has no {gate} gate yet"
        elif exe is None:
            commands[tool] = f"n/a: {tool} not installed"
        elif tool == "pip-audit" and not corpus.requirements:
            commands[tool] = "n/a: no requirements file in the corpus"
        else:
            commands[tool] = [exe, *_raw_arguments(tool, env, corpus)]
    return commands


def _raw_arguments(tool: str, env: Env, corpus: Corpus) -> list[str]:
    if tool == "bandit":  # mlgate skips B101 (assert_used) by default: same tests here
        return ["-f", "json", "-q", "-r", "-s", "B101", "."]
    if tool == "semgrep":  # mlgate's rule pack, the same directory mlgate passes
        config = str(env.rules)
        return [
            "scan",
            "--json",
            "--metrics=off",
            "--disable-version-check",
            "--config",
            config,
            ".",
        ]
    if tool == "pip-audit":  # the options mlgate's online mode uses (pins only, no resolver)
        files = [arg for rel in corpus.requirements for arg in ("-r", rel)]
        return [*files, "--no-deps", "--disable-pip", "--progress-spinner", "off", "-f", "json"]
    return ["scan", "--all-files"]


def run_raw(argv: list[str], cwd: Path, scratch: Path) -> RawRun:
    env = {**base_env(), "SEMGREP_ENABLE_VERSION_CHECK": "0", "SEMGREP_SEND_METRICS": "off"}
    out = scratch / "raw-out.json"
    with out.open("wb") as stdout:
        cpu = children_cpu()
        started = time.monotonic()
        try:
            done = subprocess.run(
                argv,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=subprocess.PIPE,
                timeout=TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return RawRun(None, None, f"timed out after {TIMEOUT:g}s")
        seconds = time.monotonic() - started
        cpu = children_cpu() - cpu
    note = None
    if done.returncode not in (0, 1):
        note = f"exit {done.returncode}: {_gist(done.stderr.decode('utf-8', 'replace'))}"
    return RawRun(seconds, done.returncode, note, cpu)


def _gist(text: str, limit: int = 200) -> str:
    """The line of a tool's output that says what went wrong (else its last line)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower()]
    found = errors[0] if errors else (lines[-1] if lines else "")
    return found[:limit]


def children_cpu() -> float:
    """CPU seconds of every child process waited for so far (and of their descendants)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_mlgate(env: Env, corpus: Corpus, cache: Path, scratch: Path) -> MlgateRun:
    out = scratch / "out"
    shutil.rmtree(out, ignore_errors=True)
    stats_file = scratch / "stats.json"
    stats_file.unlink(missing_ok=True)
    argv = [env.python, "-c", CHILD, "run", str(corpus.root), *env.gates, "--quiet"]
    argv += ["--format", "json", "--output", str(out)]
    if env.advisory_db is not None:
        argv += ["--advisory-db", str(env.advisory_db)]
    child_env = {**env.child_env(), "MLGATE_CACHE_DIR": str(cache)}
    child_env["MLGATE_BENCH_STATS"] = str(stats_file)
    cpu = children_cpu()
    started = time.monotonic()
    done = subprocess.run(
        argv,
        cwd=corpus.root,
        env=child_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=TIMEOUT,
        check=False,
    )
    ended = time.monotonic()
    run = MlgateRun(wall=ended - started, returncode=done.returncode, cpu=children_cpu() - cpu)
    stderr = done.stderr.decode("utf-8", "replace").strip()
    if done.returncode not in (0, 1):
        run.error = f"mlgate exit {done.returncode}: {stderr[-300:]}"
    try:
        stats = json.loads(stats_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        run.error = run.error or f"no statistics from the child: {stderr[-300:]}"
        return run
    run.startup = stats["t_imported"] - started
    run.rss_mb = stats["maxrss_kb"] / 1024
    run.own_cpu = stats.get("cpu")
    for reaped in stats.get("reaped", []):
        tool = str(reaped["tool"])
        run.tool_cpu[tool] = run.tool_cpu.get(tool, 0.0) + float(reaped["cpu"])
    run.calls = [
        {**c, "start": c["start"] - started, "end": c["end"] - started} for c in stats["calls"]
    ]
    if stats.get("wrapped"):
        scanners = [c for c in run.calls if c["tool"] not in NOT_SCANNERS]
        run.tool_busy = union_length([(c["start"], c["end"]) for c in scanners])
        run.overhead = run.wall - run.tool_busy
        if scanners:
            run.before_first = min(c["start"] for c in scanners)
            run.after_last = run.wall - max(c["end"] for c in scanners)
    run.gates = _gate_summary(out / "mlgate.json")
    run.modules = [str(m) for m in stats.get("modules", [])]
    return run


def time_imports(env: Env, modules: list[str]) -> float:
    """Wall time of a fresh interpreter importing `modules` (what a run loaded) and exiting:
    the part of a warm run that no change to its work can remove (median of `WARM_RUNS`)."""

    def once() -> float:
        started = time.monotonic()
        subprocess.run(
            [env.python, "-c", IMPORTS_CHILD, *modules],
            env=env.child_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=TIMEOUT,
            check=False,
        )
        return time.monotonic() - started

    return median_run(once, WARM_RUNS, lambda seconds: seconds)


def _gate_summary(report_file: Path) -> dict[str, dict[str, Any]]:
    try:
        report = json.loads(report_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    gates: dict[str, dict[str, Any]] = {}
    for gate in report.get("gates", []):
        props = gate.get("properties") or {}
        gates[str(gate.get("name"))] = {
            "seconds": gate.get("seconds"),
            "status": gate.get("status"),
            "files_scanned": gate.get("files_scanned"),
            "cached_files": props.get("cached_files"),
            "cached": bool(props.get("cached")),
            "errors": list(gate.get("errors") or [])[:3],
        }
    return gates


def union_length(intervals: Sequence[tuple[float, float]]) -> float:
    """Total length covered by at least one interval."""
    total, end = 0.0, float("-inf")
    for start, stop in sorted(intervals):
        if stop <= end:
            continue
        total += stop - max(start, end)
        end = stop
    return total


@contextlib.contextmanager
def appended_line(path: Path, text: str) -> Iterator[None]:
    """Append a line to a file for the duration of the block, then restore it exactly."""
    original = path.read_bytes()
    sep = b"" if original.endswith(b"\n") or not original else b"\n"
    path.write_bytes(original + sep + text.encode("utf-8") + b"\n")
    try:
        yield
    finally:
        path.write_bytes(original)


def measure(
    env: Env, corpus: Corpus, repeat: int, scratch: Path, settle: float
) -> list[Repetition]:
    """Raw tools and mlgate back to back, `repeat` times; odd repetitions start with the raw
    tools, even ones with mlgate, so that a drift in machine load hits both alike."""
    commands = raw_commands(env, corpus)
    reps: list[Repetition] = []
    for number in range(1, repeat + 1):
        busy = wait_until_idle(settle)
        load_before = os.getloadavg()[0]
        if number % 2:
            raw = run_raw_tools(commands, corpus, scratch)
            cold, warm, changed, unmatched = run_mlgate_series(env, corpus, scratch, number)
        else:
            cold, warm, changed, unmatched = run_mlgate_series(env, corpus, scratch, number)
            raw = run_raw_tools(commands, corpus, scratch)
        load = (load_before, os.getloadavg()[0])
        reps.append(Repetition(raw, cold, warm, changed, load, busy, unmatched))
        shown = ", ".join(f"{t} {_fmt_s(r.seconds)}" for t, r in raw.items())
        log(
            f"{corpus.name} {number}/{repeat}: {shown}; mlgate cold {_fmt_s(cold.wall)}, "
            f"warm {_fmt_s(warm.wall)}, one file changed {_fmt_s(changed.wall)}"
            + (f", one no rule can match {_fmt_s(unmatched.wall)}" if unmatched else "")
        )
        for run in (cold, warm, changed, *([unmatched] if unmatched else [])):
            if run.error:
                log(f"{corpus.name}: {run.error}")
    return reps


def run_raw_tools(
    commands: Mapping[str, list[str] | str], corpus: Corpus, scratch: Path
) -> dict[str, RawRun]:
    raw: dict[str, RawRun] = {}
    for tool, argv in commands.items():
        if isinstance(argv, str):
            raw[tool] = RawRun(None, None, argv)
        else:
            raw[tool] = run_raw(argv, corpus.root, scratch)
    return raw


# A warm run takes a few tenths of a second, where one sample moves with the machine's
# load by a third: each repetition's warm run is the median of this many.
WARM_RUNS = 5


def run_mlgate_series(
    env: Env, corpus: Corpus, scratch: Path, number: int
) -> tuple[MlgateRun, MlgateRun, MlgateRun, MlgateRun | None]:
    """Cold (empty cache), warm (nothing changed), one file changed (warm cache), and one
    file that no rule can match changed (warm cache; None when the corpus has none)."""
    cache = Path(tempfile.mkdtemp(prefix="cache-", dir=scratch))
    second: Path | None = None
    try:
        cold = run_mlgate(env, corpus, cache, scratch)
        warm = median_run(
            lambda: run_mlgate(env, corpus, cache, scratch), WARM_RUNS, lambda run: run.wall
        )
        if warm.modules:
            warm.imports = time_imports(env, warm.modules)
        # the second changed run starts from the same warm cache (the first one's file,
        # restored, would be a changed file again)
        second = Path(tempfile.mkdtemp(prefix="cache-", dir=scratch))
        shutil.copytree(cache, second, dirs_exist_ok=True)
        line = f"BENCH_TOUCHED = {number}  # appended by bench.py"
        with appended_line(corpus.root / corpus.touch, line):
            changed = run_mlgate(env, corpus, cache, scratch)
        unmatched = None
        if corpus.touch_unmatched:
            with appended_line(corpus.root / corpus.touch_unmatched, line):
                unmatched = run_mlgate(env, corpus, second, scratch)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
        if second is not None:
            shutil.rmtree(second, ignore_errors=True)
    return cold, warm, changed, unmatched


def cpu_busy(sample: float = 2.0) -> float | None:
    """The fraction of the machine's CPU time not idle over `sample` seconds (Linux)."""

    def read() -> tuple[int, int] | None:
        try:
            fields = Path("/proc/stat").read_text(encoding="ascii").split("\n", 1)[0].split()
        except OSError:
            return None
        values = [int(v) for v in fields[1:]]
        return sum(values), values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait

    first = read()
    time.sleep(sample)
    second = read()
    if first is None or second is None or second[0] <= first[0]:
        return None
    return 1.0 - (second[1] - first[1]) / (second[0] - first[0])


def wait_until_idle(limit: float, threshold: float = 0.10) -> float | None:
    """Wait (at most `limit` seconds) until other work leaves the CPUs idle; returns the
    busy fraction last seen. Other processes on a 2-core machine distort every ratio."""
    deadline = time.monotonic() + limit
    busy = cpu_busy()
    while busy is not None and busy > threshold and time.monotonic() < deadline:
        busy = cpu_busy()
    if busy is not None and busy > threshold:
        log(f"the machine is still {100 * busy:.0f}% busy with other work: measuring anyway")
    return busy
