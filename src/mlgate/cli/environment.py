"""The operator's environment variables that the CLI reads and passes down as settings.

The core never reads the environment (`tests/test_house.py` checks): a setting an operator
gives by environment variable is read here, next to the command line, and handed to the
module it configures (`cache.configure`, `toolenv.Settings`, `signing.load_private_key`).
"""

from __future__ import annotations

import os
from pathlib import Path

CACHE_DIR = "MLGATE_CACHE_DIR"  # the result cache (default: the user cache dir)
SEMGREP_CLI = "MLGATE_SEMGREP_CLI"  # auto (default), native or classic
ADVISORY_DB = "MLGATE_ADVISORY_DB"  # the deps gate's offline OSV database


def cache_dir() -> Path | None:
    """The operator's result-cache directory, if given."""
    value = os.environ.get(CACHE_DIR)
    return Path(value) if value else None


def semgrep_cli() -> str:
    """The operator's choice of semgrep's command line (`auto` when not given)."""
    return os.environ.get(SEMGREP_CLI, "").strip().lower() or "auto"


def advisory_db() -> Path | None:
    """The operator's offline advisory database, if given."""
    value = os.environ.get(ADVISORY_DB)
    return Path(value) if value else None
