"""`python -m mlgate` and the `mlgate` command (both enter here).

`mlgate --version` is answered before the command line is imported: it needs nothing but
the version, and importing click and every command costs about 0.1 s of CPU (issue 16).
Everything else goes to `mlgate.cli.main`.
"""

from __future__ import annotations

import sys

from mlgate import __version__

VERSION_TEXT = f"mlgate, version {__version__}"  # what click's version option prints


def main() -> None:
    if sys.argv[1:] == ["--version"]:
        sys.stdout.write(VERSION_TEXT + "\n")
        sys.stdout.flush()
        return
    from mlgate.cli import main as cli_main  # noqa: PLC0415 (the fast path above needs none)

    cli_main()


if __name__ == "__main__":
    main()
