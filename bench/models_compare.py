"""Which model scanners catch which bypass class, and which flag benign models.

    .venv/bin/python bench/models_compare.py [--peers-bin DIR] [--json OUT] [--only TOOL...]

Builds the corpus of tests/modelfiles/test_modelfiles_corpus.py (every bypass variant with an
os.system payload, the Keras/GGUF/ONNX/SavedModel cases, and the benign models written by the
real libraries) in a temporary directory, never loads any of it, and runs on every file:
mlgate's models gate (flagged = a finding at medium or above) and each peer scanner found
in `--peers-bin` or on PATH: picklescan (`-p FILE`), modelscan (`-p FILE`), fickling
(`--check-safety FILE`), ModelAudit (`scan --no-cache FILE`). A peer's exit code 1 is
"flagged", 0 "clean", anything else "error" (modelscan's 3, "no supported files", is clean).
Peers run with their telemetry turned off and a per-file timeout. Prints a markdown table
(per class: malicious files flagged; benign row: false alarms) and, with --json, every
file's outcome per tool. A bench script, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mlgate.findings import Severity
from mlgate.gates import GATES, GateContext
from mlgate.repo import open_repo

PEERS = {
    "picklescan": lambda path: ["picklescan", "-p", str(path)],
    "modelscan": lambda path: ["modelscan", "-p", str(path)],
    "fickling": lambda path: ["fickling", "--check-safety", str(path)],
    "modelaudit": lambda path: ["modelaudit", "scan", "--no-cache", str(path)],
}
CLEAN_CODES = {"modelscan": {0, 3}}
QUIET_ENV = {
    "PROMPTFOO_DISABLE_TELEMETRY": "1",
    "MODELAUDIT_DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
    "POSTHOG_DISABLED": "1",
}
TIMEOUT = 120


@dataclass(frozen=True)
class Case:
    path: str  # relative to the corpus root
    klass: str
    malicious: bool


def build_corpus(root: Path) -> list[Case]:
    """The test corpus, written under root (malicious/..., benign/...)."""
    from tests.modelfiles import test_modelfiles_corpus as corpus  # noqa: PLC0415  (imports pytest)

    cases: list[Case] = []

    def put(rel: str, data: bytes, klass: str, malicious: bool) -> None:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        cases.append(Case(rel, klass, malicious))

    payload = corpus.evil(root)
    for variant in corpus.VARIANTS:
        put(f"malicious/{variant.name}", variant.make(payload), variant.klass, True)
    for name, (layer, _severity) in corpus.KERAS_CASES.items():
        put(f"malicious/keras/{name}", corpus.keras_archive([layer]), "keras", True)
    for name, template in corpus.SSTI_TEMPLATES.items():
        data = corpus.gguf_file(template.replace("CALL", corpus.EVIL_CALL))
        put(f"malicious/gguf/{name}.gguf", data, "gguf", True)
    for name, data in corpus.ONNX_CASES.items():
        put(f"malicious/onnx/{name}", data, "onnx", True)
    for op in ("ReadFile", "WriteFile", "EagerPyFunc", "ImmutableConst"):
        put(f"malicious/tf/{op}/saved_model.pb", corpus.saved_model(["Const", op]), "tf", True)
    for rel, data in corpus.benign_files().items():
        put(f"benign/{rel}", data, "benign", False)
    for name, template in corpus.BENIGN_TEMPLATES.items():
        put(f"benign/gguf/{name}.gguf", corpus.gguf_file(template), "benign", False)
    onnx = corpus.onnx_model(corpus.pb_len(5, corpus.onnx_tensor("weights/w.bin")))
    put("benign/onnx/external.onnx", onnx, "benign", False)
    standard = ["Const", "MatMul", "SaveV2", "RestoreV2", "ShardedFilename"]
    put("benign/tf/saved_model.pb", corpus.saved_model(standard), "benign", False)
    dense = corpus.layer("Dense", units=2)
    put("benign/keras/dense.keras", corpus.keras_archive([dense]), "benign", False)
    return cases


def mlgate_outcomes(root: Path) -> tuple[dict[str, str], float]:
    repo = open_repo(root)
    gate = GATES["models"]
    started = time.monotonic()
    result = gate.run(GateContext(repo, gate.inputs(repo, {}), timeout=600))
    seconds = time.monotonic() - started
    flagged = {f.path for f in result.findings if f.severity.at_least(Severity.MEDIUM)}
    return {path: "flagged" for path in flagged if path}, seconds


def peer_outcome(tool: str, command: list[str], cwd: Path) -> str:
    env = {**os.environ, **QUIET_ENV}
    try:
        done = subprocess.run(
            command, cwd=cwd, env=env, capture_output=True, timeout=TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        return "error"
    if done.returncode in CLEAN_CODES.get(tool, {0}):
        return "clean"
    return "flagged" if done.returncode == 1 else "error"


def whole_tree(tool: str, exe: str, root: Path, cases: list[Case]) -> dict[str, str]:
    """modelscan and ModelAudit start slowly: one run over the whole corpus, JSON report,
    each issue attributed to its file (modelscan: any issue flags; ModelAudit: critical or
    warning; an error on a file is "error")."""
    env = {**os.environ, **QUIET_ENV}
    out = root.parent / f"{tool}-report.json"
    if tool == "modelscan":
        command = [exe, "-p", str(root), "-r", "json", "-o", str(out)]
    else:
        command = [exe, "scan", "--no-cache", "-f", "json", "-o", str(out), str(root)]
    subprocess.run(command, env=env, capture_output=True, timeout=3600, check=False)
    report = json.loads(out.read_text()) if out.exists() else {}
    outcome = {c.path: "clean" for c in cases}
    by_name = {str(root / c.path): c.path for c in cases}

    def mark(source: str, what: str) -> None:
        path = source if source.startswith("/") else str(root / source)
        for full, rel in by_name.items():
            same = path == full or path.startswith((full + " ", full + ":"))
            if same and outcome[rel] != "flagged":
                outcome[rel] = what

    if tool == "modelscan":
        for issue in report.get("issues", []):
            mark(str(issue.get("source", "")), "flagged")
        for error in report.get("errors", []):
            mark(str(error.get("source", "")), "error")
    else:
        for issue in report.get("issues", []):
            if str(issue.get("severity")) in ("critical", "warning"):
                mark(str(issue.get("location", "")), "flagged")
    return outcome


WHOLE_TREE = {"modelscan", "modelaudit"}


def find_peers(peers_bin: str | None, only: list[str] | None) -> dict[str, str]:
    found = {}
    for tool in PEERS:
        if only and tool not in only:
            continue
        candidate = Path(peers_bin) / tool if peers_bin else None
        exe = str(candidate) if candidate and candidate.exists() else shutil.which(tool)
        if exe:
            found[tool] = exe
        else:
            print(f"{tool}: not installed, not measured", file=sys.stderr)
    return found


def table(cases: list[Case], outcomes: dict[str, dict[str, str]], tools: list[str]) -> str:
    by_class: dict[str, list[Case]] = defaultdict(list)
    for case in cases:
        by_class[case.klass].append(case)
    lines = [
        "| class | files | " + " | ".join(tools) + " |",
        "|---|---|" + "---|" * len(tools),
    ]
    for klass, items in by_class.items():
        label = "benign (false alarms)" if klass == "benign" else klass
        cells = []
        for tool in tools:
            hits = sum(outcomes[tool].get(c.path) == "flagged" for c in items)
            errors = sum(outcomes[tool].get(c.path) == "error" for c in items)
            cells.append(f"{hits}/{len(items)}" + (f" ({errors} err)" if errors else ""))
        lines.append(f"| {label} | {len(items)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peers-bin", help="directory holding the peer scanners' executables")
    parser.add_argument("--json", type=Path, help="write every file's outcome per tool here")
    parser.add_argument("--only", nargs="*", help="peer tools to run (default: all found)")
    args = parser.parse_args()
    peers = find_peers(args.peers_bin, args.only)
    with tempfile.TemporaryDirectory(prefix="mlgate-models-compare-") as tmp:
        root = Path(tmp) / "corpus"
        cases = build_corpus(root)
        outcomes: dict[str, dict[str, str]] = {}
        seconds: dict[str, float] = {}
        found, seconds["mlgate"] = mlgate_outcomes(root)
        outcomes["mlgate"] = {c.path: found.get(c.path, "clean") for c in cases}
        for tool, exe in peers.items():
            started = time.monotonic()
            if tool in WHOLE_TREE:
                outcomes[tool] = whole_tree(tool, exe, root, cases)
            else:
                outcomes[tool] = {}
                for case in cases:
                    path = root / case.path
                    command = [exe, *PEERS[tool](path.name)[1:]]
                    outcomes[tool][case.path] = peer_outcome(tool, command, path.parent)
            seconds[tool] = time.monotonic() - started
            print(f"{tool}: {seconds[tool]:.1f} s", file=sys.stderr)
            if args.json:  # partial results survive an interrupted run
                args.json.write_text(json.dumps({"outcomes": outcomes}, indent=1))
        if any(root.glob("**/MLGATE_CORPUS_PAYLOAD_RAN")):
            print("a payload ran: some scanner loaded a file", file=sys.stderr)
        tools = ["mlgate", *peers]
        print(table(cases, outcomes, tools))
        print(
            "\nseconds for the whole corpus: "
            + ", ".join(f"{t} {seconds[t]:.1f}" for t in tools)
            + f" ({len(cases)} files)"
        )
        if args.json:
            report: dict[str, Any] = {
                "cases": [c.__dict__ for c in cases],
                "outcomes": outcomes,
                "seconds": seconds,
            }
            args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
