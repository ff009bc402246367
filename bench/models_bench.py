"""Time the models gate over a few hundred model files and stream a 2 GB checkpoint.

    .venv/bin/python bench/models_bench.py [--copies 4] [--size-gb 2] [--work DIR] [--keep]

1. Corpus: the bypass corpus and benign library models of tests/modelfiles/test_modelfiles_corpus.py
   (94 files), written `--copies` times (about 380 files), scanned by
   `mlgate run DIR models --no-cache --format json` in a child process: wall time, the
   gate's own seconds, milliseconds per 100 files, peak RSS of the child.
2. Checkpoints of `--size-gb` each, written in streaming (the script never holds them):
   a raw pickle (a dict of 64 MB byte strings, as a checkpoint of tensors-as-bytes is
   written, so the scanner walks every byte) and a PyTorch zip (data.pkl plus one stored
   storage member of that size). Each is scanned by the same command: wall time and peak
   RSS (os.wait4 of that child only). The goal: peak RSS under 100 MB.

Nothing is loaded; the script prints a markdown table. A bench script, not a test.
"""

from __future__ import annotations

import argparse
import json
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MB = 1 << 20
CHUNK = 64 * MB
RSS_GOAL_MB = 100


# Linux carries a process's RSS high-water mark across exec, and a forked child starts with
# its parent's: this script (the corpus builders import scikit-learn, xgboost, ...) would
# inflate a direct child's figure. A small launcher process runs the measured command and
# reports that grandchild's own peak RSS.
LAUNCHER = """
import os, subprocess, sys
child = subprocess.Popen(sys.argv[1:])
_pid, status, usage = os.wait4(child.pid, 0)
sys.stderr.write(f"RSS_KB={usage.ru_maxrss}\\n")
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_gate(root: Path) -> tuple[float, float, dict[str, object]]:
    """(wall seconds, peak RSS MB, the JSON report) of one `mlgate run` child process."""
    command = [sys.executable, "-m", "mlgate", "run", str(root), "models", "--no-cache"]
    command += ["--format", "json"]
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", LAUNCHER, *command], capture_output=True, check=False
    )
    seconds = time.monotonic() - started
    rss = next(
        int(line.split("=", 1)[1])
        for line in done.stderr.decode().splitlines()
        if line.startswith("RSS_KB=")
    )
    return seconds, rss / 1024, json.loads(done.stdout or b"{}")


def gate_seconds(report: dict[str, object]) -> float:
    gates = report.get("gates")
    for gate in gates if isinstance(gates, list) else []:
        if isinstance(gate, dict) and gate.get("name") == "models":
            return float(gate.get("seconds") or 0.0)
    return float("nan")


def write_corpus(root: Path, copies: int) -> int:
    from bench.models_compare import build_corpus  # noqa: PLC0415  (imports the tests)

    count = 0
    for index in range(copies):
        count += len(build_corpus(root / f"copy{index}"))
    return count


def write_big_pickle(path: Path, size: int) -> None:
    """{'t0': b'...', 't1': ...}: protocol 4, BINBYTES8 values of CHUNK bytes, streamed."""
    block = bytes(CHUNK)
    with path.open("wb") as out:
        out.write(b"\x80\x04}\x94(")
        written = 0
        index = 0
        while written < size:
            key = f"t{index}".encode()
            out.write(b"\x8c" + bytes([len(key)]) + key)
            out.write(b"\x8e" + struct.pack("<Q", CHUNK))
            out.write(block)
            written += CHUNK
            index += 1
        out.write(b"u.")


def write_big_torch_zip(path: Path, size: int) -> None:
    """A torch.save-style zip: archive/data.pkl (a state dict), archive/data/0 stored."""
    from tests.gates.test_modelfiles_gate import torch_state_dict  # noqa: PLC0415

    block = bytes(CHUNK)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        archive.writestr("archive/data.pkl", torch_state_dict())
        archive.writestr("archive/version", "3\n")
        with archive.open("archive/data/0", "w", force_zip64=True) as member:
            for _ in range(size // CHUNK):
                member.write(block)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=4)
    parser.add_argument("--size-gb", type=float, default=2.0)
    parser.add_argument("--work", type=Path, help="where to write (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the written files")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="mlgate-models-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    try:
        files = write_corpus(work / "corpus", args.copies)
        seconds, rss, report = run_gate(work / "corpus")
        gate = gate_seconds(report)
        rows.append(
            f"| corpus: {files} model files | {seconds:.1f} s (gate {gate:.2f} s, "
            f"{1000 * gate / files * 100:.0f} ms per 100 files) | {rss:.0f} MB |"
        )
        size = int(args.size_gb * 1024) * MB
        for name, writer in (
            ("checkpoint.pkl", write_big_pickle),
            ("checkpoint.pt", write_big_torch_zip),
        ):
            target = work / name.replace(".", "_")
            target.mkdir()
            writer(target / name, size)
            seconds, rss, report = run_gate(target)
            found = len(report.get("findings", []) or [])  # type: ignore[arg-type]
            mark = "ok" if rss < RSS_GOAL_MB else f"over the {RSS_GOAL_MB} MB goal"
            rows.append(
                f"| {name}, {args.size_gb:g} GB | {seconds:.1f} s (gate "
                f"{gate_seconds(report):.1f} s, {found} finding(s)) | {rss:.0f} MB ({mark}) |"
            )
            (target / name).unlink()
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print("| what | time | peak RSS of `mlgate run` |\n|---|---|---|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
