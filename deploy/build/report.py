"""Size report: where the bytes of an artifact go, per top-level package."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath

from rich.console import Console
from rich.table import Table

from deploy.build.archive import ZippedEntry

# Lambda's limit for the unzipped function code plus layers: 250 MB (AWS counts 262,144,000 bytes).
LAMBDA_UNZIPPED_LIMIT_BYTES = 250 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class PackageSize:
    name: str
    files: int
    size: int
    compressed_size: int


@dataclass(frozen=True, slots=True)
class SizeReport:
    packages: tuple[PackageSize, ...]  # largest first

    @property
    def total_size(self) -> int:
        return sum(p.size for p in self.packages)

    @property
    def total_compressed_size(self) -> int:
        return sum(p.compressed_size for p in self.packages)

    def largest(self, count: int) -> tuple[PackageSize, ...]:
        return self.packages[:count]


def group_name(arcname: str) -> str:
    """`numpy/…`, `numpy.libs/…` and `numpy-2.0.dist-info/…` all count towards `numpy`; modules by their name."""
    top = PurePosixPath(arcname).parts[0]
    if top.endswith(".dist-info"):
        return top.removesuffix(".dist-info").rsplit("-", 1)[0]
    if top.endswith(".libs"):
        return top.removesuffix(".libs")
    return top.split(".")[0]  # six.py, _cffi_backend.cpython-312-x86_64-linux-gnu.so


def size_report(entries: Iterable[ZippedEntry]) -> SizeReport:
    files: dict[str, int] = defaultdict(int)
    size: dict[str, int] = defaultdict(int)
    compressed: dict[str, int] = defaultdict(int)
    for entry in entries:
        name = group_name(entry.arcname)
        files[name] += 1
        size[name] += entry.size
        compressed[name] += entry.compressed_size
    packages = [PackageSize(n, files[n], size[n], compressed[n]) for n in files]
    packages.sort(key=lambda p: (-p.size, p.name))
    return SizeReport(packages=tuple(packages))


def _mb(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB"


def render(report: SizeReport, *, console: Console, title: str, top: int = 15) -> None:
    table = Table(title=title)
    table.add_column("package")
    table.add_column("files", justify="right")
    table.add_column("unzipped", justify="right")
    table.add_column("zipped", justify="right")
    for package in report.largest(top):
        table.add_row(package.name, str(package.files), _mb(package.size), _mb(package.compressed_size))
    rest = report.packages[top:]
    if rest:
        table.add_row(
            f"({len(rest)} more)",
            str(sum(p.files for p in rest)),
            _mb(sum(p.size for p in rest)),
            _mb(sum(p.compressed_size for p in rest)),
        )
    table.add_section()
    table.add_row("total", str(sum(p.files for p in report.packages)), _mb(report.total_size),
                  _mb(report.total_compressed_size))  # fmt: skip
    console.print(table)
