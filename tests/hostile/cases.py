"""The hostile suite's case table, and docs/reliability.md generated from it.

Every case here is run by a test in tests/hostile/ that asserts its outcome, that no process
of the case survives and that no mlgate temporary directory remains. Regenerate the
document after changing the table:

    python tests/hostile/cases.py > docs/reliability.md

(`tests/hostile/test_reliability_doc.py` fails while the committed file is not current.)
"""

from __future__ import annotations

from dataclasses import dataclass

GATE_OF = {
    "bandit": "sast",
    "semgrep": "sast",
    "detect-secrets": "secrets",
    "pip-audit": "deps",
    "pytest": "model",
}


@dataclass(frozen=True)
class ToolFault:
    """A fake tool misbehaving in one way, and what mlgate must make of it."""

    tool: str
    mode: str
    status: str  # the gate's status
    says: str  # a fragment of the gate's error ('' when the gate passes)

    @property
    def id(self) -> str:
        return f"{self.tool}-{self.mode}"

    @property
    def gate(self) -> str:
        return GATE_OF[self.tool]


MODES = {
    "good": "behaves like the real tool (the control case: the gate can pass)",
    "empty-object": "exits 0 and prints `{}` (pytest: exits 0, writes no report)",
    "garbage": "exits 0 and prints text that is not JSON (pytest: a report that is not XML)",
    "top-level-list": "exits 0 and prints `[]`",
    "wrong-types": "exits 0 with the right keys holding the wrong types",
    "scanned-nothing": "exits 0 with a well-formed report that leaves out the files it was given",
    "crash": "writes a traceback to stderr and dies of SIGSEGV",
    "exit-2": "exits 2 (a usage error) with a line on stderr",
    "stderr-flood": "writes 12 MB to stderr, then prints `{}`",
    "hang": "sleeps past the gate timeout",
    "fork-and-hang": "starts two `sleep 300` children, then sleeps past the gate timeout",
    "fork-and-exit": "starts a `sleep 300` child, reports correctly and exits",
    "setsid-escape": "starts a child in a new session (setsid), reports correctly and exits",
    "child-holds-stdout": "a child keeps the tool's stdout open; the tool reports and exits",
    "scrubbed-double-fork": "a child in a new session, with an empty environment, starts a "
    "sleeper and exits; the tool reports and exits (CLI case, see below)",
}

_TIMEOUT = "timed out"
_COMMON = (
    ("good", "pass", ""),
    ("crash", "error", "exited with code -11"),
    ("exit-2", "error", "exited with code 2"),
    ("hang", "error", _TIMEOUT),
    ("fork-and-hang", "error", _TIMEOUT),
    ("fork-and-exit", "pass", ""),
    ("setsid-escape", "pass", ""),
    ("child-holds-stdout", "pass", ""),
)
_JSON_TOOLS = {
    "bandit": (
        ("empty-object", "error", "not a bandit report (no `results`)"),
        ("garbage", "error", "unparseable output"),
        ("top-level-list", "error", "the top level is a list"),
        ("wrong-types", "error", "`results` is a string, not a list"),
        ("scanned-nothing", "error", "does not cover 2 of the 2 file(s)"),
        ("stderr-flood", "error", "not a bandit report"),
    ),
    "semgrep": (
        ("empty-object", "error", "no `results`"),
        ("garbage", "error", "unparseable output"),
        ("top-level-list", "error", "the top level is a list"),
        ("wrong-types", "error", "`results` is a string, not a list"),
        ("scanned-nothing", "error", "does not cover 2 of the 2 file(s)"),
        ("stderr-flood", "error", "no `results`"),
    ),
    "detect-secrets": (
        ("empty-object", "error", "not a detect-secrets report (no `version`)"),
        ("garbage", "error", "unparseable output"),
        ("top-level-list", "error", "the top level is a list"),
        ("wrong-types", "error", "`version` is int, not a string"),
        ("scanned-nothing", "error", "names files it was not given: not-given.txt"),
        ("stderr-flood", "error", "not a detect-secrets report"),
    ),
    "pip-audit": (
        ("empty-object", "error", "not a pip-audit report (no `dependencies`)"),
        ("garbage", "error", "unparseable output"),
        ("top-level-list", "error", "the top level is a list"),
        ("wrong-types", "error", "`dependencies` is an object, not a list"),
        ("scanned-nothing", "error", "leaves out 1 of the 1 pinned dependencies"),
        ("stderr-flood", "error", "not a pip-audit report"),
    ),
    "pytest": (
        ("empty-object", "error", "did not run the tests"),
        ("garbage", "error", "unreadable JUnit report"),
        ("scanned-nothing", "error", "its report ran no test"),
    ),
}

TOOL_FAULTS: tuple[ToolFault, ...] = tuple(
    ToolFault(tool, mode, status, says)
    for tool, specific in _JSON_TOOLS.items()
    for mode, status, says in (*_COMMON, *specific)
)


@dataclass(frozen=True)
class Scenario:
    """A case that is not one fake tool's fault: signals, scale, file names, ..."""

    id: str
    klass: str
    what: str
    outcome: str
    test: str


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "sigterm-during-scan",
        "2",
        "SIGTERM while every tool of sast and secrets hangs with children",
        "exit 143 within 2 s; no process, temporary directory or file in `--output` left",
        "test_signals.py",
    ),
    Scenario(
        "sigint-during-scan",
        "2",
        "SIGINT (Ctrl-C) while every tool of sast and secrets hangs with children",
        "exit 130 within 2 s; no process, temporary directory or file in `--output` left",
        "test_signals.py",
    ),
    Scenario(
        "predict-setsid-child",
        "2",
        "the model gate's `predict` command starts a child that calls setsid() and sleeps",
        "the gate measures the command; the escaped child is killed when the command ends",
        "test_processes.py",
    ),
    Scenario(
        "scrubbed-double-fork",
        "2",
        "a fake bandit's child, in a new session with an empty environment (no run token), "
        "starts a sleeper and exits; the CLI run ends normally",
        "the sleeper, re-parented to mlgate (child subreaper), is killed at exit (with the "
        "subreaper call removed, this case fails: checked by hand)",
        "test_processes.py",
    ),
    Scenario(
        "ten-thousand-findings",
        "5",
        "10,000 findings through the policy decision and every report format",
        "decision < 3 s (was 28 s), all formats < 20 s",
        "test_scale.py",
    ),
    Scenario(
        "fifty-thousand-paths",
        "5",
        "the secrets gate over 50,000 files under 45-byte paths (over the 2 MB argv limit)",
        "pass: detect-secrets runs in batches that fit the command line (was: gate error, "
        '"Argument list too long")',
        "test_scale.py",
    ),
    Scenario(
        "custom-rule-bad-yaml",
        "9",
        "a repository's semgrep rule file that is not valid YAML, or not semgrep rules",
        "exit 2 naming the file and line, before any scanner starts",
        "test_supersession.py",
    ),
    Scenario(
        "custom-rule-bad-pattern",
        "9",
        "examples/insecure-ml with a custom rule whose pattern semgrep cannot parse, `--env dev`",
        "sast keeps every bandit finding (pickle, yaml.load, shell=True, eval) and reports "
        "semgrep's error; exit 1 (was: PASS with those findings dropped)",
        "test_supersession.py",
    ),
    Scenario(
        "non-utf8-file-names",
        "8",
        "a `.py` calling pickle.loads and a malicious pickle, both named with bytes that are "
        "not UTF-8",
        "both found (paths shown as `\\xNN`); reports valid UTF-8 (was: models internal "
        "error, sast pass)",
        "test_paths.py",
    ),
    Scenario(
        "unreadable-paths",
        "8",
        "an unreadable file holding an AWS key, an unreadable `.py`, an unreadable directory",
        "an `unreadable-path` finding (high) for each, in secrets and sast (was: silently skipped)",
        "test_paths.py",
    ),
    Scenario(
        "fuzz-notebook-reader",
        "fuzz",
        "hypothesis: random bytes, JSON and notebook-shaped JSON as `.ipynb` (300 examples)",
        "a Notebook or a NotebookProblem; sast's and secrets' views of it never raise",
        "test_fuzz.py",
    ),
    Scenario(
        "fuzz-pickle-reader",
        "fuzz",
        "hypothesis: random bytes, pickle headers and byte-flipped real pickles as model "
        "files (300 examples)",
        "a scan result (findings, notes), never an exception",
        "test_fuzz.py",
    ),
    Scenario(
        "batched-real-tools",
        "5",
        "real bandit and semgrep forced to one file per run",
        "the same findings as one run",
        "test_scale.py",
    ),
    Scenario(
        "secrets-in-every-output",
        "3",
        "an AWS key id, a GitHub token, a Hugging Face token and a private key reach mlgate "
        "through a failing contract's sample, a `predict` command's stderr and command line, "
        "a scanner's stderr and an error message",
        "no value in stdout, stderr, any report format, the step summary or the cache; each "
        "shown as its preview",
        "test_redaction.py",
    ),
    Scenario(
        "config-paths-outside-the-repository",
        "4",
        "`.mlgate.yml` and the policy name rule files, databases, baselines, `extends`, "
        "contracts, metrics files, MLflow globs outside the repository (absolute, `..`, symlink)",
        "exit 2 naming file, line and key, before any gate runs",
        "test_config_trust.py",
    ),
    Scenario(
        "repository-advisory-db-vs-operator",
        "4",
        "`.mlgate.yml` points `deps.advisory_db` at an empty database; `$MLGATE_ADVISORY_DB` "
        "is set",
        "the operator's database is used and its advisory found",
        "test_config_trust.py",
    ),
    Scenario(
        "pull-request-weakens-its-policy",
        "4",
        "the working tree lowers `fail_on`, extends and adds waivers, disables a gate, "
        "excludes files and changes the advisory source",
        "with `--trusted-config main`: the ref's policy decides, one `policy-weakened` finding "
        "per change, blocked in production, warnings in dev",
        "test_config_trust.py",
    ),
    Scenario(
        "hostile-yaml",
        "6",
        "a YAML bomb, a 10 MB policy, duplicate keys, `.nan`/`.inf`, `2026-02-30`, a "
        "recursive alias, deep nesting, an absolute MLflow glob, `data/**.csv`",
        "exit 2 with file and line, each under 20 s",
        "test_yaml_hardening.py",
    ),
    Scenario(
        "malformed-report-and-receipt",
        "7",
        "json reports and receipts with fields of the wrong type (15 report fields, 6 receipt "
        "fields)",
        "exit 2 naming the file and the field",
        "test_inputs_and_receipts.py",
    ),
    Scenario(
        "partial-or-dirty-receipt",
        "10",
        "a receipt holding fewer gates than the policy requires; a receipt of a tree with "
        "uncommitted edits; `verify` without `--commit` or `--env`",
        "refused (exit 1; exit 2 for a missing option); `--allow-dirty` accepts the dirty one",
        "test_inputs_and_receipts.py",
    ),
    Scenario(
        "fuzzed-config-and-reports",
        "6, 7",
        "hypothesis-generated YAML for the policy and `.mlgate.yml`, mutated json reports for "
        "`merge`",
        "a value or a one-line error (exit 2), never an internal error",
        "test_fuzz_config.py",
    ),
)


def render() -> str:
    """docs/reliability.md: every case of the hostile suite and the outcome it asserts."""
    lines = [
        "# Reliability: the hostile suite",
        "",
        "Generated by `python tests/hostile/cases.py > docs/reliability.md` from the case",
        "table the tests in `tests/hostile/` run; `tests/hostile/test_reliability_doc.py`",
        "fails when this file is not current. After **every** case the suite also asserts",
        "that no process the case started is still alive (each carries the case's marker in",
        "its environment) and that no mlgate temporary directory (`mlgate-*`) remains.",
        "",
        "## Tool faults (issue 12, classes 1 and 2)",
        "",
        "Fake `bandit`, `semgrep`, `detect-secrets`, `pip-audit` and `pytest` executables",
        "(`tests/hostile/faketools.py`) stand in for the real ones; the gate timeout is 5 s.",
        "The other tools of the gate behave. A gate that could not use its tool's output is",
        "`error`, never `pass`.",
        "",
        "| mode | what the fake does |",
        "|---|---|",
        *(f"| `{mode}` | {what} |" for mode, what in MODES.items()),
        "",
        "| case | gate | outcome | the gate's error says |",
        "|---|---|---|---|",
        *(
            f"| `{c.id}` | {c.gate} | {c.status} | {c.says.replace('|', '/') or '—'} |"
            for c in TOOL_FAULTS
        ),
        "",
        "## Other cases",
        "",
        "| case | class | what | outcome | test |",
        "|---|---|---|---|---|",
        *(f"| `{s.id}` | {s.klass} | {s.what} | {s.outcome} | `{s.test}` |" for s in SCENARIOS),
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    print(render(), end="")
