"""Reproducible zip archives: same files in, same bytes (and sha256) out.

Hand-written rather than `shutil.make_archive`, which stores file mtimes, directory order and the
builder's permissions: all three differ between checkouts and machines.
"""

from __future__ import annotations

import hashlib
import stat
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

# The earliest timestamp the zip format can store; the convention for reproducible archives.
FIXED_DATE_TIME = (1980, 1, 1, 0, 0, 0)
_UNIX = 3
_FILE_MODE = 0o644
_EXECUTABLE_MODE = 0o755


@dataclass(frozen=True, slots=True)
class ArchiveEntry:
    """One file of the archive: its POSIX path inside the zip and where its bytes come from."""

    arcname: str
    source: Path | None = None
    data: bytes | None = None
    executable: bool = False

    @classmethod
    def from_file(cls, arcname: str, path: Path) -> ArchiveEntry:
        is_executable = bool(path.stat().st_mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH))
        return cls(arcname=arcname, source=path, executable=is_executable)

    @classmethod
    def from_text(cls, arcname: str, text: str) -> ArchiveEntry:
        return cls(arcname=arcname, data=text.encode("utf-8"))

    def read(self) -> bytes:
        if self.data is not None:
            return self.data
        assert self.source is not None  # one of the two is always set by the constructors
        return self.source.read_bytes()

    @property
    def size(self) -> int:
        if self.data is not None:
            return len(self.data)
        assert self.source is not None
        return self.source.stat().st_size


@dataclass(frozen=True, slots=True)
class ZippedEntry:
    arcname: str
    size: int
    compressed_size: int


def write_reproducible_zip(entries: Iterable[ArchiveEntry], destination: Path) -> list[ZippedEntry]:
    """Write `entries` sorted by name with fixed timestamps and permissions; later duplicates are an error."""
    by_name: dict[str, ArchiveEntry] = {}
    for entry in entries:
        if entry.arcname in by_name:
            raise ValueError(f"two files map to the same archive path: {entry.arcname}")
        by_name[entry.arcname] = entry
    destination.parent.mkdir(parents=True, exist_ok=True)
    written: list[ZippedEntry] = []
    with zipfile.ZipFile(destination, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for name in sorted(by_name):
            entry = by_name[name]
            info = zipfile.ZipInfo(name, date_time=FIXED_DATE_TIME)
            info.create_system = _UNIX
            info.compress_type = zipfile.ZIP_DEFLATED
            mode = _EXECUTABLE_MODE if entry.executable else _FILE_MODE
            info.external_attr = (stat.S_IFREG | mode) << 16
            archive.writestr(info, entry.read())
            written.append(ZippedEntry(arcname=name, size=info.file_size, compressed_size=info.compress_size))
    return written


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
