"""Shared fixtures: real tool runs happen once per fixture repo (session scope)."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import platformdirs
import pytest

from mlgate import toolenv

REPO_ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = REPO_ROOT / "examples"
TEST_DATA = Path(__file__).resolve().parent / "data"
# A small attributed subset of the PyPA advisory database (scripts/vendor_advisories.py).
ADVISORY_DB = TEST_DATA / "advisory-db"
SCHEMAS = Path(__file__).resolve().parent / "schemas"

# --- `slow`: what `-m "not slow"` leaves out ------------------------------------------------
# Marked by hand (`@pytest.mark.slow`): whole pipelines, wheels, golden repositories. Marked
# here, by need: a test using one of these fixtures (a whole real run of an example, or a
# real scanner over a fixture repository) ...
SLOW_FIXTURES = frozenset(
    {
        "insecure_run",
        "churn_run",
        "churn_production",
        "wheel",
        "example_run",
        "regressed_churn",
        "split_runs",
        "both_reports",
        "rule_pack_scan",
        "sast_result",
        "people_result",
        "drift_repo",
        "corpus",
        "dataframe_models",
        "signed",
        "receipt",
        "generated",
        "validation",
        "jobs",
        "produced",
        "git_run",
    }
)
# ... and, by measurement, the tests that took about a second or more each on a 2-core
# machine (`pytest --durations=0`), named `file::function` so a move keeps them
# (tests/test_house.py checks every name still exists).
SLOW_TESTS = frozenset(
    {
        "test_inputs_and_receipts.py::test_merge_names_the_file_and_field_of_a_malformed_report",
        "test_inputs_and_receipts.py::test_verify_names_the_field_of_a_malformed_receipt",
        "test_scale.py::test_fifty_thousand_long_paths_do_not_overflow_the_command_line",
        "test_tool_faults.py::test_tool_fault",
        "test_bom_validity_cache.py::test_the_iri_grammar_is_loaded_only_for_unusual_urls",
        "test_cache_and_changed.py::test_policy_change_re_decides_without_rerunning_tools",
        "test_cache_and_changed.py::test_two_runs_can_share_the_cache_at_once",
        "test_contexts.py::test_json_report_records_context_of_a_real_run",
        "test_contexts.py::test_one_finding_per_pip_install_line_listing_the_packages",
        "test_data_gate.py::test_a_collection_error_is_a_gate_error",
        "test_data_gate.py::test_churn_example_passes_the_data_and_model_gates",
        "test_data_gate.py::test_failing_marked_tests_are_findings",
        "test_data_gate.py::test_infer_writes_a_contract_that_the_file_passes",
        "test_data_gate.py::test_marker_mentioned_but_no_test_collected_is_skipped",
        "test_deps.py::test_advisory_db_from_environment",
        "test_deps.py::test_library_ranges_are_audited_not_flagged_unpinned",
        "test_deps.py::test_missing_advisory_db_is_an_error",
        "test_deps.py::test_offline_audit_of_the_insecure_example",
        "test_deps.py::test_online_pip_audit_really_runs_and_never_passes_without_data",
        "test_doctor_demo.py::test_insecure_example_deps_with_the_bundled_subset",
        "test_generate.py::test_check_flags_a_new_tool_lock",
        "test_generate.py::test_console_script_on_an_example",
        "test_generate.py::test_github_workflows_pass_every_validator",
        "test_generate.py::test_validators_really_find_problems",
        "test_hooks.py::test_hook_lets_a_clean_push_through",
        "test_merge_verify.py::test_merge_bad_inputs_exit_2",
        "test_merge_verify.py::test_merge_refuses_incompatible_reports",
        "test_merge_verify.py::test_receipt_with_a_missing_field_exits_2",
        "test_modelfiles_gate.py::test_big_pickle_is_streamed_with_bounded_memory",
        "test_own_ci.py::test_self_scan_passes_under_its_policy",
        "test_own_ci.py::test_own_workflow_is_valid_pinned_and_clean",
        "test_policy.py::test_cli_policy_errors_are_one_line_exit_2",
        "test_provenance_policy.py::test_a_card_and_a_contract_satisfy_the_policy",
        "test_provenance_policy.py::test_uncarded_models_and_uncontracted_data_are_findings",
        "test_quality_gate.py::test_budgets_measure_latency_and_the_memory_of_the_process_tree",
        "test_quality_gate.py::test_model_tests_run_and_failures_are_findings",
        "test_report_binding.py::test_a_changed_report_is_refused",
        "test_report_binding.py::test_a_missing_shard_is_named",
        "test_report_binding.py::test_a_report_in_another_gates_folder_is_refused",
        "test_report_binding.py::test_a_report_without_its_digest_is_refused",
        "test_reports.py::test_step_summary_is_written_even_without_markdown",
        "test_secrets_gate.py::test_mlgate_yml_excludes_and_size_limit",
        "test_signing.py::test_bad_keys_exit_2",
        "test_signing.py::test_keygen_private_key_is_owner_only",
        "test_signing.py::test_rotation_any_listed_key_may_have_signed",
        "test_toolenv.py::test_corrupted_env_is_detected_and_repaired",
        "test_toolenv.py::test_hash_mismatch_is_refused_and_named",
        "test_toolenv.py::test_offline_missing_tool_is_a_gate_error",
        "test_toolenv.py::test_pip_fallback_without_uv",
        "test_toolenv.py::test_repo_pin_uses_the_repo_lock",
        "test_toolenv.py::test_two_concurrent_first_runs_build_one_env",
        "test_toolenv.py::test_unreachable_index_with_nothing_cached_is_a_gate_error",
        "test_toolenv.py::test_unwritable_result_cache_is_named_and_the_run_still_decides",
        "test_cli.py::test_gate_that_cannot_run_is_an_error_never_a_pass",
        "test_cli.py::test_config_file_errors_name_file_line_key",
        "test_cli.py::test_doctor_lists_tools",
        "test_cli.py::test_timeout_is_an_error",
        "test_data_gate.py::test_infer_of_an_unreadable_file_exits_2",
        "test_modelfiles_corpus.py::test_a_re_export_is_not_allowlisted",
        "test_modelfiles_corpus.py::test_boosting_library_models_are_covered",
        "test_modelfiles_gate.py::test_cli_exit_codes",
        "test_cache_and_changed.py::test_cache_reuses_unchanged_files_and_rescans_changed_ones",
        "test_cache_and_changed.py::test_changed_only_scans_only_what_changed",
        "test_cache_and_changed.py::test_changed_only_needs_git_and_an_upstream",
        "test_toolenv.py::test_repo_pin_without_hashes_is_a_config_error",
        "test_toolenv.py::test_env_restored_at_another_path_is_repaired_in_place",
        "test_toolenv.py::test_system_mode_uses_path_and_records_unpinned",
        "test_toolenv.py::test_install_creates_a_verified_env_and_path_prints_it",
        "test_toolenv.py::test_merge_refuses_reports_of_different_tool_versions",
        "test_toolenv.py::test_a_second_install_waits_for_the_first",
        "test_doctor_demo.py::test_doctor_checks_that_the_offline_database_answers",
        "test_hooks.py::test_foreign_hook_is_refused_replaced_or_chained",
        "test_hooks.py::test_hook_blocks_an_insecure_push",
        "test_hooks.py::test_install_writes_an_executable_hook_and_uninstall_removes_it",
        "test_advisories.py::test_cli_db_update_then_run_uses_the_cached_database",
        "test_repo_python.py::test_data_tests_run_in_the_repo_venv_and_the_report_says_so",
        "test_policy.py::test_cli_policy_show_and_check",
        "test_stat_index.py::test_a_file_gate_keeps_one_cache_entry_not_one_per_file",
        "test_config_trust.py::test_merge_with_trusted_config_adds_the_check",
        "test_supersession.py::test_broken_rule_file_is_a_config_error_before_any_gate",
        "test_bom_validity_cache.py::test_plain_urls_are_iri_references_and_the_rest_goes_to_the_grammar",
        "test_processes.py::test_cli_reaps_a_scrubbed_double_forked_escapee",
        "test_cores.py::test_data_infer_core_returns_the_contract",
    }
)


@pytest.hookimpl(tryfirst=True)  # before -m deselects
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        name = f"{item.path.name}::{getattr(item, 'originalname', item.name)}"
        if name in SLOW_TESTS or SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


def fixture_path(path: Path) -> Path:
    """A fixture file of the repository; its absence fails the test, it never skips it."""
    if not path.exists():
        pytest.fail(f"required test fixture is missing: {path}", pytrace=False)
    return path


def run_cli(
    args: Sequence[str], cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `python -m mlgate ARGS` as a user would, capturing everything."""
    full_env = {**os.environ, "NO_COLOR": "1", **(env or {})}
    full_env.pop("GITHUB_STEP_SUMMARY", None)
    full_env.pop("MLGATE_ADVISORY_DB", None)
    if env and "MLGATE_ADVISORY_DB" in env:
        full_env["MLGATE_ADVISORY_DB"] = env["MLGATE_ADVISORY_DB"]
    return subprocess.run(
        [sys.executable, "-m", "mlgate", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )


@pytest.fixture(scope="session", autouse=True)
def isolated_caches(tmp_path_factory: pytest.TempPathFactory) -> None:
    """No test sees the developer's result cache or cached advisory database, and every
    session starts cold (tests that need a cache set MLGATE_CACHE_DIR themselves)."""
    root = tmp_path_factory.mktemp("user-cache")
    # The pinned scanner environments are shared by the whole session (and across sessions):
    # scripts/test.sh points MLGATE_TOOLS_DIR at .venv/mlgate-tools; otherwise the real user
    # cache, fixed here before XDG_CACHE_HOME moves.
    os.environ.setdefault("MLGATE_TOOLS_DIR", str(platformdirs.user_cache_path("mlgate") / "tools"))
    os.environ["XDG_CACHE_HOME"] = str(root)
    os.environ["MLGATE_CACHE_DIR"] = str(root / "mlgate-results")


@pytest.fixture(autouse=True)
def fresh_tool_plans() -> Iterator[None]:
    """Where each scanner comes from is decided once per process and remembered
    (`toolenv.plan`); a test that runs gates in-process under `MLGATE_TOOLS=system` (the
    hostile cases' fake tools) must not leave its plans to the next test, whatever order
    the tests run in (pytest-xdist gives each worker its own order)."""
    yield
    toolenv.configure(toolenv.Settings())


def choose_semgrep_cli(choice: str) -> None:
    """For an in-process gate run: semgrep's command line, as the CLI sets it from
    MLGATE_SEMGREP_CLI (`fresh_tool_plans` resets it after the test)."""
    toolenv.configure(dataclasses.replace(toolenv.settings(), semgrep_cli=choice))


@pytest.fixture(scope="session")
def advisory_db() -> Path:
    return fixture_path(ADVISORY_DB / "vulns").parent


def _json_run(path: Path, db: Path, *extra: str) -> tuple[int, dict[str, Any], str]:
    done = run_cli(["run", str(path), "--advisory-db", str(db), "--format", "json", *extra])
    assert done.stdout.strip(), done.stderr
    return done.returncode, json.loads(done.stdout), done.stderr


@pytest.fixture(scope="session")
def insecure_run(advisory_db: Path) -> tuple[int, dict[str, Any], str]:
    """The whole default run (real bandit, semgrep, offline deps) over examples/insecure-ml."""
    # --no-cache: a cold run whatever ran before in the session (a per-file cache hit keeps
    # findings but not per-run properties such as bandit_tests_left_to_rule_pack).
    return _json_run(EXAMPLES / "insecure-ml", advisory_db, "--no-cache")


@pytest.fixture(scope="session")
def churn_run(advisory_db: Path) -> tuple[int, dict[str, Any], str]:
    return _json_run(EXAMPLES / "churn-model", advisory_db)


def keygen(folder: Path) -> tuple[Path, Path]:
    """An Ed25519 key pair written by `mlgate keygen`: (private PEM, public PEM)."""
    private, public = folder / "signing.pem", folder / "signing.pub"
    done = run_cli(["keygen", str(private), str(public)])
    assert done.returncode == 0, done.stderr
    return private, public


@pytest.fixture(scope="session")
def receipt_keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return keygen(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="session")
def churn_production(
    tmp_path_factory: pytest.TempPathFactory, advisory_db: Path, receipt_keys: tuple[Path, Path]
) -> Path:
    """examples/churn-model run for production with --output and --sign-key env:VAR:
    reports, ML-BOM, signed receipt."""
    out = tmp_path_factory.mktemp("churn-production")
    done = run_cli(
        [
            *("run", str(EXAMPLES / "churn-model"), "--env", "production"),
            *("--advisory-db", str(advisory_db), "--format", "json", "--output", str(out)),
            *("--sign-key", "env:MLGATE_TEST_SIGN_KEY"),
        ],
        env={"MLGATE_TEST_SIGN_KEY": receipt_keys[0].read_text()},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return out


def last_lines_of_probe(
    probe: str, argv: Sequence[str], env: dict[str, str], runs: int = 2
) -> list[tuple[str, str]]:
    """Run `python -c probe ARGV` `runs` times in a row (a cold, then warm runs): the last
    line each printed, and its stderr."""
    found = []
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-c", probe, *argv],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        found.append((done.stdout.strip().rpartition("\n")[2], done.stderr))
    return found


def write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def git_init(root: Path) -> None:
    for argv in (
        ["git", "init", "-q", "-b", "main"],
        ["git", "config", "user.email", "t@example.com"],
        ["git", "config", "user.name", "t"],
        ["git", "add", "-A"],
        ["git", "commit", "-q", "-m", "init", "--allow-empty"],
    ):
        subprocess.run(argv, cwd=root, check=True, capture_output=True)


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel built from this checkout (once per session): what users and pipelines install."""
    return build_wheel(tmp_path_factory.mktemp("wheel"))


def build_wheel(out: Path) -> Path:
    """`pip wheel` of this checkout into the empty folder `out`."""
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(REPO_ROOT)],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    (found,) = out.glob("mlgate-*.whl")
    return found
