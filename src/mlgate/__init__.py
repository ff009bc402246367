"""mlgate: hardened CI pipelines and security/quality gates for ML repositories."""

from __future__ import annotations

__version__ = "0.1.0"
