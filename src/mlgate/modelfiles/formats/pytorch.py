"""PyTorch's oldest format: a tar (recognised by its header checksum, as tarfile and so
PyTorch's legacy loader accept it, with or without the `ustar` magic) whose `sys_info`,
`pickle`, `storages` and `tensors` members are pickles. PyTorch's zip format is read by
`formats.zip`, its legacy non-zip format by `formats.pickle`."""

from __future__ import annotations

import tarfile
from pathlib import Path
from typing import IO, ClassVar

from mlgate.modelfiles.formats.base import Engine, ModelFormat, Sniffed, suffix
from mlgate.modelfiles.formats.pickle import PICKLE_EXTS, TORCH_EXTS
from mlgate.modelfiles.pickle_streams import scan_pickle_stream
from mlgate.modelfiles.records import Where
from mlgate.modelfiles.streams import Limited

_TORCH_TAR_MEMBERS = frozenset({"sys_info", "pickle", "storages", "tensors"})


def is_tar_head(head: bytes) -> bool:
    """A tar header block as tarfile (and so PyTorch's legacy loader) accepts it: a valid
    checksum, with or without the `ustar` magic."""
    if len(head) < tarfile.BLOCKSIZE:
        return False
    try:
        tarfile.TarInfo.frombuf(head[: tarfile.BLOCKSIZE], "utf-8", "surrogateescape")
    except tarfile.HeaderError:
        return False
    return True


class PytorchTarFormat(ModelFormat):
    name = "pytorch-tar"
    kinds: ClassVar[frozenset[str]] = frozenset({"tar"})
    extensions: ClassVar[frozenset[str]] = TORCH_EXTS

    def recognise(self, head: bytes, size: int | None, fast: bool) -> str | None:
        return "tar" if is_tar_head(head) else None

    def scan(
        self, engine: Engine, fh: IO[bytes], where: Where, file: Sniffed, path: Path | None
    ) -> None:
        engine.scan.format("pytorch-tar")
        with tarfile.open(fileobj=fh, mode="r:") as archive:
            for member in archive:
                engine.budget.spend_member(engine.settings.max_archive_members)
                wanted = member.name in _TORCH_TAR_MEMBERS
                if not member.isfile() or not (wanted or suffix(member.name) in PICKLE_EXTS):
                    continue
                extracted = archive.extractfile(member)
                if extracted is not None:
                    stream = Limited(extracted, engine.budget, "the archive")
                    scan_pickle_stream(engine.scan, where.inside(member.name), stream)
