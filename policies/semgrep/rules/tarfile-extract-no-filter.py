"""Test cases for the tar extraction rules: unpacking downloaded datasets and models."""

import shutil
import tarfile
import zipfile
from pathlib import Path

DATA_ROOT = Path("data")


def _within(root: Path, member: tarfile.TarInfo) -> bool:
    target = (root / member.name).resolve()
    return target.is_relative_to(root.resolve()) and not (member.issym() or member.islnk())


def _strict_filter(member: tarfile.TarInfo, dest_path: str):
    member = tarfile.data_filter(member, dest_path)
    if member.size > 2**31:
        raise tarfile.FilterError(f"{member.name} is too large")
    return member


def unpack_dataset(archive_path, dest):
    with tarfile.open(archive_path, "r:gz") as tar:
        # ruleid: ml-tarfile-extractall-no-filter
        tar.extractall(dest)


def unpack_dataset_safe(archive_path, dest):
    with tarfile.open(archive_path, "r:gz") as tar:
        # ok: ml-tarfile-extractall-no-filter
        tar.extractall(dest, filter="data")


def unpack_checkpoint(archive_path):
    tar = tarfile.open(archive_path)
    # ruleid: ml-tarfile-extractall-no-filter
    tar.extractall(path=DATA_ROOT / "ckpt")
    tar.close()


def unpack_checkpoint_safe(archive_path):
    tar = tarfile.open(archive_path)
    # ok: ml-tarfile-extractall-no-filter
    tar.extractall(path=DATA_ROOT / "ckpt", filter=tarfile.data_filter)
    tar.close()


def unpack_trusted(archive_path, dest):
    with tarfile.open(archive_path) as tar:
        # ruleid: ml-tarfile-extractall-no-filter
        tar.extractall(dest, filter="fully_trusted")


def unpack_members(tar: tarfile.TarFile, dest):
    members = [m for m in tar.getmembers() if _within(Path(dest), m)]
    # ruleid: ml-tarfile-extractall-no-filter
    tar.extractall(dest, members=members)


def unpack_members_filtered(tar: tarfile.TarFile, dest):
    members = [m for m in tar.getmembers() if m.name.startswith("images/")]
    # ok: ml-tarfile-extractall-no-filter
    tar.extractall(dest, members=members, filter="data")


def unpack_inline(archive_path, dest):
    # ruleid: ml-tarfile-extractall-no-filter
    tarfile.open(archive_path).extractall(dest)


def unpack_inline_safe(archive_path, dest):
    # ok: ml-tarfile-extractall-no-filter
    tarfile.open(archive_path).extractall(dest, filter="data")


def unpack_custom_filter(archive_path, dest):
    with tarfile.open(archive_path) as tar:
        # ok: ml-tarfile-extractall-no-filter
        tar.extractall(dest, filter=_strict_filter)


def unpack_zip(archive_path, dest):
    with zipfile.ZipFile(archive_path) as zf:
        # ok: ml-tarfile-extractall-no-filter
        zf.extractall(dest)


def unpack_zip_assigned(archive_path, dest):
    zf = zipfile.ZipFile(archive_path)
    # ok: ml-tarfile-extractall-no-filter
    zf.extractall(dest)
    zf.close()


def extract_config(archive_path, dest):
    with tarfile.open(archive_path) as tar:
        member = tar.getmember("config.json")
        # ruleid: ml-tarfile-extract-no-filter
        tar.extract(member, dest)


def extract_config_safe(archive_path, dest):
    with tarfile.open(archive_path) as tar:
        member = tar.getmember("config.json")
        # ok: ml-tarfile-extract-no-filter
        tar.extract(member, dest, filter="data")


def read_config(archive_path):
    with tarfile.open(archive_path) as tar:
        # ok: ml-tarfile-extract-no-filter
        return tar.extractfile("config.json").read()


def parse_labels(df):
    # ok: ml-tarfile-extract-no-filter
    return df["path"].str.extract(r"(?P<label>\w+)/\d+\.jpg")


def unpack_any(archive_path, dest):
    # ruleid: ml-shutil-unpack-archive-no-filter
    shutil.unpack_archive(archive_path, dest)


def unpack_any_safe(archive_path, dest):
    # ok: ml-shutil-unpack-archive-no-filter
    shutil.unpack_archive(archive_path, dest, filter="data")


def unpack_zip_archive(archive_path, dest):
    # ok: ml-shutil-unpack-archive-no-filter
    shutil.unpack_archive(archive_path, dest, format="zip")
