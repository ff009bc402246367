"""Runs the selected gates in parallel and collects their results. Never decides.

Each gate declares how its results may be cached (`cache_scope`): `file` (findings belong
to the file they are in, so only changed files are re-scanned), `gate` (one result for all
inputs), or `none`. A cached result is keyed by the gate, its tool versions, its options
and rules, and the content of its input files (see cache.py). A `file` gate keeps one
cache entry (a pack: each path's content digest, and the findings of the paths that have
some) per configuration, read and written once per run, rather than one entry per file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from mlgate import __version__
from mlgate.cache import ResultCache, StatIndex, make_key
from mlgate.config import RepoConfig
from mlgate.findings import Finding, printable, printable_finding
from mlgate.gates import GATES, Gate, GateContext, GateResult
from mlgate.policy import Policy
from mlgate.prefetch import Prefetch, Task, prefetching
from mlgate.repo import Repo
from mlgate.tools import noticing_starts, submit


@dataclass(frozen=True)
class RunRequest:
    gates: tuple[str, ...]
    jobs: int
    overrides: Mapping[str, Mapping[str, Any]]  # per-gate options from the command line
    cache: ResultCache | None = None
    # Progress: called with (gate, None) when a gate starts and (gate, result) when it ends.
    on_progress: Callable[[str, GateResult | None], None] | None = None
    # Work needed after the gates (mlgate.prefetch), done while their scanners run.
    prefetch: tuple[Callable[[], object], ...] = ()
    # The stat index of the tree in `cache` (made here when None): the caller's, to reuse
    # the stamps and digests of the files the gates examined.
    stats: StatIndex | None = None
    # Called once, in the calling thread, when every gate but one has ended, with their
    # results (in request order) and the name of the gate still running: work the caller
    # does with the results after the run, done ahead while the last gate's tools run.
    one_left: Callable[[tuple[GateResult, ...], str], None] | None = None


@dataclass(frozen=True)
class RunResult:
    repo: Repo
    results: tuple[GateResult, ...]
    started_at: str
    seconds: float
    # each pinned scanner the gates used: {"version", "source": pinned|repo-pinned|system}
    tools: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)


def run_gates(repo: Repo, policy: Policy, config: RepoConfig, request: RunRequest) -> RunResult:
    started_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    started = time.monotonic()
    contexts = [_context(repo, policy, config, request, name) for name in request.gates]
    for name, ctx in contexts:  # configuration errors stop the run before any gate starts
        GATES[name].check_config(ctx)
    stats = request.stats
    if stats is None and request.cache is not None:
        stats = StatIndex(request.cache, repo.root)
    files = _cached_files(contexts)
    warm = stats is not None and stats.indexed
    if stats is not None and warm:
        # A warm cache: each gate looks its files up by digest before it scans any. Done
        # here, in one thread: two gates stating 2,000 files each while others read their
        # rule files took 50 ms of GIL hand-offs, against 15 ms for this (issue 16).
        stats.digests(files)
    # Each gate's cache key, here too: reading a gate's rule files (a few dozen system calls)
    # from a thread took 30 ms while another gate's thread held the interpreter, 1.5 ms here.
    keys = [_base_key(GATES[name], ctx, request.cache, stats) for name, ctx in contexts]
    pool = ThreadPoolExecutor(max_workers=max(1, request.jobs))
    ahead = [_hash_ahead(stats, files)] if stats is not None else []
    # With a warm cache the gates reuse most results and prepare only changed files: a
    # line would only take turns at cache lookups (a warm run was 15 ms slower with one).
    starters = [] if warm else [n for n, ctx in contexts if GATES[n].starts_tools(ctx)]
    starters.sort(key=lambda name: GATES[name].heavy_preparation)  # stable: request order
    with prefetching([*ahead, *request.prefetch]) as prefetch:
        line = StartingLine(starters, cleared=prefetch.wake)
        # Submitted in the line's order: with fewer workers than gates, a gate waits only
        # for gates submitted before it, which are running or done.
        order = sorted(range(len(contexts)), key=lambda i: line.place(contexts[i][0]))
        try:
            with noticing_starts(line.noticed):
                jobs = {
                    i: submit(pool, _timed, contexts[i], request, stats, keys[i], prefetch, line)
                    for i in order
                }
                if request.one_left is not None:
                    names = [name for name, _ in contexts]
                    _when_one_left(jobs, names, prefetch.settle, request.one_left)
                results = [jobs[i].result() for i in range(len(contexts))]
        except BaseException:  # a signal: do not wait for the gates (their tools are killed)
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()
    if request.cache is not None and stats is not None:
        stats.save()
        if request.cache.stored:  # the cache grows only when written: a warm run lists none
            request.cache.prune()
    return RunResult(repo, tuple(results), started_at, time.monotonic() - started)


def _when_one_left(
    jobs: Mapping[int, Future[GateResult]],
    names: Sequence[str],
    settle: Callable[[], None],
    then: Callable[[tuple[GateResult, ...], str], None],
) -> None:
    """Call `then` once every gate but one has ended (none of them with an exception), and
    the prefetch thread's work, if it began, is done (`then` may use what it built). A run
    of one gate has nothing to do ahead: its gate may still be preparing its tools."""
    if len(jobs) < 2:
        return
    pending = set(jobs.values())
    while len(pending) > 1:
        _, pending = wait(pending, return_when=FIRST_COMPLETED)
    ended = [i for i in sorted(jobs) if jobs[i] not in pending]
    if len(pending) != 1 or any(jobs[i].exception() is not None for i in ended):
        return
    settle()
    (running,) = (names[i] for i in sorted(jobs) if jobs[i] in pending)
    then(tuple(jobs[i].result() for i in ended), running)


class StartingLine:
    """Gates that start tool processes prepare their inputs one at a time, in order, each
    until its first tool has started (or it has ended); the other gates begin once all of
    those have.

    Preparing is Python work. On the synthetic corpus the secrets gate sorts 2,000 files
    (13 ms alone) and the sast gate converts 50 notebooks (45 ms alone); in two threads at
    once they took 126 and 66 ms, as each system call hands the interpreter lock to the
    other thread and waits to get it back. Light gates first (`Gate.heavy_preparation`),
    one at a time: the first scanner starts 0.21 s after mlgate does instead of 0.31 s
    (medians of 10 cold runs), which is most of a cold run's overhead (issue 16).
    """

    def __init__(self, starters: Sequence[str], cleared: Callable[[], None]) -> None:
        self._order = tuple(starters)
        self._waiting = list(starters)  # not yet started a tool, in order
        self._moved = threading.Condition()
        # Called when a tool has started and every starter has (or has ended): work waiting
        # for the scanners must not slow down the gates still preparing theirs.
        self._cleared = cleared
        self._tool_started = False

    def noticed(self) -> None:
        """A tool process has started (any gate's)."""
        with self._moved:
            self._tool_started = True
            clear = not self._waiting
        if clear:
            self._cleared()

    def place(self, gate: str) -> int:
        """The gate's place in the line: the starters in order, then the rest."""
        return self._order.index(gate) if gate in self._order else len(self._order)

    @contextlib.contextmanager
    def turn(self, gate: str) -> Iterator[None]:
        """Wait for the gate's turn; a starter's turn ends when its first tool process has
        started (it is told by `tools.noticing_starts`) or when the block ends."""
        if gate not in self._order:
            with self._moved:
                self._moved.wait_for(lambda: not self._waiting)
            yield
            return
        with self._moved:
            self._moved.wait_for(lambda: self._waiting[0] == gate)
        try:
            with noticing_starts(lambda: self._started(gate)):
                yield
        finally:
            self._started(gate)

    def _started(self, gate: str) -> None:
        with self._moved:
            if gate not in self._waiting:
                return
            self._waiting.remove(gate)
            self._moved.notify_all()
            clear = self._tool_started and not self._waiting
        if clear:
            self._cleared()


def _cached_files(contexts: Sequence[tuple[str, GateContext]]) -> list[str]:
    """The input files of the gates whose results are cached, each once."""
    return list(
        dict.fromkeys(
            rel
            for name, ctx in contexts
            if GATES[name].cache_scope != "none"
            for rel in ctx.inputs.files
        )
    )


def _hash_ahead(stats: StatIndex, files: Sequence[str]) -> Task:
    """The prefetch task hashing every file of the cached gates and storing the stat index,
    while the scanners run: after them, the index is stored again only if a file was
    hashed since (a 2,000-file index is 30 ms to redact and write)."""

    def hash_and_store() -> None:
        stats.digests(files)
        stats.save()

    return hash_and_store


def gate_options(
    policy: Policy, config: RepoConfig, overrides: Mapping[str, Mapping[str, Any]], name: str
) -> dict[str, Any]:
    """Policy options, then .mlgate.yml's, then the command line's: later ones win."""
    return {
        **policy.settings(name).options,
        **config.options_for(name),
        **overrides.get(name, {}),
    }


def _context(
    repo: Repo, policy: Policy, config: RepoConfig, request: RunRequest, name: str
) -> tuple[str, GateContext]:
    options = gate_options(policy, config, request.overrides, name)
    gate = GATES[name]
    return name, GateContext(repo, gate.inputs(repo, options), policy.settings(name).timeout)


def _timed(
    item: tuple[str, GateContext],
    request: RunRequest,
    stats: StatIndex | None,
    key: str | None,
    prefetch: Prefetch | None = None,
    line: StartingLine | None = None,
) -> GateResult:
    name, ctx = item
    if request.on_progress is not None:
        request.on_progress(name, None)
    started = time.monotonic()
    with line.turn(name) if line is not None else contextlib.nullcontext():
        result = _cached_run(GATES[name], ctx, request.cache, stats, key, prefetch)
    result = dataclasses.replace(_printable(result), seconds=time.monotonic() - started)
    if request.on_progress is not None:
        request.on_progress(name, result)
    return result


def _printable(result: GateResult) -> GateResult:
    """Non-UTF-8 file names in paths, messages, errors and notes shown as `\\xNN`."""
    return dataclasses.replace(
        result,
        findings=tuple(printable_finding(f) for f in result.findings),
        errors=tuple(printable(e) for e in result.errors),
        notes=tuple(printable(n) for n in result.notes),
    )


def _safe_run(gate: Gate, ctx: GateContext) -> GateResult:
    try:
        return gate.run(ctx)
    except Exception as exc:  # a bug in a gate must not pass silently, nor kill the run
        message = f"internal error in gate {gate.name}: {type(exc).__name__}: {exc}"
        return GateResult(gate.name, errors=(message,))


def _base_key(
    gate: Gate, ctx: GateContext, cache: ResultCache | None, stats: StatIndex | None
) -> str | None:
    """The key of the gate's cached results in this run (its tool versions, options and
    rules), or None when its result is not cached."""
    if cache is None or stats is None or gate.cache_scope == "none" or not ctx.inputs.files:
        return None
    if ctx.repo.unreadable:  # findings about directories belong to no cached file
        return None
    salt = gate.cache_salt(ctx)
    if salt is None:  # the gate says this result must not be reused (e.g. an online service)
        return None
    return make_key(__version__, gate.name, dict(gate.tool_versions()), ctx.inputs.options, salt)


def _cached_run(
    gate: Gate,
    ctx: GateContext,
    cache: ResultCache | None,
    stats: StatIndex | None,
    base: str | None,
    prefetch: Prefetch | None = None,
) -> GateResult:
    """The gate's result, reused from `cache` where its inputs are unchanged (`base`: its
    `_base_key`, None when nothing is cached)."""
    if cache is None or stats is None or base is None:
        return _safe_run(gate, ctx)
    settle = prefetch.settle if prefetch is not None else _nothing
    if gate.cache_scope == "file":
        return _per_file(gate, ctx, cache, base, stats, settle)
    return _whole_gate(gate, ctx, cache, make_key(base, stats.digests(ctx.inputs.files)), settle)


def _whole_gate(
    gate: Gate,
    ctx: GateContext,
    cache: ResultCache,
    key: str,
    settle: Callable[[], None],
) -> GateResult:
    hit = cache.get(key)
    if isinstance(hit, dict):
        return _result_from_cache(gate, hit)
    result = _safe_run(gate, ctx)
    if not result.errors:
        settle()  # the entry is redacted: wait if the prefetch thread loads the detectors
        cache.put(key, result.to_dict())
    return result


def _per_file(
    gate: Gate,
    ctx: GateContext,
    cache: ResultCache,
    base: str,
    stats: StatIndex,
    settle: Callable[[], None],
) -> GateResult:
    """Each file's findings reused while its digest is unchanged; the others scanned.

    A gate with nothing cached (its first run here) can reuse nothing, so its files are not
    hashed before its tools start: the prefetch thread hashes them while the tools run
    (`_hash_ahead`), and the digests are asked for once the scan is done."""
    pack_key = make_key(base, "pack", PACK_FORMAT)
    pack = _unpacked(cache.get(pack_key))
    cached: dict[str, list[Finding]] = {}
    if pack:
        for rel, digest in stats.digests(ctx.inputs.files).items():
            entry = pack.get(rel)
            if entry is not None and entry[0] == digest:
                cached[rel] = [Finding.from_dict(item) for item in entry[1]]
    todo = tuple(rel for rel in ctx.inputs.files if rel not in cached)
    fresh = _scan_subset(gate, ctx, todo)
    if todo and not fresh.errors:
        settle()  # the prefetch thread may be hashing the files, or loading the detectors
        files = stats.digests(ctx.inputs.files)
        by_path: dict[str, list[dict[str, Any]]] = {rel: [] for rel in todo}
        for item in fresh.findings:
            if item.path in by_path:
                by_path[item.path].append(item.to_dict())
        for rel, found in by_path.items():
            pack[rel] = (files[rel], found)
        cache.put(pack_key, _packed(_bounded(pack, files)))  # redacted: settled above
    reused = [f for rel in ctx.inputs.files if rel in cached for f in cached[rel]]
    notes = list(fresh.notes)
    scanned = len(set(ctx.inputs.files))
    if cached:
        notes.append(f"{len(cached)} of {scanned} file(s) unchanged: results reused from cache")
    return dataclasses.replace(
        fresh,
        findings=(*reused, *fresh.findings),
        skipped=None,
        files_scanned=scanned,
        notes=tuple(notes),
        properties={**fresh.properties, "cached_files": len(cached)},
    )


def _nothing() -> None:
    """No prefetch thread to wait for."""


# A pack as stored: {"files": [path, ...], "digests": [digest, ...] (one per path),
# "findings": {path: [finding, ...]} (the paths with findings)}. Columns, not an entry per
# file: redacting and writing 2,000 entries after the last scanner took 11 ms (issue 16).
PACK_FORMAT = 2
Pack = dict[str, tuple[str, list[dict[str, Any]]]]  # path -> (digest, findings)


def _unpacked(stored: Any) -> Pack:
    """The pack a cache entry holds; empty when it is not one (then every file is scanned)."""
    if not isinstance(stored, dict):
        return {}
    files, digests, findings = (stored.get(k) for k in ("files", "digests", "findings"))
    if not (isinstance(files, list) and isinstance(digests, list) and isinstance(findings, dict)):
        return {}
    if len(files) != len(digests) or not all(isinstance(v, list) for v in findings.values()):
        return {}
    return {
        rel: (digest, findings.get(rel, []))
        for rel, digest in zip(files, digests, strict=True)
        if isinstance(rel, str) and isinstance(digest, str)
    }


def _packed(pack: Pack) -> dict[str, Any]:
    return {
        "files": list(pack),
        "digests": [digest for digest, _ in pack.values()],
        "findings": {rel: found for rel, (_, found) in pack.items() if found},
    }


def _bounded(pack: Pack, files: Mapping[str, str]) -> Pack:
    """The pack, without other files' entries once they outnumber this run's by far (entries
    of other shards, changed-only runs or deleted files are kept until then)."""
    if len(pack) <= 4 * len(files) + 1000:
        return pack
    return {rel: entry for rel, entry in pack.items() if rel in files}


def _scan_subset(gate: Gate, ctx: GateContext, todo: tuple[str, ...]) -> GateResult:
    if not todo:
        return GateResult(gate.name, tools=gate.tool_versions())
    inputs = dataclasses.replace(ctx.inputs, files=todo)
    return _safe_run(gate, dataclasses.replace(ctx, inputs=inputs))


def _result_from_cache(gate: Gate, data: Mapping[str, Any]) -> GateResult:
    stored = GateResult.from_dict(data)
    return dataclasses.replace(
        stored,
        gate=gate.name,
        seconds=0.0,
        notes=(*stored.notes, "result reused from cache (inputs unchanged)"),
        properties={**stored.properties, "cached": True},
    )


def select_gates(policy: Policy, requested: Sequence[str]) -> tuple[str, ...]:
    """The gates to run: those named on the command line, else every enabled one."""
    if requested:
        return tuple(dict.fromkeys(requested))
    return tuple(policy.enabled_gates())
