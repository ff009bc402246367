"""Shared definitions of the benchmark: goals, the measured child's code, logging."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

REPO_ROOT = Path(__file__).resolve().parents[1]
RULES_DIR = REPO_ROOT / "policies" / "semgrep" / "rules"
EXAMPLES = ("insecure-ml", "churn-model")
DEFAULT_SDIST = "keras==3.6.0"
SEED = 20_251_124
CORPORA = ("examples", "synthetic", "sdist")
BENCH_GATES = ("sast", "secrets", "deps")  # the gates that have a raw-tool counterpart
RAW_TOOLS: Mapping[str, str] = {  # raw tool -> the gate that runs it inside mlgate
    "bandit": "sast",
    "semgrep": "sast",
    "pip-audit": "deps",
    "detect-secrets": "secrets",
}
NOT_SCANNERS = frozenset({"git"})  # mlgate's own helpers: their time is mlgate's overhead
MODEL_SUFFIXES = (".pkl", ".pickle", ".pt", ".pth", ".joblib", ".npy", ".npz", ".h5", ".keras")
TIMEOUT = 3600.0
FIXED_DATE = "2025-01-01T00:00:00+00:00"


@dataclass(frozen=True)
class Goal:
    key: str  # a metric in CorpusResult.metrics
    limit: float
    text: str  # how the goal is printed
    strict: bool = False  # value < limit (else value <= limit)

    def met(self, value: float) -> bool:
        return value < self.limit if self.strict else value <= self.limit


GOALS: tuple[Goal, ...] = (  # issue 16
    Goal("cold_over_floor", 1.05, "<= 1.05x floor"),
    Goal("cold_cpu_over_raw", 1.05, "<= 1.05x raw CPU"),
    Goal("warm", 0.3, "<= 0.3 s"),
    Goal("changed", 2.0, "<= 2.0 s"),
    Goal("unmatched", 1.0, "<= 1.0 s"),
    Goal("overhead", 0.3, "< 0.3 s", strict=True),
)

# Runs inside the child interpreter: times every tool subprocess, then runs mlgate.
CHILD = r"""
import json, os, resource, subprocess, sys, time
_t0 = time.monotonic()
_calls = []
import mlgate.tools as _tools

def _wrap(fn):
    def timed(argv, *args, **kwargs):
        begin = time.monotonic()
        try:
            return fn(argv, *args, **kwargs)
        finally:
            _calls.append({"tool": os.path.basename(str(argv[0])), "start": begin,
                           "end": time.monotonic(), "argv": [str(a) for a in argv[:10]]})
    return timed

# CPU time of each tool's process tree, from wait4() when subprocess reaps it (Linux/macOS).
_reaped = []
_try_wait = getattr(subprocess.Popen, "_try_wait", None)
if _try_wait is not None and hasattr(os, "wait4"):
    def _wait4(self, wait_flags):
        try:
            pid, status, usage = os.wait4(self.pid, wait_flags)
        except ChildProcessError:
            return _try_wait(self, wait_flags)
        if pid == self.pid:
            _reaped.append({"tool": os.path.basename(str(self.args[0])),
                            "cpu": usage.ru_utime + usage.ru_stime})
        return (pid, status)
    subprocess.Popen._try_wait = _wait4

_wrapped = {}
for _name in ("run_tool", "run_tool_measured"):
    _fn = getattr(_tools, _name, None)
    if callable(_fn):
        _wrapped[_name] = (_fn, _wrap(_fn))
        setattr(_tools, _name, _wrapped[_name][1])
from mlgate.cli import run_main
for _mod in list(sys.modules.values()):  # names bound by `from mlgate.tools import ...`
    if getattr(_mod, "__name__", "").startswith("mlgate"):
        for _orig, _new in _wrapped.values():
            for _attr, _value in list(vars(_mod).items()):
                if _value is _orig:
                    setattr(_mod, _attr, _new)
_t1 = time.monotonic()
_code = run_main(sys.argv[1:])
_t2 = time.monotonic()
_self = resource.getrusage(resource.RUSAGE_SELF)
_rss = _self.ru_maxrss
print(f"ru_maxrss={_rss}", file=sys.stderr)
with open(os.environ["MLGATE_BENCH_STATS"], "w", encoding="utf-8") as _out:
    json.dump({"t_start": _t0, "t_imported": _t1, "t_done": _t2, "returncode": _code,
               "maxrss_kb": _rss, "cpu": _self.ru_utime + _self.ru_stime, "calls": _calls,
               "reaped": _reaped, "wrapped": sorted(_wrapped),
               "modules": sorted(m for m in sys.modules if m.startswith("mlgate"))}, _out)
import mlgate.cli as _cli  # end as the `mlgate` command ends (its teardown, or none)
getattr(_cli, "exit_process", sys.exit)(_code)
"""

# Interpreter start-up and the imports of a run, alone: the mlgate modules a run loaded
# (argv), imported as `mlgate` imports them (with its collector threshold), then exit.
IMPORTS_CHILD = r"""
import gc, importlib, os, sys
import mlgate.__main__ as _main
threshold = getattr(_main, "GC_THRESHOLD", None)
if threshold:
    gc.set_threshold(threshold, *gc.get_threshold()[1:])
import mlgate.cli
for _name in sys.argv[1:]:
    try:
        importlib.import_module(_name)
    except Exception:
        pass
sys.stdout.flush()
os._exit(0)
"""

PROBE = r"""
import json, sys
import mlgate
from mlgate.gates import GATES
from mlgate.resources import rule_pack_dir
print(json.dumps({"version": mlgate.__version__, "gates": list(GATES),
                  "rules": str(rule_pack_dir()), "file": mlgate.__file__}))
"""


def median_run(measure: Callable[[], T], times: int, wall: Callable[[T], float]) -> T:
    """The run of median wall time among `times` (the machine's speed drifts by a third
    over minutes: one run is a sample of the drift as much as of mlgate)."""
    runs = sorted((measure() for _ in range(times)), key=wall)
    return runs[len(runs) // 2]


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def _fmt_s(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f} s"
