"""Precision and recall of mlgate's medium-or-higher findings on real ML code.

    python bench/precision/precision.py [--work DIR] [--advisory-db DIR] [--mlgate CMD]
                                        [--reports DIR] [--json OUT] [--unlabelled]

Downloads the sdists of `corpus.json` (pip, `--no-deps --no-binary :all:`, sha256 checked),
unpacks each (tar `filter="data"`), runs `mlgate run SDIST --format json --no-cache` with the
default policy (environment: none) and the offline advisory database, and scores every
medium-or-higher finding against `labels.csv`: one row per (sdist, path, line, rule) triaged
by hand once, `true` (worth acting on at medium or above in that repository) or `false`, and
why. Precision = true / (true + false) among labelled medium+ findings; recall = true places
(sdist, path, line, gate) still reported at medium+ by some rule / all true places. A medium+
finding with no label is listed (`--unlabelled`) and counted apart: label it, do not guess.
`--mlgate` runs another build (e.g. an older checkout's mlgate) to measure a before/after.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import shlex
import subprocess
import sys
import tarfile
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
MEDIUM_PLUS = frozenset({"medium", "high", "critical"})
Key = tuple[str, str, int, str]  # sdist, path, line, rule


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    corpus = json.loads((HERE / "corpus.json").read_text(encoding="utf-8"))["sdists"]
    chosen = [e for e in corpus if _wanted(e, args)]
    labels = read_labels(HERE / "labels.csv")
    found: dict[Key, dict[str, Any]] = {}
    census: Counter[str] = Counter()
    for entry in chosen:
        report = _report(entry, args)
        found.update(medium_plus(sdist_name(entry), report))
        census.update(secrets_census(report))
    results: dict[str, Any] = {"secrets_census": dict(census)}
    for title, names in _sets(chosen).items():
        scores = score(_only(found, names), _only(labels, names))
        results[title] = scores
        print(f"{title} ({', '.join(sorted(names))}):")
        print(table(scores))
    print("secrets findings, all severities:", census_line(census))
    if args.unlabelled:
        for key in sorted(k for k in found if k not in labels):
            print("unlabelled:", ",".join(map(str, key)), found[key].get("gate"), sep=" ")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


def sdist_name(entry: dict[str, Any]) -> str:
    return str(entry["spec"]).split("==")[0]


def _wanted(entry: dict[str, Any], args: argparse.Namespace) -> bool:
    if args.only:
        return sdist_name(entry) in args.only
    if args.held_out:
        return bool(entry.get("held_out"))
    return True


def _sets(chosen: list[dict[str, Any]]) -> dict[str, set[str]]:
    """The tuning corpus, the held-out one (added after the rules were tuned), and both."""
    tuned = {sdist_name(e) for e in chosen if not e.get("held_out")}
    held = {sdist_name(e) for e in chosen if e.get("held_out")}
    sets = {"tuning set": tuned, "held-out set": held}
    if tuned and held:
        sets["all"] = tuned | held
    return {title: names for title, names in sets.items() if names}


def _only(items: dict[Key, Any], names: set[str]) -> dict[Key, Any]:
    return {key: value for key, value in items.items() if key[0] in names}


def medium_plus(name: str, report: dict[str, Any]) -> dict[Key, dict[str, Any]]:
    """The report's unwaived findings at medium or above, keyed as the labels are."""
    found: dict[Key, dict[str, Any]] = {}
    for finding in report.get("findings", []):
        if finding.get("severity") in MEDIUM_PLUS and finding.get("waived_by") is None:
            key = (
                name,
                str(finding.get("path")),
                int(finding.get("line") or 0),
                str(finding.get("rule_id")),
            )
            found[key] = finding
    return found


def secrets_census(report: dict[str, Any]) -> Counter[str]:
    """Secrets findings by severity, and how much the secrets gate (and sast, for
    notebooks) read: the secrets precision means little when nothing was a candidate."""
    counts: Counter[str] = Counter()
    for finding in report.get("findings", []):
        if finding.get("gate") == "secrets":
            counts[str(finding.get("severity"))] += 1
    for gate in report.get("gates", []):
        if gate.get("name") == "secrets":
            counts["files scanned"] += int(gate.get("files_scanned") or 0)
        if gate.get("name") == "sast":
            counts["notebooks"] += int((gate.get("properties") or {}).get("notebooks") or 0)
    return counts


def census_line(census: Counter[str]) -> str:
    order = ("critical", "high", "medium", "low", "info", "files scanned", "notebooks")
    return ", ".join(f"{key} {census.get(key, 0)}" for key in order)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=Path.home() / ".cache" / "mlgate-precision")
    parser.add_argument("--advisory-db", type=Path, default=None)
    parser.add_argument("--mlgate", default=str(Path(sys.executable).parent / "mlgate"))
    parser.add_argument("--reports", type=Path, default=None, help="keep each json report here")
    parser.add_argument(
        "--from-reports", type=Path, default=None, help="score reports kept by --reports"
    )
    parser.add_argument("--json", default=None)
    parser.add_argument("--only", nargs="+", default=None, help="these sdists (names) only")
    parser.add_argument("--held-out", action="store_true", help="the held-out sdists only")
    parser.add_argument("--unlabelled", action="store_true")
    return parser


def read_labels(path: Path) -> dict[Key, tuple[str, bool, str]]:
    """(sdist, path, line, rule) -> (gate, true?, why)."""
    labels: dict[Key, tuple[str, bool, str]] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(line for line in handle if not line.startswith("#")):
            key = (row["sdist"], row["path"], int(row["line"]), row["rule"])
            verdict = row["verdict"].strip().lower()
            if verdict not in ("true", "false"):
                raise ValueError(f"{path}: {key}: verdict must be true or false")
            labels[key] = (row["gate"], verdict == "true", row["why"])
    return labels


def score(
    found: dict[Key, dict[str, Any]], labels: dict[Key, tuple[str, bool, str]]
) -> dict[str, dict[str, float | int | None]]:
    """Per gate and overall: true/false positives among labelled medium+ findings, unlabelled
    ones, and recall over every labelled-true finding."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for key, finding in found.items():
        gate = str(finding.get("gate"))
        label = labels.get(key)
        kind = "unlabelled" if label is None else ("tp" if label[1] else "fp")
        for bucket in (gate, "overall"):
            counts[bucket][kind] += 1
    # Recall is per problem: a true place still reported by any rule of its gate (a bandit
    # test superseded by a rule-pack rule on the same line is the same problem found).
    places = {(k[0], k[1], k[2], str(f.get("gate"))) for k, f in found.items()}
    problems = {(k[0], k[1], k[2], gate) for k, (gate, true, _) in labels.items() if true}
    for place in problems:
        for bucket in (place[3], "overall"):
            counts[bucket]["true"] += 1
            counts[bucket]["missed"] += place not in places
    result: dict[str, dict[str, float | int | None]] = {}
    for bucket, c in sorted(counts.items()):
        judged = c["tp"] + c["fp"]
        result[bucket] = {
            "medium_plus": c["tp"] + c["fp"] + c["unlabelled"],
            "true_positives": c["tp"],
            "false_positives": c["fp"],
            "unlabelled": c["unlabelled"],
            "precision": round(c["tp"] / judged, 3) if judged else None,
            "recall": round((c["true"] - c["missed"]) / c["true"], 3) if c["true"] else None,
        }
    return result


def table(scores: dict[str, dict[str, float | int | None]]) -> str:
    lines = [
        "| gate | medium+ findings | true | false | unlabelled | precision | recall |",
        "|---|---|---|---|---|---|---|",
    ]
    for gate, s in scores.items():
        cells = [
            s["medium_plus"],
            s["true_positives"],
            s["false_positives"],
            s["unlabelled"],
            s["precision"],
            s["recall"],
        ]
        lines.append(
            f"| {gate} | " + " | ".join("n/a" if v is None else str(v) for v in cells) + " |"
        )
    return "\n".join(lines)


def _report(entry: dict[str, str], args: argparse.Namespace) -> dict[str, Any]:
    if args.from_reports:
        kept = args.from_reports / (entry["file"].removesuffix(".tar.gz") + ".json")
        loaded: dict[str, Any] = json.loads(kept.read_text(encoding="utf-8"))
        return loaded
    root = _unpacked(entry, args.work)
    argv = [
        *shlex.split(args.mlgate),
        "run",
        str(root),
        "--format",
        "json",
        "--no-cache",
        "--quiet",
    ]
    if args.advisory_db:
        argv += ["--advisory-db", str(args.advisory_db)]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode not in (0, 1, 3) or not done.stdout.strip():
        raise RuntimeError(
            f"mlgate on {entry['spec']}: exit {done.returncode}: {done.stderr[-500:]}"
        )
    if args.reports:
        args.reports.mkdir(parents=True, exist_ok=True)
        (args.reports / f"{root.name}.json").write_text(done.stdout, encoding="utf-8")
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def _unpacked(entry: dict[str, str], work: Path) -> Path:
    archive = work / "sdists" / entry["file"]
    if not archive.is_file():
        archive.parent.mkdir(parents=True, exist_ok=True)
        pip = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--no-binary",
            ":all:",
            "-q",
            "-d",
            str(archive.parent),
            entry["spec"],
        ]
        subprocess.run(pip, check=True)
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    if digest != entry["sha256"]:
        raise RuntimeError(f"{archive}: sha256 {digest} is not the pinned {entry['sha256']}")
    target = work / "corpus" / entry["file"].removesuffix(".tar.gz")
    if not target.is_dir():
        with tarfile.open(archive) as tar:
            tar.extractall(work / "corpus", filter="data")
    return target


if __name__ == "__main__":
    raise SystemExit(main())
