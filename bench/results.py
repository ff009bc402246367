"""Per-corpus results, goals and the markdown/JSON output."""

from __future__ import annotations

import datetime as dt
import os
import platform
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.common import BENCH_GATES, GOALS, RAW_TOOLS, _fmt_s
from bench.corpora import Corpus
from bench.environment import Env
from bench.measuring import MlgateRun, Repetition

# --- results ------------------------------------------------------------------------------


def _median(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def _ratio(top: float | None, bottom: float | None) -> float | None:
    return None if top is None or not bottom else top / bottom


@dataclass
class CorpusResult:
    corpus: Corpus
    reps: list[Repetition]
    metrics: dict[str, float | None] = field(default_factory=dict)
    slowest: str | None = None
    in_sum: list[str] = field(default_factory=list)

    def compute(self) -> None:
        reps, m = self.reps, self.metrics
        tools = list(RAW_TOOLS)
        self.in_sum = [t for t in tools if any(r.raw[t].seconds is not None for r in reps)]
        for tool in tools:
            m[f"raw_{tool}"] = _median([r.raw[tool].seconds for r in reps])
            m[f"raw_cpu_{tool}"] = _median([r.raw[tool].cpu for r in reps])
            m[f"cold_cpu_{tool}"] = _median([r.cold.tool_cpu.get(tool) for r in reps])
        sums = [_sum([r.raw[t].seconds for t in self.in_sum]) for r in reps]
        slowest = [_max([r.raw[t].seconds for t in self.in_sum]) for r in reps]
        cpus = [_sum([r.raw[t].cpu for t in self.in_sum]) for r in reps]
        cores = os.cpu_count() or 1
        # The fastest any scheduler could run the same work here: never below the slowest
        # tool, never below the CPU time spread over every core.
        floors = [
            _max([w, None if c is None else c / cores]) for w, c in zip(slowest, cpus, strict=True)
        ]
        m["raw_sum"], m["raw_slowest"] = _median(sums), _median(slowest)
        m["raw_cpu"], m["raw_floor"] = _median(cpus), _median(floors)
        medians = {t: m[f"raw_{t}"] for t in self.in_sum}
        known = {t: v for t, v in medians.items() if v is not None}
        self.slowest = max(known, key=lambda t: known[t]) if known else None
        for kind in ("cold", "warm", "changed", "unmatched"):
            runs: list[MlgateRun] = [getattr(r, kind) for r in reps if getattr(r, kind)]
            m[kind] = _median([run.wall for run in runs])
            m[f"{kind}_overhead"] = _median([run.overhead for run in runs])
            m[f"{kind}_startup"] = _median([run.startup for run in runs])
            m[f"{kind}_before_first"] = _median([run.before_first for run in runs])
            m[f"{kind}_after_last"] = _median([run.after_last for run in runs])
            m[f"{kind}_rss"] = _max([run.rss_mb for run in runs])
            m[f"{kind}_cpu"] = _median([run.cpu for run in runs])
            m[f"{kind}_own_cpu"] = _median([run.own_cpu for run in runs])
            m[f"{kind}_imports"] = _median([run.imports for run in runs])
        m["overhead"] = m["cold_overhead"]
        m["rss"] = _max([m["cold_rss"], m["warm_rss"], m["changed_rss"]])
        cold = [r.cold.wall for r in reps]
        m["cold_over_sum"] = _median([_ratio(c, s) for c, s in zip(cold, sums, strict=True)])
        m["floor_over_sum"] = _median([_ratio(f, s) for f, s in zip(floors, sums, strict=True)])
        m["floor_over_slowest"] = _median(
            [_ratio(f, s) for f, s in zip(floors, slowest, strict=True)]
        )
        m["cold_over_slowest"] = _median([_ratio(c, s) for c, s in zip(cold, slowest, strict=True)])
        m["cold_over_floor"] = _median([_ratio(c, f) for c, f in zip(cold, floors, strict=True)])
        m["cold_cpu_over_raw"] = _median(
            [_ratio(r.cold.cpu, c) for r, c in zip(reps, cpus, strict=True)]
        )
        m["semgrep_cpu_over_raw"] = _median(
            [_ratio(r.cold.tool_cpu.get("semgrep"), r.raw["semgrep"].cpu) for r in reps]
        )
        m["warm_over_cold"] = _median([_ratio(r.warm.wall, r.cold.wall) for r in reps])
        m["changed_over_cold"] = _median([_ratio(r.changed.wall, r.cold.wall) for r in reps])
        for gate in BENCH_GATES:
            m[f"gate_{gate}"] = _median([r.cold.gates.get(gate, {}).get("seconds") for r in reps])

    def verdicts(self) -> dict[str, bool | None]:
        out: dict[str, bool | None] = {}
        for goal in GOALS:
            value = self.metrics.get(goal.key)
            out[goal.key] = None if value is None else goal.met(value)
        return out

    def problems(self) -> list[str]:
        found: list[str] = []
        for rep in self.reps:
            for tool, raw in rep.raw.items():
                if raw.note and not raw.note.startswith("n/a"):
                    found.append(f"{tool}: {raw.note}")
            extra = [rep.unmatched] if rep.unmatched else []
            for run in (rep.cold, rep.warm, rep.changed, *extra):
                if run.error:
                    found.append(run.error)
                for gate, info in run.gates.items():
                    found += [f"{gate}: {str(e)[:200]}" for e in info.get("errors", [])]
        return list(dict.fromkeys(found))


def _sum(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def _max(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return max(known) if known else None


def _fmt_x(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _fmt_pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _fmt_mb(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f} MB"


def _verdict(ok: bool | None) -> str:
    return "" if ok is None else (" PASS" if ok else " MISS")


Row = tuple[str, str, Callable[[CorpusResult], str]]


def _metric(key: str, fmt: Callable[[float | None], str]) -> Callable[[CorpusResult], str]:
    def cell(result: CorpusResult) -> str:
        text = fmt(result.metrics.get(key))
        return text + _verdict(result.verdicts().get(key))

    return cell


def _raw_cell(tool: str) -> Callable[[CorpusResult], str]:
    def cell(result: CorpusResult) -> str:
        if tool not in result.in_sum:
            note = result.reps[0].raw[tool].note if result.reps else None
            return "n/a" + (f" ({note.split(': ', 1)[1]})" if note and ": " in note else "")
        return _fmt_s(result.metrics.get(f"raw_{tool}"))

    return cell


def _slowest_cell(result: CorpusResult) -> str:
    text = _fmt_s(result.metrics.get("raw_slowest"))
    return f"{text} ({result.slowest})" if result.slowest else text


def _tool_cpu_cell(tool: str) -> Callable[[CorpusResult], str]:
    def cell(result: CorpusResult) -> str:
        inside = result.metrics.get(f"cold_cpu_{tool}")
        alone = result.metrics.get(f"raw_cpu_{tool}")
        if alone is None:
            return "n/a"
        return f"{'not run' if inside is None else _fmt_s(inside)} vs {_fmt_s(alone)}"

    return cell


def _gate_cell(gate: str) -> Callable[[CorpusResult], str]:
    def cell(result: CorpusResult) -> str:
        return _fmt_s(result.metrics.get(f"gate_{gate}"))

    return cell


def rows(env: Env) -> list[Row]:
    cores = os.cpu_count()
    table: list[Row] = [(f"raw {tool}", "", _raw_cell(tool)) for tool in RAW_TOOLS]
    table += [
        ("raw tools: sum", "", _metric("raw_sum", _fmt_s)),
        ("raw tools: slowest", "", _slowest_cell),
        ("mlgate cold (empty cache)", "", _metric("cold", _fmt_s)),
    ]
    table += [(f"  {g} gate", "", _gate_cell(g)) for g in env.gates]
    table += [
        ("cold / floor here", "<= 1.05", _metric("cold_over_floor", _fmt_x)),
        ("cold / sum of raw tools", "", _metric("cold_over_sum", _fmt_x)),
        ("  best possible here: floor / sum", "", _metric("floor_over_sum", _fmt_x)),
        ("cold / slowest raw tool", "", _metric("cold_over_slowest", _fmt_x)),
        ("  best possible here: floor / slowest", "", _metric("floor_over_slowest", _fmt_x)),
        ("CPU: mlgate cold / raw tools", "<= 1.05", _metric("cold_cpu_over_raw", _fmt_x)),
        ("  semgrep CPU: in mlgate / raw", "", _metric("semgrep_cpu_over_raw", _fmt_x)),
        ("warm re-run, nothing changed", "<= 0.3 s", _metric("warm", _fmt_s)),
        (
            "  of which: interpreter + the imports it needs, alone",
            "",
            _metric("warm_imports", _fmt_s),
        ),
        ("warm / cold", "", _metric("warm_over_cold", _fmt_pct)),
        ("one .py changed, warm cache", "<= 2.0 s", _metric("changed", _fmt_s)),
        ("one changed / cold", "", _metric("changed_over_cold", _fmt_pct)),
        ("  CPU: warm re-run / one changed", "", _warm_cpu_cell),
        ("one .py no rule can match changed, warm", "<= 1.0 s", _metric("unmatched", _fmt_s)),
        ("  its CPU (semgrep not started)", "", _metric("unmatched_cpu", _fmt_s)),
        ("mlgate overhead, cold run", "< 0.3 s", _metric("overhead", _fmt_s)),
        ("  of which: start -> first scanner started", "", _metric("cold_before_first", _fmt_s)),
        ("    of which start + `import mlgate.cli`", "", _metric("cold_startup", _fmt_s)),
        ("  of which: last scanner ended -> exit", "", _metric("cold_after_last", _fmt_s)),
        ("mlgate overhead, warm run", "", _metric("warm_overhead", _fmt_s)),
        ("peak RSS of mlgate's own process", "(report)", _metric("rss", _fmt_mb)),
        ("CPU (user+sys): raw tools", "", _metric("raw_cpu", _fmt_s)),
        ("CPU: mlgate cold, tools included", "", _metric("cold_cpu", _fmt_s)),
        ("  mlgate's own process", "", _metric("cold_own_cpu", _fmt_s)),
    ]
    table += [
        (f"  {tool}: in mlgate vs raw", "", _tool_cpu_cell(tool))
        for tool in RAW_TOOLS
        if RAW_TOOLS[tool] in env.gates
    ]
    table.append(
        (f"floor here: max(slowest, raw CPU / {cores} cores)", "", _metric("raw_floor", _fmt_s))
    )
    return table


def _warm_cpu_cell(result: CorpusResult) -> str:
    m = result.metrics
    return f"{_fmt_s(m.get('warm_cpu'))} / {_fmt_s(m.get('changed_cpu'))}"


def corpus_header(result: CorpusResult) -> str:
    c = result.corpus.counts
    text = (
        f"{result.corpus.label}: {c['files']} files, {c['python']} .py "
        f"({c['python_lines']:,} lines), {c['notebooks']} notebooks, {c['models']} model files, "
        f"{c['mb']} MB"
    )
    loads = [value for rep in result.reps for value in rep.load]
    if loads:
        text += f"; load average {min(loads):.1f}-{max(loads):.1f} during the runs"
    busy = [rep.busy for rep in result.reps if rep.busy is not None]
    if busy:
        text += f" (CPUs {100 * max(busy):.0f}% busy with other work before a run, at most)"
    return text


def markdown(env: Env, results: list[CorpusResult], repeat: int, quick: bool) -> str:
    lines = [
        f"mlgate {env.mlgate_version} ({env.source}), {dt.date.today().isoformat()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, "
        f"median of {repeat} run(s){' (--quick)' if quick else ''}; gates: {', '.join(env.gates)}"
        + (f" (not benchmarked: {', '.join(env.other_gates)})" if env.other_gates else ""),
        "tools: " + ", ".join(f"{t} {env.versions.get(t) or 'n/a'}" for t in RAW_TOOLS),
        "",
        *[f"- {corpus_header(r)}" for r in results],
        "",
        "| metric | goal | " + " | ".join(r.corpus.label for r in results) + " |",
        "|---|---|" + "---|" * len(results),
    ]
    for label, goal, cell in rows(env):
        lines.append(f"| {label} | {goal} | " + " | ".join(cell(r) for r in results) + " |")
    problems = [f"{r.corpus.name}: {p}" for r in results for p in r.problems()]
    if problems:
        lines += ["", "Problems seen:", *[f"- {p}" for p in problems[:20]]]
    return "\n".join(lines)


def to_json(env: Env, results: list[CorpusResult], repeat: int, quick: bool) -> dict[str, Any]:
    def rep_json(rep: Repetition) -> dict[str, Any]:
        return {
            "load": list(rep.load),
            "busy_before": rep.busy,
            "raw": {t: vars(r) for t, r in rep.raw.items()},
            **{k: vars(getattr(rep, k)) for k in ("cold", "warm", "changed")},
            "unmatched": vars(rep.unmatched) if rep.unmatched else None,
        }

    return {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "mlgate": env.mlgate_version,
        "source": env.source,
        "gates": list(env.gates),
        "tools": dict(env.versions),
        "repeat": repeat,
        "quick": quick,
        "goals": {g.key: {"limit": g.limit, "text": g.text} for g in GOALS},
        "corpora": {
            r.corpus.name: {
                "label": r.corpus.label,
                "counts": r.corpus.counts,
                "changed_file": r.corpus.touch,
                "unmatched_file": r.corpus.touch_unmatched,
                "raw_tools_in_sum": r.in_sum,
                "slowest_raw_tool": r.slowest,
                "metrics": r.metrics,
                "verdicts": r.verdicts(),
                "problems": r.problems(),
                "runs": [rep_json(rep) for rep in r.reps],
            }
            for r in results
        },
    }
