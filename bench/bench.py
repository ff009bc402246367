#!/usr/bin/env python3
"""Benchmark `mlgate run` against the raw tools it runs (issues 7 and 16).

    python bench/bench.py [--repeat N] [--quick] [--corpus examples|synthetic|sdist|all] ...
    python -m bench ...   (the same)

The code is the `bench` package beside this file: `main` (command line), `environment`,
`corpora` and `synthetic` (what is scanned), `measuring`, `results` (goals and tables),
`scale` (many findings, merge). See bench/README.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this folder is sys.path[0] and `bench` would be this file: the package's
# parent goes first.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.main import main

if __name__ == "__main__":
    sys.exit(main())
