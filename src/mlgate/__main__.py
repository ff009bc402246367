"""`python -m mlgate` and the `mlgate` command (both enter here).

`mlgate --version` is answered before the command line is imported: it needs nothing but
the version, and importing click and every command costs about 0.1 s of CPU (issue 16).
Everything else goes to `mlgate.cli.main`.
"""

from __future__ import annotations

import gc
import sys

from mlgate import __version__

VERSION_TEXT = f"mlgate, version {__version__}"  # what click's version option prints
# Python 3.11 collects its youngest generation every 700 new container objects: importing
# what a run needs (some 250 modules, 70 dataclasses) triggers about 55 collections, 12-15 ms
# of a 0.3 s warm run that frees nothing (issue 16). A run makes few reference cycles; the
# collector still runs, once per this many new objects.
GC_THRESHOLD = 50_000


def main() -> None:
    if sys.argv[1:] == ["--version"]:
        sys.stdout.write(VERSION_TEXT + "\n")
        sys.stdout.flush()
        return
    gc.set_threshold(GC_THRESHOLD, *gc.get_threshold()[1:])
    from mlgate.cli import main as cli_main  # noqa: PLC0415 (the fast path above needs none)

    cli_main()


if __name__ == "__main__":
    main()
