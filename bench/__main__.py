"""`python -m bench`: the benchmark (see bench/README.md)."""

from __future__ import annotations

import sys

from bench.main import main

sys.exit(main())
