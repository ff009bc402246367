"""Copy the advisory records the tests need from a PyPA advisory-db checkout into tests/data.

The tests must not read anything outside the repository, so they use this small, attributed
subset (CC-BY 4.0, see tests/data/advisory-db/LICENSE). Re-run after changing PACKAGES:

    python scripts/vendor_advisories.py PATH/TO/advisory-database
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

# Every package a test or a bundled example audits against the offline database.
PACKAGES = (
    *("attrs", "binderhub", "colorama", "coverage", "dvc", "flask", "idna", "jinja2"),
    *("numpy", "pandas", "py", "pytest", "pyyaml", "redis", "requests", "scikit-learn"),
    *("scipy", "six", "torch", "transformers", "urllib3", "werkzeug"),
)

DEST = Path(__file__).resolve().parents[1] / "tests" / "data" / "advisory-db"


def main(source: Path) -> int:
    vulns = source / "vulns"
    if not vulns.is_dir():
        print(f"not an advisory-db checkout: {source}", file=sys.stderr)
        return 2
    if DEST.exists():
        shutil.rmtree(DEST)
    (DEST / "vulns").mkdir(parents=True)
    copied = 0
    for package in PACKAGES:
        if (vulns / package).is_dir():
            shutil.copytree(vulns / package, DEST / "vulns" / package)
            copied += len(list((vulns / package).glob("*.yaml")))
    shutil.copy(source / "LICENSE", DEST / "LICENSE")
    origin = (source / "SOURCE.txt").read_text(encoding="utf-8").strip()
    (DEST / "SOURCE.txt").write_text(
        f"{origin}\nSubset: the records of {len(PACKAGES)} packages ({copied} files), copied by "
        "scripts/vendor_advisories.py.\nAttribution: Python Packaging Authority advisory "
        "database, https://github.com/pypa/advisory-database, CC-BY 4.0.\n",
        encoding="utf-8",
    )
    print(f"{copied} records of {len(PACKAGES)} packages -> {DEST}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python scripts/vendor_advisories.py PATH/TO/advisory-database")
    sys.exit(main(Path(sys.argv[1])))
