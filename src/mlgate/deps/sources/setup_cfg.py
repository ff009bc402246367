"""setup.cfg: `[options] install_requires` and `[options.extras_require]`."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from mlgate.deps.sources.common import LineFinder, pep508, read_text
from mlgate.deps.sources.interface import DependencySource, Reading


class SetupCfgSource(DependencySource):
    kind = "setup.cfg"
    manifest = True

    endings = ("setup.cfg",)

    def recognises(self, path: PurePosixPath) -> bool:
        return path.name == "setup.cfg"

    def read(self, root: Path, rel: str, reading: Reading) -> None:
        text = read_text(root, rel, reading)
        if text is None:
            return
        import configparser  # noqa: PLC0415 (a warm run reads no setup.cfg)

        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read_string(text, source=rel)
        except configparser.Error as exc:
            reading.problem(rel, getattr(exc, "lineno", 0) or 0, f"invalid setup.cfg: {exc}")
            return
        finder = LineFinder(text)
        values: list[str] = []
        if parser.has_option("options", "install_requires"):
            values.append(parser.get("options", "install_requires"))
        if parser.has_section("options.extras_require"):
            values += [v for _, v in parser.items("options.extras_require")]
        for value in values:
            for spec in (s.strip() for s in value.splitlines()):
                if spec and not spec.startswith("#"):
                    pep508(spec, rel, finder.bare(spec), reading)
